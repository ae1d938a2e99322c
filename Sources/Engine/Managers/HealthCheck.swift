import Foundation

/// What `GET /health` answers: whether the store and Docker answer, and which processes are not
/// where they should be.
public struct HealthReport: Sendable, Codable, Equatable {
    /// One line per problem; empty when healthy.
    public var problems: [String]
    public var isHealthy: Bool { problems.isEmpty }
}

extension Engine {
    /// Checks the store, Docker and the processes (admin only): a process FAILING or on a node
    /// that is down is a problem, as is a part that does not answer.
    public func health(by caller: Caller) async throws -> HealthReport {
        try caller.requireAdmin(to: "read the health report")
        var problems: [String] = []
        do {
            let processes = try await store.all(ServiceProcess.self, .isIn("state", [.string(ProcessState.failing.rawValue),
                                                                                        .string(ProcessState.nodeDown.rawValue)]))
            problems += processes.map { "process \($0.name) (\($0.id)): \($0.state.rawValue)\($0.problem.map { ", \($0)" } ?? "")" }
        } catch {
            problems.append("store \(store.location): \(error)")
        }
        do { _ = try await docker.info() } catch { problems.append("Docker \(settings.docker.description): \(error)") }
        return HealthReport(problems: problems)
    }
}
