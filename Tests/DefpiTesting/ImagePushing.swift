import Engine
import Foundation

/// Pushes hand-made images to a registry, for cases `defpi service publish` never produces:
/// other architectures, indexes, missing or malformed labels, oversized configs.
public enum ImagePushing {
    /// Pushes a one-layer image (a tiny layer) with `labels` for `architecture` under `tag`
    /// (nil: by digest only); returns its manifest descriptor.
    @discardableResult
    public static func pushImage(_ registry: RegistryClient, repository: String, tag: String?,
                                 labels: [String: String], architecture: String = "amd64") async throws
        -> ContentDescriptor
    {
        var tar = TarWriter()
        try tar.addFile("/hello.txt", contents: Data("hello from \(repository)\n".utf8), mode: 0o644)
        let layer = tar.finish()
        let config = ImageConfig(
            architecture: architecture, created: "2026-01-02T03:04:05.123456789Z",
            config: .init(labels: labels, entrypoint: ["/hello"]),
            rootfs: .init(diffIDs: [RegistryClient.digest(of: layer)]))
        var descriptor = try await registry.pushImage(repository: repository, reference: tag, layer: layer,
                                                      config: try JSONEncoder().encode(config))
        descriptor.platform = ImagePlatform(architecture: architecture)
        return descriptor
    }

    /// Pushes an OCI index of `images` under `tag`.
    public static func pushIndex(_ registry: RegistryClient, repository: String, tag: String,
                                 images: [ContentDescriptor]) async throws {
        try await registry.pushManifest(
            repository: repository, reference: tag, body: try JSONEncoder().encode(ImageIndex(manifests: images)),
            mediaType: RegistryMediaType.ociIndex)
    }

    /// dEF-Pi labels for a service with one interface.
    public static func serviceLabels(name: String, serviceId: String) -> [String: String] {
        let interfaces = [Interface(id: "\(serviceId)/data", name: "data", serviceId: serviceId,
                                    interfaceVersions: [InterfaceVersion(versionName: "v1", receivesHash: "r", sendsHash: "s")])]
        return [ServiceLabels.serviceName: name,
                ServiceLabels.interfaces: String(decoding: try! JSONEncoder().encode(interfaces), as: UTF8.self)]
    }
}
