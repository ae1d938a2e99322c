/// The frame format of the dEF-Pi management and data protocols: a 4-byte big-endian payload
/// length, the payload, then the end-of-message byte `0xFF`.
public enum Framing {
    /// The byte that closes every frame.
    public static let endOfMessage: UInt8 = 0xFF

    /// The port every process listens on for the orchestrator's management connection.
    public static let managementPort = 4999

    /// The default upper bound for one payload (16 MiB), well above any message the protocol sends.
    public static let defaultMaximumPayloadLength = 16 << 20

    /// The bytes of one frame carrying `payload`.
    public static func frame(_ payload: some Collection<UInt8>) -> [UInt8] {
        let length = UInt32(payload.count)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(payload.count + 5)
        bytes.append(contentsOf: [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)])
        bytes.append(contentsOf: payload)
        bytes.append(endOfMessage)
        return bytes
    }
}

/// Why a byte stream is not a valid sequence of frames. The connection that produced it should be
/// closed: the stream cannot be trusted past this point.
public enum FramingError: Error, Equatable, CustomStringConvertible {
    /// The length prefix is negative when read as a signed 32-bit integer, as the original reader does.
    case negativeLength(Int32)
    /// The length prefix exceeds the configured cap.
    case oversized(length: Int, limit: Int)

    public var description: String {
        switch self {
        case .negativeLength(let length):
            return "frame length \(length) is negative; the peer does not speak the dEF-Pi framing"
        case .oversized(let length, let limit):
            return "frame of \(length) bytes exceeds the limit of \(limit) bytes"
        }
    }
}

/// Splits a byte stream into frame payloads, however the bytes arrive.
///
/// When the byte after a payload is not `0xFF`, the decoder skips bytes until it finds one (as the
/// original reader does) and still delivers the payload; `skippedBytes` counts what was skipped.
public struct FrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0
    private var pendingPayload: [UInt8]?
    /// The largest payload accepted.
    public let maximumPayloadLength: Int
    /// Bytes dropped while looking for a missing end-of-message byte.
    public private(set) var skippedBytes = 0

    public init(maximumPayloadLength: Int = Framing.defaultMaximumPayloadLength) {
        self.maximumPayloadLength = maximumPayloadLength
    }

    /// Adds bytes read from the stream.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 4096 && start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete payload, or nil when more bytes are needed.
    public mutating func next() throws(FramingError) -> [UInt8]? {
        if pendingPayload == nil {
            guard buffer.count - start >= 4 else { return nil }
            let raw = buffer[start..<start + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let length = Int32(bitPattern: raw)
            guard length >= 0 else { throw .negativeLength(length) }
            guard Int(length) <= maximumPayloadLength else {
                throw .oversized(length: Int(length), limit: maximumPayloadLength)
            }
            guard buffer.count - start >= 4 + Int(length) else { return nil }
            pendingPayload = Array(buffer[start + 4..<start + 4 + Int(length)])
            start += 4 + Int(length)
        }
        while start < buffer.count {
            let byte = buffer[start]
            start += 1
            if byte == Framing.endOfMessage {
                defer { pendingPayload = nil }
                return pendingPayload
            }
            skippedBytes += 1
        }
        return nil
    }
}
