import DefpiAPI
import ArgumentParser
import Console
import Engine
import Foundation
import Logging
import ServiceLifecycle

/// `defpi console`: the ncurses administration console on an embedded Engine.
struct ConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Run the administration console (ncurses) on an embedded Engine.",
        discussion: "Keys: tab / shift-tab or 1-7 switch panes, arrows or j/k select, g/G first/last, z zoom, enter opens a service's versions or a process's neighbourhood, : command (:nodes, :queue, :theme NAME ...), / filter, ? help, q quit; on nodes c classify, r rename, d declassify, n new pool; on users n add, A role, p password, d delete. --user NAME signs in (the password is asked first); --as USER views as a user. Logs go to --log, never to the screen.")

    @OptionGroup var engine: EngineOptions

    @Option(help: "The theme: a name in themes/ (default, light, high-contrast, monochrome) or a YAML file (default: 'console.theme' in the config file, then default).")
    var theme: String?

    @Option(help: "Where the console writes its log (default: $XDG_STATE_HOME/defpi/console.log).")
    var log: String?

    @Flag(help: "Refuse every action: watch the cluster without changing anything (works no queue, serves no API).")
    var readOnly = false

    @Option(help: ArgumentHelp("Sign in as this user (the password is asked on the terminal); what is shown and allowed is theirs. Default: the local operator, an admin.", valueName: "name"))
    var user: String?

    @Flag(inversion: .prefixedNo, help: "Clicks select and open, the wheel scrolls (default: 'console.mouse' in the config file, else off, which leaves the terminal's own text selection working).")
    var mouse: Bool?

    func run() async throws {
        try await reportingErrors {
            let environment = ProcessInfo.processInfo.environment
            let logPath = log ?? ((environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
                ?? (NSHomeDirectory() + "/.local/state")) + "/defpi/console.log")
            if let factory = FileLogHandler.factory(path: logPath, level: .info) {
                LoggingSystem.bootstrap(factory)
            } else {
                LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
            }
            let settings = try ConfigurationFile.load(path: ConfigurationFile.path()).console
            let keyMap = try KeyMap(overrides: settings?.keys ?? [:])
            let themes = ThemeDirectory.locate()
            let chosen = try Theme.named(theme ?? settings?.theme ?? "default", in: themes)
            let engine = try await engine.makeEngine()
            let caller = try await signedIn(to: engine, environment: environment)
            let app = ConsoleApp(engine: engine, settings: ConsoleSettings(
                theme: chosen, themeDirectory: themes, useColors: (environment["NO_COLOR"] ?? "").isEmpty,
                caller: caller, readOnly: readOnly, keyMap: keyMap,
                mouse: mouse ?? settings?.mouse ?? false))
            // A read-only console watches: it works no queue and serves no API.
            var services = engine.backgroundServices(workingQueue: !readOnly).map { Program.background($0) }
            if !readOnly {
                // Processes call back (through the gateway) on the Engine's API socket.
                services.append(Program.background(EngineAPI(engine: engine).service(unixSocket: engine.settings.gateway.engineSocket)))
            }
            services.append(Program.front(ConsoleService(app: app)))
            try await Program.run(services, logger: Logger(label: "defpi.console"))
        }
    }
}

extension ConsoleCommand {
    /// Who works this console: the local operator, or the user of `--user` once their password
    /// is checked (throttled like any sign-in, by the SSH client's address when there is one);
    /// with `--as`, the user an admin views as.
    func signedIn(to engine: Engine, environment: [String: String]) async throws -> Caller {
        var caller = Caller.localOperator()
        if let user {
            let source = environment["SSH_CLIENT"].flatMap { $0.split(separator: " ").first.map(String.init) } ?? "console"
            caller = try await engine.signIn.caller(username: user, password: try PasswordInput.signIn(as: user), source: source)
        }
        // --as (of the engine options): an admin views as a user.
        if let viewAs = self.engine.actingAs { caller = try await engine.users.viewing(as: viewAs, by: caller) }
        return caller
    }
}

/// The console's UI loop as a service: the operator quitting ends the program; a signal quits
/// the console.
struct ConsoleService: ServiceLifecycle.Service {
    let app: ConsoleApp

    func run() async throws {
        await withGracefulShutdownHandler {
            await app.run()
        } onGracefulShutdown: {
            app.quit()
        }
    }
}

/// Where the shipped themes are: `$DEFPI_THEMES`, else `themes/` of the checkout the binary was
/// built in (`.build/<config>/defpi`), else `/usr/share/defpi/themes`.
enum ThemeDirectory {
    static func locate() -> String {
        if let explicit = ProcessInfo.processInfo.environment["DEFPI_THEMES"], !explicit.isEmpty { return explicit }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            let candidate = directory.appendingPathComponent("themes")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("default.yaml").path) {
                return candidate.path
            }
            directory.deleteLastPathComponent()
        }
        return "/usr/share/defpi/themes"
    }
}
