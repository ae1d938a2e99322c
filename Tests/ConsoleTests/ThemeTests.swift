import DefpiTesting
import Foundation
import Testing

@testable import Console

/// The shipped themes load, and resolve to the same colours at 256, 16 and 8 colours as their
/// golden files say.
@Suite("Themes", .timeLimit(.minutes(2)))
struct ThemeTests {
    static let directory = TestBed.repositoryRoot + "/themes"

    @Test("every shipped theme loads and resolves every role", arguments: ["default", "light", "high-contrast", "monochrome"])
    func shipped(name: String) throws {
        let theme = try Theme.named(name, in: Self.directory)
        #expect(theme.name == name)
        var lines = ["theme \(theme.name), border \(theme.border.rawValue)", "role          256       16        8         emphasis"]
        for role in ScreenRole.allCases {
            let style = theme.style(role)
            func colours(_ depth: Int) -> String {
                let fg = style.fg?.resolved(forColors: depth).map(String.init) ?? "-"
                let bg = style.bg?.resolved(forColors: depth).map(String.init) ?? "-"
                return "\(fg)/\(bg)".padding(toLength: 10, withPad: " ", startingAt: 0)
            }
            let emphasis = [style.bold == true ? "bold" : nil, style.reverse == true ? "reverse" : nil].compactMap { $0 }
            lines.append(role.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0) + colours(256) + colours(16)
                         + colours(8) + (emphasis.isEmpty ? "-" : emphasis.joined(separator: ",")))
        }
        var view = ConsoleViewTests.sampleView()
        view.border = theme.border
        lines.append("")
        lines.append(view.render(width: 80, height: 10).text())
        Golden.check(lines.joined(separator: "\n"), named: "theme-\(name)", shows: ["Nodes [3]", "tb-mgr"])
    }

    @Test("colours degrade: #rrggbb to the 256 cube and greys, then to 16 and 8", arguments: [
        ("#ff0000", 196, 9, 1), ("#005f87", 24, 4, 4), ("#808080", 244, 7, 7), ("bright-red", 9, 9, 1), ("2", 2, 2, 2),
    ])
    func degrade(text: String, c256: Int, c16: Int, c8: Int) throws {
        let colour = try ThemeColor(parsing: text)
        #expect(colour.resolved(forColors: 256) == c256)
        #expect(colour.resolved(forColors: 16) == c16)
        #expect(colour.resolved(forColors: 8) == c8)
        #expect(try ThemeColor(parsing: "default").resolved(forColors: 256) == nil)
    }

    @Test("a bad theme says what is wrong and where")
    func badTheme() throws {
        let path = TemporaryDirectory.make().path + "/bad.yaml"
        try "name: bad\nborder: single\nroles:\n  txt: {fg: red}\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ThemeError.invalid(path: path, reason: "unknown role txt; roles are "
            + ScreenRole.allCases.map(\.rawValue).joined(separator: ", "))) { try Theme.load(path: path) }
        try "name: bad\nborder: single\nroles:\n  text: {fg: purple-ish}\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ThemeError.self) { try Theme.load(path: path) }
        #expect(throws: ThemeError.unreadable("/nonexistent.yaml")) { try Theme.load(path: "/nonexistent.yaml") }
    }
}
