import DefpiTesting
import Engine
import Foundation
import Testing

@Suite("Store location and configuration", .timeLimit(.minutes(3)))
struct StoreLocationTests {
    @Test("locations parse from paths and URIs", arguments: [
        ("/var/lib/defpi/state.sqlite", StoreLocation.sqlite(path: "/var/lib/defpi/state.sqlite")),
        ("sqlite:///var/lib/defpi/state.sqlite", .sqlite(path: "/var/lib/defpi/state.sqlite")),
        ("sqlite:state.sqlite", .sqlite(path: "state.sqlite")),
        ("mongodb://db:27017/def-pi", .mongo(uri: "mongodb://db:27017/def-pi")),
        ("mongodb+srv://cluster.example.org/def-pi", .mongo(uri: "mongodb+srv://cluster.example.org/def-pi")),
    ])
    func parsing(text: String, expected: StoreLocation) throws {
        #expect(try StoreLocation(parsing: text) == expected)
    }

    @Test("passwords never show in a printed location")
    func redaction() {
        #expect(MongoURI.redacted("mongodb://admin:hunter2@db:27017/x") == "mongodb://admin:***@db:27017/x")
        #expect(MongoURI.redacted("mongodb://db:27017/x") == "mongodb://db:27017/x")
        #expect(MongoURI.redacted("mongodb://admin@db/x") == "mongodb://admin@db/x")
        #expect(StoreLocation.mongo(uri: "mongodb://a:b@h/d").description == "mongodb://a:***@h/d")
    }

    @Test("the default store is under the XDG data directory")
    func defaultLocation() {
        #expect(StoreLocation.defaultLocation(environment: ["XDG_DATA_HOME": "/data", "HOME": "/home/op"])
                == .sqlite(path: "/data/defpi/defpi.sqlite"))
        #expect(StoreLocation.defaultLocation(environment: ["HOME": "/home/op"])
                == .sqlite(path: "/home/op/.local/share/defpi/defpi.sqlite"))
    }

    @Test("flag, then DEFPI_STORE, then the config file, then the default")
    func precedence() throws {
        let directory = TemporaryDirectory.make().path
        let config = directory + "/config.yaml"
        try "store: mongodb://config-host/def-pi\n".write(toFile: config, atomically: true, encoding: .utf8)
        var environment = ["HOME": directory, "DEFPI_CONFIG": config, "DEFPI_STORE": "/env.sqlite"]
        #expect(try StoreSelection.resolve(flag: "/flag.sqlite", environment: environment) == .sqlite(path: "/flag.sqlite"))
        #expect(try StoreSelection.resolve(flag: nil, environment: environment) == .sqlite(path: "/env.sqlite"))
        environment["DEFPI_STORE"] = nil
        #expect(try StoreSelection.resolve(flag: nil, environment: environment) == .mongo(uri: "mongodb://config-host/def-pi"))
        environment["DEFPI_CONFIG"] = directory + "/absent.yaml"
        #expect(try StoreSelection.resolve(flag: nil, environment: environment)
                == .sqlite(path: directory + "/.local/share/defpi/defpi.sqlite"))
    }

    @Test("a malformed config file is reported with its path")
    func malformedConfig() throws {
        let config = TemporaryDirectory.make().path + "/config.yaml"
        try "store: [unclosed\n".write(toFile: config, atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError.self) {
            try StoreSelection.resolve(flag: nil, environment: ["DEFPI_CONFIG": config])
        }
    }

    @Test("store fields accept only plain dotted keys", arguments: [
        ("userId", true), ("endpoint1.processId", true), ("a_b.c2", true),
        ("", false), ("a..b", false), ("name'); DROP TABLE x; --", false), ("$where", false), ("a b", false),
    ])
    func fieldValidation(path: String, valid: Bool) {
        #expect((StoreField(validating: path) != nil) == valid)
    }
}

@Suite("Registry and Docker settings", .timeLimit(.minutes(3)))
struct RegistrySettingsTests {
    @Test("each registry setting comes from its flag, else the environment, else the config file, else the default")
    func precedence() throws {
        let directory = TemporaryDirectory.make().path
        try """
            dockerHost: tcp://manager.example.org:2376
            registry:
              url: https://file.example.org
              username: file-user
              password: file-pw
              prefix: file-prefix
            """.write(toFile: directory + "/config.yaml", atomically: true, encoding: .utf8)
        let file = ["DEFPI_CONFIG": directory + "/config.yaml"]
        #expect(try RegistrySettings.resolve(environment: [:]) == RegistrySettings())
        #expect(try RegistrySettings.resolve(environment: file) == RegistrySettings(
            url: "https://file.example.org", credentials: RegistryCredentials(username: "file-user", password: "file-pw"),
            prefix: "file-prefix"))
        let environment = file.merging([
            "DEFPI_REGISTRY": "http://env:5000", "DEFPI_REGISTRY_USERNAME": "env-user", "DEFPI_REGISTRY_PREFIX": "env",
        ]) { $1 }
        #expect(try RegistrySettings.resolve(environment: environment) == RegistrySettings(
            url: "http://env:5000", credentials: RegistryCredentials(username: "env-user", password: "file-pw"),
            prefix: "env"))
        #expect(try RegistrySettings.resolve(url: "http://flag:1", prefix: "flag", environment: environment) == RegistrySettings(
            url: "http://flag:1", credentials: RegistryCredentials(username: "env-user", password: "file-pw"), prefix: "flag"))

        #expect(try DockerSelection.resolve(environment: file).baseURL == "http://manager.example.org:2376")
        #expect(try DockerSelection.resolve(environment: file.merging(["DOCKER_HOST": "unix:///d.sock"]) { $1 })
            .unixSocketPath == "/d.sock")
    }
}
