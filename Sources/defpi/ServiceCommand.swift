import ArgumentParser
import Engine
import Foundation

/// `defpi service ...`: the services in the registry, and publishing new ones.
struct ServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service",
        abstract: "Browse the registry's services and publish new ones.",
        subcommands: [List.self, Show.self, Versions.self, Publish.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the services in the registry.")
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let catalog = try await engine.makeEngine().services.catalog()
                if format.output == .json { return try format.printJSON(catalog.entries) }
                var table = Table("ID", "NAME", "VERSION", "VERSIONS", "ARCH", "INTERFACES", "PROBLEM")
                for entry in catalog.entries {
                    guard let current = entry.current else { continue }
                    table.add(entry.id, current.name, current.version, "\(entry.versions.count)",
                              architectures(current), "\(current.interfaces.count)", current.problem ?? "-")
                }
                table.print()
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a service version and its interfaces.")
        @Argument(help: "The service id (its image name without the prefix).")
        var service: String
        @Option(help: "The version (default: the newest usable one).")
        var version: String?
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let service = try await engine.makeEngine().services.service(service, version: version)
                if format.output == .json { return try format.printJSON(service) }
                var details = Details()
                details.add("ID", service.id)
                details.add("Name", service.name)
                details.add("Version", service.version)
                details.add("Created", service.created.map { ISO8601DateFormatter().string(from: $0) })
                for architecture in service.architectures {
                    details.add("Image (\(architecture.rawValue.lowercased()))", service.image(for: architecture))
                }
                if let problem = service.problem { details.add("Problem", problem) }
                details.print()
                guard !service.interfaces.isEmpty else { return }
                print("")
                var table = Table("INTERFACE", "VERSION", "SENDS HASH", "RECEIVES HASH", "MULTIPLE", "AUTO-CONNECT")
                for interface in service.interfaces {
                    for version in interface.interfaceVersions {
                        table.add(interface.name, version.versionName, String(version.sendsHash.prefix(12)),
                                  String(version.receivesHash.prefix(12)), interface.allowMultiple ? "yes" : "no",
                                  interface.autoConnect ? "yes" : "no")
                    }
                }
                table.print()
            }
        }
    }

    struct Versions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every version of a service, newest first.")
        @Argument(help: "The service id.")
        var service: String
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let versions = try await engine.makeEngine().services.versions(of: service)
                if format.output == .json { return try format.printJSON(versions) }
                var table = Table("VERSION", "ARCH", "CREATED", "INTERFACES", "PROBLEM")
                for version in versions {
                    table.add(version.version, architectures(version),
                              version.created.map { ISO8601DateFormatter().string(from: $0) } ?? "-",
                              version.interfaces.map(\.name).joined(separator: ", "), version.problem ?? "-")
                }
                table.print()
            }
        }
    }

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pack an executable into a service image and push it to the registry.",
            discussion: """
                Builds a one-layer image in process (no Docker daemon): the executable at /app/<name> plus the \
                shared libraries it links, with the dEF-Pi labels from the service description and the \
                executable as entrypoint. Pushes it as <prefix>/<id>:<version>. The description file \
                (defpi-service.yaml) is documented in the README.
                """)
        @Argument(help: "The service's executable (ELF; dynamic or static).")
        var executable: String
        @Option(help: "The service id: the image name under the prefix (lower case, digits, '.', '_', '-').")
        var id: String
        @Option(help: "The version, used as the image tag.")
        var version: String
        @Option(help: "The service description (default: defpi-service.yaml next to the executable).")
        var description: String?
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            try await reportingErrors {
                guard FileManager.default.isExecutableFile(atPath: executable) else {
                    throw PublishError.notAnExecutable(path: executable)
                }
                let descriptionPath = description
                    ?? ((executable as NSString).deletingLastPathComponent.nonEmpty ?? ".") + "/defpi-service.yaml"
                let settings = try engine.registrySettings()
                let registry = try RegistryClient(url: settings.url, credentials: settings.credentials)
                let published = try await ServicePublisher(registry: registry, prefix: settings.prefix).publish(.init(
                    executable: executable, description: try ServiceDescription.load(path: descriptionPath),
                    descriptionDirectory: (descriptionPath as NSString).deletingLastPathComponent.nonEmpty ?? ".",
                    serviceId: id, version: version))
                if format.output == .json { return try format.printJSON(published) }
                print("published \(published.image) (\(published.architecture), \(published.files.count) files, \(published.layerBytes.formattedBytes))")
                print("digest \(published.digest)")
            }
        }
    }
}

private func architectures(_ service: Service) -> String {
    let names = service.architectures.map { $0.rawValue.lowercased() }
    return names.isEmpty ? "-" : names.joined(separator: ",")
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
