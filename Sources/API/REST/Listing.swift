import Engine
import Foundation
import HTTPTypes
import Hummingbird

/// How one kind of resource is listed: the `_filters` keys it takes, each an allow-listed match,
/// never a query handed to the store.
struct ResourceShape: Sendable {
    typealias Match = @Sendable (_ item: [String: Any], _ value: Any) throws -> Bool

    var filters: [String: Match] = [:]

    /// Every filter takes `ids[]` (a list of ids) and `name` (equal, or `/regex/`).
    init(equal fields: [String] = [], custom: [String: Match] = [:]) {
        filters = ["ids[]": Self.anyOf("id"), "ids": Self.anyOf("id"), "name": Self.nameMatch]
        for field in fields { filters[field] = Self.equal(field) }
        filters.merge(custom) { $1 }
    }

    /// This shape with `key` accepted as a filter that the route applies itself.
    func adding(_ key: String) -> ResourceShape {
        var shape = self
        shape.filters[key] = { _, _ in true }
        return shape
    }

    /// The field equals the value (numbers compared by value, `"5"` matching `5`).
    static func equal(_ field: String) -> Match {
        { item, value in item[field].map(Self.text) == Self.text(value) }
    }

    /// The field equals one of a list of values.
    static func anyOf(_ field: String) -> Match {
        { item, value in
            guard let values = value as? [Any] else { throw APIError(.invalidRequest, message: "the ids[] filter takes a list of ids") }
            return Set(values.map(Self.text)).contains(item[field].map(Self.text) ?? "")
        }
    }

    /// `name` equal to the value, or, for `/PATTERN/`, matching the regular expression. Names are
    /// short (64 characters at most), and patterns are capped too, so no pattern runs for long.
    static let nameMatch: Match = { item, value in
        let wanted = Self.text(value)
        let name = item["name"].map(Self.text) ?? ""
        guard wanted.count >= 2, wanted.hasPrefix("/"), wanted.hasSuffix("/") else { return name == wanted }
        guard wanted.count <= 202 else { throw APIError(.invalidRequest, message: "a name pattern is at most 200 characters") }
        let regex: Regex<AnyRegexOutput>
        do { regex = try Regex(String(wanted.dropFirst().dropLast())) } catch {
            throw APIError(.invalidRequest, message: "\(wanted) is not a regular expression: \(error)")
        }
        return name.prefix(200).contains(regex)
    }

    static func text(_ value: Any) -> String {
        switch value {
        case let text as String: return text
        case let number as NSNumber: return number.stringValue
        default: return "\(value)"
        }
    }
}

/// The original's list conventions: `_page` (from 1; 0 for all), `_perPage` (1,000; 0 for all),
/// `_sortField`, `_sortDir` (`ASC` or `DESC`), `_filters` (a JSON object). The answer is a JSON
/// array of the page, with the number of items that passed the filters in `X-Total-Count`.
struct ListQuery {
    var page = 1
    var perPage = 1000
    var sortField: String?
    var descending = false
    var filters: [String: Any] = [:]
    let shape: ResourceShape

    init(_ request: Request, shape: ResourceShape) throws {
        self.shape = shape
        let query = request.uri.queryParameters
        page = try Self.number(query["_page"], name: "_page") ?? page
        perPage = try Self.number(query["_perPage"], name: "_perPage") ?? perPage
        sortField = query["_sortField"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        switch query["_sortDir"].map({ $0.uppercased() }) {
        case nil, "ASC": descending = false
        case "DESC": descending = true
        case let other?: throw APIError(.invalidRequest, message: "_sortDir is ASC or DESC, not \(other)")
        }
        if let text = query["_filters"], !text.isEmpty {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
                throw APIError(.invalidRequest, message: "_filters must be a JSON object, e.g. {\"name\":\"m1\"}")
            }
            let unknown = Set(object.keys).subtracting(shape.filters.keys)
            guard unknown.isEmpty else {
                throw APIError(.invalidRequest, message: "cannot filter on \(unknown.sorted().joined(separator: ", ")); "
                               + "filters here: \(shape.filters.keys.sorted().joined(separator: ", "))")
            }
            filters = object
        }
    }

    private static func number(_ text: Substring?, name: String) throws -> Int? {
        guard let text else { return nil }
        guard let value = Int(text), value >= 0 else {
            throw APIError(.invalidRequest, message: "\(name) must be a whole number from 0, not \(text)")
        }
        return value
    }

    /// The page of `items` this query asks for, as JSON, with the filtered total. Filters and
    /// sorting read the items' JSON fields (secrets left out, so none can be sorted on); the
    /// answer encodes the items themselves.
    func response<Item: Encodable>(_ items: [Item]) throws -> Response {
        var selected = Array(items.indices)
        if !filters.isEmpty || sortField != nil {
            let objects = (try JSONSerialization.jsonObject(with: ModelCoding.redacted(items)) as? [[String: Any]]) ?? []
            for (key, value) in filters {
                guard let match = shape.filters[key] else { continue }
                selected = try selected.filter { try match(objects[$0], value) }
            }
            if let sortField {
                guard objects.isEmpty || objects.contains(where: { $0[sortField] != nil }) else {
                    throw APIError(.invalidRequest, message: "cannot sort on \(sortField): no item has that field")
                }
                selected.sort { Self.ordered(objects[$0][sortField], objects[$1][sortField], descending: descending) }
            }
        }
        let total = selected.count
        if page > 0 && perPage > 0 {
            let start = min(max(0, (page - 1).multipliedReportingOverflow(by: perPage).partialValue), total)
            selected = Array(selected[start..<min(total, start + perPage)])
        }
        return try APIBody.json(selected.map { items[$0] }, total: total)
    }

    /// Ascending by text or number, items without the field last (in either direction).
    private static func ordered(_ left: Any?, _ right: Any?, descending: Bool) -> Bool {
        guard let left else { return false }
        guard let right else { return true }
        if let a = left as? NSNumber, let b = right as? NSNumber {
            return descending ? a.compare(b) == .orderedDescending : a.compare(b) == .orderedAscending
        }
        let (a, b) = (ResourceShape.text(left), ResourceShape.text(right))
        return descending ? a > b : a < b
    }
}

/// JSON answers: the model's JSON, keys sorted, secret fields left out.
enum APIBody {
    /// `value` as a JSON answer; with `total`, a list's `X-Total-Count`.
    static func json<Value: Encodable>(_ value: Value, status: HTTPResponse.Status = .ok, total: Int? = nil) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let total { headers[HTTPField.Name("X-Total-Count")!] = "\(total)" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try ModelCoding.redacted(value))))
    }
}
