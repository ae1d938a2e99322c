import Foundation

/// What a process may ask of the node it runs on, by who asks. An admin may mount host paths and
/// publish any port; a user mounts only their own named volumes, sized tmpfs and the host paths
/// an admin allowed where the process is placed (read-only unless allowed writable), and publishes
/// host ports only in the range an admin gave them (`PortRange.tenantDefault` unless said
/// otherwise), so no tenant reaches the node or another tenant's data.
/// Every process, whoever deploys it, gets the same trimmed container privileges
/// (`ProcessServiceSpec.droppedCapabilities`).
enum TenancyRules {
    /// The largest tmpfs a user may mount (it lives in the node's memory).
    static let maximumTmpfsBytes: Int64 = 1 << 30
    static let maximumVolumeNameLength = 64

    /// Throws the first rule `mounts` and `ports` break for a caller who is (or is not) an admin.
    static func check(mounts: [MountPoint], ports: [ExposePort], allowedPorts: PortRange, hostPaths: [HostPathGrant] = [],
                      memoryBytes: Int64, admin: Bool) throws {
        var targets = Set<String>()
        for mount in mounts {
            try checkTarget(mount.target)
            guard targets.insert(mount.target).inserted else { throw TenancyError.invalidMount("\(mount.target) is mounted twice") }
            switch mount.resolvedType {
            case .bind:
                guard mount.source.hasPrefix("/"), !mount.source.split(separator: "/").contains("..") else {
                    throw TenancyError.invalidMount("a bind mount's source is an absolute host path without .., not \(mount.source.prefix(80))")
                }
                if !admin { try checkAllowed(mount, in: hostPaths) }
            case .volume:
                try checkVolumeName(mount.source)
            case .tmpfs:
                guard mount.source.isEmpty || mount.source == "tmpfs" else {
                    throw TenancyError.invalidMount("a tmpfs mount has no source; give :\(mount.target):tmpfs,size=64m")
                }
                guard admin || mount.sizeBytes != nil else { throw TenancyError.tmpfsNeedsSize(mount.target) }
                if let size = mount.sizeBytes {
                    let limit = admin ? Int64.max : min(maximumTmpfsBytes, memoryBytes > 0 ? memoryBytes : .max)
                    guard size > 0, size <= limit else { throw TenancyError.tmpfsTooLarge(target: mount.target, limit: limit) }
                }
            }
            guard mount.sizeBytes == nil || mount.resolvedType == .tmpfs else {
                throw TenancyError.invalidMount("only a tmpfs mount takes a size (\(mount.target))")
            }
        }
        for port in ports where !admin {
            guard port.external >= 1024 else { throw TenancyError.privilegedPort(port.external, allowedPorts) }
            guard allowedPorts.contains(port.external) else { throw TenancyError.portOutsideRange(port.external, allowedPorts) }
        }
    }

    /// A tenant's bind mount: exactly a path allowed where the process is placed, read-only
    /// unless it was allowed writable.
    static func checkAllowed(_ mount: MountPoint, in grants: [HostPathGrant]) throws {
        guard let grant = grants.first(where: { $0.path == mount.source }) else {
            throw TenancyError.hostPathForbidden(mount.source)
        }
        guard grant.writable || mount.readOnly == true else { throw TenancyError.hostPathReadOnly(mount.source) }
    }

    /// Absolute, not `/`, without `..`.
    private static func checkTarget(_ target: String) throws {
        let parts = target.split(separator: "/")
        guard target.hasPrefix("/"), !parts.isEmpty, !parts.contains(".."), !target.contains("\0") else {
            throw TenancyError.invalidMount("a mount's target is an absolute path in the container other than /, without .., not \(target.prefix(80))")
        }
    }

    /// A volume is named, never a path: letters, digits, `_`, `.` and `-`, starting with a letter or digit.
    private static func checkVolumeName(_ name: String) throws {
        let valid = name.utf8.allSatisfy { byte in
            (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte) || byte == 95 || byte == 46 || byte == 45
        }
        guard valid, !name.isEmpty, name.count <= maximumVolumeNameLength, name.first?.isLetter == true || name.first?.isNumber == true else {
            throw TenancyError.invalidMount("\"\(name.prefix(80))\" is not a volume name: letters, digits, _, . and -, at most \(maximumVolumeNameLength)")
        }
    }
}

/// Why a process may not have what it asks of its node.
public enum TenancyError: UserFacingError, Equatable {
    case hostPathForbidden(String)
    case hostPathReadOnly(String)
    case invalidMount(String)
    case tmpfsNeedsSize(String)
    case tmpfsTooLarge(target: String, limit: Int64)
    case privilegedPort(Int, PortRange)
    case portOutsideRange(Int, PortRange)
    /// `process` is nil when the caller may not see the process that publishes the port.
    case portTaken(Int, process: String?)

    public var failureKind: FailureKind {
        switch self {
        case .hostPathForbidden, .hostPathReadOnly, .privilegedPort, .portOutsideRange: return .forbidden
        case .invalidMount, .tmpfsNeedsSize, .tmpfsTooLarge: return .invalidRequest
        case .portTaken: return .conflict
        }
    }

    public var userMessage: String {
        switch self {
        case .hostPathForbidden(let source):
            return "host path \(source.prefix(80)) is not allowed where the process is placed; mount a named volume (data:/var/lib/x) or a tmpfs (:/scratch:tmpfs,size=64m), or ask an admin to allow the path on your private node or pool (defpi node allow-path, defpi pool allow-path) and place the process there"
        case .hostPathReadOnly(let source):
            return "host path \(source.prefix(80)) is allowed read-only here: mount it with ro (\(source.prefix(80)):/target:bind,ro)"
        case .invalidMount(let why):
            return why
        case .tmpfsNeedsSize(let target):
            return "the tmpfs at \(target) needs a size: :\(target):tmpfs,size=64m"
        case .tmpfsTooLarge(let target, let limit):
            return "the tmpfs at \(target) may hold at most \(limit) bytes (1 GiB, and no more than the memory limit)"
        case .privilegedPort(let port, let range):
            return "host port \(port) is below 1024, which only an admin may publish; use a port from \(range.from) to \(range.to)"
        case .portOutsideRange(let port, let range):
            return "host port \(port) is outside the ports you may publish (\(range)); choose one of those, or ask an admin for a range (defpi user quota USER --ports FROM-TO)"
        case .portTaken(let port, let process):
            let holder = process.map { "process \($0)" } ?? "another process"
            return "host port \(port) is published already by \(holder); choose another port"
        }
    }
}
