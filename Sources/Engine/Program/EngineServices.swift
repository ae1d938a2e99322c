import Foundation
import Logging
import ServiceLifecycle

extension Engine {
    /// The Engine's background work as services of one `ServiceGroup`, in start order: the Docker
    /// event follower, the periodic re-sync (and pruning), and, unless `workingQueue` is false (a
    /// read-only console, which writes nothing), the process watch and the queue's workers. A
    /// group shuts services down in reverse order, so running changes finish before the Engine
    /// stops watching Docker.
    public func backgroundServices(workingQueue: Bool = true) -> [any ServiceLifecycle.Service] {
        var services: [any ServiceLifecycle.Service] = [DockerEventFollower(engine: self), PeriodicResync(engine: self)]
        if workingQueue { services += [ProcessWatch(engine: self), QueueWorkers(queue: queue)] }
        return services
    }

    /// Runs the background services until the task is cancelled (tests and benchmarks; the
    /// programs run them in a `ServiceGroup` with the fronts).
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            for service in backgroundServices() { group.addTask { try? await service.run() } }
        }
    }
}

/// Follows the Docker event stream: node events refresh their node, every (re)connect re-syncs.
struct DockerEventFollower: ServiceLifecycle.Service {
    let engine: Engine

    func run() async throws {
        await cancelWhenGracefulShutdown { await engine.followDockerEvents() }
    }
}

/// The safety net beside the event stream: a full node re-sync every `resyncInterval` (which
/// also repairs label drift), and pruning of the queue and audit log every hour.
struct PeriodicResync: ServiceLifecycle.Service {
    let engine: Engine

    func run() async throws {
        await cancelWhenGracefulShutdown { await engine.resyncPeriodically() }
    }
}

/// Reads the processes' tasks every `processCheckInterval` and records what Docker says of them.
struct ProcessWatch: ServiceLifecycle.Service {
    let engine: Engine

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await engine.processes.checkHealth()
                try? await Task.sleep(for: engine.settings.processCheckInterval)
            }
        }
    }
}

/// The queue's workers. On a graceful shutdown they lease nothing new and let running changes
/// finish; if the group's patience runs out first, the changes are cancelled and given back.
struct QueueWorkers: ServiceLifecycle.Service {
    let queue: PendingChangeManager

    func run() async throws {
        await withGracefulShutdownHandler {
            await queue.run()
        } onGracefulShutdown: {
            queue.stopLeasing()
        }
    }
}
