import DefpiTesting
import Engine
import Foundation
import Testing

/// The queue as the managers use it: steps run under their lease, renewal survives store
/// hiccups, a lost lease cancels the step, unknown kinds are left alone, several workers, and
/// every outcome recorded once. Leases are short (6 s) so the tests see them expire, yet long
/// enough for a store answering slowly while the whole suite runs on two cores.
@Suite("Queue", .serialized, .timeLimit(.minutes(5)))
struct QueueTests {
    static func settings(workers: Int = 4, skew: TimeInterval = 0, lease: Duration = .seconds(6)) -> QueueSettings {
        QueueSettings(workers: workers, leaseDuration: lease, maximumClockSkew: .seconds(1),
                      maximumBackoff: .milliseconds(50), idlePoll: .milliseconds(20), clock: { Date() + skew })
    }

    static func queue(_ store: any Store, _ log: StepLog, owner: String = "engine-a",
                      settings: QueueSettings = QueueTests.settings()) -> PendingChangeManager {
        let queue = PendingChangeManager(store: store, notifications: EngineNotifications(), owner: owner, settings: settings)
        queue.register(ScriptedStep(log: log, engine: owner))
        return queue
    }

    @Test("renewal survives a transient store error; no other engine takes the change meanwhile",
          arguments: StoreBackend.available)
    func renewalSurvivesTransientError(backend: StoreBackend) async throws {
        let location = backend.freshLocation()
        let faulty = FaultyStore(try await StoreLocation(parsing: location).open())
        faulty.inject(.fail(FaultyStore.transient), into: .renewLease, calls: 1...1)
        // A 12 s lease, renewed every 4 s, and a step of 14 s: it outlives the lease only if the
        // renewal after the failed one works. The first renewal may come seconds late while the
        // whole suite keeps both cores busy, and still be in time.
        let log = StepLog(["slow": .sleep(.seconds(14))])
        let holder = Self.queue(faulty, log, settings: Self.settings(lease: .seconds(12)))
        let rival = Self.queue(try await StoreLocation(parsing: location).open(), log, owner: "engine-b",
                               settings: Self.settings(lease: .seconds(12)))
        let change = try await holder.enqueue(try ScriptedStep.change("slow"))

        let holding = Task { try await holder.runNext(only: change.id) }
        #expect(await eventually(timeout: .seconds(30)) { log.attempts("slow") == 1 })
        let rivalRuns = Task { await rival.run() }
        defer { rivalRuns.cancel() }
        #expect(try await holding.value)
        #expect(try await faulty.base.fetch(PendingChange.self, id: change.id)?.state == .finished)
        #expect(log.attempts("slow") == 1 && log.engines("slow") == ["engine-a"])
        #expect(faulty.calls(of: .renewLease) >= 3)
    }

