import Logging
import SampleSupport
import ServiceKit
import SwiftProtobuf

/// The sample echo: answers every Text with `prefix`, the text, and its count. Its counter is the
/// number of texts echoed.
final class Echo: SampleService {
    struct Configuration: ServiceConfiguration {
        var prefix = "echo: "
    }

    let core = SampleCore<Configuration>(kind: "echo", counting: "echo")
    private let logger = Logger(label: "echo")

    var interfaces: [InterfaceHandler] {
        [
            InterfaceHandler(interface: "Echo", version: "v1", receives: [Samples_Text.self], sends: [Samples_Text.self]) {
                EchoLink(echo: self, connection: $0)
            },
            core.statusInterface,
        ]
    }

    /// The answer to a text.
    fileprivate func answer(_ text: Samples_Text) -> Samples_Text {
        let count = core.count()
        var answer = Samples_Text()
        answer.text = "\(core.configuration.prefix)\(text.text) #\(count)"
        logger.info("echo \(count): \(text.text)")
        return answer
    }
}

/// One Echo connection.
private struct EchoLink: ConnectionHandler {
    let echo: Echo
    let connection: DataConnection

    func received(_ message: any SwiftProtobuf.Message) async {
        guard let text = message as? Samples_Text else { return }
        try? await connection.send(echo.answer(text))
    }
}
