import SwiftProtobuf

/// A frame's payload in the dEF-Pi format: one byte with the length of the message name, the
/// name in ASCII (the protobuf type's simple name, as the original's serializer writes it), then
/// the protobuf bytes. Management messages and the typed messages of data connections both use it.
public struct TypedPayload: Sendable, Equatable {
    /// The message's simple type name, e.g. `SetConfigMessage`.
    public var name: String
    /// The protobuf encoding of the message.
    public var body: [UInt8]

    /// Names are 1 to 127 ASCII characters: the length byte is read as signed by the original.
    public static let maximumNameLength = 127

    public init(name: String, body: [UInt8]) {
        self.name = name
        self.body = body
    }

    /// Splits a payload read from a frame.
    public init(parsing payload: some Collection<UInt8>) throws(ProtocolError) {
        guard let first = payload.first else { throw .emptyPayload }
        let length = Int(first)
        guard length >= 1, length <= Self.maximumNameLength else { throw .badNameLength(length) }
        guard payload.count > length else { throw .truncatedName(length: length, available: payload.count - 1) }
        let nameBytes = payload.dropFirst().prefix(length)
        guard nameBytes.allSatisfy({ $0 >= 0x21 && $0 < 0x7F }) else {
            throw .badName(Self.hex(nameBytes))
        }
        name = String(decoding: nameBytes, as: UTF8.self)
        body = Array(payload.dropFirst(1 + length))
    }

    /// The payload's bytes, ready to be framed.
    public var bytes: [UInt8] {
        let name = Array(name.utf8)
        return [UInt8(clamping: name.count)] + name + body
    }

    /// Bytes as hex digits, for error messages.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}

/// A message of the dEF-Pi management protocol (orchestrator ↔ process), or the handshake of a
/// data connection (process ↔ process).
public enum ProtocolMessage: Sendable, Equatable {
    case setConfig(Process_SetConfigMessage)
    case goToProcessState(Process_GoToProcessStateMessage)
    case resumeProcess(Process_ResumeProcessMessage)
    case processStateUpdate(Process_ProcessStateUpdateMessage)
    case error(Process_ErrorMessage)
    case connection(Connection_ConnectionMessage)
    case connectionHandshake(Connection_ConnectionHandshake)

    /// The name the message travels under.
    public var name: String { TypedPayload.name(of: type(of: protobuf)) }

    /// The message itself.
    public var protobuf: any SwiftProtobuf.Message {
        switch self {
        case .setConfig(let message): return message
        case .goToProcessState(let message): return message
        case .resumeProcess(let message): return message
        case .processStateUpdate(let message): return message
        case .error(let message): return message
        case .connection(let message): return message
        case .connectionHandshake(let message): return message
        }
    }

    /// Every message by name, for decoding.
    private static let decoders: [String: @Sendable ([UInt8]) throws -> ProtocolMessage] = {
        func name(of type: any SwiftProtobuf.Message.Type) -> String { TypedPayload.name(of: type) }
        return [
        name(of: Process_SetConfigMessage.self): { .setConfig(try Process_SetConfigMessage(serializedBytes: $0)) },
        name(of: Process_GoToProcessStateMessage.self): {
            .goToProcessState(try Process_GoToProcessStateMessage(serializedBytes: $0))
        },
        name(of: Process_ResumeProcessMessage.self): { .resumeProcess(try Process_ResumeProcessMessage(serializedBytes: $0)) },
        name(of: Process_ProcessStateUpdateMessage.self): {
            .processStateUpdate(try Process_ProcessStateUpdateMessage(serializedBytes: $0))
        },
        name(of: Process_ErrorMessage.self): { .error(try Process_ErrorMessage(serializedBytes: $0)) },
        name(of: Connection_ConnectionMessage.self): { .connection(try Connection_ConnectionMessage(serializedBytes: $0)) },
        name(of: Connection_ConnectionHandshake.self): {
            .connectionHandshake(try Connection_ConnectionHandshake(serializedBytes: $0))
        },
        ]
    }()

    /// Reads a message from a frame's payload. A payload that is not one of these messages, or
    /// lacks a required field, is a `ProtocolError`; nothing a peer sends can crash the reader.
    public init(payload: some Collection<UInt8>) throws(ProtocolError) {
        let typed = try TypedPayload(parsing: payload)
        guard let decode = Self.decoders[typed.name] else { throw .unknownMessage(typed.name) }
        do {
            self = try decode(typed.body)
        } catch {
            throw .malformed(typed.name, reason: "\(error)")
        }
    }

    /// The payload: name and protobuf bytes (map entries in key order, so equal messages give
    /// equal bytes). Throws when a required field is not set.
    public func payload() throws(ProtocolError) -> [UInt8] {
        try TypedPayload.encoding(protobuf, name: name).bytes
    }

    /// The whole frame, ready to write.
    public func frame() throws(ProtocolError) -> [UInt8] {
        Framing.frame(try payload())
    }
}

extension TypedPayload {
    /// The name a message type travels under: its simple name, as dEF-Pi sends it.
    public static func name(of type: any SwiftProtobuf.Message.Type) -> String {
        String(type.protoMessageName.split(separator: ".").last ?? "")
    }

    /// The payload of any protobuf message under `name` (1 to 127 printable ASCII bytes).
    public static func encoding(_ message: any SwiftProtobuf.Message, name: String) throws(ProtocolError) -> TypedPayload {
        let nameBytes = Array(name.utf8)
        guard (1...maximumNameLength).contains(nameBytes.count) else { throw .badNameLength(nameBytes.count) }
        guard nameBytes.allSatisfy({ $0 >= 0x21 && $0 < 0x7F }) else { throw .badName(hex(nameBytes)) }
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        do {
            return TypedPayload(name: name, body: try message.serializedBytes(options: options))
        } catch {
            throw .unencodable(name, reason: "\(error)")
        }
    }
}

/// Why bytes are not a dEF-Pi message (or a message cannot be sent). The connection that
/// produced them should be dropped; the error says what was wrong.
public enum ProtocolError: Error, Equatable, CustomStringConvertible {
    case emptyPayload
    case badNameLength(Int)
    case truncatedName(length: Int, available: Int)
    case badName(String)
    case unknownMessage(String)
    case malformed(String, reason: String)
    case unencodable(String, reason: String)

    public var description: String {
        switch self {
        case .emptyPayload:
            return "an empty payload: a message needs at least its name"
        case .badNameLength(let length):
            return "a message name of \(length) bytes: names are 1 to \(TypedPayload.maximumNameLength) bytes"
        case .truncatedName(let length, let available):
            return "a message name of \(length) bytes, but only \(available) bytes follow"
        case .badName(let hex):
            return "a message name that is not printable ASCII (bytes \(hex))"
        case .unknownMessage(let name):
            return "an unknown message \"\(name)\": not part of the dEF-Pi protocol"
        case .malformed(let name, let reason):
            return "a malformed \(name): \(reason)"
        case .unencodable(let name, let reason):
            return "cannot encode \(name): \(reason)"
        }
    }
}