    @Test("a lease that cannot be renewed cancels the step before the lease runs out; a rival working the queue meanwhile takes it over, never inside it at once",
          arguments: StoreBackend.available)
    func lostLeaseCancelsStep(backend: StoreBackend) async throws {
        let location = backend.freshLocation()
        let faulty = FaultyStore(try await StoreLocation(parsing: location).open())
        faulty.inject(.fail(FaultyStore.transient), into: .renewLease)
        let log = StepLog()
        log.script("stuck", .holdUntilCancelled, on: "engine-a")
        let holder = Self.queue(faulty, log)
        let change = try await holder.enqueue(try ScriptedStep.change("stuck"))

        let holding = Task { try await holder.runNext(only: change.id) }
        #expect(await eventually(timeout: .seconds(10)) { log.attempts("stuck") == 1 }, "the holder never began")
        let leased = try #require(try await faulty.base.fetch(PendingChange.self, id: change.id))
        let expiry = try #require(leased.leaseExpiry)
        // The rival works the queue all along, as a second engine on the store does.
        let rival = Self.queue(try await StoreLocation(parsing: location).open(), log, owner: "engine-b")
        let rivalWork = Task { await rival.run() }
        defer { rivalWork.cancel() }

        #expect(try await holding.value)
        let cancelled = try #require(log.cancelledAt("stuck"), "the step on a lease it could not renew was never cancelled")
        #expect(cancelled < expiry, "the step was cancelled at \(cancelled), after its lease ran out at \(expiry)")
        #expect(await eventually(timeout: .seconds(30)) {
            (try? await faulty.base.fetch(PendingChange.self, id: change.id))?.state == .finished
        }, "the rival never finished the change")
        let settled = try #require(try await faulty.base.fetch(PendingChange.self, id: change.id))
        #expect(settled.count == 2 && settled.leaseOwner == nil, "\(settled)")
        #expect(log.engines("stuck") == ["engine-a", "engine-b"])
        #expect(log.mostAtOnce("stuck") == 1, "two engines were inside the step at once")
    }

    @Test("a change of a kind this engine does not know is left alone, never failed", arguments: StoreBackend.available)
    func unknownKindsLeftAlone(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let log = StepLog()
        let queue = Self.queue(store, log)
        let future = try await store.enqueue(PendingChange(type: "FROM_A_NEWER_DEFPI", description: "future", resources: ["x"],
                                                           runAt: Date() - 10, createdBy: "newer"))
        let known = try await queue.enqueue(try ScriptedStep.change("known"))
        let worker = Task { await queue.run() }
        let finished = await eventually(timeout: .seconds(30)) {
            (try? await store.fetch(PendingChange.self, id: known.id))?.state == .finished
        }
        try await Task.sleep(for: .milliseconds(200))
        worker.cancel()
        await worker.value
        #expect(finished)
        let untouched = try #require(try await store.fetch(PendingChange.self, id: future.id))
        #expect(untouched.revision == future.revision && untouched.state == .new && untouched.count == 0)
        #expect(untouched.leaseOwner == nil && untouched.lastError == nil)
    }

    @Test("settle runs its own change and never somebody else's", arguments: StoreBackend.available)
    func settleRunsOnlyItsOwn(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let log = StepLog()
        let queue = Self.queue(store, log)
        let other = try await queue.enqueue(try ScriptedStep.change("other", runAt: Date() - 5))
        let mine = try await queue.enqueue(try ScriptedStep.change("mine"))
        #expect(try await queue.settle(mine.id, timeout: .seconds(30)).state == .finished)
        #expect(log.attempts("other") == 0)
        #expect(try await store.fetch(PendingChange.self, id: other.id)?.state == .new)
    }

    @Test("several workers: one slow change never holds the queue")
    func slowChangeDoesNotHoldQueue() async throws {
        let store = try await StoreBackend.sqlite.makeStore()
        let log = StepLog(["slow": .sleep(.seconds(30))])
        let queue = Self.queue(store, log)
        _ = try await queue.enqueue(try ScriptedStep.change("slow", runAt: Date() - 1))
        let fast = try await (0..<6).asyncMap { try await queue.enqueue(try ScriptedStep.change("fast\($0)")) }
        let worker = Task { await queue.run() }
        defer { worker.cancel() }
        let allFast = await eventually(timeout: .seconds(20)) {
            var done = 0
            for change in fast where (try? await store.fetch(PendingChange.self, id: change.id))?.state == .finished { done += 1 }
            return done == fast.count
        }
        #expect(allFast, "the fast changes waited behind the slow one")
        #expect(log.attempts("slow") == 1 && log.mostAtOnce >= 2 && log.mostAtOnce <= 4)
    }

    @Test("a change whose subject is gone ends CANCELLED with the reason, without retrying", arguments: StoreBackend.available)
    func obsoleteChangeEnds(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let log = StepLog(["gone": .obsolete("process meter-1 was terminated")])
        let queue = Self.queue(store, log)
        let change = try await queue.enqueue(try ScriptedStep.change("gone"))
        let settled = try await queue.settle(change.id, timeout: .seconds(30))
        #expect(settled.state == .cancelled && settled.lastError == "process meter-1 was terminated")
        #expect(log.attempts("gone") == 1)
        #expect(try await store.all(AuditEvent.self).map(\.action) == ["change.queued", "change.obsolete"])
    }

    @Test("a kind's attempt limit ends a change that keeps failing", arguments: StoreBackend.available)
    func attemptLimit(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let log = StepLog(["flaky": .fail("node w2 unreachable")])
        let queue = Self.queue(store, log)
        let change = try await queue.enqueue(try ScriptedStep.change("flaky"))
        let settled = try await queue.settle(change.id, timeout: .seconds(30), poll: .milliseconds(20))
        #expect(settled.state == .failedPermanently)
        #expect(settled.lastError == "gave up after 3 attempts: node w2 unreachable")
        #expect(settled.count == ScriptedStep.maximumAttempts)
        // An attempt whose lease ran out before the step began (a very slow store) counts too.
        #expect((1...ScriptedStep.maximumAttempts).contains(log.attempts("flaky")))
    }

    @Test("a change that ends without taking effect lets its step undo what it left: once when it fails for good or is cancelled, never otherwise",
          arguments: StoreBackend.available)
    func abandonedChangesAreUndone(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let log = StepLog(["flaky": .fail("node w2 unreachable"), "refused": .obsolete("process meter-1 was terminated")])
        let queue = Self.queue(store, log)
        var settled: [String: PendingChange] = [:]
        for name in ["flaky", "refused", "fine"] {
            let change = try await queue.enqueue(try ScriptedStep.change(name))
            settled[name] = try await queue.settle(change.id, timeout: .seconds(30), poll: .milliseconds(20))
        }
        #expect(settled["flaky"]?.state == .failedPermanently && settled["fine"]?.state == .finished)
        #expect(log.timesAbandoned("flaky") == 1, "told \(log.timesAbandoned("flaky")) times of a change failed for good")
        #expect(log.timesAbandoned("fine") == 0 && log.timesAbandoned("refused") == 0, "a finished or obsolete change has nothing to undo")

        log.script("later", .fail("not yet"))
        let waiting = try await queue.enqueue(try ScriptedStep.change("later"))
        #expect(try await queue.runNext(only: waiting.id))
        #expect(log.timesAbandoned("later") == 0, "a change that is retried is not abandoned")
        _ = try await queue.cancel(waiting.id, by: .localOperator())
        #expect(log.timesAbandoned("later") == 1, "a cancelled change is abandoned once")
    }

    @Test("an enqueue whose audit write fails is queued and reported queued")
    func auditFailureDoesNotFailEnqueue() async throws {
        let faulty = FaultyStore(try await StoreBackend.sqlite.makeStore())
        faulty.inject(.fail(FaultyStore.transient), into: .insert(.auditEvent))
        let queue = Self.queue(faulty, StepLog())
        let change = try await queue.enqueue(try ScriptedStep.change("audited"))
        #expect(try await faulty.fetch(PendingChange.self, id: change.id)?.state == .new)
        #expect(faulty.calls(of: .insert(.auditEvent)) == 1)
        #expect(try await queue.settle(change.id, timeout: .seconds(30)).state == .finished)
    }

    @Test("stopping the engine gives a running change back, untried and due at once", arguments: StoreBackend.available)
    func stoppingReleasesLease(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let log = StepLog(["long": .holdUntilCancelled])
        let queue = Self.queue(store, log)
        let change = try await queue.enqueue(try ScriptedStep.change("long"))
        let worker = Task { await queue.run() }
        #expect(await eventually(timeout: .seconds(30)) { log.attempts("long") == 1 })
        worker.cancel()
        await worker.value
        let released = try #require(try await store.fetch(PendingChange.self, id: change.id))
        #expect(log.wasCancelled("long"))
        #expect(released.state == .new && released.count == 0 && released.leaseOwner == nil, "\(released)")
    }

    @Test("a graceful stop leases nothing new and lets the running change finish")
    func gracefulStop() async throws {
        let store = try await StoreBackend.sqlite.makeStore()
        let log = StepLog(["running": .sleep(.seconds(1))])
        let queue = Self.queue(store, log, settings: Self.settings(workers: 1))
        let running = try await queue.enqueue(try ScriptedStep.change("running", runAt: Date() - 1))
        let worker = Task { await queue.run() }
        #expect(await eventually(timeout: .seconds(30)) { log.attempts("running") == 1 })
        let later = try await queue.enqueue(try ScriptedStep.change("later"))
        queue.stopLeasing()
        await worker.value
        #expect(try await store.fetch(PendingChange.self, id: running.id)?.state == .finished)
        #expect(try await store.fetch(PendingChange.self, id: later.id)?.state == .new && log.attempts("later") == 0)
    }

    @Test("two engines with skewed clocks and different kinds: each change runs once, each kind where it is known",
          arguments: StoreBackend.available)
    func skewedEngines(backend: StoreBackend) async throws {
        let location = backend.freshLocation()
        let log = StepLog()
        let a = Self.queue(try await StoreLocation(parsing: location).open(), log, owner: "a", settings: Self.settings(workers: 2))
        a.register(NightlyStep(log: log, engine: "a"))
        // b's clock runs 0.8 s ahead, within the 1 s the engines tolerate; it knows no NIGHTLY.
        let b = Self.queue(try await StoreLocation(parsing: location).open(), log, owner: "b",
                           settings: Self.settings(workers: 2, skew: 0.8))
        let shared = (0..<3).map { _ in ObjectID.generate() }
        var names: [String] = []
        for index in 0..<6 {
            names.append("slow\(index)")
            log.script("slow\(index)", .sleep(.seconds(7)))
            _ = try await a.enqueue(try ScriptedStep.change("slow\(index)", resources: [shared[index % 3]]))
        }
        for index in 0..<4 {
            _ = try await b.enqueue(try PendingChange(NightlyStep.self, .init(name: "nightly\(index)"),
                                                      description: "nightly \(index)", resources: ["n\(index)"], createdBy: "test"))
        }
        let workers = [Task { await a.run() }, Task { await b.run() }]
        let store = try await StoreLocation(parsing: location).open()
        let done = await eventually(timeout: .seconds(90)) {
            (try? await store.count(PendingChange.self, .where("state", is: "FINISHED"))) == 10
        }
        workers.forEach { $0.cancel() }
        #expect(done)
        for name in names { #expect(log.attempts(name) == 1, "\(name) ran on \(log.engines(name))") }
        for index in 0..<4 { #expect(log.engines("nightly\(index)") == ["a"]) }
        #expect(Set(names.flatMap { log.engines($0) }) == ["a", "b"])
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
