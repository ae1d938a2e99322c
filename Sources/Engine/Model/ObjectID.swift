import Foundation

/// Identifiers in the 24-hex-digit MongoDB ObjectId form the original dEF-Pi uses, so documents
/// and REST JSON stay compatible: 4 bytes of seconds since 1970, 5 random bytes, a 3-byte counter.
public enum ObjectID {
    private static let state = IDState()

    /// A new identifier, unique within this process and, with overwhelming probability, globally.
    public static func generate(now: Date = Date()) -> String {
        let seconds = UInt32(truncatingIfNeeded: Int64(now.timeIntervalSince1970))
        let counter = state.nextCounter()
        var bytes: [UInt8] = [UInt8(seconds >> 24), UInt8(seconds >> 16 & 0xFF), UInt8(seconds >> 8 & 0xFF), UInt8(seconds & 0xFF)]
        bytes.append(contentsOf: state.processBytes)
        bytes.append(contentsOf: [UInt8(counter >> 16 & 0xFF), UInt8(counter >> 8 & 0xFF), UInt8(counter & 0xFF)])
        return bytes.map { hexDigits[Int($0 >> 4)] + hexDigits[Int($0 & 0x0F)] }.joined()
    }

    /// Whether `text` is 24 lower- or upper-case hex digits.
    public static func isValid(_ text: String) -> Bool {
        text.utf8.count == 24 && text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) || ($0 >= 65 && $0 <= 70) }
    }

    private static let hexDigits = (0..<16).map { String($0, radix: 16) }
}

/// The per-process random part and the counter of `ObjectID`.
private final class IDState: @unchecked Sendable {
    let processBytes: [UInt8] = (0..<5).map { _ in UInt8.random(in: 0...255) }
    private let lock = NSLock()
    private var counter = UInt32.random(in: 0..<(1 << 24))

    func nextCounter() -> UInt32 {
        lock.lock()
        defer { lock.unlock() }
        counter = (counter + 1) & 0xFF_FFFF
        return counter
    }
}
