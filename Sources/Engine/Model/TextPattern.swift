/// A regular expression that matches in time linear in the text, whatever the pattern: the
/// filters people type (`/meter.*/` in a REST list, `/` in the console) run here, never in a
/// backtracking engine, so no pattern (`(a+)+b`) can hold a thread.
///
/// Hand-written: Swift's `Regex` and `NSRegularExpression` backtrack, and none of the available
/// packages offers an automaton matcher. It compiles the pattern to a Thompson NFA and runs it
/// over the text once, keeping the set of live states (no captures, no backreferences).
///
/// Syntax: literals; `.`; classes `[a-z0-9_]`, `[^...]`; escapes `\d \w \s \D \W \S` and `\` before
/// any punctuation; anchors `^` `$`; groups `(...)` (also `(?:...)`); alternation `|`; the
/// quantifiers `*`, `+`, `?` (a trailing `?` for laziness is accepted and changes nothing, as a
/// match here is yes or no). Counted repetition `{m,n}` and backreferences are refused.
public struct TextPattern: Sendable, Equatable {
    /// The longest pattern accepted.
    public static let maximumLength = 200

    public let source: String
    public let ignoresCase: Bool
    private let program: [Instruction]
    private let start: Int

    /// Compiles `source`; throws `TextPatternError` saying what is wrong and where.
    public init(_ source: String, ignoresCase: Bool = false) throws {
        guard source.count <= Self.maximumLength else { throw TextPatternError.tooLong(maximum: Self.maximumLength) }
        self.source = source
        self.ignoresCase = ignoresCase
        var parser = Parser(Array(source), ignoresCase: ignoresCase)
        let fragment = try parser.parse()
        var compiler = Compiler()
        let matchState = compiler.emit(.match)
        start = compiler.link(fragment, to: matchState)
        program = compiler.program
    }

    /// Whether the pattern matches anywhere in `text`, as `text.contains(regex)` would.
    /// `budget` counts state visits: when it runs out the match throws `.tooCostly`, so a caller
    /// bounds the work of a whole listing, not only of one text.
    public func matches(_ text: some StringProtocol, budget: inout Int) throws -> Bool {
        let characters = Array(text)
        var current = StateSet(capacity: program.count)
        var next = StateSet(capacity: program.count)
        for position in 0...characters.count {
            // Unanchored search: a match may start at every position.
            if try add(start, at: position, of: characters, to: &current, budget: &budget) { return true }
            guard position < characters.count else { break }
            let character = characters[position]
            next.clear()
            for state in current.members {
                guard case .character(let test, let following) = program[state], test.accepts(character, ignoresCase) else {
                    continue
                }
                if try add(following, at: position + 1, of: characters, to: &next, budget: &budget) { return true }
            }
            swap(&current, &next)
        }
        return false
    }

    /// Adds `state` and every state reachable from it without reading a character; true when
    /// the match state is among them.
    private func add(_ state: Int, at position: Int, of text: [Character], to set: inout StateSet, budget: inout Int) throws
        -> Bool
    {
        var stack = [state]
        while let state = stack.popLast() {
            guard set.insert(state) else { continue }
            budget -= 1
            guard budget >= 0 else { throw TextPatternError.tooCostly }
            switch program[state] {
            case .match: return true
            case .character: break
            case .split(let first, let second): stack.append(second); stack.append(first)
            case .jump(let target): stack.append(target)
            case .lineStart(let next): if position == 0 { stack.append(next) }
            case .lineEnd(let next): if position == text.count { stack.append(next) }
            }
        }
        return false
    }

    public static func == (left: TextPattern, right: TextPattern) -> Bool {
        left.source == right.source && left.ignoresCase == right.ignoresCase
    }
}

/// Why a pattern cannot be used.
public enum TextPatternError: UserFacingError, Equatable {
    case tooLong(maximum: Int)
    case invalid(position: Int, reason: String)
    case tooCostly

    public var failureKind: FailureKind { .invalidRequest }

