import Foundation

/// Where the Docker Engine API is, read the way the docker CLI reads it: `DOCKER_HOST`
/// (`unix:///path` or `tcp://host:port`), `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH`.
public struct DockerEndpoint: Sendable, Equatable, CustomStringConvertible {
    /// The URL the API paths are appended to (`http://localhost` for a unix socket).
    public var baseURL: String
    public var unixSocketPath: String?
    public var tls: TLSFiles?

    public static let defaultSocket = "/var/run/docker.sock"

    /// `unix:///var/run/docker.sock` or `tcp://host:port`, as the operator would write it.
    public var description: String {
        if let unixSocketPath { return "unix://\(unixSocketPath)" }
        return URLText.redactingUserInfo(baseURL.replacingOccurrences(of: "https://", with: "tcp://").replacingOccurrences(
            of: "http://", with: "tcp://"))
    }

    public init(unixSocketPath: String) {
        self.init(baseURL: "http://localhost", unixSocketPath: unixSocketPath, tls: nil)
    }

    private init(baseURL: String, unixSocketPath: String?, tls: TLSFiles?) {
        self.baseURL = baseURL
        self.unixSocketPath = unixSocketPath
        self.tls = tls
    }

    /// Reads `DOCKER_HOST` (default: the local socket) and the TLS variables.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let host = environment["DOCKER_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? "unix://\(Self.defaultSocket)"
        try self.init(host: host, environment: environment)
    }

    /// Parses `host` (`unix://`, `tcp://`, `http://`, `https://`), taking TLS settings from `environment`.
    public init(host: String, environment: [String: String] = [:]) throws {
        if host.hasPrefix("unix://") {
            let path = String(host.dropFirst("unix://".count))
            guard path.hasPrefix("/") else { throw DockerError.invalidHost(host) }
            self.init(unixSocketPath: path)
            return
        }
        let schemes = ["tcp://", "http://", "https://"]
        guard let scheme = schemes.first(where: { host.hasPrefix($0) }) else { throw DockerError.invalidHost(host) }
        let address = String(host.dropFirst(scheme.count)).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        guard !address.isEmpty, !address.contains("/") else { throw DockerError.invalidHost(host) }
        let verify = !(environment["DOCKER_TLS_VERIFY"] ?? "").isEmpty
        let useTLS = verify || scheme == "https://"
        var tls: TLSFiles?
        if useTLS {
            let certPath = environment["DOCKER_CERT_PATH"].flatMap { $0.isEmpty ? nil : $0 }
                ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.docker")
            tls = TLSFiles(caFile: certPath + "/ca.pem", certificateFile: certPath + "/cert.pem",
                           keyFile: certPath + "/key.pem", verifyPeer: verify)
        }
        let port = address.contains(":") ? "" : (useTLS ? ":2376" : ":2375")
        self.init(baseURL: (useTLS ? "https://" : "http://") + address + port, unixSocketPath: nil, tls: tls)
    }
}
