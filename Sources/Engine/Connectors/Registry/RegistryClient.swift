import Crypto
import Foundation
import Synchronization

/// Credentials for a registry: sent as HTTP basic auth, or traded for a bearer token.
public struct RegistryCredentials: Sendable, Equatable {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    var basicAuthorization: String {
        "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    }
}

/// The Docker Registry HTTP API v2 over libcurl: catalog and tags, schema-2/OCI manifests and
/// indexes, blobs, and push. Answers `401` challenges with basic auth or the bearer-token flow.
public final class RegistryClient: Sendable {
    /// `http://host:port` without a trailing slash.
    public let baseURL: String
    public let credentials: RegistryCredentials?
    let http: CurlHTTPClient
    /// Bearer tokens by scope; a basic-auth registry stores its header under `basic`.
    private let authorizations = Mutex<[String: String]>([:])

    /// Image configs larger than this are refused: dEF-Pi labels are kilobytes.
    public static let configSizeLimit = 4 << 20

    /// Credentials written into the URL (`http://user:password@host`) are used when none are
    /// given, and never printed: `baseURL` has no user-info.
    public init(url: String, credentials: RegistryCredentials? = nil, requestTimeout: Duration = .seconds(30)) throws {
        var trimmed = url.trimmingCharacters(in: .whitespaces)
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        if !trimmed.contains("://") { trimmed = "http://" + trimmed }
        guard let parsed = URL(string: trimmed), ["http", "https"].contains(parsed.scheme), parsed.host != nil else {
            throw RegistryError.invalidURL(URLText.redactingUserInfo(url))
        }
        baseURL = URLText.removingUserInfo(trimmed)
        self.credentials = credentials ?? parsed.user.map {
            RegistryCredentials(username: $0.removingPercentEncoding ?? $0,
                                password: parsed.password.map { $0.removingPercentEncoding ?? $0 } ?? "")
        }
        http = CurlHTTPClient(options: HTTPClientOptions(requestTimeout: requestTimeout))
    }

    /// Whether credentials or tokens may go to `url`: the registry's own origin (scheme, host,
    /// port) for what the registry points to (a `Link`, an upload `Location`); for a token
    /// realm, which usually listens on a port of its own, the registry's host, never over plain
    /// HTTP when the registry speaks HTTPS.
    private func isRegistryHost(_ url: String, anyPort: Bool = false) -> Bool {
        guard let target = Origin(url), let registry = Origin(baseURL), target.host == registry.host else { return false }
        if anyPort { return target.scheme == registry.scheme || target.scheme == "https" }
        return target == registry
    }

    /// Scheme, host and port of a URL, default ports filled in.
    private struct Origin: Equatable {
        let scheme: String, host: String, port: Int

        init?(_ url: String) {
            guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), let host = parsed.host?.lowercased()
            else { return nil }
            self.scheme = scheme
            self.host = host
            port = parsed.port ?? (scheme == "https" ? 443 : 80)
        }
    }

    /// `host:port` as swarm nodes name the registry in image references.
    public var host: String {
        baseURL.components(separatedBy: "://").last ?? baseURL
    }

    // MARK: Reading

    /// `GET /v2/`: the registry answers and accepts our credentials.
    public func ping() async throws {
        _ = try await send(HTTPRequest(url: baseURL + "/v2/"), scope: nil, operation: "check the registry")
    }

    /// Every repository name, following the `Link` header page by page.
    public func catalog(pageSize: Int = 1000) async throws -> [String] {
        struct Page: Decodable { let repositories: [String]? }
        return try await pages(from: baseURL + "/v2/_catalog?n=\(pageSize)", scope: "registry:catalog:*",
                               operation: "list the registry's repositories", missing: "the catalog") { data in
            try JSONDecoder().decode(Page.self, from: data).repositories ?? []
        }
    }

