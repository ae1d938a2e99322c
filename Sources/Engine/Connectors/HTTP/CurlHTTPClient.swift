import CCurl
import Foundation
import Synchronization

/// An HTTP/1.1 client over libcurl, shared by the Docker and registry connectors.
///
/// Each request runs on a serial dispatch queue of its own (libcurl's easy interface blocks, and
/// a serial queue gets a thread of its own from the overcommitting pool, so long event streams
/// and slow servers never starve other requests) and suspends the calling task meanwhile. Easy handles are pooled, so connections stay open between calls. Every call
/// has a connect timeout and an overall timeout; bodies are capped by `maxResponseBytes`.
public final class CurlHTTPClient: Sendable {
    public let options: HTTPClientOptions
    private let idleHandles = Mutex<[EasyHandle]>([])
    private static let idleHandleLimit = 16

    public init(options: HTTPClientOptions = HTTPClientOptions()) {
        _ = Self.globalInitialization
        self.options = options
    }

    deinit {
        idleHandles.withLock { handles in handles.forEach { curl_easy_cleanup($0.raw) } }
    }

    /// Sends `request` and returns the whole response. Throws `HTTPTransportError` when no
    /// complete response arrived, `CancellationError` when the task was cancelled; an HTTP error
    /// status is a response, not a throw.
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await run(request, timeout: request.timeout ?? options.requestTimeout, stream: nil)
    }

    /// Sends a long-lived request (an event stream). When a 2xx response's headers have
    /// arrived, `onOpen` is called; then each chunk of the body goes to `onChunk` on a background
    /// thread, until the server closes the connection or `onChunk` returns false (both return
    /// the response normally), or the task is cancelled (`CancellationError`). TCP keepalive
    /// detects a peer that vanished without closing. The returned response carries the status
    /// and headers, and the body only when the status is not 2xx.
    public func stream(_ request: HTTPRequest, onOpen: @escaping @Sendable () -> Void = {},
                       onChunk: @escaping @Sendable (Data) -> Bool) async throws -> HTTPResponse
    {
        try await run(request, timeout: nil, stream: StreamHandlers(onOpen: onOpen, onChunk: onChunk))
    }

    private static let globalInitialization: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    private func run(_ request: HTTPRequest, timeout: Duration?, stream: StreamHandlers?) async throws
        -> HTTPResponse
    {
        let transfer = Transfer(limit: request.maxResponseBytes ?? options.maxResponseBytes, stream: stream)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                DispatchQueue(label: "defpi.http.transfer").async {
                    continuation.resume(with: Result { try self.perform(request, timeout: timeout, transfer: transfer) })
                }
            }
        } onCancel: {
            transfer.cancelled.store(true, ordering: .relaxed)
        }
    }

    private func checkOutHandle() -> EasyHandle {
        if let handle = idleHandles.withLock({ $0.popLast() }) { return handle }
        return EasyHandle(raw: curl_easy_init())
    }

    private func checkIn(_ handle: EasyHandle) {
        // Forget the finished transfer's callbacks and buffers before the handle idles.
        curl_easy_reset(handle.raw)
        let kept = idleHandles.withLock { handles in
            guard handles.count < Self.idleHandleLimit else { return false }
            handles.append(handle)
            return true
        }
        if !kept { curl_easy_cleanup(handle.raw) }
    }

    private func perform(_ request: HTTPRequest, timeout: Duration?, transfer: Transfer) throws -> HTTPResponse {
        let handle = checkOutHandle()
        defer { checkIn(handle) }
        let curl = handle.raw
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for (name, value) in request.headers { headerList = curl_slist_append(headerList, "\(name): \(value)") }
        // No "Expect: 100-continue" round trip before large uploads.
        headerList = curl_slist_append(headerList, "Expect:")

        let context = Unmanaged.passUnretained(transfer).toOpaque()
        defpi_curl_setopt_string(curl, CURLOPT_URL, request.url)
        if let socket = options.unixSocketPath { defpi_curl_setopt_string(curl, CURLOPT_UNIX_SOCKET_PATH, socket) }
        defpi_curl_setopt_long(curl, CURLOPT_NOSIGNAL, 1)
        defpi_curl_setopt_long(curl, CURLOPT_CONNECTTIMEOUT_MS, options.connectTimeout.milliseconds)
        defpi_curl_setopt_long(curl, CURLOPT_TIMEOUT_MS, timeout?.milliseconds ?? 0)
        defpi_curl_setopt_long(curl, CURLOPT_FOLLOWLOCATION, 1)
        defpi_curl_setopt_long(curl, CURLOPT_MAXREDIRS, 5)
        defpi_curl_setopt_long(curl, CURLOPT_TCP_KEEPALIVE, 1)
        defpi_curl_setopt_long(curl, CURLOPT_TCP_KEEPIDLE, 30)
        defpi_curl_setopt_long(curl, CURLOPT_TCP_KEEPINTVL, 10)
        defpi_curl_setopt_pointer(curl, CURLOPT_HTTPHEADER, headerList)
        defpi_curl_setopt_pointer(curl, CURLOPT_ERRORBUFFER, transfer.errorBuffer)
        defpi_curl_setopt_callback(curl, CURLOPT_WRITEFUNCTION, receiveBody)
        defpi_curl_setopt_pointer(curl, CURLOPT_WRITEDATA, context)
        defpi_curl_setopt_callback(curl, CURLOPT_HEADERFUNCTION, receiveHeader)
        defpi_curl_setopt_pointer(curl, CURLOPT_HEADERDATA, context)
        defpi_curl_setopt_long(curl, CURLOPT_NOPROGRESS, 0)
        defpi_curl_setopt_progress(curl, reportProgress)
        defpi_curl_setopt_pointer(curl, CURLOPT_XFERINFODATA, context)
        if let tls = options.tls { configure(curl, tls: tls) }

        let body = request.body ?? Data()
        let code: CURLcode = body.withUnsafeBytes { bytes in
            switch request.method {
            case "GET": defpi_curl_setopt_long(curl, CURLOPT_HTTPGET, 1)
            case "HEAD": defpi_curl_setopt_long(curl, CURLOPT_NOBODY, 1)
            default:
                defpi_curl_setopt_string(curl, CURLOPT_CUSTOMREQUEST, request.method)
                defpi_curl_setopt_offset(curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count))
                defpi_curl_setopt_pointer(
                    curl, CURLOPT_POSTFIELDS, bytes.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) } ?? emptyBody)
            }
            return curl_easy_perform(curl)
        }
        if transfer.cancelled.load(ordering: .relaxed) { throw CancellationError() }
        guard code == CURLE_OK || (code == CURLE_WRITE_ERROR && transfer.stoppedByConsumer) else {
            throw transportError(code, curl: curl, transfer: transfer, timeout: timeout)
        }
        var status = 0
        defpi_curl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: transfer.headers, body: transfer.body)
    }

    private func configure(_ curl: UnsafeMutableRawPointer, tls: TLSFiles) {
        if let ca = tls.caFile { defpi_curl_setopt_string(curl, CURLOPT_CAINFO, ca) }
        if let certificate = tls.certificateFile { defpi_curl_setopt_string(curl, CURLOPT_SSLCERT, certificate) }
        if let key = tls.keyFile { defpi_curl_setopt_string(curl, CURLOPT_SSLKEY, key) }
        defpi_curl_setopt_long(curl, CURLOPT_SSL_VERIFYPEER, tls.verifyPeer ? 1 : 0)
        defpi_curl_setopt_long(curl, CURLOPT_SSL_VERIFYHOST, tls.verifyPeer ? 2 : 0)
    }

    private func transportError(_ code: CURLcode, curl: UnsafeMutableRawPointer, transfer: Transfer,
                                timeout: Duration?) -> HTTPTransportError
    {
        let detail = transfer.errorText.isEmpty ? String(cString: curl_easy_strerror(code)) : transfer.errorText
        switch code {
        case CURLE_WRITE_ERROR where transfer.tooLarge:
            return .responseTooLarge(limit: transfer.limit)
        case CURLE_OPERATION_TIMEDOUT:
            var connectSeconds = 0.0
            defpi_curl_getinfo_double(curl, CURLINFO_CONNECT_TIME, &connectSeconds)
            return .timedOut(after: connectSeconds == 0 ? options.connectTimeout : timeout ?? options.connectTimeout)
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            var osError = 0
            defpi_curl_getinfo_long(curl, CURLINFO_OS_ERRNO, &osError)
            if osError == Int(EACCES) { return .permissionDenied(detail: detail) }
            return .cannotConnect(detail: detail)
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE,
            CURLE_SSL_CIPHER:
            return .tls(detail: detail)
        default:
            return .failed(detail: detail)
        }
    }
}

