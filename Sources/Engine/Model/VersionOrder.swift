import Version

/// Orders version strings the way people read them: semantic versions by their numbers
/// (`1.10.0` after `1.9.2`, a pre-release before its release, a leading `v` ignored), and names
/// that are not versions (`latest`, `dev`) after all versions, alphabetically.
public enum VersionOrder {
    /// Whether `left` comes before `right` in ascending order.
    public static func ascending(_ left: String, _ right: String) -> Bool {
        switch (semantic(left), semantic(right)) {
        case let (a?, b?): return a == b ? left < right : a < b
        case (.some, nil): return true
        case (nil, .some): return false
        case (nil, nil): return left < right
        }
    }

    /// Newest first: versions descending, then the other names alphabetically.
    public static func newestFirst(_ left: String, _ right: String) -> Bool {
        switch (semantic(left), semantic(right)) {
        case let (a?, b?): return a == b ? left < right : a > b
        case (.some, nil): return true
        case (nil, .some): return false
        case (nil, nil): return left < right
        }
    }

    /// The semantic version a tag names, if it names one (`1`, `1.2`, `v1.2.3`, `1.2.3-rc.1`).
    public static func semantic(_ text: String) -> Version? {
        let trimmed = text.hasPrefix("v") || text.hasPrefix("V") ? String(text.dropFirst()) : text
        guard trimmed.first?.isNumber == true else { return nil }
        return Version(tolerant: trimmed)
    }
}
