import Foundation
import Testing

@testable import Engine

/// The filters people type match as Swift's regular expressions do, in time linear in the text,
/// and refuse what they cannot do with a message that says where.
@Suite("Text patterns", .timeLimit(.minutes(2)))
struct TextPatternTests {
    static let patterns = [
        "meter", "^m", "1$", "^meter-1$", "m.t", "a|b", "(ab)+c", "(a|bc)*d", "x?y", "[a-c]+", "[^a-z]", "\\d+", "\\w-\\d",
        "\\s", "[\\d_]", "(?:me|te)r", "^$", "a*", "(a*)*b", "((a|b)*c)+$", "[-a]", "[a-]x", "\\.", "a.*?b",
    ]

    @Test("agrees with Swift's Regex on every pattern over random texts")
    func agreesWithRegex() throws {
        var random = SystemRandomNumberGenerator()
        let alphabet = Array("abcdm1 _-.tex]y")
        for source in Self.patterns {
            let pattern = try TextPattern(source)
            let regex = try Regex(source)
            for _ in 0..<300 {
                let text = String((0..<Int.random(in: 0...12, using: &random)).map { _ in alphabet.randomElement(using: &random)! })
                var budget = 1_000_000
                #expect(try pattern.matches(text, budget: &budget) == text.contains(regex), "/\(source)/ on \"\(text)\"")
            }
        }
    }

    @Test("a pattern that backtracks exponentially elsewhere answers at once")
    func noBacktracking() throws {
        let name = String(repeating: "a", count: 47)
        let clock = ContinuousClock()
        for source in ["(a+)+b", "(a|a)*b", "(a*)*b", "((a+)+)+b", "(a|aa)+$b"] {
            let pattern = try TextPattern(source)
            var budget = 1_000_000
            var found = true
            let elapsed = try clock.measure { found = try pattern.matches(name, budget: &budget) }
            #expect(!found)
            #expect(elapsed < .milliseconds(100), "/\(source)/ took \(elapsed)")
        }
    }

    @Test("the budget bounds the work of many texts, and says so when spent")
    func budget() throws {
        let pattern = try TextPattern("(a|b|c|d|e)*z")
        var budget = 10_000
        #expect(throws: TextPatternError.tooCostly) {
            for _ in 0..<1000 { _ = try pattern.matches(String(repeating: "abcde", count: 40), budget: &budget) }
        }
    }

    @Test("case folding for the console's filter")
    func ignoresCase() throws {
        var budget = 1000
        #expect(try TextPattern("METER-[A-Z]", ignoresCase: true).matches("meter-a", budget: &budget))
        #expect(try !TextPattern("METER", ignoresCase: false).matches("meter", budget: &budget))
    }

    @Test("what it cannot do is refused with where and why", arguments: [
        ("(", "without its"), ("a)", "without its"), ("[a", "without its"), ("*a", "nothing to repeat"),
        ("a{2}", "counted repetition"), ("(?=a)", "only (?:...)"), ("\\1", "not supported"), ("a\\", "backslash"),
        ("[z-a]", "backwards"), (String(repeating: "a", count: 201), "at most 200"),
    ])
    func refusals(source: String, reason: String) {
        do {
            _ = try TextPattern(source)
            Issue.record("/\(source)/ was accepted")
        } catch {
            #expect("\(error)".contains(reason), "/\(source)/: \(error)")
        }
    }
}

extension TextPatternTests {
    @Test("case folding of characters that fold to several (ß, ﬁ, ŉ) never traps")
    func multiCharacterFolding() throws {
        var budget = 10_000
        let pattern = try TextPattern("[a-z]+@", ignoresCase: true)
        for text in ["straße@x.de", "ﬁle@x", "ŉ@x", "İstanbul@x"] { _ = try pattern.matches(text, budget: &budget) }
        #expect(try TextPattern("STRASSE", ignoresCase: true).matches("strasse", budget: &budget))
    }
}
