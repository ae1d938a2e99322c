import DefpiTesting
import Engine
import Foundation
import Testing

/// Registry credentials stay with the registry: a `Link` to another host, or a token realm on
/// another host, never gets them, and no printed URL shows a password.
@Suite("Registry credentials", .timeLimit(.minutes(1)))
struct RegistryCredentialTests {
    let script = TestBed.repositoryRoot + "/Tests/Fixtures/registry-leak-probe.py"

    /// A registry on 127.0.0.1 (wanting `auth`) that pages to, or takes tokens from, 127.0.0.2.
    func servers(auth: String) async throws -> (registry: ChildProcess, other: ChildProcess, url: String) {
        let (registryPort, otherPort) = (freePort(), freePort())
        let other = try ChildProcess("/usr/bin/env", ["python3", script, "other", "\(otherPort)"])
        let registry = try ChildProcess("/usr/bin/env", ["python3", script, "registry", "\(registryPort)",
                                                         "http://127.0.0.2:\(otherPort)", auth])
        let registryUp = await waitForPort(registryPort)
        let otherUp = await waitForPort(otherPort, host: "127.0.0.2")
        #expect(registryUp && otherUp, "\(registry.errors)\(other.errors)")
        return (registry, other, "http://127.0.0.1:\(registryPort)")
    }

    @Test("a catalog page on another host is read without the registry's basic credentials")
    func linkToAnotherHost() async throws {
        let (registry, other, url) = try await servers(auth: "basic")
        defer { registry.kill(); other.kill() }
        // Credentials written into the URL are used, and never shown.
        let client = try RegistryClient(url: url.replacingOccurrences(of: "http://", with: "http://alice:secret@"))
        #expect(client.baseURL == url)
        #expect(try await client.catalog() == ["services/a", "services/b"])
        #expect(other.output == "/v2/_catalog none\n")
    }

    @Test("a token realm on another host is asked anonymously, never with the basic credentials")
    func realmOnAnotherHost() async throws {
        let (registry, other, url) = try await servers(auth: "bearer")
        defer { registry.kill(); other.kill() }
        let client = try RegistryClient(url: url, credentials: RegistryCredentials(username: "alice", password: "secret"))
        #expect(try await client.catalog().first == "services/a")
        let requests = other.output.split(separator: "\n")
        #expect(requests.contains("/token none") && !other.output.contains("Basic"), "\(other.output)")
    }

    @Test("no error or description shows a password written into a URL")
    func redaction() async throws {
        let port = freePort()
        let client = try RegistryClient(url: "http://alice:s3cret@127.0.0.1:\(port)")
        await #expect {
            try await client.ping()
        } throws: { error in
            let text = (error as? UserFacingError)?.userMessage ?? ""
            return text.contains("http://127.0.0.1:\(port)") && !text.contains("s3cret")
        }
        #expect(URLText.redactingUserInfo("mongodb://op:p@ss@db:27017/x?a=b") == "mongodb://op:***@db:27017/x?a=b")
        #expect(URLText.removingUserInfo("https://u:p@r.example.org/v2/") == "https://r.example.org/v2/")
        #expect(URLText.redactingUserInfo("http://host/a@b") == "http://host/a@b")
        let tcp = try DockerEndpoint(host: "tcp://admin:hunter2@10.0.0.1:2376", environment: [:])
        #expect(!tcp.description.contains("hunter2"))
    }
}
