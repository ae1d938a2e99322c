import Glibc
import Protocol

/// The libFuzzer target of the protocol decoder. The bytes are a stream from a peer: every frame
/// the decoder finds is decoded as a message, and the whole input is also tried as one payload.
/// Anything but a clean result or a typed error (a crash, a hang, a sanitizer report) is a finding.
@main
enum ProtocolFuzzer {
    /// Hands control to libFuzzer's driver (its flags: `-max_total_time=30`, a corpus directory ...).
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        let status = LLVMFuzzerRunDriver(&argc, &argv, fuzzOne)
        exit(status)
    }

    static func fuzz(_ bytes: [UInt8]) {
        _ = try? ProtocolMessage(payload: bytes)
        var decoder = FrameDecoder(maximumPayloadLength: 1 << 16)
        decoder.append(bytes)
        // A framing error ends the stream, as it ends a connection.
        while let payload = try? decoder.next() {
            if let message = try? ProtocolMessage(payload: payload) {
                // What decodes must encode again.
                precondition((try? message.payload()) != nil, "a decoded \(message.name) does not encode")
            }
        }
    }
}

/// One input, as libFuzzer calls it.
private func fuzzOne(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    ProtocolFuzzer.fuzz(Array(UnsafeBufferPointer(start: start, count: count)))
    return 0
}

/// libFuzzer's driver, for programs with a `main` of their own.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
