import Engine
import Foundation
import Yams

/// A colour as a theme file writes it: `default`, one of the 16 ANSI names (`red`,
/// `bright-red` ...), an xterm-256 index, or `#rrggbb`. Resolved to what the terminal has.
public struct ThemeColor: Sendable, Equatable, Codable {
    /// nil: the terminal's default colour.
    public let index: Int?
    public let hex: (UInt8, UInt8, UInt8)?

    public static let terminalDefault = ThemeColor(index: nil, hex: nil)
    static let names = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"]

    init(index: Int?, hex: (UInt8, UInt8, UInt8)?) {
        self.index = index
        self.hex = hex
    }

    public init(parsing text: String) throws {
        let value = text.trimmingCharacters(in: .whitespaces).lowercased()
        if value == "default" || value.isEmpty {
            self = .terminalDefault
        } else if let number = Int(value), (0...255).contains(number) {
            self.init(index: number, hex: nil)
        } else if let base = Self.names.firstIndex(of: value) {
            self.init(index: base, hex: nil)
        } else if value.hasPrefix("bright-"), let base = Self.names.firstIndex(of: String(value.dropFirst(7))) {
            self.init(index: base + 8, hex: nil)
        } else if value.hasPrefix("#"), value.count == 7, let rgb = UInt32(value.dropFirst(), radix: 16) {
            self.init(index: nil, hex: (UInt8(rgb >> 16), UInt8((rgb >> 8) & 0xFF), UInt8(rgb & 0xFF)))
        } else {
            throw ThemeError.badColor(text)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int.self) { try self.init(parsing: String(number)) } else {
            try self.init(parsing: try container.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(index.map(String.init) ?? "default")
    }

    public static func == (left: ThemeColor, right: ThemeColor) -> Bool {
        left.index == right.index && left.hex?.0 == right.hex?.0 && left.hex?.1 == right.hex?.1 && left.hex?.2 == right.hex?.2
    }

    /// The colour number for a terminal with `colors` colours (256, 16 or 8); nil = default.
    public func resolved(forColors colors: Int) -> Int? {
        var number = index
        if let (red, green, blue) = hex { number = Self.xterm256(red, green, blue) }
        guard let value = number else { return nil }
        if colors >= 256 || value < colors { return value }
        let sixteen = value < 16 ? value : Self.nearestANSI(value)
        return colors >= 16 ? sixteen : sixteen % 8
    }

    /// The xterm-256 index nearest an RGB colour (6x6x6 cube or grey ramp).
    static func xterm256(_ red: UInt8, _ green: UInt8, _ blue: UInt8) -> Int {
        func level(_ value: UInt8) -> Int { value < 48 ? 0 : value < 115 ? 1 : (Int(value) - 35) / 40 }
        let cube = 16 + 36 * level(red) + 6 * level(green) + level(blue)
        let average = (Int(red) + Int(green) + Int(blue)) / 3
        if abs(Int(red) - average) < 10 && abs(Int(green) - average) < 10 && abs(Int(blue) - average) < 10 {
            return average > 238 ? 231 : average < 8 ? 16 : 232 + (average - 8) / 10
        }
        return cube
    }

    /// The ANSI colour (0-15) nearest an xterm-256 index.
    static func nearestANSI(_ index: Int) -> Int {
        if index >= 232 { return index < 244 ? 8 : 7 }
        let cube = index - 16
        let (red, green, blue) = (cube / 36, (cube / 6) % 6, cube % 6)
        let bright = max(red, green, blue) >= 4
        let bits = (red >= 2 ? 1 : 0) | (green >= 2 ? 2 : 0) | (blue >= 2 ? 4 : 0)
        return bits == 0 ? (bright ? 8 : 0) : bits + (bright ? 8 : 0)
    }
}

/// How one screen role looks.
public struct RoleStyle: Sendable, Equatable, Codable {
    public var fg: ThemeColor?
    public var bg: ThemeColor?
    public var bold: Bool?
    public var reverse: Bool?
}

/// A console theme (a YAML file in `themes/`): a border style and the look of every role.
public struct Theme: Sendable, Equatable, Codable {
    public var name: String
    public var border: BorderStyle
    public var roles: [String: RoleStyle]

    /// The look of `role`, or the plain text look when the theme does not name it.
    public func style(_ role: ScreenRole) -> RoleStyle {
        roles[role.rawValue] ?? roles[ScreenRole.text.rawValue] ?? RoleStyle()
    }

    public static func load(path: String) throws -> Theme {
        guard let data = FileManager.default.contents(atPath: path) else { throw ThemeError.unreadable(path) }
        let theme: Theme
        do {
            theme = try YAMLDecoder().decode(Theme.self, from: String(decoding: data, as: UTF8.self))
        } catch let error as ThemeError {
            throw ThemeError.invalid(path: path, reason: error.userMessage)
        } catch {
            throw ThemeError.invalid(path: path, reason: "\(error)")
        }
        if let unknown = theme.roles.keys.first(where: { ScreenRole(rawValue: $0) == nil }) {
            throw ThemeError.invalid(path: path, reason: "unknown role \(unknown); roles are "
                + ScreenRole.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return theme
    }

    /// The theme called `name` in `directory`, or the file `name` itself.
    public static func named(_ name: String, in directory: String) throws -> Theme {
        let path = name.contains("/") || name.hasSuffix(".yaml") ? name : "\(directory)/\(name).yaml"
        return try load(path: path)
    }
}

/// Why a theme cannot be used.
public enum ThemeError: UserFacingError, Equatable {
    case unreadable(String)
    case invalid(path: String, reason: String)
    case badColor(String)

    public var userMessage: String {
        switch self {
        case .unreadable(let path): return "cannot read the theme \(path); `ls themes/` lists the shipped ones"
        case .invalid(let path, let reason): return "the theme \(path) is not valid: \(reason)"
        case .badColor(let text):
            return "\"\(text)\" is not a colour; use default, a name (red, bright-red ...), 0-255 or #rrggbb"
        }
    }
}
