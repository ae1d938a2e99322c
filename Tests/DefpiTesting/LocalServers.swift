import Foundation

/// `host:port` on the loopback network (127.0.0.1 unless told) as a socket address.
private func loopback(port: Int, host: String = "127.0.0.1") -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr(host)
    return address
}

/// Runs `body` with a TCP socket and `address` as a `sockaddr`, closing the socket afterwards.
private func withSocket<Result>(_ address: inout sockaddr_in,
                                _ body: (Int32, UnsafeMutablePointer<sockaddr>) -> Result) -> Result {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    return withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body(descriptor, $0) }
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on at the moment of the call, below the
/// kernel's ephemeral range (32768 and up): a client that retries connecting to a port in that
/// range before its server listens can be given the same port as its own and connect to itself.
public func freePort() -> Int {
    while true {
        var address = loopback(port: Int.random(in: 20_000..<32_000))
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        if withSocket(&address, { descriptor, pointer in bind(descriptor, pointer, length) == 0 }) {
            return Int(UInt16(bigEndian: address.sin_port))
        }
    }
}

/// Waits until something accepts TCP connections on `port` of `host` (a loopback address).
public func waitForPort(_ port: Int, host: String = "127.0.0.1", timeout: Duration = .seconds(10)) async -> Bool {
    await eventually(timeout: timeout) {
        var address = loopback(port: port, host: host)
        return withSocket(&address) { descriptor, pointer in
            connect(descriptor, pointer, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}

/// A private Docker registry (Debian's `docker-registry`) with its own storage, optionally
/// behind HTTP basic auth (htpasswd) or the bearer-token flow (a token service from
/// `Tests/Fixtures`), for the authentication tests.
public final class PrivateRegistry: @unchecked Sendable {
    public enum Authentication: Sendable { case basic, token }

    public let url: String
    public let username = "defpi"
    public let password = "s3cret-pw"
    private var processes: [ChildProcess] = []

    public init(authentication: Authentication) async throws {
        let directory = TemporaryDirectory.make().path
        let port = freePort()
        url = "http://127.0.0.1:\(port)"
        var auth: String
        switch authentication {
        case .basic:
            let hash = try await Self.bcrypt(password)
            try "\(username):\(hash)\n".write(toFile: directory + "/htpasswd", atomically: true, encoding: .utf8)
            auth = "  htpasswd:\n    realm: defpi-test\n    path: \(directory)/htpasswd\n"
        case .token:
            let tokens = try ChildProcess("/usr/bin/env", [
                "python3", TestBed.repositoryRoot + "/Tests/Fixtures/registry-token-server.py", directory, username,
                password,
            ])
            processes.append(tokens)
            let tokenPort = await tokens.firstLine()
            auth = """
                  token:
                    realm: http://127.0.0.1:\(tokenPort)/token
                    service: defpi-test-registry
                    issuer: defpi-test-issuer
                    rootcertbundle: \(directory)/cert.pem

                """
        }
        try """
            version: 0.1
            log:
              level: error
            storage:
              filesystem:
                rootdirectory: \(directory)/data
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:\(port)
            auth:
            \(auth)
            """.write(toFile: directory + "/config.yml", atomically: true, encoding: .utf8)
        processes.append(try ChildProcess("/usr/bin/docker-registry", ["serve", directory + "/config.yml"]))
        guard await waitForPort(port) else { throw POSIXError(.ECONNREFUSED) }
    }

    public func stop() { processes.forEach { $0.kill() } }

    deinit { stop() }

    /// A bcrypt hash (as htpasswd writes) from the C library's crypt, through Python.
    private static func bcrypt(_ password: String) async throws -> String {
        try await ChildProcess.run("/usr/bin/env", [
            "python3", "-W", "ignore", "-c",
            "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))", password,
        ]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A web server that is not a registry: Python's http.server over a directory of canned files.
public final class StaticWebServer: @unchecked Sendable {
    public let url: String
    private let process: ChildProcess

    /// Serves `files` (path → contents) from 127.0.0.1.
    public init(files: [String: String]) async throws {
        let directory = TemporaryDirectory.make().path
        for (path, contents) in files {
            let full = directory + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try contents.write(toFile: full, atomically: true, encoding: .utf8)
        }
        let port = freePort()
        url = "http://127.0.0.1:\(port)"
        process = try ChildProcess("/usr/bin/env", [
            "python3", "-m", "http.server", "\(port)", "--bind", "127.0.0.1", "--directory", directory,
        ])
        guard await waitForPort(port) else { throw POSIXError(.ECONNREFUSED) }
    }

    public func stop() { process.kill() }
}

/// A TCP port on 127.0.0.1 that accepts connections (the kernel completes them) and never
/// answers: what a hung server looks like to a client, so its timeouts are really exercised.
public final class SilentServer: @unchecked Sendable {
    public let port: Int
    private let descriptor: Int32

    public init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.descriptor = descriptor
        var address = loopback(port: 0)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(descriptor, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    public func stop() { close(descriptor) }
}
