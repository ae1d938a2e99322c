import ServiceKit

ProcessLogging.bootstrap()
await ProcessMain.run {
    let aggregator = Aggregator()
    try await ProcessHost(service: aggregator, interfaces: aggregator.interfaces).run()
}
