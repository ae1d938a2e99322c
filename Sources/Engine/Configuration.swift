import Foundation
import Yams

/// Settings read from the config file (`$XDG_CONFIG_HOME/defpi/config.yaml`, or the file named by
/// `DEFPI_CONFIG`). Flags and environment variables override them.
public struct ConfigurationFile: Codable, Sendable, Equatable {
    /// The store location (see `StoreLocation`).
    public var store: String?
    /// The Docker Engine to manage (`unix://...` or `tcp://...`) when `DOCKER_HOST` is not set.
    public var dockerHost: String?
    /// The registry that holds the service images.
    public var registry: Registry?
    /// The console's settings.
    public var console: Console?
    /// How engines work the queue of pending changes.
    public var queue: Queue?

    /// The `queue:` section. Durations are seconds.
    public struct Queue: Codable, Sendable, Equatable {
        /// Changes one engine runs at once (default 4).
        public var workers: Int?
        /// How long a lease lasts before another engine may take the change over (default 60).
        public var leaseSeconds: Int?
        /// How far the engines' clocks may drift apart (default 5; keep hosts on NTP).
        public var clockSkewSeconds: Int?
        /// How long finished and cancelled changes are kept (default 7 days).
        public var keepFinishedSeconds: Int?
        /// How long changes failed for good are kept (default 30 days).
        public var keepFailedSeconds: Int?
        /// How long audit events are kept (default 90 days).
        public var keepAuditSeconds: Int?

        public init(workers: Int? = nil, leaseSeconds: Int? = nil, clockSkewSeconds: Int? = nil,
                    keepFinishedSeconds: Int? = nil, keepFailedSeconds: Int? = nil, keepAuditSeconds: Int? = nil) {
            self.workers = workers
            self.leaseSeconds = leaseSeconds
            self.clockSkewSeconds = clockSkewSeconds
            self.keepFinishedSeconds = keepFinishedSeconds
            self.keepFailedSeconds = keepFailedSeconds
            self.keepAuditSeconds = keepAuditSeconds
        }

        /// The settings this section gives, defaults for what it leaves out.
        public var settings: QueueSettings {
            let defaults = QueueSettings()
            return QueueSettings(
                workers: workers ?? defaults.workers,
                leaseDuration: leaseSeconds.map { .seconds($0) } ?? defaults.leaseDuration,
                maximumClockSkew: clockSkewSeconds.map { .seconds($0) } ?? defaults.maximumClockSkew,
                keepFinished: keepFinishedSeconds.map { .seconds($0) } ?? defaults.keepFinished,
                keepFailed: keepFailedSeconds.map { .seconds($0) } ?? defaults.keepFailed,
                keepAudit: keepAuditSeconds.map { .seconds($0) } ?? defaults.keepAudit)
        }
    }

    /// The `console:` section: the theme, keys rebound per action (`quit: x`, `down: "j,down"`),
    /// and whether the mouse is on.
    public struct Console: Codable, Sendable, Equatable {
        public var theme: String?
        public var keys: [String: String]?
        public var mouse: Bool?

        public init(theme: String? = nil, keys: [String: String]? = nil, mouse: Bool? = nil) {
            self.theme = theme
            self.keys = keys
            self.mouse = mouse
        }
    }

    /// The `registry:` section.
    public struct Registry: Codable, Sendable, Equatable {
        public var url: String?
        public var username: String?
        public var password: String?
        public var prefix: String?

        public init(url: String? = nil, username: String? = nil, password: String? = nil, prefix: String? = nil) {
            self.url = url
            self.username = username
            self.password = password
            self.prefix = prefix
        }
    }

    public init(store: String? = nil, dockerHost: String? = nil, registry: Registry? = nil, console: Console? = nil,
                queue: Queue? = nil) {
        self.store = store
        self.dockerHost = dockerHost
        self.registry = registry
        self.console = console
        self.queue = queue
    }

    /// The config file's path for this environment.
    public static func path(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit = environment["DEFPI_CONFIG"], !explicit.isEmpty { return explicit }
        let configHome = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.config")
        return configHome + "/defpi/config.yaml"
    }

