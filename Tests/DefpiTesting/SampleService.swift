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
