import Foundation

/// Named points inside queue steps (and between a connection's writes), just after a side
/// effect, where a defpi started with `DEFPI_CRASH_AT=NAME` kills itself with SIGKILL: crash
/// safety is then shown at every step of the lifecycle, not only where a random kill happens to
/// land (the crash tests run each one). Unarmed, a point costs one comparison.
enum CrashPoint: String, CaseIterable, Sendable {
    /// A creation claimed its share of the owner's quota; the process is not stored yet.
    case createQuotaClaimed = "create.quota-claimed"
    /// The owner's network exists and the gateway is on it; the swarm service does not yet.
    case deployNetworkReady = "deploy.network-ready"
    /// The swarm service exists; the process record does not name it yet.
    case deployServiceCreated = "deploy.service-created"
    /// The process suspended and its state is saved; the relocation is still "suspending".
    case relocateSuspended = "relocate.suspended"
    /// The swarm service runs the new version or node; the relocation is not cleared yet.
    case relocateReplaced = "relocate.replaced"
    /// The process took its new configuration; the record still has it pending.
    case configureSent = "configure.sent"
    /// The process was told TERMINATE; its swarm service still exists.
    case terminateTold = "terminate.told"
    /// The swarm service is removed; the process record is not yet.
    case terminateServiceRemoved = "terminate.service-removed"

    /// A node's labels are written to Docker; the change is not recorded finished yet.
    case labelsWritten = "node.labels-written"
    /// A change ended without taking effect (cancelled, or failed for good); what it left half
    /// done is not undone yet (the re-sync does it).
    case changeAbandoned = "change.abandoned"
    /// A new connection is stored as provisional: not yet checked against others being made,
    /// not confirmed, no side queued.
    case connectInserted = "connect.inserted"
    /// A side of a connection was told CREATE; what it answered is not recorded yet.
    case connectTold = "connect.told"
    /// A side of a connection was told TERMINATE; it is not recorded as ended yet.
    case disconnectTold = "disconnect.told"

    private static let armed = ProcessInfo.processInfo.environment["DEFPI_CRASH_AT"].flatMap(CrashPoint.init(rawValue:))

    /// Kills this program here when the point is armed.
    func reached() {
        if Self.armed == self { kill(getpid(), SIGKILL) }
    }
}
