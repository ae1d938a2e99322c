import Foundation
import Protocol

/// Builds a one-layer service image from an executable, in process (no Docker daemon), and
/// pushes it to the registry as `<prefix>/<serviceId>:<version>`.
///
/// The layer holds the executable at `/app/<name>` and, for a dynamic binary, every library
/// `ldd` lists at the path the loader looks for it; the config carries the dEF-Pi labels, the
/// entrypoint and, as the created time, the executable's modification time. The image is
/// deterministic, so re-publishing unchanged inputs uploads nothing and keeps the digest.
public struct ServicePublisher: Sendable {
    public let registry: RegistryClient
    public let prefix: String

    public init(registry: RegistryClient, prefix: String = RegistrySettings.defaultPrefix) {
        self.registry = registry
        self.prefix = prefix
    }

    /// What to publish.
    public struct Request: Sendable {
        public var executable: String
        public var description: ServiceDescription
        /// Where the description file is (its `file:` entries are relative to it).
        public var descriptionDirectory: String
        public var serviceId: String
        public var version: String

        public init(executable: String, description: ServiceDescription, descriptionDirectory: String,
                    serviceId: String, version: String) {
            self.executable = executable
            self.description = description
            self.descriptionDirectory = descriptionDirectory
            self.serviceId = serviceId
            self.version = version
        }
    }

    /// What was pushed.
    public struct Published: Codable, Sendable, Equatable {
        public var image: String
        public var digest: String
        public var architecture: String
        public var layerBytes: Int
        public var files: [String]
    }

    public func publish(_ request: Request) async throws -> Published {
        try Self.validate(serviceId: request.serviceId, version: request.version)
        let interfaces = try request.description.interfaces(
            serviceId: request.serviceId, directory: request.descriptionDirectory)
        let root = try ImageRoot.collect(executable: request.executable)
        let labelEncoder = JSONEncoder()
        labelEncoder.outputFormatting = .sortedKeys
        // The interfaces go into the image too, so ServiceKit finds the hashes of its interfaces.
        let interfacesFile = (root.entrypoint as NSString).deletingLastPathComponent + "/" + InterfacesFile.name
        let layer = try root.layer(adding: [interfacesFile: try labelEncoder.encode(interfaces)])
        let repository = "\(prefix)/\(request.serviceId)"
        let digest = try await root.push(layer, to: registry, repository: repository, reference: request.version, labels: [
            ServiceLabels.serviceName: request.description.name,
            ServiceLabels.interfaces: String(decoding: try labelEncoder.encode(interfaces), as: UTF8.self),
            ServiceLabels.apiVersion: "1",
            "org.opencontainers.image.version": request.version,
        ])
        return Published(image: "\(registry.host)/\(repository):\(request.version)", digest: digest,
                         architecture: root.architecture, layerBytes: layer.count, files: root.files.map(\.target))
    }

    static func validate(serviceId: String, version: String) throws {
        let idPattern = /[a-z0-9]+(?:[._-][a-z0-9]+)*/
        let tagPattern = /[A-Za-z0-9_][A-Za-z0-9._-]{0,127}/
        guard serviceId.wholeMatch(of: idPattern) != nil else { throw PublishError.invalidName(field: "service id", value: serviceId) }
        guard version.wholeMatch(of: tagPattern) != nil else { throw PublishError.invalidName(field: "version", value: version) }
    }
}

/// The image labels of a dEF-Pi service.
public enum ServiceLabels {
    public static let serviceName = "org.flexiblepower.serviceName"
    public static let interfaces = "org.flexiblepower.interfaces"
    public static let apiVersion = "org.flexiblepower.defpi_api_version"
}

/// The files of a service image: the executable and the shared libraries it loads.
struct ImageRoot {
    struct File {
        var source: String
        var target: String
    }

    var files: [File]
    var entrypoint: String
    /// The executable's CPU in the registry's naming (`amd64`, `arm64`, `arm`).
    var architecture: String
    /// When the executable was built (its modification time).
    var modified: Date

