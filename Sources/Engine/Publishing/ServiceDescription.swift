import Crypto
import Foundation
import Yams

/// The file a service author writes next to an executable to publish it (`defpi-service.yaml`):
/// the service's display name and its interfaces. Each interface version either names its
/// description file (a `.proto`, `.xsd` ...) and the messages it sends and receives, from which
/// defpi computes the hashes exactly as the dEF-Pi code generator does, or gives the hashes.
///
/// ```yaml
/// name: Meter
/// interfaces:
///   - name: Readings
///     allowMultiple: false
///     autoConnect: true
///     versions:
///       - name: v1
///         file: readings.proto      # relative to this file
///         sends: [Reading]
///         receives: [Ack]
///       - name: v0
///         sendsHash: 1f0c...
///         receivesHash: 9a3e...
/// ```
public struct ServiceDescription: Codable, Sendable, Equatable {
    /// The display name (label `org.flexiblepower.serviceName`).
    public var name: String
    public var interfaces: [InterfaceDescription]

    public struct InterfaceDescription: Codable, Sendable, Equatable {
        public var name: String
        public var allowMultiple: Bool?
        public var autoConnect: Bool?
        public var versions: [VersionDescription]
    }

    public struct VersionDescription: Codable, Sendable, Equatable {
        public var name: String
        public var file: String?
        public var sends: [String]?
        public var receives: [String]?
        public var sendsHash: String?
        public var receivesHash: String?
    }

    /// Reads and checks the file at `path`.
    public static func load(path: String) throws -> ServiceDescription {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PublishError.unreadable(path: path, reason: "no such file, or it cannot be read")
        }
        let description: ServiceDescription
        do {
            description = try YAMLDecoder().decode(ServiceDescription.self, from: String(decoding: data, as: UTF8.self))
        } catch {
            throw PublishError.invalidDescription(path: path, reason: Self.reason(error))
        }
        try description.validate(path: path)
        return description
    }

    private func validate(path: String) throws {
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw PublishError.invalidDescription(path: path, reason: "`name` is empty")
        }
        var seen: Set<String> = []
        for interface in interfaces {
            guard seen.insert(interface.name.lowercased()).inserted else {
                throw PublishError.invalidDescription(path: path, reason: "interface \"\(interface.name)\" appears twice")
            }
            guard !interface.versions.isEmpty else {
                throw PublishError.invalidDescription(path: path, reason: "interface \"\(interface.name)\" has no versions")
            }
            for version in interface.versions {
                let hashed = version.sendsHash != nil && version.receivesHash != nil
                guard hashed || version.file != nil else {
                    throw PublishError.invalidDescription(
                        path: path,
                        reason: "version \"\(version.name)\" of \"\(interface.name)\" needs `file` (with `sends`/`receives`) or both hashes")
                }
            }
        }
    }

    /// The interfaces as the image label carries them, hashes computed; `directory` resolves `file`.
    public func interfaces(serviceId: String, directory: String) throws -> [Interface] {
        try interfaces.map { interface in
            Interface(
                id: "\(serviceId)/\(interface.name.lowercased().replacingOccurrences(of: " ", with: "-"))",
                name: interface.name, serviceId: serviceId,
                interfaceVersions: try interface.versions.map { try $0.resolved(directory: directory) },
                allowMultiple: interface.allowMultiple ?? false, autoConnect: interface.autoConnect ?? false)
        }
    }

    private static func reason(_ error: Error) -> String {
        if case DecodingError.keyNotFound(let key, let context) = error {
            return "missing `\(key.stringValue)`" + Self.location(context.codingPath)
        }
        if case DecodingError.typeMismatch(_, let context) = error {
            return context.debugDescription + Self.location(context.codingPath)
        }
        return "\(error)"
    }

    private static func location(_ path: [any CodingKey]) -> String {
        path.isEmpty ? "" : " at " + path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }
}

extension ServiceDescription.VersionDescription {
    func resolved(directory: String) throws -> InterfaceVersion {
        if let sendsHash, let receivesHash {
            return InterfaceVersion(versionName: name, receivesHash: receivesHash, sendsHash: sendsHash)
        }
        let path = file.map { $0.hasPrefix("/") ? $0 : directory + "/" + $0 } ?? ""
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw PublishError.unreadable(path: path, reason: "the description file of interface version \(name)")
        }
        let fileHash = InterfaceHash.hex(of: contents)
        return InterfaceVersion(versionName: name,
                                receivesHash: InterfaceHash.messages(receives ?? [], fileHash: fileHash),
                                sendsHash: InterfaceHash.messages(sends ?? [], fileHash: fileHash))
    }
}

/// The dEF-Pi code generator's interface hashes: SHA-256 in hex as Java's `BigInteger.toString(16)`
/// prints it (no leading zeros), of the description file, then of `fileHash;Msg1;Msg2` with the
/// message names sorted (or of `fileHash` alone when there are none).
public enum InterfaceHash {
    public static func hex(of data: Data) -> String {
        let hex = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        let trimmed = hex.drop { $0 == "0" }
        return trimmed.isEmpty ? "0" : String(trimmed)
    }

    public static func messages(_ names: [String], fileHash: String) -> String {
        let text = names.isEmpty ? fileHash : ([fileHash] + names.sorted()).joined(separator: ";")
        return hex(of: Data(text.utf8))
    }
}