    /// Reads the file at `path`; an absent file is an empty configuration.
    public static func load(path: String) throws -> ConfigurationFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) { throw ConfigurationError.unreadable(path: path) }
            return ConfigurationFile()
        }
        let text = String(decoding: data, as: UTF8.self)
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return ConfigurationFile() }
        do {
            return try YAMLDecoder().decode(ConfigurationFile.self, from: text)
        } catch {
            throw ConfigurationError.malformed(path: path, reason: "\(error)")
        }
    }
}

/// Why the config file cannot be used.
public enum ConfigurationError: UserFacingError, Equatable {
    case unreadable(path: String)
    case malformed(path: String, reason: String)

    public var userMessage: String {
        switch self {
        case .unreadable(let path):
            return "cannot read the config file \(path); check its permissions"
        case .malformed(let path, _):
            return "the config file \(path) is not valid YAML for defpi; fix it or set DEFPI_CONFIG to another file"
        }
    }

    public var debugDetail: String? {
        if case .malformed(_, let reason) = self { return reason }
        return nil
    }
}

/// Picks the store location: the flag, else `DEFPI_STORE`, else the config file, else the
/// default SQLite file.
public enum StoreSelection {
    public static func resolve(flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> StoreLocation
    {
        if let flag { return try StoreLocation(parsing: flag) }
        if let variable = environment["DEFPI_STORE"], !variable.isEmpty { return try StoreLocation(parsing: variable) }
        if let configured = try ConfigurationFile.load(path: ConfigurationFile.path(environment: environment)).store {
            return try StoreLocation(parsing: configured)
        }
        return StoreLocation.defaultLocation(environment: environment)
    }
}

/// The registry defpi reads services from and publishes to: URL, credentials and repository
/// prefix, each from its flag, else the environment (`DEFPI_REGISTRY`, `DEFPI_REGISTRY_USERNAME`,
/// `DEFPI_REGISTRY_PASSWORD`, `DEFPI_REGISTRY_PREFIX`), else the config file's `registry:`.
public struct RegistrySettings: Sendable, Equatable {
    public var url: String
    public var credentials: RegistryCredentials?
    public var prefix: String

    public static let defaultURL = "http://127.0.0.1:5000"
    public static let defaultPrefix = "services"

    public init(url: String = RegistrySettings.defaultURL, credentials: RegistryCredentials? = nil,
                prefix: String = RegistrySettings.defaultPrefix) {
        self.url = url
        self.credentials = credentials
        self.prefix = prefix
    }

    /// Resolves every setting by precedence: flag, environment, config file, default.
    public static func resolve(url: String? = nil, username: String? = nil, password: String? = nil,
                               prefix: String? = nil,
                               environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> RegistrySettings
    {
        let file = try ConfigurationFile.load(path: ConfigurationFile.path(environment: environment)).registry
        func pick(_ flag: String?, _ variable: String, _ configured: String?) -> String? {
            [flag, environment[variable], configured].lazy.compactMap { $0 }.first { !$0.isEmpty }
        }
        let user = pick(username, "DEFPI_REGISTRY_USERNAME", file?.username)
        let secret = pick(password, "DEFPI_REGISTRY_PASSWORD", file?.password)
        return RegistrySettings(
            url: pick(url, "DEFPI_REGISTRY", file?.url) ?? defaultURL,
            credentials: user.map { RegistryCredentials(username: $0, password: secret ?? "") },
            prefix: pick(prefix, "DEFPI_REGISTRY_PREFIX", file?.prefix) ?? defaultPrefix)
    }
}

/// Picks the Docker Engine: `DOCKER_HOST` (with the TLS variables), else the config file's
/// `dockerHost`, else the local socket.
public enum DockerSelection {
    public static func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> DockerEndpoint
    {
        if let host = environment["DOCKER_HOST"], !host.isEmpty { return try DockerEndpoint(environment: environment) }
        if let configured = try ConfigurationFile.load(path: ConfigurationFile.path(environment: environment)).dockerHost {
            return try DockerEndpoint(host: configured, environment: environment)
        }
        return try DockerEndpoint(environment: environment)
    }
}
