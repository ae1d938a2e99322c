import Engine
import Foundation

/// A service ready to publish: a directory with an executable (the static busybox of the test
/// bed, or any binary), a `defpi-service.yaml` and the interface description file it names.
public struct SampleService: Sendable {
    public let directory: String
    public let executable: String

    /// Writes a sample with one interface `interface` that sends `sends` and receives `receives`.
    public init(name: String, displayName: String, interface: String, sends: [String], receives: [String],
                allowMultiple: Bool = false, binary: String = "/bin/busybox") throws {
        directory = TemporaryDirectory.make().path
        executable = directory + "/" + name
        try FileManager.default.copyItem(atPath: binary, toPath: executable)
        try "syntax = \"proto2\";\nmessage Reading { required double watts = 1; }\nmessage Setpoint { required double watts = 1; }\n"
            .write(toFile: directory + "/energy.proto", atomically: true, encoding: .utf8)
        try """
            name: \(displayName)
            interfaces:
              - name: \(interface)
                allowMultiple: \(allowMultiple)
                versions:
                  - name: v1
                    file: energy.proto
                    sends: [\(sends.joined(separator: ", "))]
                    receives: [\(receives.joined(separator: ", "))]
            """.write(toFile: directory + "/defpi-service.yaml", atomically: true, encoding: .utf8)
    }
}

/// A sample service of defpi's own (`Sources/Services`), as built next to the tests.
public enum BuiltSample: String, Sendable {
    case meter = "Meter", aggregator = "Aggregator", echo = "Echo"

    /// The executable (`sample-meter` ...) in the build directory.
    public var executable: String {
        DefpiCommand.executable.deletingLastPathComponent().appendingPathComponent("sample-\(rawValue.lowercased())").path
    }

    /// Its `defpi-service.yaml`.
    public var descriptionPath: String { TestBed.repositoryRoot + "/Sources/Services/\(rawValue)/defpi-service.yaml" }

    /// Its interfaces, hashes computed as `defpi service publish` does.
    public func interfaces() throws -> [Interface] {
        try ServiceDescription.load(path: descriptionPath)
            .interfaces(serviceId: rawValue.lowercased(), directory: (descriptionPath as NSString).deletingLastPathComponent)
    }

    /// The interfaces file the published image would hold, written to a temporary directory.
    public func interfacesFile() throws -> String {
        let path = TemporaryDirectory.make().path + "/defpi-interfaces.json"
        try JSONEncoder().encode(try interfaces()).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The hashes of one of its interfaces (first version).
    public func hashes(_ interface: String) throws -> InterfaceVersion {
        try interfaces().first { $0.name == interface }!.interfaceVersions[0]
    }
}
