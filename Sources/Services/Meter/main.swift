import ServiceKit

ProcessLogging.bootstrap()
await ProcessMain.run {
    let meter = Meter()
    try await ProcessHost(service: meter, interfaces: meter.interfaces).run()
}
