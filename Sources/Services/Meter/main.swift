import ServiceKit

ProcessLogging.bootstrap()
let meter = Meter()
try await ProcessHost(service: meter, interfaces: meter.interfaces).run()
