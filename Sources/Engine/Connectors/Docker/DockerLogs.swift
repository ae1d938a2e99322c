import Foundation

/// One line a container wrote, with Docker's timestamp.
public struct DockerLogLine: Sendable, Equatable {
    public enum Stream: Sendable, Equatable { case stdout, stderr }

    public var stream: Stream
    /// Docker's RFC 3339 timestamp (nanoseconds), as it sent it.
    public var timestamp: String
    public var text: String
}

/// Cuts Docker's log stream into lines. Without a TTY the stream is multiplexed: frames of an
/// 8-byte header (stream 1 or 2, three zero bytes, a big-endian length) and that many bytes;
/// with one, it is the raw output. Lines are `<timestamp> <text>` (`timestamps=1`). Written
/// by hand: Docker's framing is a few lines and no kept library parses it.
final class DockerLogSplitter: @unchecked Sendable {
    private var buffer = Data()
    private var pending: [DockerLogLine.Stream: Data] = [:]
    private var multiplexed: Bool?
    private let onLine: @Sendable (DockerLogLine) -> Void

    init(onLine: @escaping @Sendable (DockerLogLine) -> Void) { self.onLine = onLine }

    /// Called on libcurl's thread only, one chunk at a time.
    func feed(_ chunk: Data) -> Bool {
        buffer.append(chunk)
        // A multiplexed stream starts with its stream byte (0, 1 or 2); raw text never does.
        if multiplexed == nil, let first = buffer.first {
            if first > 2 { multiplexed = false } else if buffer.count >= 8 { multiplexed = true }
        }
        guard let multiplexed else { return true }
        if !multiplexed {
            take(buffer, from: .stdout)
            buffer.removeAll()
            return true
        }
        while buffer.count >= 8 {
            let header = [UInt8](buffer.prefix(8))
            let length = header[4...7].reduce(0) { $0 << 8 | Int($1) }
            guard buffer.count >= 8 + length else { break }
            let payload = buffer.subdata(in: buffer.startIndex + 8..<buffer.startIndex + 8 + length)
            buffer.removeFirst(8 + length)
            take(payload, from: header[0] == 2 ? .stderr : .stdout)
        }
        return true
    }

    /// Hands on what is left when the stream ends (a last line without a newline).
    func finish() {
        for (stream, rest) in pending where !rest.isEmpty { emit(rest, stream) }
        pending.removeAll()
    }

    /// The longest line handed on: a process that writes without newlines is cut into lines of
    /// this size, so no reader holds more of its output than that.
    static let maximumLineBytes = 64 * 1024

    private func take(_ bytes: Data, from stream: DockerLogLine.Stream) {
        var data = (pending[stream] ?? Data()) + bytes
        while let newline = data.firstIndex(of: UInt8(ascii: "\n")) {
            emit(data[data.startIndex..<newline], stream)
            data = Data(data[(newline + 1)...])
        }
        while data.count > Self.maximumLineBytes {
            emit(data.prefix(Self.maximumLineBytes), stream)
            data = Data(data.dropFirst(Self.maximumLineBytes))
        }
        pending[stream] = data
    }

    private func emit(_ line: Data, _ stream: DockerLogLine.Stream) {
        let text = String(decoding: line, as: UTF8.self)
        let parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        let stamped = parts.count == 2 && parts[0].count >= 20 && parts[0].first?.isNumber == true
        onLine(DockerLogLine(stream: stream, timestamp: stamped ? String(parts[0]) : "",
                             text: stamped ? String(parts[1]) : text))
    }
}