    public var userMessage: String {
        switch self {
        case .tooLong(let maximum): return "a pattern is at most \(maximum) characters"
        case .invalid(let position, let reason): return "the pattern is not usable at character \(position + 1): \(reason)"
        case .tooCostly: return "the pattern costs too much over this many items; use a simpler one or fewer items"
        }
    }
}

// MARK: - The automaton

private enum Instruction: Sendable {
    case character(CharacterTest, next: Int)
    case split(Int, Int)
    case jump(Int)
    case lineStart(next: Int)
    case lineEnd(next: Int)
    case match
}

private enum CharacterTest: Sendable {
    case any
    case literal(Character)
    case set([ClassItem], negated: Bool)

    func accepts(_ character: Character, _ ignoresCase: Bool) -> Bool {
        switch self {
        case .any: return character != "\n"
        case .literal(let wanted):
            return wanted == character || (ignoresCase && wanted.lowercased() == character.lowercased())
        case .set(let items, let negated):
            // lowercased()/uppercased() may give several characters ("ß" → "SS"): each is tried.
            let folded = ignoresCase ? [character] + Array(character.lowercased()) + Array(character.uppercased()) : [character]
            let found = items.contains { item in folded.contains { item.contains($0) } }
            return found != negated
        }
    }
}

private enum ClassItem: Sendable {
    case range(Character, Character)
    case digit(Bool), word(Bool), space(Bool)

    func contains(_ character: Character) -> Bool {
        switch self {
        case .range(let low, let high): return low <= character && character <= high
        case .digit(let yes): return character.isASCII && character.isNumber == yes
        case .word(let yes): return (character.isLetter || character.isNumber || character == "_") == yes
        case .space(let yes): return character.isWhitespace == yes
        }
    }
}

/// A piece of pattern before linking: instructions whose exits (`hole`) point to what follows.
private indirect enum Fragment {
    case empty
    case test(CharacterTest)
    case lineStart, lineEnd
    case sequence([Fragment])
    case alternation([Fragment])
    case star(Fragment), plus(Fragment), optional(Fragment)
}

/// Turns fragments into instructions, back to front, so each knows where it goes next.
private struct Compiler {
    var program: [Instruction] = []

    mutating func emit(_ instruction: Instruction) -> Int {
        program.append(instruction)
        return program.count - 1
    }

    /// The entry state of `fragment`, continuing at `next`.
    mutating func link(_ fragment: Fragment, to next: Int) -> Int {
        switch fragment {
        case .empty: return next
        case .test(let test): return emit(.character(test, next: next))
        case .lineStart: return emit(.lineStart(next: next))
        case .lineEnd: return emit(.lineEnd(next: next))
        case .sequence(let parts): return parts.reversed().reduce(next) { link($1, to: $0) }
        case .alternation(let choices):
            let entries = choices.map { link($0, to: next) }
            return entries.dropLast().reversed().reduce(entries[entries.count - 1]) { rest, entry in emit(.split(entry, rest)) }
        case .optional(let body):
            return emit(.split(link(body, to: next), next))
        case .star(let body):
            let loop = emit(.jump(0))
            let entry = link(body, to: loop)
            program[loop] = .split(entry, next)
            return loop
        case .plus(let body):
            let loop = emit(.jump(0))
            let entry = link(body, to: loop)
            program[loop] = .split(entry, next)
            return entry
        }
    }
}

/// A set of states with O(1) insert and clear, in insertion order.
private struct StateSet {
    private var generation: [Int]
    private var current = 1
    private(set) var members: [Int] = []

    init(capacity: Int) { generation = Array(repeating: 0, count: capacity) }

    mutating func insert(_ state: Int) -> Bool {
        guard generation[state] != current else { return false }
        generation[state] = current
        members.append(state)
        return true
    }

    mutating func clear() {
        current += 1
        members.removeAll(keepingCapacity: true)
    }
}

// MARK: - Parsing

private struct Parser {
    let pattern: [Character]
    let ignoresCase: Bool
    var position = 0

    init(_ pattern: [Character], ignoresCase: Bool) {
        self.pattern = pattern
        self.ignoresCase = ignoresCase
    }

