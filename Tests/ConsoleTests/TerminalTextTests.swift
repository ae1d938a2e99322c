import CNcursesw
import Console
import Logging
import Testing

@Suite("Terminal text", .timeLimit(.minutes(2)))
struct TerminalTextTests {
    @Test("the ncursesw binding links and reports its version")
    func cursesVersion() {
        #expect(TerminalText.cursesVersion.hasPrefix("ncurses "))
        #expect(defpi_curses_attr_bold() != defpi_curses_attr_normal())
    }

    @Test("text is measured in display columns", arguments: [
        ("node", 4), ("tb-w1 ✓", 7), ("日本語", 6), ("e\u{301}", 1), ("📦", 2), ("", 0),
    ])
    func displayWidth(text: String, columns: Int) {
        #expect(TerminalText.displayWidth(text) == columns)
    }
}

@Suite("Console log", .timeLimit(.minutes(2)))
struct FileLogTests {
    @Test("a log on a full disk drops its lines instead of stopping the program")
    func fullDisk() throws {
        let factory = try #require(FileLogHandler.factory(path: "/dev/full", level: .info))
        let logger = Logger(label: "defpi.test", factory: factory)
        for index in 0..<100 { logger.error("line \(index) that cannot be written") }
    }
}
