import Foundation
import Protocol
import SwiftProtobuf
import Testing

@Suite("Protocol messages", .timeLimit(.minutes(2)))
struct ProtocolMessageTests {
    /// One line of `Vectors/messages.tsv`: the type, the message in text format, and protoc's bytes.
    struct Vector: CustomTestStringConvertible, Sendable {
        var type: String
        var text: String
        var bytes: [UInt8]
        var testDescription: String { "\(type) \(text.prefix(60))" }

        static let all: [Vector] = {
            let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors/messages.tsv")
            let lines = (try? String(contentsOf: file, encoding: .utf8))?.split(separator: "\n") ?? []
            return lines.filter { !$0.hasPrefix("#") }.map { line in
                let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                return Vector(type: columns[0], text: columns[1], bytes: hexBytes(columns[2]))
            }
        }()

        /// The message the text describes, parsed by swift-protobuf's text-format reader.
        func message() throws -> ProtocolMessage {
            switch type {
            case "process.SetConfigMessage": return .setConfig(try .init(textFormatString: text))
            case "process.GoToProcessStateMessage": return .goToProcessState(try .init(textFormatString: text))
            case "process.ResumeProcessMessage": return .resumeProcess(try .init(textFormatString: text))
            case "process.ProcessStateUpdateMessage": return .processStateUpdate(try .init(textFormatString: text))
            case "process.ErrorMessage": return .error(try .init(textFormatString: text))
            case "connection.ConnectionMessage": return .connection(try .init(textFormatString: text))
            case "connection.ConnectionHandshake": return .connectionHandshake(try .init(textFormatString: text))
            default: throw ProtocolError.unknownMessage(type)
            }
        }
    }

    static func hexBytes(_ hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    @Test("the vectors cover every message of the protocol")
    func coverage() {
        #expect(Set(Vector.all.map(\.type)).count == 7)
        #expect(Vector.all.count >= 19)
    }

    @Test("each message encodes to the reference bytes under its name, and decodes back", arguments: Vector.all)
    func goldenVector(vector: Vector) throws {
        let message = try vector.message()
        let name = String(vector.type.split(separator: ".").last!)
        #expect(message.name == name)
        let expected = [UInt8(name.utf8.count)] + Array(name.utf8) + vector.bytes
        #expect(try message.payload() == expected)
        #expect(try ProtocolMessage(payload: expected) == message)
        #expect(try message.frame() == Framing.frame(expected))
    }

    @Test("a whole frame, byte for byte")
    func goldenFrame() throws {
        var handshake = Connection_ConnectionHandshake()
        handshake.connectionState = .connected
        handshake.connectionID = "x"
        let frame = try ProtocolMessage.connectionHandshake(handshake).frame()
        #expect(frame == Self.hexBytes("00000019" + "13" + "436f6e6e656374696f6e48616e647368616b65" + "0801120178" + "ff"))
    }

    @Test("map entries are written in key order, so equal messages give equal bytes")
    func deterministicMaps() throws {
        var config = Process_SetConfigMessage()
        config.processID = "p"
        config.isUpdate = false
        config.config = Dictionary(uniqueKeysWithValues: (0..<50).map { ("KEY\($0)", "\($0)") })
        let first = try ProtocolMessage.setConfig(config).payload()
        for _ in 0..<5 { #expect(try ProtocolMessage.setConfig(config).payload() == first) }
        #expect(try ProtocolMessage(payload: first) == .setConfig(config))
    }

    @Test("garbage is a typed error that says what was wrong", arguments: [
        ([], ProtocolError.emptyPayload),
        ([0], .badNameLength(0)),
        ([200, 0x41], .badNameLength(200)),
        ([5, 0x41, 0x42], .truncatedName(length: 5, available: 2)),
        ([2, 0x41, 0x0A], .badName("410a")),
        ([4, 0x4E, 0x6F, 0x70, 0x65, 0x08, 0x01], .unknownMessage("Nope")),
    ] as [([UInt8], ProtocolError)])
    func garbage(bytes: [UInt8], error: ProtocolError) {
        #expect(throws: error) { try ProtocolMessage(payload: bytes) }
    }

    @Test("a message missing a required field, or with broken protobuf, is malformed")
    func malformed() throws {
        let name = Array("GoToProcessStateMessage".utf8)
        // processId only: targetState is required.
        let missing = [UInt8(name.count)] + name + [0x0A, 0x01, 0x70]
        #expect(throws: ProtocolError.self) { try ProtocolMessage(payload: missing) }
        do {
            _ = try ProtocolMessage(payload: missing)
        } catch {
            #expect("\(error)".hasPrefix("a malformed GoToProcessStateMessage: "))
        }
        // A length-delimited field that runs past the end.
        let truncated = [UInt8(name.count)] + name + [0x0A, 0x7F, 0x70]
        #expect(throws: ProtocolError.self) { try ProtocolMessage(payload: truncated) }
        // And the sender refuses to send one.
        #expect(throws: ProtocolError.self) { try ProtocolMessage.goToProcessState(.init()).payload() }
    }

    @Test("100,000 random payloads decode or fail with a ProtocolError, never crash; a known name with a bad body is malformed")
    func randomPayloads() async {
        var generator = SystemRandomNumberGenerator()
        let names = ["SetConfigMessage", "ConnectionMessage", "ProcessStateUpdateMessage", "ConnectionHandshake"]
        var decoded = 0, refused = 0
        var misnamed: [String] = []
        for index in 0..<100_000 {
            let body = (0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Half with a real name, so the protobuf decoders see random bodies too.
            let name = names[index % names.count]
            let named = index % 2 == 0
            let payload = named ? [UInt8(name.utf8.count)] + Array(name.utf8) + body : body
            do {
                _ = try ProtocolMessage(payload: payload)
                decoded += 1
            } catch {
                // Typed throws make every failure a ProtocolError; one with a known name must
                // have reached that message's decoder.
                refused += 1
                if named, case .malformed(name, _) = error {} else if named, misnamed.count < 5 { misnamed.append("\(error)") }
            }
            // Other tests share the two threads of the concurrency pool.
            if index % 1_000 == 0 { await Task.yield() }
        }
        #expect(misnamed.isEmpty, "known names refused before their decoder: \(misnamed)")
        #expect(refused > 0 && decoded + refused == 100_000)
    }
}
