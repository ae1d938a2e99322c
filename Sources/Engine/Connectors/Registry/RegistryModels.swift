import Foundation

/// Media types of the manifests and blobs defpi reads and writes.
public enum RegistryMediaType {
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let ociConfig = "application/vnd.oci.image.config.v1+json"
    public static let ociLayer = "application/vnd.oci.image.layer.v1.tar"

    /// What a client must accept to get schema-2/OCI manifests instead of the legacy schema 1.
    public static let manifestAccept = [dockerManifest, dockerManifestList, ociManifest, ociIndex]
        .joined(separator: ", ")

    static func isIndex(_ mediaType: String?) -> Bool { mediaType == dockerManifestList || mediaType == ociIndex }
}

/// A content reference: media type, digest and size (and the platform, inside an index).
public struct ContentDescriptor: Codable, Sendable, Equatable {
    public var mediaType: String
    public var digest: String
    public var size: Int
    public var platform: ImagePlatform?

    public init(mediaType: String, digest: String, size: Int, platform: ImagePlatform? = nil) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.platform = platform
    }
}

/// The OS and CPU an image is built for.
public struct ImagePlatform: Codable, Sendable, Equatable {
    public var architecture: String
    public var os: String
    public var variant: String?

    public init(architecture: String, os: String = "linux", variant: String? = nil) {
        self.architecture = architecture
        self.os = os
        self.variant = variant
    }
}

/// A single-platform image manifest (Docker schema 2 or OCI).
public struct ImageManifest: Codable, Sendable, Equatable {
    public var schemaVersion = 2
    public var mediaType: String?
    public var config: ContentDescriptor
    public var layers: [ContentDescriptor]

    public init(mediaType: String = RegistryMediaType.ociManifest, config: ContentDescriptor,
                layers: [ContentDescriptor]) {
        self.mediaType = mediaType
        self.config = config
        self.layers = layers
    }
}

/// A multi-platform index (Docker manifest list or OCI index).
public struct ImageIndex: Codable, Sendable, Equatable {
    public var schemaVersion = 2
    public var mediaType: String?
    public var manifests: [ContentDescriptor]

    public init(mediaType: String = RegistryMediaType.ociIndex, manifests: [ContentDescriptor]) {
        self.mediaType = mediaType
        self.manifests = manifests
    }
}

/// What a tag points at.
public enum RegistryManifest: Sendable, Equatable {
    case image(ImageManifest, digest: String)
    case index(ImageIndex, digest: String)

    /// The content digest of the manifest or index.
    public var digest: String {
        switch self {
        case .image(_, let digest), .index(_, let digest): return digest
        }
    }
}

/// The image configuration blob, reduced to what defpi reads and writes.
public struct ImageConfig: Codable, Sendable, Equatable {
    public var architecture: String
    public var os: String
    public var created: String?
    public var config: ContainerConfig
    public var rootfs: RootFS

    public init(architecture: String, os: String = "linux", created: String?, config: ContainerConfig,
                rootfs: RootFS) {
        self.architecture = architecture
        self.os = os
        self.created = created
        self.config = config
        self.rootfs = rootfs
    }

    public struct ContainerConfig: Codable, Sendable, Equatable {
        public var labels: [String: String]?
        public var entrypoint: [String]?
        public var cmd: [String]?
        public var env: [String]?

        public init(labels: [String: String]? = nil, entrypoint: [String]? = nil, cmd: [String]? = nil,
                    env: [String]? = nil) {
            self.labels = labels
            self.entrypoint = entrypoint
            self.cmd = cmd
            self.env = env
        }

        enum CodingKeys: String, CodingKey { case labels = "Labels", entrypoint = "Entrypoint", cmd = "Cmd", env = "Env" }
    }

    public struct RootFS: Codable, Sendable, Equatable {
        public var type = "layers"
        public var diffIDs: [String]

        public init(diffIDs: [String]) { self.diffIDs = diffIDs }

        enum CodingKeys: String, CodingKey { case type, diffIDs = "diff_ids" }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        architecture = try container.decodeIfPresent(String.self, forKey: .architecture) ?? ""
        os = try container.decodeIfPresent(String.self, forKey: .os) ?? ""
        created = try container.decodeIfPresent(String.self, forKey: .created)
        config = try container.decodeIfPresent(ContainerConfig.self, forKey: .config) ?? ContainerConfig()
        rootfs = try container.decodeIfPresent(RootFS.self, forKey: .rootfs) ?? RootFS(diffIDs: [])
    }

    enum CodingKeys: String, CodingKey { case architecture, os, created, config, rootfs }
}
