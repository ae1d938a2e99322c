import Foundation

/// Where the store lives, parsed from `--store`, `DEFPI_STORE` or the config file.
public enum StoreLocation: Equatable, Sendable, CustomStringConvertible {
    /// An SQLite file (the embedded default).
    case sqlite(path: String)
    /// A MongoDB server, as a `mongodb://` URI.
    case mongo(uri: String)

    /// Parses a file path, `sqlite:///abs/path`, `sqlite:rel/path`, or a `mongodb://` /
    /// `mongodb+srv://` URI.
    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw StoreError.invalidLocation(text, reason: "it is empty") }
        if trimmed.hasPrefix("mongodb://") || trimmed.hasPrefix("mongodb+srv://") {
            self = .mongo(uri: trimmed)
        } else if trimmed.hasPrefix("sqlite:") {
            var path = String(trimmed.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path.removeFirst(2) }
            guard !path.isEmpty else { throw StoreError.invalidLocation(text, reason: "the sqlite: URI names no file") }
            self = .sqlite(path: path)
        } else if let colon = trimmed.range(of: "://") {
            let scheme = trimmed[..<colon.lowerBound]
            throw StoreError.invalidLocation(text, reason: "the scheme '\(scheme)' is not supported (use sqlite: or mongodb://)")
        } else {
            self = .sqlite(path: trimmed)
        }
    }

    /// `$XDG_DATA_HOME/defpi/defpi.sqlite`, or `~/.local/share/defpi/defpi.sqlite`.
    public static func defaultLocation(environment: [String: String] = ProcessInfo.processInfo.environment) -> StoreLocation {
        let dataHome = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.local/share")
        return .sqlite(path: dataHome + "/defpi/defpi.sqlite")
    }

    /// The location with any password replaced by `***`, safe to print.
    public var description: String {
        switch self {
        case .sqlite(let path): return path
        case .mongo(let uri): return MongoURI.redacted(uri)
        }
    }

    /// Opens the store, creating and migrating it as needed.
    public func open() async throws -> any Store {
        // Opening connects, migrates and builds indexes: blocking work, kept off the cooperative
        // thread pool (a slow MongoDB server would otherwise stall every task of the process).
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue(label: "defpi.store.open").async {
                continuation.resume(with: Result { try self.openBlocking() })
            }
        }
    }

    private func openBlocking() throws -> any Store {
        switch self {
        case .sqlite(let path):
            return try SQLiteStore(path: (path as NSString).expandingTildeInPath)
        case .mongo(let uri):
            return try MongoStore(uri: uri)
        }
    }
}
