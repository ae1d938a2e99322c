import Foundation
import Synchronization
import Testing

@testable import Engine

/// A process's output printed on an operator's terminal cannot drive it.
@Suite("Terminal-safe text", .timeLimit(.minutes(3)))
struct TerminalSafeTextTests {
    @Test("escape sequences and control characters go, text and tabs stay", arguments: [
        ("plain\ttext", "plain\ttext"), ("\u{1B}[31mred\u{1B}[0m", "red"), ("\u{1B}]0;pwned\u{07}title", "title"),
        ("\u{1B}]52;c;ZXZpbA==\u{1B}\\clip", "clip"), ("a\u{1B}[2J\u{1B}[Hb", "ab"), ("bell\u{07}\u{08}\r", "bell"),
        ("\u{9B}31mc1", "c1"), ("\u{1B}Pdcs\u{1B}\\after", "after"), ("ünïcødé ✓", "ünïcødé ✓"), ("\u{1B}", ""),
    ])
    func stripped(input: String, expected: String) {
        #expect(TerminalSafeText.of(input) == expected)
    }
}

/// Docker's log stream split into lines, none longer than the cap however a process writes.
@Suite("Docker log lines", .timeLimit(.minutes(3)))
struct DockerLogLineTests {
    @Test("a process writing without newlines is cut into lines of at most 64 KiB; short lines stay whole")
    func cappedLines() {
        let lines = Mutex<[DockerLogLine]>([])
        let splitter = DockerLogSplitter { line in lines.withLock { $0.append(line) } }
        let long = String(repeating: "x", count: 200 * 1024)
        for chunk in stride(from: 0, to: long.utf8.count, by: 10_000) {
            _ = splitter.feed(Data(long.utf8.dropFirst(chunk).prefix(10_000)))
        }
        _ = splitter.feed(Data("\nshort line\n".utf8))
        splitter.finish()
        let texts = lines.withLock { $0.map(\.text) }
        #expect(texts.map(\.utf8.count) == [65536, 65536, 65536, 8192, 10] && texts.last == "short line", "\(texts.map(\.utf8.count))")
    }
}
