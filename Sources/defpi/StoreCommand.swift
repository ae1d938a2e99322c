import ArgumentParser
import Engine

/// `defpi store ...`: inspect the store.
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Inspect the store that holds defpi's state.",
        subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open the store, bring its schema up to date, and print what it holds.")

        @Option(name: .long, help: ArgumentHelp(
            "Where the store lives: a file path, sqlite:///path, or mongodb://host:port/database.",
            discussion: "Default: $DEFPI_STORE, then 'store:' in the config file, then $XDG_DATA_HOME/defpi/defpi.sqlite."))
        var store: String?

        func run() async throws {
            try await reportingErrors {
                let location = try StoreSelection.resolve(flag: store)
                let opened = try await location.open()
                let inventory = try await opened.inventory()
                print("store:    \(inventory.location)")
                print("backend:  \(inventory.backend)")
                print("identity: \(inventory.identity)")
                print("schema:   version \(inventory.schemaVersion) (this defpi writes version \(StoreSchema.currentVersion))")
                for collection in EntityCollection.allCases {
                    print("\(collection.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)) \(inventory.counts[collection] ?? 0)")
                }
            }
        }
    }
}
