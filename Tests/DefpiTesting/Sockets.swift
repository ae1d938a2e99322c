import Foundation

/// A unix socket that forwards to another (socat, in a process group of its own, so its
/// per-connection children die with it), to cut connections at will as a network or daemon
/// failure would.
public final class SocketProxy: @unchecked Sendable {
    public let path: String
    private let target: String
    private var process: ChildProcess?

    public init(target: String) throws {
        self.target = target
        path = TemporaryDirectory.make().path + "/proxy.sock"
        try start()
    }

    /// Starts forwarding (again).
    public func start() throws {
        try? FileManager.default.removeItem(atPath: path)
        process = try ChildProcess("/usr/bin/socat", ["UNIX-LISTEN:\(path),fork", "UNIX-CONNECT:\(target)"])
        for _ in 0..<50 where !FileManager.default.fileExists(atPath: path) { usleep(20_000) }
    }

    /// Stops forwarding and cuts every open connection.
    public func stop() {
        guard let process else { return }
        process.kill()
        self.process = nil
        try? FileManager.default.removeItem(atPath: path)
    }

    deinit { stop() }
}

/// A unix socket that accepts connections into its backlog and never answers: a hung daemon.
public final class SilentListener: @unchecked Sendable {
    public let path: String
    private let descriptor: Int32

    public init() throws {
        path = TemporaryDirectory.make().path + "/silent.sock"
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            path.utf8CString.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0.prefix(buffer.count))) }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(descriptor, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
    }

    public func close() { Glibc.close(descriptor) }
}

/// A host name that resolves to 127.0.0.1 while the alias lives, through a line in /etc/hosts
/// (the test runner is root, as the test command runs it): lets a process id, which the gateway
/// dials by name as swarm's DNS would resolve it, reach a process on this host.
public final class HostAlias: @unchecked Sendable {
    public let name: String
    private let line: String
    private static let hosts = "/etc/hosts"
    private static let lock = NSLock()

    public init(_ name: String) throws {
        self.name = name
        line = "127.0.0.1 \(name) # defpi test\n"
        try Self.edit { $0 + line }
    }

    deinit { try? Self.edit { $0.replacingOccurrences(of: line, with: "") } }

    private static func edit(_ change: (String) -> String) throws {
        lock.lock()
        defer { lock.unlock() }
        let current = try String(contentsOfFile: hosts, encoding: .utf8)
        // Rewritten in place: /etc/hosts may be a bind mount that cannot be replaced.
        try Data(change(current).utf8).write(to: URL(fileURLWithPath: hosts))
    }
}

/// One exchange with a socket, as a client that may be refused or cut off: sends `bytes` to a
/// unix socket path or `host:port`, and returns what came back before the other side closed
/// (or `wait` passed).
public func exchange(with address: String, sending bytes: String, wait: Duration = .seconds(5)) async throws -> String {
    let script = """
        import socket, sys, time
        address, payload, wait = sys.argv[1], sys.argv[2].encode(), float(sys.argv[3])
        if address.startswith("/"):
            s = socket.socket(socket.AF_UNIX); s.connect(address)
        else:
            host, port = address.rsplit(":", 1); s = socket.create_connection((host, int(port)))
        s.settimeout(wait)
        if payload: s.sendall(payload)
        received = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk: break
                received += chunk
        except socket.timeout:
            received += b"<open>"
        except ConnectionResetError:
            pass
        sys.stdout.write(received.decode(errors="replace"))
        """
    return try await ChildProcess.run("/usr/bin/env", ["python3", "-c", script, address, bytes,
                                                            "\(Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18)"]).stdout
}
