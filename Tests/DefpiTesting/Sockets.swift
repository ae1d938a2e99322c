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