    /// The repository's tags in ascending version order (numeric parts compared as numbers),
    /// across `Link` pages where the registry pages them; empty when the repository has no tags
    /// or is gone.
    public func tags(repository: String, pageSize: Int = 1000) async throws -> [String] {
        struct Page: Decodable { let tags: [String]? }
        do {
            return try await pages(from: "\(baseURL)/v2/\(repository)/tags/list?n=\(pageSize)", scope: pullScope(repository),
                                   operation: "list the tags of \(repository)", missing: repository) { data in
                try JSONDecoder().decode(Page.self, from: data).tags ?? []
            }.sorted { VersionOrder.ascending($0, $1) }
        } catch RegistryError.notFound { return [] }
    }

    /// A list read page by page, following each answer's `Link: <...>; rel="next"`.
    private func pages(from first: String, scope: String, operation: String, missing: String,
                       items: (Data) throws -> [String]) async throws -> [String] {
        var all: [String] = []
        var next: String? = first
        while let url = next {
            let response = try await send(HTTPRequest(url: url), scope: scope, operation: operation, missing: missing)
            do {
                all += try items(response.body)
            } catch {
                throw RegistryError.malformedResponse(operation: operation, detail: "\(error); body: \(response.bodyExcerpt())")
            }
            next = Self.nextPage(linkHeader: response.header("Link")).map { resolve($0) }
        }
        return all
    }

    /// The manifest or index a tag (or digest) points at.
    public func manifest(repository: String, reference: String) async throws -> RegistryManifest {
        let operation = "read the manifest of \(repository):\(reference)"
        let response = try await send(
            HTTPRequest(url: "\(baseURL)/v2/\(repository)/manifests/\(reference)",
                        headers: [("Accept", RegistryMediaType.manifestAccept)]),
            scope: pullScope(repository), operation: operation, missing: "\(repository):\(reference)")
        let digest = response.header("Docker-Content-Digest") ?? Self.digest(of: response.body)
        struct Probe: Decodable { let schemaVersion: Int?; let mediaType: String?; let manifests: [ContentDescriptor]? }
        let probe = try decode(Probe.self, from: response, operation: operation)
        if probe.schemaVersion == 1 {
            throw RegistryError.malformedResponse(
                operation: operation, detail: "a schema-1 manifest; push the image again with a current client")
        }
        if RegistryMediaType.isIndex(probe.mediaType ?? response.header("Content-Type")) || probe.manifests != nil {
            return .index(try decode(ImageIndex.self, from: response, operation: operation), digest: digest)
        }
        return .image(try decode(ImageManifest.self, from: response, operation: operation), digest: digest)
    }

    /// The single-platform manifest for `architecture` behind a tag, resolving an index.
    public func imageManifest(repository: String, reference: String, architecture: Architecture) async throws
        -> (manifest: ImageManifest, digest: String)
    {
        switch try await manifest(repository: repository, reference: reference) {
        case .image(let manifest, let digest):
            return (manifest, digest)
        case .index(let index, _):
            let images = index.manifests.filter { $0.platform?.os != "unknown" }
            guard let entry = images.first(where: {
                Architecture(platformName: $0.platform?.architecture ?? "") == architecture
            }) else {
                throw RegistryError.noImageForArchitecture(
                    image: "\(repository):\(reference)", architecture: architecture.rawValue,
                    available: images.compactMap { $0.platform?.architecture })
            }
            guard case .image(let manifest, let digest) = try await self.manifest(
                repository: repository, reference: entry.digest)
            else {
                throw RegistryError.malformedResponse(
                    operation: "read \(repository)@\(entry.digest)", detail: "an index inside an index")
            }
            return (manifest, digest)
        }
    }

    /// A blob's bytes, refused beyond `limit`.
    public func blob(repository: String, digest: String, limit: Int) async throws -> Data {
        try await blob(repository: repository, digest: digest, limit: limit,
                       what: "the blob \(digest.prefix(19)) of \(repository)")
    }

