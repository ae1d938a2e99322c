import ArgumentParser
import Console
import Engine
import Foundation

/// `defpi change ...`: the queue of pending changes, seen and steered.
struct ChangeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "change",
        abstract: "List, inspect, retry, cancel and dismiss pending changes.",
        discussion: "Every action defpi takes on the cluster is a pending change in a persistent queue, retried until it has really taken effect. A change is NEW, RUNNING (leased by an engine), FAILED_TEMPORARY (retried later), FAILED_PERMANENTLY, FINISHED or CANCELLED.",
        subcommands: [List.self, Show.self, Retry.self, Cancel.self, Dismiss.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List pending changes, newest first.")
        @Option(help: "Only changes in this state (repeatable): new, running, failed_temporary, failed_permanently, finished, cancelled.")
        var state: [String] = []
        @Option(help: "Only changes of this kind (repeatable), e.g. NODE_LABELS.")
        var kind: [String] = []
        @Option(help: "Only changes made for this user (username or id).")
        var user: String?
        @Option(help: "Only changes that lock this id (a node, process or connection id).")
        var resource: String?
        @Option(help: "How many to show.")
        var limit = 50
        @Option(help: "How many of the newest to skip (paging).")
        var offset = 0
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let states = try state.map { name in
                    guard let state = PendingChangeState(rawValue: name.uppercased()) else {
                        throw ValidationError("unknown state \(name); use one of \(PendingChangeState.allCases.map { $0.rawValue.lowercased() }.joined(separator: ", "))")
                    }
                    return state
                }
                let engine = try await engine.makeEngine()
                let caller = try await self.engine.caller(on: engine)
                let page = try await engine.queue.changes(ChangeFilter(
                    states: states, kinds: kind.map { PendingChangeKind(rawValue: $0.uppercased()) },
                    user: user, resource: resource, offset: offset, limit: limit), by: caller)
                if format.output == .json { return try format.printJSON(page.items) }
                var table = Table("ID", "KIND", "STATE", "TRIES", "AGE", "BY", "DESCRIPTION", "LAST ERROR")
                let now = Date()
                for change in page.items {
                    table.add(change.id, change.type.rawValue, change.state.rawValue, "\(change.count)",
                              RowRenderer.age(change.created, now: now), change.createdBy, change.description,
                              change.lastError.map { String($0.prefix(60)) } ?? "-")
                }
                table.print()
                if page.total > page.items.count {
                    print("(\(offset + 1)-\(offset + page.items.count) of \(page.total); --offset \(offset + page.items.count) for more)")
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one change, its payload and its history.")
        @OptionGroup var target: ChangeReference
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let engine = try await engine.makeEngine()
                let caller = try await self.engine.caller(on: engine)
                let change = try await engine.queue.change(target.change, by: caller)
                if format.output == .json { return try format.printJSON(change) }
                let time = ISO8601DateFormatter()
                var details = Details()
                details.add("ID", change.id)
                details.add("Kind", change.type.rawValue)
                details.add("Description", change.description)
                details.add("State", change.state.rawValue)
                details.add("Attempts", "\(change.count)")
                details.add("Resources", change.resources.joined(separator: ", "))
                details.add("Created", "\(time.string(from: change.created)) by \(change.createdBy)")
                details.add(change.isWaiting ? "Next attempt" : "Due", time.string(from: change.runAt))
                if let owner = change.leaseOwner {
                    details.add("Leased by", "\(owner) until \(change.leaseExpiry.map { time.string(from: $0) } ?? "?")")
                }
                details.add("Last error", change.lastError)
                details.add("Payload", String(decoding: try ModelCoding.encoder(sortedKeys: true).encode(change.payload), as: UTF8.self))
                details.print()
                let history = try await engine.queue.history(of: change.id, by: caller)
                guard !history.isEmpty else { return }
                print("")
                Table.audit(history).print()
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a waiting or failed change again now, with a fresh attempt count.")
        @OptionGroup var target: ChangeReference
        @OptionGroup var waiting: ChangeOptions
        @OptionGroup var engine: EngineOptions

        func run() async throws {
            try await reportingErrors {
                let engine = try await engine.makeEngine()
                let caller = try await self.engine.caller(on: engine)
                try await waiting.settle(try await engine.queue.retry(target.change, by: caller), in: engine)
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a change that has not started; it never runs.")
        @OptionGroup var target: ChangeReference
        @OptionGroup var engine: EngineOptions

        func run() async throws {
            try await reportingErrors {
                let cancelled = try await engine.acting { engine, caller in try await engine.queue.cancel(target.change, by: caller) }
                print("cancelled: \(cancelled.description)")
            }
        }
    }

    struct Dismiss: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a change that failed for good or was cancelled; its history stays in the audit log.")
        @OptionGroup var target: ChangeReference
        @OptionGroup var engine: EngineOptions

        func run() async throws {
            try await reportingErrors {
                try await engine.acting { engine, caller in try await engine.queue.dismiss(target.change, by: caller) }
                print("dismissed: \(target.change)")
            }
        }
    }
}

/// The change a verb acts on.
struct ChangeReference: ParsableArguments {
    @Argument(help: "The change id (`defpi change ls` lists them).")
    var change: String
}

/// How a verb that queues a change waits for it.
struct ChangeOptions: ParsableArguments {
    @Flag(help: "Return when the change has taken effect or failed, with its error (the default).")
    var wait = false
    @Flag(help: "Return once the change is queued; a running console or server carries it out.")
    var detach = false
    @Option(help: "Seconds to wait for the change to take effect (default: 30; 180 for processes).")
    var timeout: Int?

    func validate() throws {
        guard !(wait && detach) else { throw ValidationError("give --wait or --detach, not both") }
        guard (timeout ?? 1) > 0 else { throw ValidationError("--timeout takes a number of seconds above 0") }
    }

    /// Works the queue until the change is done; a change still pending after the wait is an
    /// error that says it stays queued (nothing is lost). `quiet`: the caller says what came of it.
    func settle(_ change: PendingChange, in engine: Engine, quiet: Bool = false) async throws {
        if detach {
            print("queued: \(change.description) (change \(change.id))")
            return
        }
        let settled = try await engine.queue.settle(change.id, timeout: .seconds(timeout ?? 30))
        switch settled.state {
        case .finished:
            if !quiet { print("done: \(change.description)") }
        case .failedPermanently:
            throw ChangeOutcomeError(message: "\(change.description) failed: \(settled.lastError ?? "no reason recorded")")
        case .cancelled:
            throw ChangeOutcomeError(message: "\(change.description) was cancelled: \(settled.lastError ?? "no reason recorded")")
        default:
            throw ChangeOutcomeError(message:
                "\(change.description) has not taken effect yet (\(settled.lastError ?? "still running")); it stays queued as change \(change.id) and retries while a console or server runs")
        }
    }
}

/// A queued change that did not take effect in time or failed.
struct ChangeOutcomeError: UserFacingError {
    var message: String
    var userMessage: String { message }
}

