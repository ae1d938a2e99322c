import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes

/// How long a connection to the REST API may take and how many may be open at once, so that
/// slow or idle clients cannot hold the server's sockets.
public struct ConnectionLimits: Sendable, Equatable {
    /// A connection with no request under way for this long is closed, and so is one whose
    /// client takes nothing of a response for this long (it stopped reading).
    public var idleTimeout: Duration
    /// A new connection must finish its TLS handshake and send its first request's head within
    /// this time (a client trickling bytes is cut off).
    public var headerTimeout: Duration
    /// Connections accepted at once; more wait in the listen backlog until one closes.
    public var maximumConnections: Int

    public init(idleTimeout: Duration = .seconds(30), headerTimeout: Duration = .seconds(10),
                maximumConnections: Int = ConnectionLimits.defaultMaximumConnections) {
        self.idleTimeout = idleTimeout
        self.headerTimeout = headerTimeout
        self.maximumConnections = maximumConnections
    }

    /// Half the process's file-descriptor limit (the store, Docker, the registry and the API
    /// socket need the rest), at least 16 and at most 4,096.
    public static var defaultMaximumConnections: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 512 }
        let soft = Int(clamping: limit.rlim_cur)  // unlimited: the largest value, cut to 4,096 below
        return max(16, min(4096, soft / 2))
    }

    /// The HTTP/1.1 channel configuration these limits call for.
    var http1: HTTP1Channel.Configuration {
        let (headerTimeout, idleTimeout) = (self.headerTimeout, self.idleTimeout)
        return HTTP1Channel.Configuration(
            additionalChannelHandlers: [FirstRequestDeadline(timeout: headerTimeout), StalledReaderDeadline(timeout: idleTimeout)],
            idleTimeout: .nanoseconds(Int64(idleTimeout.nanoseconds)))
    }
}

/// Closes a connection whose client stopped reading: its socket has taken none of the bytes
/// written for `timeout` (the channel stayed unwritable). The server's idle timeout does not see
/// it, a request being under way, and the response's task would wait for ever; closing the
/// channel fails its writes and ends the task.
final class StalledReaderDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private var deadline: ClosingDeadline

    init(timeout: Duration) { deadline = ClosingDeadline(timeout: timeout) }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { deadline.disarm() } else { deadline.arm(context) }
        context.fireChannelWritabilityChanged()
    }

    func handlerRemoved(context: ChannelHandlerContext) { deadline.disarm() }

    func channelInactive(context: ChannelHandlerContext) {
        deadline.disarm()
        context.fireChannelInactive()
    }
}

/// A timer that closes a handler's channel when it fires; arming an armed one changes nothing.
struct ClosingDeadline {
    let timeout: Duration
    private var scheduled: Scheduled<Void>?

    init(timeout: Duration) { self.timeout = timeout }

    mutating func arm(_ context: ChannelHandlerContext) {
        guard scheduled == nil else { return }
        let channel = context.channel
        scheduled = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.nanoseconds))) {
            channel.close(promise: nil)
        }
    }

    mutating func disarm() {
        scheduled?.cancel()
        scheduled = nil
    }
}

/// Closes a connection whose first request head has not arrived within the timeout of its
/// opening. The decoder yields a head only when it is complete, so a trickled head (or a TLS
/// handshake that never ends) hits the deadline. Later requests are bounded by the idle timeout.
final class FirstRequestDeadline: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var deadline: ClosingDeadline

    init(timeout: Duration) { deadline = ClosingDeadline(timeout: timeout) }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { deadline.arm(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        deadline.arm(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { deadline.disarm() }

    func channelInactive(context: ChannelHandlerContext) {
        deadline.disarm()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { deadline.disarm() }
        context.fireChannelRead(data)
    }
}

extension Duration {
    /// Whole nanoseconds, saturating.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : scaled.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue
    }
}