    /// The image config blob (labels, entrypoint, architecture, created time).
    public func config(repository: String, manifest: ImageManifest) async throws -> ImageConfig {
        let what = "the image config of \(repository)"
        let data = try await blob(repository: repository, digest: manifest.config.digest, limit: Self.configSizeLimit,
                                  what: what)
        return try decode(ImageConfig.self, from: HTTPResponse(status: 200, body: data), operation: "read \(what)")
    }

    /// A blob's bytes, named `what` in errors.
    private func blob(repository: String, digest: String, limit: Int, what: String) async throws -> Data {
        do {
            return try await send(
                HTTPRequest(url: "\(baseURL)/v2/\(repository)/blobs/\(digest)", maxResponseBytes: limit),
                scope: pullScope(repository), operation: "read \(what)", missing: what
            ).body
        } catch RegistryError.unreachable(_, .responseTooLarge) {
            throw RegistryError.blobTooLarge(what: what, limit: limit)
        }
    }

    // MARK: Writing

    /// Whether the repository already has this blob.
    public func hasBlob(repository: String, digest: String) async throws -> Bool {
        do {
            _ = try await send(HTTPRequest(method: "HEAD", url: "\(baseURL)/v2/\(repository)/blobs/\(digest)"),
                               scope: pushScope(repository), operation: "check a blob of \(repository)")
            return true
        } catch RegistryError.notFound { return false }
    }

    /// Uploads a blob (monolithic upload) unless the repository has it; returns its digest.
    @discardableResult
    public func pushBlob(repository: String, data: Data) async throws -> String {
        let digest = Self.digest(of: data)
        if try await hasBlob(repository: repository, digest: digest) { return digest }
        let operation = "upload a blob to \(repository)"
        let started = try await send(
            HTTPRequest(method: "POST", url: "\(baseURL)/v2/\(repository)/blobs/uploads/"),
            scope: pushScope(repository), operation: operation)
        guard let location = started.header("Location") else {
            throw RegistryError.malformedResponse(operation: operation, detail: "no Location header")
        }
        let target = resolve(location) + (location.contains("?") ? "&" : "?") + "digest=" + digest
        _ = try await send(
            HTTPRequest(method: "PUT", url: target, headers: [("Content-Type", "application/octet-stream")], body: data,
                        timeout: .seconds(300)),
            scope: pushScope(repository), operation: operation)
        return digest
    }

    /// Stores a manifest or index under `reference` (a tag); returns its digest.
    @discardableResult
    public func pushManifest(repository: String, reference: String, body: Data, mediaType: String) async throws
        -> String
    {
        let response = try await send(
            HTTPRequest(method: "PUT", url: "\(baseURL)/v2/\(repository)/manifests/\(reference)",
                        headers: [("Content-Type", mediaType)], body: body),
            scope: pushScope(repository), operation: "push \(repository):\(reference)")
        return response.header("Docker-Content-Digest") ?? Self.digest(of: body)
    }

    /// Pushes a one-layer image: the layer and config blobs (skipped when present), then its
    /// OCI manifest under `reference` (a tag; nil: by digest only, as images of an index are).
    /// Returns the manifest's descriptor.
    @discardableResult
    public func pushImage(repository: String, reference: String?, layer: Data, config: Data) async throws
        -> ContentDescriptor
    {
        let layerDigest = try await pushBlob(repository: repository, data: layer)
        let configDigest = try await pushBlob(repository: repository, data: config)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let manifest = try encoder.encode(ImageManifest(
            config: ContentDescriptor(mediaType: RegistryMediaType.ociConfig, digest: configDigest, size: config.count),
            layers: [ContentDescriptor(mediaType: RegistryMediaType.ociLayer, digest: layerDigest, size: layer.count)]))
        let digest = try await pushManifest(repository: repository, reference: reference ?? Self.digest(of: manifest),
                                            body: manifest, mediaType: RegistryMediaType.ociManifest)
        return ContentDescriptor(mediaType: RegistryMediaType.ociManifest, digest: digest, size: manifest.count)
    }

