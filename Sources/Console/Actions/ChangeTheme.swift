import Engine

/// `:theme NAME`: switch the console's colours (a stock theme, or a file in the theme directory).
public struct ChangeTheme: OperatorAction {
    public var name: String

    public static let help = "theme"
    public static let command: ActionCommand? = ActionCommand(name: "theme", usage: ":theme NAME")
    public static let isChange = false

    public init(name: String) { self.name = name }

    public static func prompt(for target: ActionTarget) -> ActionPrompt? { .line("theme: ") }

    public init?(target: ActionTarget, answer: String) {
        guard !answer.isEmpty, !answer.contains(" ") else { return nil }
        self.init(name: answer)
    }

    public func perform(in context: ActionContext) async throws -> String {
        let chosen = try Theme.named(name, in: context.themeDirectory)
        context.useTheme(chosen)
        return "theme \(chosen.name)"
    }
}
