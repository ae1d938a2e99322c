// swift-tools-version: 6.1
// The libFuzzer target of the protocol decoder, kept out of the main package: scripts/fuzz.sh builds
// it with AddressSanitizer and coverage instrumentation, links libFuzzer's driver without its main,
// and runs it (the target's own `main` hands control to the driver).
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
