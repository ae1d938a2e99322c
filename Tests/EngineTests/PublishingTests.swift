import DefpiTesting
import Foundation
import Testing

@testable import Engine

@Suite("Service publishing, offline parts", .timeLimit(.minutes(3)))
struct PublishingTests {
    @Test("interface hashes follow the dEF-Pi generator: hex without leading zeros, sorted message names")
    func hashes() {
        let fileHash = InterfaceHash.hex(of: Data("syntax = \"proto2\";\n".utf8))
        #expect(fileHash == "e91fb54c2259935a9b7cc3793c1a5328e956c6dff19ac4f422944f155c76e52")  // 63 digits: a leading 0 dropped
        #expect(InterfaceHash.messages(["Reading", "Ack"], fileHash: fileHash)
            == "81d509a66b6625f8b4c6f695eea6498fac32e70c2db1d2cd212d0e5faef306f6")
        #expect(InterfaceHash.messages([], fileHash: fileHash)
            == "dbea8bad11329afd560d4e029741cfb5fb065c77269f5d3974471279df2fb0ba")
    }

    @Test("a description file becomes labelled interfaces; a sender and its mirror are compatible")
    func description() throws {
        let directory = TemporaryDirectory.make().path
        try "syntax = \"proto2\";\n".write(toFile: directory + "/readings.proto", atomically: true, encoding: .utf8)
        try """
            name: Meter
            interfaces:
              - name: Meter Readings
                allowMultiple: true
                versions:
                  - name: v1
                    file: readings.proto
                    sends: [Reading]
                    receives: [Ack]
                  - name: v0
                    sendsHash: aa
                    receivesHash: bb
            """.write(toFile: directory + "/defpi-service.yaml", atomically: true, encoding: .utf8)
        let description = try ServiceDescription.load(path: directory + "/defpi-service.yaml")
        let interfaces = try description.interfaces(serviceId: "meter", directory: directory)
        #expect(interfaces.map(\.id) == ["meter/meter-readings"])
        #expect(interfaces[0].allowMultiple && !interfaces[0].autoConnect)
        #expect(interfaces[0].interfaceVersions[0].sendsHash == InterfaceHash.messages(
            ["Reading"], fileHash: InterfaceHash.hex(of: Data("syntax = \"proto2\";\n".utf8))))
        #expect(interfaces[0].interfaceVersions[1] == InterfaceVersion(versionName: "v0", receivesHash: "bb", sendsHash: "aa"))

        var mirror = description
        mirror.interfaces[0].versions[0].sends = ["Ack"]
        mirror.interfaces[0].versions[0].receives = ["Reading"]
        let aggregator = try mirror.interfaces(serviceId: "aggregator", directory: directory)
        #expect(interfaces[0].bestCompatibleVersions(with: aggregator[0])?.mine.versionName == "v1")
    }

    @Test("a bad description says which entry is wrong", arguments: [
        ("interfaces: []", "missing `name`"),
        ("name: X\ninterfaces:\n  - name: A\n    versions: []", "interface \"A\" has no versions"),
        ("name: X\ninterfaces:\n  - name: A\n    versions:\n      - name: v1", "needs `file`"),
        ("name: X\ninterfaces:\n  - name: A\n    versions:\n      - {name: v1, sendsHash: a, receivesHash: b}\n  - name: a\n    versions:\n      - {name: v1, sendsHash: a, receivesHash: b}", "appears twice"),
        ("name: X\ninterfaces: 5", "interfaces"),
    ])
    func badDescription(text: String, reason: String) throws {
        let path = TemporaryDirectory.make().path + "/defpi-service.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try ServiceDescription.load(path: path)
            Issue.record("accepted \(text)")
        } catch let error as PublishError {
            #expect(error.userMessage.contains(path))
            #expect(error.userMessage.contains(reason))
        }
    }

    @Test("service ids and versions must be valid image names and tags", arguments: [
        ("Meter", "1"), ("meter", "1.0 beta"), ("-meter", "1"), ("meter", ".1"),
    ])
    func names(id: String, version: String) {
        #expect(throws: PublishError.self) { try ServicePublisher.validate(serviceId: id, version: version) }
    }

    @Test("valid service ids and versions are accepted", arguments: [
        ("meter", "1"), ("meter", "1.0.0"), ("smart-meter", "2.1.0-beta_3"), ("a1.b2_c3", "V1.0"), ("m", "latest"),
    ])
    func validNames(id: String, version: String) throws {
        try ServicePublisher.validate(serviceId: id, version: version)
    }

    @Test("the layer is a tar archive GNU tar reads back, byte-identical for the same inputs")
    func layer() async throws {
        let root = try ImageRoot.collect(executable: "/usr/bin/curl")
        #expect(root.entrypoint == "/app/curl")
        #expect(root.architecture == "amd64" || root.architecture == "arm64")
        #expect(root.files.contains { $0.target.contains("libcurl") })
        let layer = try root.layer()
        #expect(try root.layer() == layer)
        let path = TemporaryDirectory.make().path + "/layer.tar"
        try layer.write(to: URL(fileURLWithPath: path))
        let listing = try await run("/usr/bin/tar", "-tvf", path)
        #expect(listing.contains("drwxrwxrwt root/root") && listing.contains(" tmp/"))
        #expect(listing.contains(" app/curl"))
        let extracted = TemporaryDirectory.make().path
        _ = try await run("/usr/bin/tar", "-xf", path, "-C", extracted)
        #expect(FileManager.default.contents(atPath: extracted + "/app/curl") == FileManager.default.contents(atPath: "/usr/bin/curl"))
    }

    @Test("a file that is not an executable is refused by name")
    func notExecutable() throws {
        let path = TemporaryDirectory.make().path + "/script.sh"
        try "echo hi".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: PublishError.notAnExecutable(path: path)) { try ImageRoot.collect(executable: path) }
        #expect(throws: PublishError.notAnExecutable(path: "/nonexistent")) {
            try ImageRoot.collect(executable: "/nonexistent")
        }
    }

    @Test("a path too long for ustar is refused; a long one is split into prefix and name, and GNU tar reads it back whole")
    func longPaths() async throws {
        var tar = TarWriter()
        let long = String(repeating: "d", count: 120) + "/" + String(repeating: "f", count: 90)
        try tar.addFile("/" + long, contents: Data("x".utf8))
        #expect(throws: PublishError.self) {
            try tar.addFile("/" + String(repeating: "x", count: 300), contents: Data())
        }
        let path = TemporaryDirectory.make().path + "/long.tar"
        try tar.finish().write(to: URL(fileURLWithPath: path))
        let names = try await run("/usr/bin/tar", "-tf", path).split(separator: "\n").map(String.init)
        #expect(names == [String(repeating: "d", count: 120) + "/", long])
    }

    private func run(_ arguments: String...) async throws -> String {
        try await ChildProcess.run(arguments[0], Array(arguments.dropFirst())).stdout
    }
}