/// A libcurl easy handle moved between threads; only one transfer uses it at a time.
private struct EasyHandle: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
}

/// What libcurl reads as the body of a request without one; never written.
nonisolated(unsafe) private let emptyBody = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)

/// What a streaming request does with its response.
private struct StreamHandlers: Sendable {
    let onOpen: @Sendable () -> Void
    let onChunk: @Sendable (Data) -> Bool
}

/// The state of one transfer, reached from libcurl's callbacks through an unretained pointer.
private final class Transfer: @unchecked Sendable {
    let limit: Int
    let stream: StreamHandlers?
    let cancelled = Atomic<Bool>(false)
    /// The stream's consumer returned false: the transfer ended as asked, not as a failure.
    var stoppedByConsumer = false
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    var body = Data()
    var headers: [(name: String, value: String)] = []
    var status = 0
    var tooLarge = false

    init(limit: Int, stream: StreamHandlers?) {
        self.limit = limit
        self.stream = stream
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit { errorBuffer.deallocate() }

    var errorText: String { String(cString: errorBuffer) }

    /// Takes one piece of the body; false stops the transfer.
    func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if let stream, (200..<300).contains(status) {
            if stream.onChunk(Data(bytes)) { return true }
            stoppedByConsumer = true
            return false
        }
        guard body.count + bytes.count <= limit else {
            tooLarge = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    /// Takes one header line; a status line starts a new header block (after a redirect), and
    /// the blank line ending a 2xx block opens a stream.
    func receiveHeader(_ line: String) {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty, let stream, (200..<300).contains(status) {
            stream.onOpen()
        } else if trimmed.hasPrefix("HTTP/") {
            headers.removeAll()
            status = trimmed.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        } else if let colon = trimmed.firstIndex(of: ":") {
            let name = String(trimmed[..<colon])
            let value = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers.append((name, value))
        }
    }
}

private let receiveBody: defpi_curl_data_callback = { data, size, count, context in
    let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
    let length = size * count
    return transfer.receive(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
}

private let receiveHeader: defpi_curl_data_callback = { data, size, count, context in
    let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
    let length = size * count
    transfer.receiveHeader(String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self))
    return length
}

private let reportProgress: defpi_curl_progress_callback = { context, _, _, _, _ in
    let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
    return transfer.cancelled.load(ordering: .relaxed) ? 1 : 0
}