    static func collect(executable: String) throws -> ImageRoot {
        guard FileManager.default.isExecutableFile(atPath: executable),
              let header = FileHandle(forReadingAtPath: executable).flatMap({ try? $0.read(upToCount: 20) }),
              header.count == 20, header.starts(with: [0x7F, 0x45, 0x4C, 0x46])
        else { throw PublishError.notAnExecutable(path: executable) }
        // ELF header: e_machine at 18, little-endian (byte 5 = 1) on every CPU defpi supports.
        let machine = UInt16(header[18]) | UInt16(header[19]) << 8
        let architecture: String
        switch (header[5], machine) {
        case (1, 0x3E): architecture = "amd64"
        case (1, 0xB7): architecture = "arm64"
        case (1, 0x28): architecture = "arm"
        default: throw PublishError.unsupportedArchitecture(path: executable, machine: Int(machine))
        }
        let entrypoint = "/app/" + (executable as NSString).lastPathComponent
        let libraries = try sharedLibraries(of: executable)
        let modified = (try? FileManager.default.attributesOfItem(atPath: executable)[.modificationDate] as? Date) ?? nil
        return ImageRoot(files: [File(source: executable, target: entrypoint)] + libraries,
                         entrypoint: entrypoint, architecture: architecture,
                         modified: modified ?? Date(timeIntervalSince1970: 0))
    }

    /// The libraries `ldd` resolves for `executable`; none for a static binary.
    private static func sharedLibraries(of executable: String) throws -> [File] {
        let ldd = Process()
        ldd.executableURL = URL(fileURLWithPath: "/usr/bin/ldd")
        ldd.arguments = [executable]
        let output = Pipe()
        ldd.standardOutput = output
        ldd.standardError = output
        do { try ldd.run() } catch {
            throw PublishError.libraryNotFound(executable: executable, detail: "cannot run ldd: \(error)")
        }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        ldd.waitUntilExit()
        if text.contains("not a dynamic executable") || text.contains("statically linked") { return [] }
        guard ldd.terminationStatus == 0 else {
            throw PublishError.libraryNotFound(executable: executable, detail: text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        var files: [File] = []
        for line in text.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if line.contains("not found") {
                throw PublishError.libraryNotFound(executable: executable, detail: line.trimmingCharacters(in: .whitespaces))
            }
            // `libm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x...)` or `/lib64/ld-linux-x86-64.so.2 (0x...)`
            let path = words.count >= 3 && words[1] == "=>" ? String(words[2]) : String(words.first ?? "")
            guard path.hasPrefix("/") else { continue }
            files.append(File(source: (path as NSString).resolvingSymlinksInPath, target: path))
        }
        return files
    }

    /// Pushes the image of `layer` (from this root) with `labels` as `repository:reference`;
    /// returns the manifest's digest.
    func push(_ layer: Data, to registry: RegistryClient, repository: String, reference: String,
              labels: [String: String]) async throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let config = ImageConfig(
            architecture: architecture, created: ISO8601DateFormatter().string(from: modified),
            config: .init(labels: labels, entrypoint: [entrypoint], env: ["PATH=/app:/usr/local/bin:/usr/bin:/bin"]),
            rootfs: .init(diffIDs: [RegistryClient.digest(of: layer)]))
        return try await registry.pushImage(repository: repository, reference: reference, layer: layer,
                                            config: try encoder.encode(config)).digest
    }

    /// The layer: the files, `generated` (path → contents), and an empty `/tmp`.
    func layer(adding generated: [String: Data] = [:]) throws -> Data {
        var tar = TarWriter()
        try tar.addDirectory("/tmp", mode: 0o1777)
        for file in files {
            guard let contents = FileManager.default.contents(atPath: file.source) else {
                throw PublishError.unreadable(path: file.source, reason: "a file of the image")
            }
            try tar.addFile(file.target, contents: contents)
        }
        for (path, contents) in generated.sorted(by: { $0.key < $1.key }) {
            try tar.addFile(path, contents: contents, mode: 0o644)
        }
        return tar.finish()
    }
}
