import Foundation
import Logging
import SampleSupport
import ServiceKit
import SwiftProtobuf
import Synchronization

/// The sample echo: answers every Text with `prefix`, the text, and its count. Its counter is the
/// number of texts echoed, carried over a suspend and resume.
final class Echo: DefPiService {
    struct Configuration: ServiceConfiguration {
        var prefix = "echo: "
    }

    private struct State {
        var process = "echo"
        var configuration = Configuration()
        var echoed: Int64 = 0
    }

    private let state = Mutex(State())
    private let logger = Logger(label: "echo")

    var interfaces: [InterfaceHandler] {
        [
            InterfaceHandler(interface: "Echo", version: "v1", receives: [Samples_Text.self], sends: [Samples_Text.self]) {
                EchoLink(echo: self, connection: $0)
            },
            StatusInterface.handler { [self] in
                self.state.withLock { StatusInterface.status(process: $0.process, counter: $0.echoed, configuration: $0.configuration) }
            },
        ]
    }

    func start(with configuration: Configuration, process: ProcessIdentity) async throws {
        begin(process: process.processId, configuration: configuration, echoed: 0)
    }

    func modify(_ configuration: Configuration) async throws {
        state.withLock { $0.configuration = configuration }
        logger.info("configuration: prefix=\"\(configuration.prefix)\"")
    }

    func suspend() async throws -> [UInt8] {
        let carried = state.withLock { CarriedState(counter: $0.echoed, configuration: $0.configuration) }
        logger.info("suspending after \(carried.counter) echoes")
        return Array(try JSONEncoder().encode(carried))
    }

    func resume(from data: [UInt8], process: ProcessIdentity) async throws {
        let carried = try JSONDecoder().decode(CarriedState<Configuration>.self, from: Data(data))
        begin(process: process.processId, configuration: carried.configuration, echoed: carried.counter)
    }

    func terminate() async {
        logger.info("terminated after \(state.withLock { $0.echoed }) echoes")
    }

    private func begin(process: String, configuration: Configuration, echoed: Int64) {
        state.withLock { state in
            state.process = process
            state.configuration = configuration
            state.echoed = echoed
        }
        logger.info("echo \(process) runs from echo \(echoed): prefix=\"\(configuration.prefix)\"")
    }

    /// The answer to a text.
    fileprivate func answer(_ text: Samples_Text) -> Samples_Text {
        var answer = Samples_Text()
        let count = state.withLock { state in
            state.echoed += 1
            answer.text = "\(state.configuration.prefix)\(text.text) #\(state.echoed)"
            return state.echoed
        }
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
