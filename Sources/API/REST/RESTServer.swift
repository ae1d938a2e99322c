import Engine
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// Where `defpi serve` answers the REST API: an address and port, in the clear or with TLS.
public struct RESTListener: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// PEM files: the certificate chain and its private key.
    public var tls: (certificate: String, key: String)?

    public init(host: String, port: Int, tls: (certificate: String, key: String)? = nil) {
        self.host = host
        self.port = port
        self.tls = tls
    }

    /// `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (every address).
    public init(parsing text: String, tls: (certificate: String, key: String)? = nil) throws {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ListenerError.invalidAddress(text)
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.init(host: host.isEmpty ? "0.0.0.0" : host, port: port, tls: tls)
    }

    public static func == (left: RESTListener, right: RESTListener) -> Bool {
        left.host == right.host && left.port == right.port && left.tls?.certificate == right.tls?.certificate
            && left.tls?.key == right.tls?.key
    }

    /// The server: HTTP/1.1, or HTTP/1.1 in TLS 1.2 or later from the PEM files (read now, so a
    /// bad file stops the start), under `limits`.
    func server(_ limits: ConnectionLimits) throws -> HTTPServerBuilder {
        guard let tls else { return .http1(configuration: limits.http1) }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(tls.certificate).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: tls.key, format: .pem)
            var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            configuration.minimumTLSVersion = .tlsv12
            return try .tls(.http1(configuration: limits.http1), tlsConfiguration: configuration)
        } catch {
            throw ListenerError.unreadableTLS(certificate: tls.certificate, key: tls.key, reason: "\(error)")
        }
    }

    /// Whether only this machine can reach the address.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

extension RESTAPI {
    /// The REST API as a service of the program's `ServiceGroup`: it stops on a graceful shutdown,
    /// letting requests in flight finish. The TLS files are read now, so a bad one stops the start.
    public func service(listening listener: RESTListener, limits: ConnectionLimits = ConnectionLimits(), logger: Logger,
                        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> some ServiceLifecycle.Service {
        RESTService(listener: listener, application: Application(
            router: router(), server: try listener.server(limits),
            configuration: .init(address: .hostname(listener.host, port: listener.port), serverName: "defpi",
                                 availableConnectionsDelegate: MaximumAvailableConnections(limits.maximumConnections, logger: logger)),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? listener.port) }, logger: logger))
    }
}

/// The API's server, whose failure to listen (a port in use, a privileged port) says so in words.
struct RESTService: ServiceLifecycle.Service {
    let listener: RESTListener
    let application: any ServiceLifecycle.Service

    func run() async throws {
        do {
            try await application.run()
        } catch let error as IOError {
            throw ListenerError.cannotListen(address: "\(listener.host):\(listener.port)", reason: error.description)
        }
    }
}

/// Why the API cannot listen as asked.
public enum ListenerError: UserFacingError, Equatable {
    case invalidAddress(String)
    case unreadableTLS(certificate: String, key: String, reason: String)
    case cannotListen(address: String, reason: String)

    public var failureKind: FailureKind {
        if case .cannotListen = self { return .unavailable }
        return .invalidRequest
    }

    public var userMessage: String {
        switch self {
        case .invalidAddress(let text):
            return "\"\(text)\" is not an address to listen on; give HOST:PORT, e.g. 127.0.0.1:8080 or :8443"
        case .unreadableTLS(let certificate, let key, _):
            return "cannot use \(certificate) and \(key) for TLS; give a PEM certificate chain and its PEM private key"
        case .cannotListen(let address, let reason):
            let why = reason.contains("in use") ? "the address is in use" : reason.contains("denied") ? "permission denied" : reason
            return "cannot listen on \(address): \(why); give another address with --listen"
        }
    }

    public var debugDetail: String? {
        switch self {
        case .unreadableTLS(_, _, let reason), .cannotListen(_, let reason): return reason
        case .invalidAddress: return nil
        }
    }
}
