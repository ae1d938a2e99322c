// swift-tools-version: 6.1
// The libFuzzer target of the protocol decoder, kept out of the main package: it is built with
// `-sanitize=fuzzer,address` and runs libFuzzer's driver from its own `main`. Run: scripts/fuzz.sh.
import Foundation
import PackageDescription

/// SwiftPM names a path dependency after its directory, which is wherever defpi was cloned.
let defpi = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .lastPathComponent.lowercased()

let package = Package(
    name: "defpi-fuzz",
    dependencies: [.package(path: "..")],
    targets: [
        .executableTarget(
            name: "ProtocolFuzzer",
            dependencies: [.product(name: "Protocol", package: defpi)]),
    ]
)
