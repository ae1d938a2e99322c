import ServiceKit

ProcessLogging.bootstrap()
let echo = Echo()
try await ProcessHost(service: echo, interfaces: echo.interfaces).run()
