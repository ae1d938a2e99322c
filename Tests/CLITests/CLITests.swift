import DefpiTesting
import Engine
import Foundation
import Testing

/// The `defpi` executable as an operator runs it.
@Suite("Command line", .timeLimit(.minutes(5)))
struct CLITests {
    @Test("--version and --help")
    func versionAndHelp() async throws {
        let version = try await DefpiCommand.run(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
        let help = try await DefpiCommand.run(["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("store"))
        #expect(help.stdout.contains("USAGE: defpi"))
    }

    @Test("store check creates, migrates and describes a new SQLite store")
    func storeCheckSQLite() async throws {
        let path = TemporaryDirectory.make().path + "/nested/dir/defpi.sqlite"
        let result = try await DefpiCommand.run(["store", "check", "--store", path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("store:    \(path)"))
        #expect(result.stdout.contains("backend:  SQLite 3."))
        #expect(result.stdout.contains("identity: \(try await StoreLocation(parsing: path).open().identity)"))
        #expect(result.stdout.contains("schema:   version \(StoreSchema.currentVersion)"))
        #expect(result.stdout.contains("PendingChange  0"))
        #expect(result.stdout.contains("AccessToken    0"))
        #expect(FileManager.default.fileExists(atPath: path))
    }

    @Test("store check honours DEFPI_STORE and the config file")
    func storeSelection() async throws {
        let directory = TemporaryDirectory.make().path
        let fromEnvironment = try await DefpiCommand.run(["store", "check"], environment: ["DEFPI_STORE": directory + "/env.sqlite", "HOME": directory])
        #expect(fromEnvironment.stdout.contains("store:    \(directory)/env.sqlite"))

        try "store: \(directory)/config.sqlite\n".write(toFile: directory + "/config.yaml", atomically: true, encoding: .utf8)
        let fromConfig = try await DefpiCommand.run(["store", "check"], environment: ["DEFPI_CONFIG": directory + "/config.yaml", "HOME": directory])
        #expect(fromConfig.stdout.contains("store:    \(directory)/config.sqlite"))

        let byDefault = try await DefpiCommand.run(["store", "check"], environment: ["HOME": directory, "XDG_DATA_HOME": directory + "/data"])
        #expect(byDefault.stdout.contains("store:    \(directory)/data/defpi/defpi.sqlite"))
    }

    @Test("store check on the test bed's MongoDB", .enabled(if: TestBed.hasMongo))
    func storeCheckMongo() async throws {
        let base = try #require(TestBed.mongoURI)
        let result = try await DefpiCommand.run(["store", "check", "--store", base.withDatabase("defpi_cli_\(ProcessInfo.processInfo.processIdentifier)")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("backend:  MongoDB"))
        #expect(result.stdout.contains("User           0"))
    }

    @Test("a corrupt store file gives one line on stderr and a non-zero exit")
    func corruptStore() async throws {
        let path = TemporaryDirectory.make().path + "/defpi.sqlite"
        try Data("this is not a database".utf8).write(to: URL(fileURLWithPath: path))
        let result = try await DefpiCommand.run(["store", "check", "--store", path])
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr.hasPrefix("defpi: cannot use the store at \(path)"))
    }
}
