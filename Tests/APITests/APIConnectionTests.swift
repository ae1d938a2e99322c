import DefpiAPI
import DefpiTesting
import Foundation
import Logging
import ServiceLifecycle
import Testing

@testable import Engine

/// The listener of `defpi serve` under slow, idle and surplus connections: each is cut at its
/// limit, and the connections beyond the cap wait instead of taking the server's descriptors.
@Suite("REST API connections", .timeLimit(.minutes(2)))
struct APIConnectionTests {
    /// Runs the API on a free port with `limits` while `body` runs.
    static func serving(_ limits: ConnectionLimits, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        let bed = try await APIBed()
        let port = freePort()
        let service = try RESTAPI(engine: bed.engine).service(listening: RESTListener(host: "127.0.0.1", port: port),
                                                              limits: limits, logger: Logger(label: "test"))
        let group = ServiceGroup(services: [service], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            #expect(await waitForPort(port))
            try await body(port)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    static let request = "GET /diag HTTP/1.1\r\nHost: x\r\n\r\n"

    @Test("a connection that sends no complete head is closed at the header timeout, however slowly it trickles")
    func headerTimeout() async throws {
        try await Self.serving(ConnectionLimits(idleTimeout: .seconds(30), headerTimeout: .seconds(1))) { port in
            let silent = try TCPProbe(port: port)
            let trickling = try TCPProbe(port: port)
            let trickle = Task.detached {
                for character in "GET /diag HTTP/1.1\r\nX-Slow: " + String(repeating: "a", count: 100) {
                    guard trickling.send(String(character)) else { return }
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            // Upper bounds are loose: a loaded test run delays the server's timers by seconds.
            let silentClosed = await silent.timeUntilClosed(limit: .seconds(20))
            let tricklingClosed = await trickling.timeUntilClosed(limit: .seconds(20))
            trickle.cancel()
            #expect(silentClosed.map { $0 > .milliseconds(800) } == true, "\(String(describing: silentClosed))")
            #expect(tricklingClosed != nil, "a trickled head kept its connection for 20 s")
            // A prompt client is answered, and its keep-alive connection stays open past the header timeout.
            let prompt = try TCPProbe(port: port)
            prompt.send(Self.request)
            #expect(await prompt.receive(timeout: .seconds(20), until: "\r\n\r\n").text.contains("200 OK"))
            #expect(await prompt.timeUntilClosed(limit: .milliseconds(1500)) == nil)
        }
    }

    @Test("an idle keep-alive connection is closed at the idle timeout, not before")
    func idleTimeout() async throws {
        try await Self.serving(ConnectionLimits(idleTimeout: .seconds(2), headerTimeout: .seconds(10))) { port in
            let client = try TCPProbe(port: port)
            client.send(Self.request)
            #expect(await client.receive(timeout: .seconds(20), until: "\r\n\r\n").text.contains("200 OK"))
            let closed = await client.timeUntilClosed(limit: .seconds(20))
            #expect(closed.map { $0 > .milliseconds(1200) } == true, "\(String(describing: closed))")
        }
    }

    @Test("a client that stops reading its responses is cut off at the idle timeout, not served for ever")
    func stalledReader() async throws {
        try await Self.serving(ConnectionLimits(idleTimeout: .seconds(2), headerTimeout: .seconds(10))) { port in
            let client = try TCPProbe(port: port)
            // 100 pipelined requests for the 130 KB API document, never read: far more than both
            // sockets' buffers hold, so the server's writes wait on the client.
            let requests = 100
            #expect(client.send(String(repeating: "GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n", count: requests)))
            try await Task.sleep(for: .seconds(8))
            let drained = await client.receive(timeout: .seconds(30))
            let answered = drained.text.components(separatedBy: "HTTP/1.1 200 OK").count - 1
            #expect(drained.closed && answered < requests,
                    "the server kept a client that read nothing for 8 s: \(answered) of \(requests) answers, closed: \(drained.closed)")
        }
    }

    @Test("beyond the cap a connection waits, and is served once another closes")
    func cap() async throws {
        try await Self.serving(ConnectionLimits(idleTimeout: .seconds(30), headerTimeout: .seconds(30), maximumConnections: 2)) { port in
            let held = [try TCPProbe(port: port), try TCPProbe(port: port)]
            try await Task.sleep(for: .milliseconds(200))
            let waiting = try TCPProbe(port: port)
            waiting.send(Self.request)
            #expect(await !waiting.receive(timeout: .seconds(1)).text.contains("200 OK"), "a third connection was served")
            held[0].close()
            #expect(await waiting.receive(timeout: .seconds(20), until: "\r\n\r\n").text.contains("200 OK"))
        }
    }

    @Test("the default cap stays below the file-descriptor limit")
    func defaultCap() {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        #expect(ConnectionLimits.defaultMaximumConnections < Int(clamping: limit.rlim_cur))
        #expect(ConnectionLimits.defaultMaximumConnections >= 16)
    }
}
