import Foundation
import Testing

@testable import Engine

@Suite("Docker endpoint", .timeLimit(.minutes(3)))
struct DockerEndpointTests {
    @Test("DOCKER_HOST forms")
    func hosts() throws {
        #expect(try DockerEndpoint(environment: [:]).unixSocketPath == "/var/run/docker.sock")
        let socket = try DockerEndpoint(environment: ["DOCKER_HOST": "unix:///tmp/d.sock"])
        #expect(socket.unixSocketPath == "/tmp/d.sock" && socket.baseURL == "http://localhost")
        #expect(socket.description == "unix:///tmp/d.sock")
        let plain = try DockerEndpoint(environment: ["DOCKER_HOST": "tcp://10.0.0.1"])
        #expect(plain.baseURL == "http://10.0.0.1:2375" && plain.tls == nil)
        let tls = try DockerEndpoint(environment: [
            "DOCKER_HOST": "tcp://10.0.0.1:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "/certs",
        ])
        #expect(tls.baseURL == "https://10.0.0.1:2376")
        #expect(tls.tls == TLSFiles(caFile: "/certs/ca.pem", certificateFile: "/certs/cert.pem",
                                    keyFile: "/certs/key.pem", verifyPeer: true))
        #expect(tls.description == "tcp://10.0.0.1:2376")
    }

    @Test("a DOCKER_HOST defpi cannot use is refused with the forms it takes", arguments: [
        "ssh://user@host", "unix://relative.sock", "tcp://", "10.0.0.1:2375",
    ])
    func invalid(host: String) {
        #expect(throws: DockerError.invalidHost(host)) { try DockerEndpoint(environment: ["DOCKER_HOST": host]) }
        #expect(DockerError.invalidHost(host).userMessage.contains("unix:///path/to/docker.sock"))
    }

    @Test("filters are JSON, percent-encoded; API versions compare numerically")
    func plumbing() {
        #expect(DockerClient.filters(["name": ["a b"]]) == "%7B%22name%22%3A%5B%22a%20b%22%5D%7D")
        #expect(DockerClient.compare("1.41", "1.9") == 1)
        #expect(DockerClient.compare("1.41", "1.41.0") == 0)
        #expect(DockerClient.compare("1.24", "1.41") == -1)
    }
}
