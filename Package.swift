// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "defpi",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "defpi", targets: ["defpi"]),
        .executable(name: "defpi-gateway", targets: ["DefpiGateway"]),
        .executable(name: "sample-meter", targets: ["SampleMeter"]),
        .executable(name: "sample-aggregator", targets: ["SampleAggregator"]),
        .executable(name: "sample-echo", targets: ["SampleEcho"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Protocol", targets: ["Protocol"]),
        .library(name: "Console", targets: ["Console"]),
        .library(name: "DefpiAPI", targets: ["DefpiAPI"]),
        .library(name: "ServiceKit", targets: ["ServiceKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/mxcl/Version", from: "2.2.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // System libraries: a module map and a shim header each, nothing else.
        .systemLibrary(
            name: "CNcursesw", pkgConfig: "ncursesw",
            providers: [.apt(["libncurses-dev"]), .brew(["ncurses"])]),
        .systemLibrary(name: "CMalloc"),
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]),
        .systemLibrary(
            name: "CMongoc", pkgConfig: "libmongoc-1.0",
            providers: [.apt(["libmongoc-dev"]), .brew(["mongo-c-driver"])]),

        .target(
            name: "Protocol",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Definitions"]),
        .target(
            name: "Engine",
            dependencies: [
                "Protocol", "CCurl", "CMongoc",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Version", package: "Version"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .target(
            name: "ServiceKit",
            dependencies: [
                "Protocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(
            name: "DefpiAPI",
            dependencies: [
                "Engine", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/API", resources: [.copy("openapi.json")]),
        .target(
            name: "Console",
            dependencies: [
                "Engine", "CNcursesw", "CMalloc", .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]),
        .executableTarget(
            name: "defpi",
            dependencies: [
                "Engine", "Console", "DefpiAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),

        .executableTarget(
            name: "DefpiGateway",
            dependencies: [.product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")],
            path: "Sources/defpi-gateway"),

        // Sample services on ServiceKit (published by the tests and the demo).
        .target(
            name: "SampleSupport",
            dependencies: ["ServiceKit", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            path: "Sources/Services/SampleSupport", exclude: ["samples.proto"]),
        .executableTarget(
            name: "SampleMeter", dependencies: ["SampleSupport", "ServiceKit"], path: "Sources/Services/Meter",
            exclude: ["defpi-service.yaml"]),
        .executableTarget(
            name: "SampleAggregator", dependencies: ["SampleSupport", "ServiceKit"], path: "Sources/Services/Aggregator",
            exclude: ["defpi-service.yaml"]),
        .executableTarget(
            name: "SampleEcho", dependencies: ["SampleSupport", "ServiceKit"], path: "Sources/Services/Echo",
            exclude: ["defpi-service.yaml"]),

        // Fixtures shared by the test targets.
        .target(name: "DefpiTesting", dependencies: ["Engine"], path: "Tests/DefpiTesting"),
        .testTarget(
            name: "EngineTests",
            dependencies: [
                "Engine", "DefpiTesting", "CCurl", "CMongoc", "Protocol",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        .testTarget(
            name: "StoreTests",
            dependencies: ["Engine", "DefpiTesting", "CMongoc", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(
            name: "ProtocolTests",
            dependencies: ["Protocol", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Vectors"]),
        .testTarget(
            name: "ConsoleTests",
            dependencies: ["Console", "Engine", "DefpiTesting", "CNcursesw", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "CLITests", dependencies: ["DefpiTesting", "Engine"]),
        .testTarget(
            name: "APITests",
            dependencies: [
                "DefpiAPI", "Engine", "DefpiTesting", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "ServiceKitTests", dependencies: ["ServiceKit", "Protocol", "Engine", "DefpiTesting", "SampleSupport"]),
        // Processes through the gateway and the Engine's API: locally, and on the test bed's swarm.
        .testTarget(
            name: "ProcessTests",
            dependencies: ["Engine", "DefpiAPI", "DefpiTesting", "Protocol", .product(name: "Logging", package: "swift-log")]),
        // Connectors and managers against the real test bed (swarm, registry).
        .testTarget(name: "ClusterTests", dependencies: ["Engine", "DefpiTesting"]),
    ]
)
