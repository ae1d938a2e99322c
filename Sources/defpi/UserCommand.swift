import ArgumentParser
import Engine
import Foundation

/// `defpi user ...`: the people who sign in to defpi.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Add, list, change and remove users.",
        discussion: "There is no default user or password: make the first admin with `defpi user add NAME --admin`. Passwords are stored as bcrypt hashes; hashes of the original dEF-Pi orchestrator are accepted and upgraded at the next sign-in.",
        subcommands: [Add.self, List.self, Show.self, Passwd.self, Update.self, Quota.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user.")
        @Argument(help: "The username: lower-case letters, digits, '.', '_' or '-' (fixed for good).")
        var name: String
        @Flag(help: "Make the user an admin: manages users, nodes and pools, and sees every environment.")
        var admin = false
        @Option(help: "The user's email address (passed to their processes as USER_EMAIL).")
        var email: String?
        @OptionGroup var password: PasswordInput
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let secret = try password.read(for: name)
                let user = try await engine.acting { engine, caller in try await engine.users.create(username: name, password: secret, email: email,
                                                                      admin: admin, by: caller) }
                if format.output == .json { return try format.printJSON(user) }
                print("added \(user.admin ? "admin" : "user") \(user.username) (\(user.id))")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the users.")
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let users = try await engine.acting { engine, caller in try await engine.users.users(by: caller) }
                if format.output == .json { return try format.printJSON(users) }
                var table = Table("ID", "USERNAME", "ROLE", "EMAIL")
                for user in users { table.add(user.id, user.username, user.admin ? "admin" : "user", user.email ?? "-") }
                table.print()
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one user.")
        @Argument(help: "The user: username or id.")
        var user: String
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let (user, quota) = try await engine.acting { engine, caller in
                    (try await engine.users.user(self.user, by: caller), try await engine.quotas.report(for: self.user, by: caller))
                }
                if format.output == .json { return try format.printJSON(user) }
                var details = Details()
                details.add("ID", user.id)
                details.add("Username", user.username)
                details.add("Role", user.admin ? "admin" : "user")
                details.add("Email", user.email)
                for (key, value) in Quota.lines(quota) { details.add(key, value) }
                details.print()
            }
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a user's password.",
            discussion: "Your own password needs the current one too: asked first, or, with --password-stdin, the first of two lines (current, then new). An admin resets another user's without it.")
        @Argument(help: "The user: username or id.")
        var user: String
        @OptionGroup var password: PasswordInput
        @OptionGroup var engine: EngineOptions

        func run() async throws {
            try await reportingErrors {
                let (user, password) = (self.user, self.password)
                let updated = try await engine.acting { engine, caller in
                    let own = try await engine.users.user(user, by: caller).id == caller.userId
                    let current = own ? try password.readCurrent() : nil
                    return try await engine.users.update(user, password: try password.read(for: user), currentPassword: current,
                                                         by: caller)
                }
                print("password of \(updated.username) changed")
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a user's email or role.")
        @Argument(help: "The user: username or id.")
        var user: String
        @Option(help: "The new email address; an empty one removes it.")
        var email: String?
        @Flag(inversion: .prefixedNo, help: "Make the user an admin, or a plain user again.")
        var admin: Bool?
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func validate() throws {
            guard email != nil || admin != nil else { throw ValidationError("give --email E, --admin or --no-admin") }
        }

        func run() async throws {
            try await reportingErrors {
                let updated = try await engine.acting { engine, caller in try await engine.users.update(
                    user, email: email.map { $0.isEmpty ? nil : $0 }, admin: admin, by: caller) }
                if format.output == .json { return try format.printJSON(updated) }
                print("updated \(updated.username): \(updated.admin ? "admin" : "user"), email \(updated.email ?? "-")")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Remove a user who owns no processes and no private nodes.")
        @Argument(help: "The user: username or id.")
        var user: String
        @OptionGroup var engine: EngineOptions

        func run() async throws {
            try await reportingErrors {
                try await engine.acting { engine, caller in try await engine.users.delete(user, by: caller) }
                print("removed \(user)")
            }
        }
    }
}

/// Where a new password comes from: standard input (`--password-stdin`, for scripts), else a
/// prompt on the terminal, typed twice, without echo.
struct PasswordInput: ParsableArguments {
    @Flag(help: "Read the password from standard input (one line) instead of prompting.")
    var passwordStdin = false

    func read(for user: String) throws -> String {
        if passwordStdin {
            guard let line = Swift.readLine(strippingNewline: true), !line.isEmpty else {
                throw PasswordInputError.emptyStandardInput
            }
            return line
        }
        guard isatty(STDIN_FILENO) == 1 else { throw PasswordInputError.noTerminal }
        let first = try Self.prompt("Password for \(user): ")
        guard try Self.prompt("Again: ") == first else { throw PasswordInputError.mismatch }
        return first
    }

    /// The password being replaced: a line of standard input, or asked once without echo.
    func readCurrent() throws -> String {
        if passwordStdin {
            guard let line = Swift.readLine(strippingNewline: true), !line.isEmpty else { throw PasswordInputError.emptyStandardInput }
            return line
        }
        guard isatty(STDIN_FILENO) == 1 else { throw PasswordInputError.noTerminal }
        return try Self.prompt("Current password: ")
    }

    /// A password to sign in with, asked once on the terminal without echo.
    static func signIn(as user: String) throws -> String {
        guard isatty(STDIN_FILENO) == 1 else { throw PasswordInputError.noTerminal }
        return try prompt("Password for \(user): ")
    }

    /// Reads one line from the terminal with echo off, restoring the terminal afterwards.
    private static func prompt(_ text: String) throws -> String {
        FileHandle.standardError.write(Data(text.utf8))
        var saved = termios()
        tcgetattr(STDIN_FILENO, &saved)
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        guard let line = Swift.readLine(strippingNewline: true) else { throw PasswordInputError.noTerminal }
        return line
    }
}

/// Why no password could be read.
enum PasswordInputError: UserFacingError {
    case emptyStandardInput, noTerminal, mismatch

    var userMessage: String {
        switch self {
        case .emptyStandardInput:
            return "--password-stdin read no password; pipe one line into defpi (for your own password two: the current one, then the new one)"
        case .noTerminal: return "no terminal to ask for the password on; give it with --password-stdin"
        case .mismatch: return "the two passwords differ; nothing was changed"
        }
    }
}