    mutating func parse() throws -> Fragment {
        let fragment = try alternation()
        guard position == pattern.count else { throw failure("\")\" without its \"(\"") }
        return fragment
    }

    private func failure(_ reason: String) -> TextPatternError { .invalid(position: position, reason: reason) }

    private var next: Character? { position < pattern.count ? pattern[position] : nil }

    private mutating func alternation() throws -> Fragment {
        var choices = [try sequence()]
        while next == "|" {
            position += 1
            choices.append(try sequence())
        }
        return choices.count == 1 ? choices[0] : .alternation(choices)
    }

    private mutating func sequence() throws -> Fragment {
        var parts: [Fragment] = []
        while let character = next, character != "|", character != ")" {
            var atom = try self.atom()
            while let quantifier = next, "*+?{".contains(quantifier) {
                guard quantifier != "{" else { throw failure("counted repetition {m,n} is not supported; use *, + or ?") }
                switch atom {
                case .empty, .lineStart, .lineEnd: throw failure("\(quantifier) has nothing to repeat")
                default: break
                }
                position += 1
                atom = quantifier == "*" ? .star(atom) : quantifier == "+" ? .plus(atom) : .optional(atom)
                if next == "?" { position += 1 }  // lazy: the same yes or no
            }
            parts.append(atom)
        }
        return parts.isEmpty ? .empty : parts.count == 1 ? parts[0] : .sequence(parts)
    }

    private mutating func atom() throws -> Fragment {
        let character = pattern[position]
        position += 1
        switch character {
        case ".": return .test(.any)
        case "^": return .lineStart
        case "$": return .lineEnd
        case "*", "+", "?": throw failure("\(character) has nothing to repeat")
        case "(":
            if next == "?" {
                guard position + 1 < pattern.count, pattern[position + 1] == ":" else {
                    throw failure("only (?:...) groups are supported")
                }
                position += 2
            }
            let inner = try alternation()
            guard next == ")" else { throw failure("\"(\" without its \")\"") }
            position += 1
            return inner
        case "[": return .test(try characterClass())
        case "\\": return .test(try escape(inClass: false).test)
        default: return .test(.literal(character))
        }
    }

    private mutating func characterClass() throws -> CharacterTest {
        var negated = false
        if next == "^" {
            negated = true
            position += 1
        }
        var items: [ClassItem] = []
        var first = true
        while let character = next, character != "]" || first {
            first = false
            position += 1
            var low: Character = character
            if character == "\\" {
                let escaped = try escape(inClass: true)
                guard let literal = escaped.literal else {
                    items.append(contentsOf: escaped.items)
                    continue
                }
                low = literal
            }
            if next == "-", position + 1 < pattern.count, pattern[position + 1] != "]" {
                position += 1
                var high = pattern[position]
                position += 1
                if high == "\\" {
                    guard let literal = try escape(inClass: true).literal else { throw failure("a range cannot end in a class") }
                    high = literal
                }
                guard low <= high else { throw failure("the range \(low)-\(high) is backwards") }
                items.append(.range(low, high))
            } else {
                items.append(.range(low, low))
            }
        }
        guard next == "]" else { throw failure("\"[\" without its \"]\"") }
        position += 1
        return .set(items, negated: negated)
    }

    /// After a backslash: a class shorthand or an escaped literal.
    private mutating func escape(inClass: Bool) throws -> (test: CharacterTest, literal: Character?, items: [ClassItem]) {
        guard let character = next else { throw failure("the pattern ends in a backslash") }
        position += 1
        let shorthand: ClassItem? = switch character {
        case "d": .digit(true)
        case "D": .digit(false)
        case "w": .word(true)
        case "W": .word(false)
        case "s": .space(true)
        case "S": .space(false)
        default: nil
        }
        if let shorthand { return (.set([shorthand], negated: false), nil, [shorthand]) }
        let literal: Character = switch character {
        case "n": "\n"
        case "t": "\t"
        default: character
        }
        guard !(character.isLetter || character.isNumber) || "nt".contains(character) else {
            throw failure("\\\(character) is not supported; escape only punctuation, or use \\d \\w \\s")
        }
        return (.literal(literal), literal, [])
    }
}
