import CNcursesw

/// Measures text the way a terminal lays it out: by display columns, not by characters.
public enum TerminalText {
    /// The number of columns `text` takes: 2 for wide (CJK, most emoji) characters, 0 for
    /// combining marks, 1 otherwise. Control characters count as 1 (they are shown escaped).
    public static func displayWidth(_ text: String) -> Int {
        ensureLocale()
        return text.unicodeScalars.reduce(0) { width, scalar in
            let columns = Int(wcwidth(wchar_t(bitPattern: scalar.value)))
            return width + (columns < 0 ? 1 : columns)
        }
    }

    /// The ncurses library version, e.g. `ncurses 6.4.20221231`.
    public static var cursesVersion: String {
        String(cString: curses_version())
    }

    /// wcwidth answers by the C library's locale; a UTF-8 one is needed for anything past ASCII.
    private static let localeReady: Bool = {
        if setlocale(LC_CTYPE, "") == nil || !String(cString: setlocale(LC_CTYPE, nil)).lowercased().contains("utf") {
            _ = setlocale(LC_CTYPE, "C.UTF-8")
        }
        return true
    }()

    private static func ensureLocale() { _ = localeReady }
}
