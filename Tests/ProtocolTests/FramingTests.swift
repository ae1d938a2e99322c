import Protocol
import Testing

@Suite("Framing", .timeLimit(.minutes(2)))
struct FramingTests {
    @Test("a frame is a big-endian length, the payload and 0xFF")
    func encoding() {
        #expect(Framing.frame([0x41, 0x42]) == [0, 0, 0, 2, 0x41, 0x42, 0xFF])
        #expect(Framing.frame([UInt8]()) == [0, 0, 0, 0, 0xFF])
        #expect(Array(Framing.frame([UInt8](repeating: 7, count: 300)).prefix(4)) == [0, 0, 1, 0x2C])
    }

    @Test("frames split at any byte boundary decode the same")
    func splitDelivery() throws {
        let payloads: [[UInt8]] = [[1, 2, 3], [], [0xFF, 0xFF], Array(repeating: 9, count: 1000)]
        let stream = payloads.flatMap { Framing.frame($0) }
        for chunk in [1, 2, 3, 7, 64, stream.count] {
            var decoder = FrameDecoder()
            var decoded: [[UInt8]] = []
            var index = 0
            while index < stream.count {
                decoder.append(stream[index..<min(index + chunk, stream.count)])
                index += chunk
                while let payload = try decoder.next() { decoded.append(payload) }
            }
            #expect(decoded == payloads, "chunk size \(chunk)")
        }
    }

    @Test("a missing end byte is skipped up to the next 0xFF and counted")
    func resynchronisation() throws {
        var decoder = FrameDecoder()
        decoder.append([0, 0, 0, 1, 0x41, 0x13, 0x37, 0xFF] + Framing.frame([0x42]))
        #expect(try decoder.next() == [0x41])
        #expect(decoder.skippedBytes == 2)
        #expect(try decoder.next() == [0x42])
    }

    @Test("negative and oversized lengths are rejected")
    func badLengths() {
        var negative = FrameDecoder()
        negative.append([0x80, 0, 0, 1])
        #expect(throws: FramingError.negativeLength(Int32(bitPattern: 0x8000_0001))) { try negative.next() }
        var oversized = FrameDecoder(maximumPayloadLength: 1024)
        oversized.append([0, 0, 0x10, 0])
        #expect(throws: FramingError.oversized(length: 4096, limit: 1024)) { try oversized.next() }
    }
}