    /// Deletes a manifest by digest (the registry must allow deletes); its tags go with it.
    public func deleteManifest(repository: String, digest: String) async throws {
        _ = try await send(HTTPRequest(method: "DELETE", url: "\(baseURL)/v2/\(repository)/manifests/\(digest)"),
                           scope: "repository:\(repository):delete", operation: "delete \(repository)@\(digest)",
                           missing: "\(repository)@\(digest)")
    }

    /// `sha256:<hex>` of `data`: the content address registries use.
    public static func digest(of data: Data) -> String {
        "sha256:" + SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    // MARK: Plumbing

    private func pullScope(_ repository: String) -> String { "repository:\(repository):pull" }
    private func pushScope(_ repository: String) -> String { "repository:\(repository):pull,push" }

    /// Sends `request` with what is known of the registry's auth, answering one 401 challenge.
    private func send(_ request: HTTPRequest, scope: String?, operation: String, missing: String? = nil) async throws
        -> HTTPResponse
    {
        var response = try await exchange(request, authorization: cachedAuthorization(scope: scope))
        if response.status == 401, let challenge = response.header("WWW-Authenticate") {
            let authorization = try await authorize(challenge: challenge, scope: scope)
            response = try await exchange(request, authorization: authorization)
        }
        guard response.isSuccess else {
            let message = Self.errorMessage(response)
            switch response.status {
            case 401 where credentials != nil:
                throw RegistryError.credentialsRejected(url: baseURL, message: message)
            case 401: throw RegistryError.unauthorized(url: baseURL, message: message)
            case 403: throw RegistryError.forbidden(operation: operation, message: message)
            case 404: throw RegistryError.notFound(what: missing ?? request.url, message: message)
            default: throw RegistryError.api(operation: operation, status: response.status, message: message)
            }
        }
        return response
    }

    private func exchange(_ request: HTTPRequest, authorization: String?) async throws -> HTTPResponse {
        var request = request
        if let authorization, isRegistryHost(request.url) { request.headers.append(("Authorization", authorization)) }
        do {
            return try await http.send(request)
        } catch let error as HTTPTransportError {
            throw RegistryError.unreachable(url: baseURL, error)
        }
    }

    private func cachedAuthorization(scope: String?) -> String? {
        authorizations.withLock { known in known["basic"] ?? scope.flatMap { known[$0] } }
    }

    /// Answers a `WWW-Authenticate` challenge: basic credentials, or a token from the realm.
    private func authorize(challenge header: String, scope: String?) async throws -> String {
        let challenge = AuthChallenge(parsing: header)
        switch challenge.scheme {
        case "basic":
            guard let credentials else {
                throw RegistryError.unauthorized(url: baseURL, message: "the registry asks for a username and password")
            }
            let authorization = credentials.basicAuthorization
            authorizations.withLock { $0["basic"] = authorization }
            return authorization
        case "bearer":
            return try await bearerToken(challenge, scope: scope)
        default:
            throw RegistryError.unauthorized(url: baseURL, message: "unsupported authentication scheme \(challenge.scheme)")
        }
    }

    /// The bearer-token flow: ask the challenge's realm for a token for `scope`, with basic
    /// credentials when defpi has them and the realm is on the registry's host (anonymous
    /// otherwise: a challenge cannot send our password elsewhere).
    private func bearerToken(_ challenge: AuthChallenge, scope: String?) async throws -> String {
        guard let realm = challenge.parameters["realm"] else {
            throw RegistryError.unauthorized(url: baseURL, message: "a bearer challenge without a realm")
        }
        var query: [String] = []
        if let service = challenge.parameters["service"] { query.append("service=" + service.percentEncoded) }
        if let scope = scope ?? challenge.parameters["scope"] { query.append("scope=" + scope.percentEncoded) }
        var request = HTTPRequest(url: realm + (realm.contains("?") ? "&" : "?") + query.joined(separator: "&"))
        if let credentials, isRegistryHost(realm, anyPort: true) { request.headers.append(("Authorization", credentials.basicAuthorization)) }
        let response: HTTPResponse
        do {
            response = try await http.send(request)
        } catch let error as HTTPTransportError {
            throw RegistryError.unreachable(url: URLText.redactingUserInfo(realm), error)
        }
        guard response.isSuccess else {
            let message = "the token service at \(URLText.redactingUserInfo(realm)) answered \(response.status)"
            if credentials != nil { throw RegistryError.credentialsRejected(url: baseURL, message: message) }
            throw RegistryError.unauthorized(url: baseURL, message: message)
        }
        struct Token: Decodable { let token: String?; let accessToken: String?
            enum CodingKeys: String, CodingKey { case token, accessToken = "access_token" }
        }
        guard let token = try? JSONDecoder().decode(Token.self, from: response.body),
              let value = token.token ?? token.accessToken
        else {
            throw RegistryError.malformedResponse(operation: "get a registry token", detail: response.bodyExcerpt())
        }
        let authorization = "Bearer " + value
        if let scope { authorizations.withLock { $0[scope] = authorization } }
        return authorization
    }

    private func decode<Value: Decodable>(_ type: Value.Type, from response: HTTPResponse, operation: String) throws
        -> Value
    {
        do {
            return try JSONDecoder().decode(Value.self, from: response.body)
        } catch {
            throw RegistryError.malformedResponse(operation: operation, detail: "\(error); body: \(response.bodyExcerpt())")
        }
    }

    /// An absolute URL for a `Location` or `Link` target that may be relative to the registry.
    private func resolve(_ target: String) -> String {
        target.hasPrefix("http://") || target.hasPrefix("https://") ? target : baseURL + target
    }

    /// The `next` target of an RFC 5988 `Link` header.
    static func nextPage(linkHeader: String?) -> String? {
        guard let linkHeader else { return nil }
        for link in linkHeader.split(separator: ",") where link.contains("rel=\"next\"") {
            guard let open = link.firstIndex(of: "<"), let close = link.firstIndex(of: ">"), open < close else { continue }
            return String(link[link.index(after: open)..<close])
        }
        return nil
    }

    /// The registry's `errors[0]` as `CODE: message`, or the raw body.
    static func errorMessage(_ response: HTTPResponse) -> String {
        struct Errors: Decodable { let errors: [Entry]; struct Entry: Decodable { let code: String?; let message: String? } }
        if let first = (try? JSONDecoder().decode(Errors.self, from: response.body))?.errors.first {
            return [first.code, first.message].compactMap { $0 }.joined(separator: ": ")
        }
        let excerpt = response.bodyExcerpt()
        return excerpt.isEmpty ? "HTTP \(response.status)" : excerpt
    }
}

/// A parsed `WWW-Authenticate` header: `Bearer realm="...",service="...",scope="..."`.
struct AuthChallenge: Equatable {
    /// Lower-cased: `basic` or `bearer`.
    var scheme: String
    var parameters: [String: String]

    init(parsing header: String) {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        let space = trimmed.firstIndex(of: " ") ?? trimmed.endIndex
        scheme = trimmed[..<space].lowercased()
        parameters = [:]
        var rest = Substring(trimmed[space...])
        while let equals = rest.firstIndex(of: "=") {
            let key = rest[..<equals].trimmingCharacters(in: CharacterSet(charactersIn: " ,")).lowercased()
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                let close = rest.firstIndex(of: "\"") ?? rest.endIndex
                value = String(rest[..<close])
                rest = close < rest.endIndex ? rest[rest.index(after: close)...] : ""
            } else {
                let comma = rest.firstIndex(of: ",") ?? rest.endIndex
                value = rest[..<comma].trimmingCharacters(in: .whitespaces)
                rest = rest[comma...]
            }
            parameters[key] = value
        }
    }
}
