import Foundation

/// A field the store keeps and no front shows: a process's token (which lets its holder act as
/// the process) and its saved state. Encoded as usual, except while `Secret.isRedacted` is set
/// for the current task, when the field is left out altogether; fronts encode what they answer
/// that way (`ModelCoding.redacted`).
///
/// Hand-written: Codable has no way to leave a field out of one encoding only. The encoding
/// containers' overloads below are more specific than their generic methods, so the encoding
/// Swift synthesizes for a model type calls them for its secret fields.
@propertyWrapper
public struct Secret<Value: Codable & Sendable & Hashable>: Codable, Sendable, Hashable {
    public var wrappedValue: Value

    public init(wrappedValue: Value) { self.wrappedValue = wrappedValue }

    public init(from decoder: any Decoder) throws { wrappedValue = try Value(from: decoder) }

    public func encode(to encoder: any Encoder) throws { try wrappedValue.encode(to: encoder) }
}

/// Whether secret fields are left out of what the current task encodes.
public enum SecretFields {
    @TaskLocal public static var redacted = false
}

extension KeyedEncodingContainer {
    public mutating func encode<Value>(_ secret: Secret<Value>, forKey key: Key) throws {
        guard !SecretFields.redacted else { return }
        try encode(secret.wrappedValue, forKey: key)
    }

    /// An optional secret is left out when nil, as an optional field is.
    public mutating func encode<Value>(_ secret: Secret<Value?>, forKey key: Key) throws {
        guard !SecretFields.redacted else { return }
        try encodeIfPresent(secret.wrappedValue, forKey: key)
    }
}

extension KeyedDecodingContainer {
    /// An optional secret that is absent decodes as nil, as an optional field does.
    public func decode<Value>(_ type: Secret<Value?>.Type, forKey key: Key) throws -> Secret<Value?> {
        Secret(wrappedValue: try decodeIfPresent(Value.self, forKey: key))
    }
}

extension ModelCoding {
    /// `value` in the model's JSON as fronts answer it: keys sorted, secret fields left out.
    public static func redacted<Value: Encodable>(_ value: Value) throws -> Data {
        try SecretFields.$redacted.withValue(true) { try encoder(sortedKeys: true).encode(value) }
    }
}
