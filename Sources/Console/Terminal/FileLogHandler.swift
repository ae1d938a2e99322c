import Foundation
import Logging
import Synchronization

/// A swift-log handler that appends lines to a file: while curses owns the terminal, nothing
/// may print to the screen behind it. (swift-log ships stream handlers for stdout/stderr only.)
public struct FileLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let file: SharedFile

    /// Opens (creating, appending) the log at `path`; nil when it cannot be written.
    public static func factory(path: String, level: Logger.Level) -> (@Sendable (String) -> any LogHandler)? {
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: path) else { return nil }
        _ = try? handle.seekToEnd()
        let file = SharedFile(handle: handle)
        return { label in
            var handler = FileLogHandler(label: label, file: file)
            handler.logLevel = level
            return handler
        }
    }

    private init(label: String, file: SharedFile) {
        self.label = label
        self.file = file
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let time = ISO8601DateFormatter().string(from: Date())
        file.append("\(time) \(event.level) \(label): \(event.message)\n")
    }
}

/// One log file shared by every logger, written a line at a time. A line that cannot be
/// written (the disk is full, the file was removed) is dropped: logging never stops the program.
private final class SharedFile: Sendable {
    private let handle: Mutex<FileHandle>

    init(handle: FileHandle) { self.handle = Mutex(handle) }

    func append(_ line: String) {
        handle.withLock { _ = try? $0.write(contentsOf: Data(line.utf8)) }
    }
}
