import Foundation
import Yams

/// Settings read from the config file (`$XDG_CONFIG_HOME/defpi/config.yaml`, or the file named by
/// `DEFPI_CONFIG`). Flags and environment variables override them.
public struct ConfigurationFile: Codable, Sendable, Equatable {
    /// The store location (see `StoreLocation`).
    public var store: String?

    public init(store: String? = nil) {
        self.store = store
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
