/// Why a registry call failed, with the registry's own error code and message where it answered.
public enum RegistryError: UserFacingError, Equatable {
    /// The registry URL is not an http(s) URL.
    case invalidURL(String)
    /// No answer (registry down, wrong port, TLS, timeout).
    case unreachable(url: String, HTTPTransportError)
    /// The registry wants credentials and defpi has none.
    case unauthorized(url: String, message: String)
    /// The registry (or its token service) refused the credentials defpi sent.
    case credentialsRejected(url: String, message: String)
    /// The credentials are good but do not allow this (a push to a read-only repository, say).
    case forbidden(operation: String, message: String)
    /// The repository, tag or blob does not exist.
    case notFound(what: String, message: String)
    /// Any other error answer.
    case api(operation: String, status: Int, message: String)
    /// The answer was not what the registry API documents.
    case malformedResponse(operation: String, detail: String)
    /// The tag has images, but none for this architecture.
    case noImageForArchitecture(image: String, architecture: String, available: [String])
    /// A blob (an image config) is larger than defpi reads.
    case blobTooLarge(what: String, limit: Int)

    public var failureKind: FailureKind {
        switch self {
        case .unreachable: return .unavailable
        case .notFound: return .notFound
        case .noImageForArchitecture, .blobTooLarge: return .invalidRequest
        default: return .failed
        }
    }

    public var userMessage: String {
        switch self {
        case .invalidURL(let url):
            return "the registry URL \(url) is not valid; use http://host:port or https://host (set DEFPI_REGISTRY or --registry)"
        case .unreachable(let url, let error):
            return "cannot reach the registry at \(url): \(error.summary); is it running, and is DEFPI_REGISTRY (or --registry) right?"
        case .unauthorized(let url, let message):
            return "the registry at \(url) wants credentials (\(message)); set DEFPI_REGISTRY_USERNAME and DEFPI_REGISTRY_PASSWORD"
        case .credentialsRejected(let url, let message):
            return "the registry at \(url) refused the user name and password (\(message)); check DEFPI_REGISTRY_USERNAME and DEFPI_REGISTRY_PASSWORD"
        case .forbidden(let operation, let message):
            return "\(operation): the registry does not allow it for this user (\(message))"
        case .notFound(let what, let message):
            return "\(what) is not in the registry (\(message))"
        case .api(let operation, let status, let message):
            return "\(operation): the registry says \"\(message)\" (HTTP \(status))"
        case .malformedResponse(let operation, _):
            return "\(operation): the registry answered something that is not the registry API; is the URL a Docker registry?"
        case .noImageForArchitecture(let image, let architecture, let available):
            let list = available.isEmpty ? "none" : available.joined(separator: ", ")
            return "\(image) has no image for \(architecture) (it has: \(list)); publish one for this architecture"
        case .blobTooLarge(let what, let limit):
            return "\(what) is larger than the \(limit.formattedBytes) defpi reads; its labels are too large to be dEF-Pi labels"
        }
    }

    public var debugDetail: String? {
        if case .malformedResponse(_, let detail) = self { return detail }
        return nil
    }
}
