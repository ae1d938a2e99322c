import Foundation

/// A raw TCP client of a server on 127.0.0.1, for tests of what a server does with slow, idle
/// and surplus connections: it sends bytes when told and says when the server closed. Its waits
/// block a thread of its own, never one of the concurrency pool the server under test needs.
public final class TCPProbe: @unchecked Sendable {
    private let descriptor: Int32
    private let thread = DispatchQueue(label: "tcp-probe")

    /// Connects (the kernel completes the handshake even while the server does not accept).
    public init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            Glibc.close(descriptor)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    /// Sends `text`; false when the server has closed.
    @discardableResult
    public func send(_ text: String) -> Bool {
        Array(text.utf8).withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } >= 0
    }

    /// What arrives within `timeout`, until the server closes, `marker` arrives, or the time is
    /// up; `closed` says whether the server closed.
    public func receive(timeout: Duration, until marker: String? = nil) async -> (text: String, closed: Bool) {
        await withCheckedContinuation { continuation in
            thread.async { continuation.resume(returning: self.blockingReceive(timeout: timeout, until: marker)) }
        }
    }

    private func blockingReceive(timeout: Duration, until marker: String?) -> (text: String, closed: Bool) {
        var received = [UInt8]()
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let left = Int32(max(1, (deadline - ContinuousClock.now).components.seconds * 1000
                + (deadline - ContinuousClock.now).components.attoseconds / 1_000_000_000_000_000))
            guard poll(&poller, 1, left) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(descriptor, &buffer, buffer.count, 0)
            guard count > 0 else { return (String(decoding: received, as: UTF8.self), true) }
            received += buffer.prefix(count)
            if let marker, String(decoding: received, as: UTF8.self).contains(marker) { break }
        }
        return (String(decoding: received, as: UTF8.self), false)
    }

    /// Whether the server has closed the connection (end of stream or reset), without waiting.
    public func isClosed() -> Bool {
        var byte: UInt8 = 0
        let read = recv(descriptor, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK))
        return read == 0 || (read < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    /// How long until the server closes the connection, reading and dropping what it sends; nil
    /// when it is still open after `limit`.
    public func timeUntilClosed(limit: Duration) async -> Duration? {
        let start = ContinuousClock.now
        return await receive(timeout: limit).closed ? ContinuousClock.now - start : nil
    }

    private var isOpen = true

    public func close() {
        guard isOpen else { return }
        isOpen = false
        Glibc.close(descriptor)
    }

    deinit { close() }
}
