import Engine
import Foundation
import HTTPTypes
import Hummingbird

/// How one kind of resource is listed: the `_filters` keys it takes, each an allow-listed match,
/// never a query handed to the store.
struct ResourceShape: Sendable {
    /// A filter's value turned into a test of one item, once per request. The test spends the
    /// request's `budget` of pattern steps (`TextPattern`), so no filter works without bound.
    typealias Match = @Sendable (_ value: Any) throws -> Predicate
    typealias Predicate = (_ item: [String: Any], _ budget: inout Int) throws -> Bool

    var filters: [String: Match] = [:]

    /// Every filter takes `ids[]` (a list of ids) and `name` (equal, or `/regex/`).
    init(equal fields: [String] = [], custom: [String: Match] = [:]) {
        filters = ["ids[]": Self.anyOf("id"), "ids": Self.anyOf("id"), "name": Self.equal("name")]
        for field in fields { filters[field] = Self.equal(field) }
        filters.merge(custom) { $1 }
    }

    /// This shape with `key` accepted as a filter that the route applies itself.
    func adding(_ key: String) -> ResourceShape {
        var shape = self
        shape.filters[key] = { _ in { _, _ in true } }
        return shape
    }

    /// The field equals the value (numbers compared by value, `"5"` matching `5`), or, for a
    /// value `/PATTERN/`, matches that regular expression somewhere, in linear time
    /// (`TextPattern`: the original's UI searched with `/text/`). Only the field's first 200
    /// characters are searched.
    static func equal(_ field: String) -> Match {
        { value in
            let wanted = Self.text(value)
            guard wanted.count >= 2, wanted.hasPrefix("/"), wanted.hasSuffix("/") else {
                return { item, _ in item[field].map(Self.text) == wanted }
            }
            let pattern = try TextPattern(String(wanted.dropFirst().dropLast()))
            return { item, budget in
                guard let text = item[field].map(Self.text) else { return false }
                return try pattern.matches(text.prefix(200), budget: &budget)
            }
        }
    }

    /// The field equals one of a list of values.
    static func anyOf(_ field: String) -> Match {
        { value in
            guard let values = value as? [Any] else { throw APIError(.invalidRequest, message: "the ids[] filter takes a list of ids") }
            let wanted = Set(values.map(Self.text))
            return { item, _ in wanted.contains(item[field].map(Self.text) ?? "") }
        }
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

    /// A whole number from 0; more digits than an `Int` holds saturate to `Int.max`.
    private static func number(_ text: Substring?, name: String) throws -> Int? {
        guard let text else { return nil }
        guard !text.isEmpty, text.utf8.allSatisfy({ (48...57).contains($0) }) else {
            throw APIError(.invalidRequest, message: "\(name) must be a whole number from 0, not \(text.prefix(40))")
        }
        return Int(text) ?? .max
    }

    /// The pattern steps one listing may spend on its filters: a few hundred milliseconds at
    /// most, whatever the patterns and the number of items.
    static let filterBudget = 20_000_000

    /// The page of `items` this query asks for, as JSON, with the filtered total. Filters and
    /// sorting read the items' JSON fields (secrets left out, so none can be sorted on); the
    /// answer encodes the items themselves.
    func response<Item: Encodable>(_ items: [Item]) async throws -> Response {
        var selected = Array(items.indices)
        if !filters.isEmpty || sortField != nil {
            let objects = (try JSONSerialization.jsonObject(with: ModelCoding.redacted(items)) as? [[String: Any]]) ?? []
            var budget = Self.filterBudget
            for (key, value) in filters {
                guard let match = try shape.filters[key]?(value) else { continue }
                var kept: [Int] = []
                for (count, index) in selected.enumerated() {
                    // Long listings let other requests run between their items.
                    if count % 256 == 255 { await Task.yield() }
                    if try match(objects[index], &budget) { kept.append(index) }
                }
                selected = kept
            }
            if let sortField {
                guard objects.isEmpty || objects.contains(where: { $0[sortField] != nil }) else {
                    throw APIError(.invalidRequest, message: "cannot sort on \(sortField): no item has that field")
                }
                selected.sort { Self.ordered(objects[$0][sortField], objects[$1][sortField], descending: descending) }
            }
        }
        let total = selected.count
        let page = Self.page(page, of: perPage, total: total)
        return try APIBody.json(selected[page].map { items[$0] }, total: total)
    }

    /// The indices of page `page` (from 1) of `perPage` items among `total`; page or size 0: all.
    /// Saturating: no page or size, however large, overflows.
    static func page(_ page: Int, of perPage: Int, total: Int) -> Range<Int> {
        guard page > 0 && perPage > 0 else { return 0..<total }
        let (skipped, overflow) = (page - 1).multipliedReportingOverflow(by: perPage)
        let start = overflow ? total : min(skipped, total)
        return start..<(start + min(perPage, total - start))
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
