import ServiceKit

ProcessLogging.bootstrap()
await ProcessMain.run {
    let echo = Echo()
    try await ProcessHost(service: echo, interfaces: echo.interfaces).run()
}
