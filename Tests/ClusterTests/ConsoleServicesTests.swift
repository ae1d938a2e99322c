import DefpiTesting
import Engine
import Foundation
import Testing

/// The real `defpi console` in tmux browsing the test bed's registry.
@Suite("Console services", .enabled(if: TestBed.hasRegistry), .timeLimit(.minutes(2)))
struct ConsoleServicesTests {
    @Test("the services pane lists published services; enter shows a service's versions, interfaces and compatible services")
    func browseCatalog() async throws {
        let registryURL = try #require(TestBed.registryURL)
        let prefix = "c\(ObjectID.generate().suffix(10))"
        let registry = ["DEFPI_REGISTRY": registryURL, "DEFPI_REGISTRY_PREFIX": prefix]
        let meter = try SampleService(name: "meter", displayName: "Meter", interface: "Readings",
                                      sends: ["Reading"], receives: ["Setpoint"])
        let aggregator = try SampleService(name: "aggregator", displayName: "Aggregator", interface: "Readings in",
                                           sends: ["Setpoint"], receives: ["Reading"], allowMultiple: true)
        for (sample, id, version) in [(meter, "meter", "1.0.0"), (meter, "meter", "1.1.0"), (aggregator, "aggregator", "0.1")] {
            let published = try await DefpiCommand.run(["service", "publish", sample.executable, "--id", id, "--version", version],
                                                 environment: registry)
            #expect(published.status == 0, "\(published.stderr)")
        }

        var environment = registry
        environment["DEFPI_STORE"] = TemporaryDirectory.make().path + "/defpi.sqlite"
        if let socket = TestBed.dockerEndpoint?.unixSocketPath { environment["DOCKER_HOST"] = "unix://\(socket)" }
        let console = try TmuxSession.console(environment: environment)
        defer { console.kill() }
        console.send("5")
        #expect(await eventually(timeout: .seconds(10)) {
            let screen = console.capture()
            return screen.contains("Services [2]") && screen.contains("Aggregator") && screen.contains("Meter")
        }, "\(console.capture())")

        console.send("/")
        console.send("-l", "^meter")
        console.send("Enter")
        console.send("Enter")
        #expect(await eventually(timeout: .seconds(5)) {
            let screen = console.capture()
            return screen.contains("‹meter›") && screen.contains("Versions (newest first)")
                && screen.contains("Interfaces of 1.1.0") && screen.contains("meter/readings")
        }, "\(console.capture())")
        let page = console.capture().split(separator: "\n")
        let newer = try #require(page.firstIndex { $0.contains("  1.1.0 ") }, "\(console.capture())")
        let older = try #require(page.firstIndex { $0.contains("  1.0.0 ") }, "\(console.capture())")
        #expect(newer < older)
        #expect(page.contains { $0.contains("Readings") && $0.contains("Readings in") && $0.contains("aggregator")
                && $0.contains("0.1") && $0.contains("v1 ↔ v1") }, "\(console.capture())")

        console.send("Escape")
        #expect(await eventually(timeout: .seconds(5)) { console.capture().contains("Services [1] </^meter>") },
                "\(console.capture())")
        console.send("q")
        #expect(await eventually(timeout: .seconds(5)) { !console.isRunning })
    }
}
