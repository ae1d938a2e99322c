import Foundation

/// One HTTP request as the connectors build it: method, absolute URL, headers and an optional body.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: Data?
    /// Overrides the client's request timeout for this call (a long upload, a quick probe).
    public var timeout: Duration?
    /// Overrides the client's response size limit for this call.
    public var maxResponseBytes: Int?

    public init(method: String = "GET", url: String, headers: [(name: String, value: String)] = [],
                body: Data? = nil, timeout: Duration? = nil, maxResponseBytes: Int? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.maxResponseBytes = maxResponseBytes
    }

    /// A request carrying `value` encoded as JSON.
    public static func json<Body: Encodable>(_ method: String, url: String, body: Body) throws -> HTTPRequest {
        HTTPRequest(method: method, url: url, headers: [("Content-Type", "application/json")],
                    body: try JSONEncoder().encode(body))
    }
}

/// A complete HTTP response: status, headers (names compared case-insensitively) and body.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: Data

    public init(status: Int, headers: [(name: String, value: String)] = [], body: Data = Data()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The last value of the header `name`, if present.
    public func header(_ name: String) -> String? {
        headers.last { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    public var isSuccess: Bool { (200..<300).contains(status) }

    /// The body as text, cut to `limit` characters, for error messages.
    public func bodyExcerpt(limit: Int = 300) -> String {
        let text = String(decoding: body.prefix(limit * 4), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return text.count > limit ? String(text.prefix(limit)) + "…" : text
    }
}

/// Where and how an HTTP client connects: through a unix socket or TCP, with optional TLS client
/// files, and the limits every call obeys.
public struct HTTPClientOptions: Sendable {
    /// Connect through this unix socket instead of TCP (the URL's host is then ignored).
    public var unixSocketPath: String?
    /// PEM files for TLS: the CA to verify the server, and the client certificate and key.
    public var tls: TLSFiles?
    public var connectTimeout: Duration
    /// Upper bound of a whole request, body included.
    public var requestTimeout: Duration
    /// Responses larger than this are refused with `HTTPTransportError.responseTooLarge`.
    public var maxResponseBytes: Int

    public init(unixSocketPath: String? = nil, tls: TLSFiles? = nil, connectTimeout: Duration = .seconds(5),
                requestTimeout: Duration = .seconds(30), maxResponseBytes: Int = 16 << 20) {
        self.unixSocketPath = unixSocketPath
        self.tls = tls
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.maxResponseBytes = maxResponseBytes
    }
}

/// Client-side TLS material in PEM files, as Docker lays it out in `DOCKER_CERT_PATH`.
public struct TLSFiles: Sendable, Equatable {
    public var caFile: String?
    public var certificateFile: String?
    public var keyFile: String?
    /// Whether to verify the server's certificate against `caFile`.
    public var verifyPeer: Bool

    public init(caFile: String?, certificateFile: String?, keyFile: String?, verifyPeer: Bool) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.verifyPeer = verifyPeer
    }
}

/// Why an HTTP exchange did not produce a response. Connectors wrap it into their own errors,
/// which say what to check.
public enum HTTPTransportError: Error, Sendable, Equatable {
    /// Nothing listens at the address, the socket file is missing, or DNS failed.
    case cannotConnect(detail: String)
    /// The socket or a file exists but this user may not open it.
    case permissionDenied(detail: String)
    /// No complete answer within the timeout.
    case timedOut(after: Duration)
    /// The answer exceeded the client's size limit.
    case responseTooLarge(limit: Int)
    /// The TLS handshake or a certificate failed.
    case tls(detail: String)
    /// Any other transfer failure, with libcurl's text.
    case failed(detail: String)

    /// One sentence about the failure, without advice (the connector adds that).
    public var summary: String {
        switch self {
        case .cannotConnect(let detail): return "cannot connect (\(detail))"
        case .permissionDenied(let detail): return "permission denied (\(detail))"
        case .timedOut(let after): return "no answer within \(after.formattedSeconds)"
        case .responseTooLarge(let limit): return "the answer is larger than \(limit.formattedBytes)"
        case .tls(let detail): return "TLS failed (\(detail))"
        case .failed(let detail): return detail
        }
    }
}

extension String {
    /// The text with everything but RFC 3986 unreserved characters percent-encoded: safe as a
    /// path segment or a query value.
    var percentEncoded: String {
        addingPercentEncoding(withAllowedCharacters: .urlUnreserved) ?? self
    }
}

extension CharacterSet {
    static let urlUnreserved = CharacterSet(charactersIn:
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}

extension Duration {
    /// `1.5 s`, `30 s`: for messages.
    public var formattedSeconds: String {
        seconds == seconds.rounded() ? "\(Int(seconds)) s" : String(format: "%.1f s", seconds)
    }

    /// The duration in seconds, as a `TimeInterval`.
    public var seconds: TimeInterval {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    var milliseconds: Int {
        Int(components.seconds) * 1000 + Int(components.attoseconds / 1_000_000_000_000_000)
    }
}

extension Int {
    /// `512 B`, `4 MB`: for messages.
    public var formattedBytes: String {
        if self >= 1 << 20 { return String(format: "%g MB", (Double(self) / Double(1 << 20) * 10).rounded() / 10) }
        if self >= 1 << 10 { return String(format: "%g KB", (Double(self) / Double(1 << 10) * 10).rounded() / 10) }
        return "\(self) B"
    }
}

/// URLs as defpi prints them: never with the user-info (`user:password@`) they may carry.
public enum URLText {
    /// `url` with its password replaced by `***` (`http://user:***@host/...`).
    public static func redactingUserInfo(_ url: String) -> String {
        guard let (start, end) = userInfoRange(url) else { return url }
        let userInfo = url[start..<end]
        guard let colon = userInfo.firstIndex(of: ":") else { return url }
        return String(url[..<url.index(after: colon)]) + "***" + String(url[end...])
    }

    /// `url` without its user-info.
    public static func removingUserInfo(_ url: String) -> String {
        guard let (start, end) = userInfoRange(url) else { return url }
        return String(url[..<start]) + String(url[url.index(after: end)...])
    }

    /// Where the user-info is: after `://`, up to the `@` that precedes the host's end.
    private static func userInfoRange(_ url: String) -> (String.Index, String.Index)? {
        guard let scheme = url.range(of: "://") else { return nil }
        let rest = url[scheme.upperBound...]
        let authorityEnd = rest.firstIndex(where: { "/?#".contains($0) }) ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return nil }
        return (scheme.upperBound, at)
    }
}
