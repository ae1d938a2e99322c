import Foundation
import Testing

@testable import Engine

@Suite("Registry protocol details", .timeLimit(.minutes(3)))
struct RegistryProtocolTests {
    @Test("a bearer challenge gives realm, service and a scope with commas")
    func bearerChallenge() {
        let challenge = AuthChallenge(parsing:
            #"Bearer realm="https://auth.example.org/token",service="registry.example.org",scope="repository:services/meter:pull,push""#)
        #expect(challenge.scheme == "bearer")
        #expect(challenge.parameters == [
            "realm": "https://auth.example.org/token", "service": "registry.example.org",
            "scope": "repository:services/meter:pull,push",
        ])
    }

    @Test("a basic challenge is recognised")
    func basicChallenge() {
        let challenge = AuthChallenge(parsing: #"Basic realm="Registry Realm""#)
        #expect(challenge.scheme == "basic")
        #expect(challenge.parameters["realm"] == "Registry Realm")
    }

    @Test("the next catalog page comes from the Link header", arguments: [
        (#"</v2/_catalog?last=tb%2Fbeta&n=2>; rel="next""#, "/v2/_catalog?last=tb%2Fbeta&n=2"),
        (#"<https://r.example/v2/_catalog?n=5&last=x>; rel="next""#, "https://r.example/v2/_catalog?n=5&last=x"),
        (#"</v2/_catalog?n=2>; rel="prev""#, nil),
    ] as [(String, String?)])
    func linkHeader(header: String, next: String?) {
        #expect(RegistryClient.nextPage(linkHeader: header) == next)
    }

    @Test("registry URLs are normalised; bad ones are refused with the URL in the message")
    func urls() throws {
        #expect(try RegistryClient(url: "127.0.0.1:5000/").baseURL == "http://127.0.0.1:5000")
        #expect(try RegistryClient(url: "https://registry.example.org").host == "registry.example.org")
        #expect(throws: RegistryError.invalidURL("ftp://x")) { try RegistryClient(url: "ftp://x") }
        let message = RegistryError.invalidURL("ftp://x").userMessage
        #expect(message.contains("ftp://x") && message.contains("DEFPI_REGISTRY"))
    }

    @Test("the registry's error body becomes CODE: message")
    func errorMessage() {
        let body = Data(#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#.utf8)
        #expect(RegistryClient.errorMessage(HTTPResponse(status: 404, body: body)) == "MANIFEST_UNKNOWN: manifest unknown")
        #expect(RegistryClient.errorMessage(HTTPResponse(status: 502, body: Data())) == "HTTP 502")
    }
}

@Suite("Version order", .timeLimit(.minutes(3)))
struct VersionOrderTests {
    @Test("tags sort by semantic version, names after versions")
    func ascending() {
        let tags = ["latest", "1.10.0", "1.2", "v1.9.3", "2", "1.10.0-rc.1", "dev", "0.9"]
        #expect(tags.sorted(by: VersionOrder.ascending)
            == ["0.9", "1.2", "v1.9.3", "1.10.0-rc.1", "1.10.0", "2", "dev", "latest"])
        #expect(tags.sorted(by: VersionOrder.newestFirst)
            == ["2", "1.10.0", "1.10.0-rc.1", "v1.9.3", "1.2", "0.9", "dev", "latest"])
    }
}

@Suite("Interface compatibility", .timeLimit(.minutes(3)))
struct InterfaceCompatibilityTests {
    static func version(_ name: String, sends: String, receives: String) -> InterfaceVersion {
        InterfaceVersion(versionName: name, receivesHash: receives, sendsHash: sends)
    }

    static func interface(_ versions: InterfaceVersion...) -> Interface {
        Interface(id: "s/i", name: "i", serviceId: "s", interfaceVersions: versions)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let mine: Interface
        let theirs: Interface
        /// The expected (mine, theirs) version names, nil when incompatible.
        let expected: (String, String)?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "mirrored hashes connect", mine: interface(version("v1", sends: "A", receives: "B")),
             theirs: interface(version("v1", sends: "B", receives: "A")), expected: ("v1", "v1")),
        Case(name: "symmetric interface connects to itself", mine: interface(version("v1", sends: "S", receives: "S")),
             theirs: interface(version("v1", sends: "S", receives: "S")), expected: ("v1", "v1")),
        Case(name: "same direction does not connect", mine: interface(version("v1", sends: "A", receives: "B")),
             theirs: interface(version("v1", sends: "A", receives: "B")), expected: nil),
        Case(name: "one hash matching is not enough", mine: interface(version("v1", sends: "A", receives: "B")),
             theirs: interface(version("v1", sends: "B", receives: "C")), expected: nil),
        Case(name: "any compatible pair makes interfaces compatible",
             mine: interface(version("v1", sends: "A", receives: "B"), version("v2", sends: "C", receives: "D")),
             theirs: interface(version("x", sends: "B", receives: "A")), expected: ("v1", "x")),
        Case(name: "the highest compatible pair is chosen",
             mine: interface(version("1.0", sends: "A", receives: "B"), version("1.10", sends: "C", receives: "D"),
                             version("1.9", sends: "C", receives: "D")),
             theirs: interface(version("2.0", sends: "D", receives: "C"), version("1.0", sends: "B", receives: "A"),
                               version("3.0", sends: "D", receives: "C")),
             expected: ("1.10", "3.0")),
        Case(name: "no versions, no connection", mine: interface(), theirs: interface(), expected: nil),
    ]

    @Test("compatibility and version choice", arguments: cases)
    func compatibility(_ testCase: Case) {
        let chosen = testCase.mine.bestCompatibleVersions(with: testCase.theirs)
        #expect(chosen.map { [$0.mine.versionName, $0.theirs.versionName] } == testCase.expected.map { [$0.0, $0.1] })
        #expect(testCase.mine.isCompatible(with: testCase.theirs) == (testCase.expected != nil))
        #expect(testCase.theirs.isCompatible(with: testCase.mine) == (testCase.expected != nil))
    }
}
