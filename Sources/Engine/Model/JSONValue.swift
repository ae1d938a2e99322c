import Foundation

/// Any JSON value, stored as it came. Lets a document carry a nested object whose shape only one
/// part of the code knows (a pending change's payload), so both backends keep it as a real
/// object (queryable, readable in `mongosh`) rather than as an escaped string.
/// Hand-written: Foundation has no Codable JSON value type and none of the available packages
/// offers one that encodes through any `Encoder`.
public indirect enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        // The decoder cannot be asked what comes, only tried, and every miss builds an error:
        // the likeliest kinds (a payload is an object of strings and numbers) are tried first.
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let text = try? container.decode(String.self) {
            self = .string(text)
        } else if let fields = try? container.decode([String: JSONValue].self) {
            self = .object(fields)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let flag = try? container.decode(Bool.self) {
            self = .bool(flag)
        } else {
            self = .array(try container.decode([JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let flag): try container.encode(flag)
        case .number(let number):
            // Whole numbers (ids, counts, epoch milliseconds) stay integers in the JSON text.
            if number.rounded() == number, abs(number) < 9e15 { try container.encode(Int64(number)) } else { try container.encode(number) }
        case .string(let text): try container.encode(text)
        case .array(let items): try container.encode(items)
        case .object(let fields): try container.encode(fields)
        }
    }

    /// `value` in the model's JSON form (dates as epoch milliseconds).
    public init<Value: Encodable>(encoding value: Value) throws {
        self = try ModelCoding.decoder().decode(JSONValue.self, from: ModelCoding.encoder().encode(value))
    }

    /// This value decoded as `type`.
    public func decode<Value: Decodable>(as type: Value.Type) throws -> Value {
        try ModelCoding.decoder().decode(type, from: ModelCoding.encoder().encode(self))
    }

    /// The fields of an object; empty for any other value.
    public var fields: [String: JSONValue] {
        if case .object(let fields) = self { return fields }
        return [:]
    }

    /// The text of a string value.
    public var text: String? {
        if case .string(let text) = self { return text }
        return nil
    }
}
