/// How fronts name things: an id, a name, or a unique prefix of an id. Every manager resolves
/// references the same way, so `defpi node show w1`, `defpi user show alice` and the console
/// agree.
enum References {
    /// The one item a reference names: an exact key match, else a unique prefix (4 characters or more).
    static func resolve<Item>(_ reference: String, in items: [Item], what: String, key: (Item) -> [String],
                              prefix: (Item) -> String, label: (Item) -> String) throws -> Item {
        let exact = items.filter { key($0).contains(reference) }
        if exact.count == 1 { return exact[0] }
        let candidates = exact.isEmpty ? items.filter {
            reference.count >= 4 && prefix($0).hasPrefix(reference)
        } : exact
        guard let first = candidates.first else { throw LookupError.notFound(what: what, reference: reference) }
        guard candidates.count == 1 else {
            throw LookupError.ambiguous(what: what, reference: reference, matches: candidates.map(label))
        }
        return first
    }
}

/// A reference that names nothing, or several things.
public enum LookupError: UserFacingError, Equatable {
    case notFound(what: String, reference: String)
    case ambiguous(what: String, reference: String, matches: [String])

    public var failureKind: FailureKind {
        switch self {
        case .notFound: return .notFound
        case .ambiguous: return .invalidRequest
        }
    }

    public var userMessage: String {
        switch self {
        case .notFound(let what, let reference):
            return "no \(what) matches \"\(reference)\"; `defpi \(what) ls` lists them"
        case .ambiguous(let what, let reference, let matches):
            return "\"\(reference)\" matches several \(what)s (\(matches.joined(separator: ", "))); give more of the id"
        }
    }
}
