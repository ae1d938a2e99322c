/// A service's typed configuration. The orchestrator sends a process its configuration as a map
/// of strings (`SetConfigMessage.config`); ServiceKit decodes it into this type. Every property
/// has a default (`init()`), so a key the process was not given keeps it. Keys match property
/// names without regard to case (`INTERVAL` sets `interval`), as in dEF-Pi.
///
/// Supported property types: `String`, `Bool` (`true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`), the integer
/// types, `Float`, `Double`, optionals of them, and arrays of them written comma-separated.
public protocol ServiceConfiguration: Codable, Sendable {
    /// The configuration with every default.
    init()
}

/// Why a configuration map cannot become the service's configuration; the message names the key.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    public var key: String
    public var reason: String

    public var description: String { "configuration key \(key): \(reason)" }
}

/// Decodes a `ServiceConfiguration` from a string map, over the values of its defaults.
///
/// Hand-written: Codable needs an encoder and a decoder for this flat string-map format, and no
/// library at hand provides one.
public enum ConfigurationDecoder {
    public static func decode<C: ServiceConfiguration>(_ type: C.Type, from map: [String: String]) throws -> C {
        var merged = try values(of: C())
        for (key, value) in map { merged[key.lowercased()] = value }
        do {
            return try C(from: FlatDecoder(values: merged))
        } catch let error as ConfigurationError {
            // Name the key as the orchestrator sent it.
            let sent = map.keys.first { $0.lowercased() == error.key } ?? error.key
            throw ConfigurationError(key: sent, reason: error.reason)
        }
    }
}

extension ConfigurationDecoder {
    /// A configuration as a string map, keys lower-cased (for logs and status reports).
    public static func values(of configuration: some ServiceConfiguration) throws -> [String: String] {
        let encoder = FlatEncoder()
        try configuration.encode(to: encoder)
        return encoder.storage.values
    }
}

// MARK: Decoding

private struct FlatDecoder: Decoder {
    let values: [String: String]
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(FlatKeyedContainer<Key>(values: values))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw ConfigurationError(key: "(root)", reason: "a configuration is a set of keys, not a list")
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        throw ConfigurationError(key: "(root)", reason: "a configuration is a set of keys, not one value")
    }
}

private struct FlatKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let values: [String: String]
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { values.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { values[key.stringValue.lowercased()] != nil }

    private func text(_ key: Key) throws -> String {
        guard let text = values[key.stringValue.lowercased()] else {
            throw ConfigurationError(key: key.stringValue.lowercased(), reason: "missing, and it has no default")
        }
        return text
    }

    func decodeNil(forKey key: Key) throws -> Bool { values[key.stringValue.lowercased()] == nil }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let name = key.stringValue.lowercased()
        let text = try text(key)
        if let scalar = type as? any ConfigurationScalar.Type {
            return try scalar.parse(text, key: name) as! T
        }
        if let list = type as? any ConfigurationList.Type {
            return try list.parse(text, key: name) as! T
        }
        throw ConfigurationError(key: name, reason: "its type \(T.self) cannot be set from a string")
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        throw ConfigurationError(key: key.stringValue, reason: "nested configuration is not supported")
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        throw ConfigurationError(key: key.stringValue, reason: "nested configuration is not supported")
    }

    func superDecoder() throws -> any Decoder { FlatDecoder(values: values) }
    func superDecoder(forKey key: Key) throws -> any Decoder { FlatDecoder(values: values) }
}

/// A type one configuration value parses into.
protocol ConfigurationScalar {
    static func parse(_ text: String, key: String) throws -> Self
    var configurationText: String { get }
}

extension ConfigurationScalar where Self: LosslessStringConvertible {
    static func parse(_ text: String, key: String) throws -> Self {
        guard let value = Self(text.trimmingSpaces) else {
            throw ConfigurationError(key: key, reason: "\"\(text)\" is not a valid \(Self.self)")
        }
        return value
    }

    var configurationText: String { description }
}

extension String: ConfigurationScalar {
    static func parse(_ text: String, key: String) throws -> String { text }
}

extension Bool: ConfigurationScalar {
    static func parse(_ text: String, key: String) throws -> Bool {
        switch text.trimmingSpaces.lowercased() {
        case "true", "yes", "1", "on": return true
        case "false", "no", "0", "off": return false
        default: throw ConfigurationError(key: key, reason: "\"\(text)\" is not true or false")
        }
    }
}

extension Int: ConfigurationScalar {}
extension Int8: ConfigurationScalar {}
extension Int16: ConfigurationScalar {}
extension Int32: ConfigurationScalar {}
extension Int64: ConfigurationScalar {}
extension UInt: ConfigurationScalar {}
extension UInt8: ConfigurationScalar {}
extension UInt16: ConfigurationScalar {}
extension UInt32: ConfigurationScalar {}
extension UInt64: ConfigurationScalar {}
extension Float: ConfigurationScalar {}
extension Double: ConfigurationScalar {}

/// A list value: items separated by commas.
protocol ConfigurationList {
    static func parse(_ text: String, key: String) throws -> Self
    var configurationText: String { get }
}

extension Array: ConfigurationList where Element: ConfigurationScalar {
    static func parse(_ text: String, key: String) throws -> [Element] {
        guard !text.trimmingSpaces.isEmpty else { return [] }
        return try text.split(separator: ",").map { try Element.parse(String($0).trimmingSpaces, key: key) }
    }

    var configurationText: String { map(\.configurationText).joined(separator: ",") }
}

extension String {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

// MARK: Encoding the defaults

/// Writes a configuration's values as strings: how the defaults under a partial map are found.
private final class FlatEncoder: Encoder {
    final class Storage { var values: [String: String] = [:] }
    let storage = Storage()
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(FlatKeyedEncoder<Key>(storage: storage))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        preconditionFailure("a ServiceConfiguration encodes as a set of keys")
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        preconditionFailure("a ServiceConfiguration encodes as a set of keys")
    }
}

private struct FlatKeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let storage: FlatEncoder.Storage
    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil(forKey key: Key) throws {}

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        let name = key.stringValue.lowercased()
        if let scalar = value as? any ConfigurationScalar {
            storage.values[name] = scalar.configurationText
        } else if let list = value as? any ConfigurationList {
            storage.values[name] = list.configurationText
        } else {
            throw ConfigurationError(key: name, reason: "its type \(T.self) cannot be written as a string")
        }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        preconditionFailure("nested configuration is not supported (key \(key.stringValue))")
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        preconditionFailure("nested configuration is not supported (key \(key.stringValue))")
    }

    mutating func superEncoder() -> any Encoder { FlatEncoder() }
    mutating func superEncoder(forKey key: Key) -> any Encoder { FlatEncoder() }
}
