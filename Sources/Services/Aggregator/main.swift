import ServiceKit

ProcessLogging.bootstrap()
let aggregator = Aggregator()
try await ProcessHost(service: aggregator, interfaces: aggregator.interfaces).run()
