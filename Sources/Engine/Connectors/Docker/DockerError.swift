/// Why a Docker Engine API call failed. Carries Docker's own message and HTTP status where
/// Docker answered, and says what to check where it did not.
public enum DockerError: UserFacingError, Equatable {
    /// `DOCKER_HOST` is not a form defpi understands.
    case invalidHost(String)
    /// No answer from the daemon (socket missing, permission denied, timeout ...).
    case unreachable(endpoint: String, HTTPTransportError)
    /// The object does not exist (HTTP 404).
    case notFound(operation: String, message: String)
    /// A name is taken or the object changed since it was read (HTTP 409, "update out of sequence").
    case conflict(operation: String, message: String)
    /// Any other error answer, with Docker's message.
    case api(operation: String, status: Int, message: String)
    /// The daemon speaks an API older than defpi supports.
    case unsupportedVersion(server: String, minimum: String)
    /// The daemon is not a manager of an active swarm.
    case notASwarmManager(endpoint: String, state: String)
    /// The answer was not the JSON Docker documents.
    case malformedResponse(operation: String, detail: String)

    public var failureKind: FailureKind {
        switch self {
        case .unreachable: return .unavailable
        case .notFound: return .notFound
        case .conflict: return .conflict
        default: return .failed
        }
    }

    public var userMessage: String {
        switch self {
        case .invalidHost(let host):
            return "DOCKER_HOST=\(host) is not understood; use unix:///path/to/docker.sock or tcp://host:port"
        case .unreachable(let endpoint, let error):
            return "cannot reach Docker at \(endpoint): \(error.summary); \(Self.advice(for: error))"
        case .notFound(let operation, let message):
            return "\(operation): Docker says \"\(message)\" (HTTP 404)"
        case .conflict(let operation, let message):
            return "\(operation): Docker says \"\(message)\" (conflict); read the object again and retry"
        case .api(let operation, let status, let message):
            return "\(operation): Docker says \"\(message)\" (HTTP \(status))"
        case .unsupportedVersion(let server, let minimum):
            return "Docker speaks API \(server), older than the \(minimum) defpi needs; upgrade Docker Engine to 20.10 or newer"
        case .notASwarmManager(let endpoint, let state):
            return "Docker at \(endpoint) is not a swarm manager (swarm state: \(state)); run `docker swarm init` or point DOCKER_HOST at a manager"
        case .malformedResponse(let operation, _):
            return "\(operation): Docker answered something defpi cannot read; is DOCKER_HOST a Docker Engine?"
        }
    }

    public var debugDetail: String? {
        if case .malformedResponse(_, let detail) = self { return detail }
        return nil
    }

    /// The HTTP status Docker answered with, when it answered.
    public var httpStatus: Int? {
        switch self {
        case .notFound: return 404
        case .conflict: return 409
        case .api(_, let status, _): return status
        default: return nil
        }
    }

    private static func advice(for error: HTTPTransportError) -> String {
        switch error {
        case .cannotConnect: return "is dockerd running, and does DOCKER_HOST point at it?"
        case .permissionDenied: return "run defpi as a user in the docker group, or as root"
        case .timedOut: return "is the daemon overloaded or hung?"
        case .tls: return "check DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem) and DOCKER_TLS_VERIFY"
        case .responseTooLarge, .failed: return "check the daemon's log"
        }
    }
}
