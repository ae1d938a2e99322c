/// Why `defpi service publish` cannot build or push an image.
public enum PublishError: UserFacingError, Equatable {
    case unreadable(path: String, reason: String)
    case invalidDescription(path: String, reason: String)
    case invalidName(field: String, value: String)
    case notAnExecutable(path: String)
    case unsupportedArchitecture(path: String, machine: Int)
    case libraryNotFound(executable: String, detail: String)
    case pathTooLong(String)

    public var failureKind: FailureKind {
        switch self {
        case .invalidName, .invalidDescription: return .invalidRequest
        default: return .failed
        }
    }

    public var userMessage: String {
        switch self {
        case .unreadable(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .invalidDescription(let path, let reason):
            return "\(path) is not a valid service description: \(reason)"
        case .invalidName(let field, let value):
            return "\"\(value)\" is not a valid \(field); use lower-case letters, digits, '.', '_' and '-' (a tag may also hold upper case)"
        case .notAnExecutable(let path):
            return "\(path) is not an executable file; build the service first and pass its binary"
        case .unsupportedArchitecture(let path, let machine):
            return "\(path) is built for a CPU defpi does not run services on (ELF machine \(machine)); build it for x86_64, aarch64 or armv7"
        case .libraryNotFound(let executable, let detail):
            return "cannot find the libraries \(executable) links (\(detail)); install them or link the binary statically"
        case .pathTooLong(let path):
            return "the path \(path) is too long for an image layer"
        }
    }
}
