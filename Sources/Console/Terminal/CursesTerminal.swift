import CNcursesw
import Foundation

/// A key the console reacts to.
public enum Key: Equatable, Sendable {
    case character(Character)
    case up, down, left, right, pageUp, pageDown, home, end
    case tab, backTab, enter, escape, backspace, resize
    case mouse(MouseEvent)
}

/// A mouse click or wheel turn at a screen cell (only when the mouse is on: `console.mouse`).
public struct MouseEvent: Equatable, Sendable {
    public enum Kind: Sendable { case click, doubleClick, wheelUp, wheelDown }
    public var kind: Kind
    public var x, y: Int

    public init(_ kind: Kind, x: Int, y: Int) {
        self.kind = kind
        self.x = x
        self.y = y
    }
}

/// The real terminal through ncurses (wide API): set-up and tear-down, colours from a theme
/// resolved to what the terminal has, and flushing a cell grid, only the cells that changed.
/// Every call happens on the console's UI thread.
final class CursesTerminal {
    private var shown: CellGrid?
    private var pairs: [ScreenRole: Int16] = [:]
    private let theme: Theme

    init(theme: Theme, colors useColors: Bool, mouse: Bool) {
        self.theme = theme
        setlocale(LC_ALL, "")
        initscr()
        cbreak()
        noecho()
        nonl()
        keypad(defpi_curses_stdscr(), true)
        curs_set(0)
        set_escdelay(25)
        if mouse { defpi_curses_enable_mouse() }
        if useColors, has_colors() {
            start_color()
            use_default_colors()
            for (index, role) in ScreenRole.allCases.enumerated() {
                let style = theme.style(role)
                let foreground = style.fg?.resolved(forColors: Int(defpi_curses_colors())).map(Int32.init) ?? -1
                let background = style.bg?.resolved(forColors: Int(defpi_curses_colors())).map(Int32.init) ?? -1
                init_extended_pair(Int32(index + 1), foreground, background)
                pairs[role] = Int16(index + 1)
            }
        }
    }

    /// The terminal's size in cells.
    var size: (width: Int, height: Int) { (Int(defpi_curses_cols()), Int(defpi_curses_lines())) }

    /// Draws the cells of `grid` that differ from what is on screen.
    func draw(_ grid: CellGrid) {
        let full = shown.map { $0.width != grid.width || $0.height != grid.height } ?? true
        if full { clearok(defpi_curses_stdscr(), true) }
        for y in 0..<grid.height {
            for x in 0..<grid.width {
                let cell = grid[x, y]
                if !full, let shown, shown[x, y] == cell { continue }
                if cell.text.isEmpty { continue }  // the right half of a wide character
                put(cell, x: x, y: y)
            }
        }
        shown = grid
        wnoutrefresh(defpi_curses_stdscr())
        doupdate()
    }

    private func put(_ cell: Cell, x: Int, y: Int) {
        let role = theme.style(cell.style.role)
        var attributes = defpi_curses_attr_normal()
        if cell.style.bold || role.bold == true { attributes |= defpi_curses_attr_bold() }
        if cell.style.reverse && pairs.isEmpty || role.reverse == true { attributes |= defpi_curses_attr_reverse() }
        var characters = cell.text.unicodeScalars.map { wchar_t(bitPattern: $0.value) } + [0]
        var rendered = cchar_t()
        setcchar(&rendered, &characters, attributes, pairs[cell.style.role] ?? 0, nil)
        mvwadd_wch(defpi_curses_stdscr(), Int32(y), Int32(x), &rendered)
    }

    /// Waits up to `milliseconds` for a key; nil when none came.
    func readKey(timeout milliseconds: Int32) -> Key? {
        wtimeout(defpi_curses_stdscr(), milliseconds)
        var value: wint_t = 0
        let result = wget_wch(defpi_curses_stdscr(), &value)
        if result == ERR { return nil }
        if result == KEY_CODE_YES {
            switch Int32(value) {
            case KEY_UP: return .up
            case KEY_DOWN: return .down
            case KEY_LEFT: return .left
            case KEY_RIGHT: return .right
            case KEY_PPAGE: return .pageUp
            case KEY_NPAGE: return .pageDown
            case KEY_HOME: return .home
            case KEY_END: return .end
            case KEY_BTAB: return .backTab
            case KEY_ENTER: return .enter
            case KEY_BACKSPACE: return .backspace
            case defpi_curses_key_resize():
                shown = nil
                return .resize
            case defpi_curses_key_mouse():
                return mouseEvent()
            default: return nil
            }
        }
        switch value {
        case 9: return .tab
        case 10, 13: return .enter
        case 27: return .escape
        case 127, 8: return .backspace
        default:
            guard let scalar = Unicode.Scalar(UInt32(value)) else { return nil }
            return .character(Character(scalar))
        }
    }

    private func mouseEvent() -> Key? {
        var x: Int32 = 0
        var y: Int32 = 0
        let kinds: [Int32: MouseEvent.Kind] = [1: .click, 2: .doubleClick, 3: .wheelUp, 4: .wheelDown]
        return kinds[defpi_curses_mouse_event(&x, &y)].map { .mouse(MouseEvent($0, x: Int(x), y: Int(y))) }
    }

    /// Gives the terminal back as it was.
    func end() {
        endwin()
    }
}
