import Engine
import Foundation
import Hummingbird

/// A request body a route accepts, with every field it knows: anything else is refused, so a
/// misspelt field is an error rather than silently ignored. The fields include the read-only ones
/// of the resource (`id`, `state` ...), which the original's web UI sends back with every update.
protocol APIInput: Decodable {
    static var fields: Set<String> { get }
}

extension Request {
    /// The body as `Input`, or a 400 that says what is wrong with it: not JSON, not an object,
    /// an unknown field, a missing or mistyped one. Beyond the context's upload size, a 413.
    func decode<Input: APIInput>(_ type: Input.Type, context: APIContext) async throws -> Input {
        let data = Data(buffer: try await body.collect(upTo: context.maxUploadSize))
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw APIError(.invalidRequest, message: "the body must be a JSON object")
        }
        let unknown = Set(object.keys).subtracting(Input.fields)
        guard unknown.isEmpty else {
            throw APIError(.invalidRequest, message: "unknown field\(unknown.count == 1 ? "" : "s") \(unknown.sorted().joined(separator: ", ")); "
                           + "this request takes \(Input.fields.sorted().joined(separator: ", "))")
        }
        do {
            return try context.requestDecoder.decode(Input.self, from: data)
        } catch let error as DecodingError {
            throw APIError(.invalidRequest, message: Self.describe(error))
        }
    }

    /// The body as a list of `Input`, each checked as `decode` checks one; at most 1,000 items.
    func decodeList<Input: APIInput>(_ type: Input.Type, context: APIContext) async throws -> [Input] {
        let data = Data(buffer: try await body.collect(upTo: context.maxUploadSize))
        guard let list = (try? JSONSerialization.jsonObject(with: data)) as? [Any], list.count <= 1000,
              list.allSatisfy({ $0 is [String: Any] }) else {
            throw APIError(.invalidRequest, message: "the body must be a JSON list of objects (at most 1,000)")
        }
        for (index, item) in list.enumerated() {
            let unknown = Set((item as? [String: Any] ?? [:]).keys).subtracting(Input.fields)
            guard unknown.isEmpty else {
                throw APIError(.invalidRequest, message: "[\(index)]: unknown field\(unknown.count == 1 ? "" : "s") \(unknown.sorted().joined(separator: ", ")); "
                               + "each item takes \(Input.fields.sorted().joined(separator: ", "))")
            }
        }
        do {
            return try context.requestDecoder.decode([Input].self, from: data)
        } catch let error as DecodingError {
            throw APIError(.invalidRequest, message: Self.describe(error))
        }
    }

    /// A decoding failure in words, naming the field.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.isEmpty ? "the body" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])) is missing"
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)) must be \(Self.name(of: type))"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)) must be \(Self.name(of: type)), not null"
        case .dataCorrupted(let context):
            return "\(path(context.codingPath)) is not valid: \(context.debugDescription)"
        @unknown default:
            return "the body cannot be read"
        }
    }

    private static func name(of type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is Int.Type, is Int64.Type, is Int32.Type: return "a whole number"
        case is Double.Type: return "a number"
        default: return "\(type)".hasPrefix("Array") ? "a list" : "an object"
        }
    }
}
