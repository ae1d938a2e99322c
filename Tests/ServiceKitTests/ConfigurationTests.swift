import Testing

@testable import ServiceKit

@Suite("Service configuration", .timeLimit(.minutes(2)))
struct ConfigurationTests {
    struct MeterConfiguration: ServiceConfiguration, Equatable {
        var interval: Double = 5
        var name = "meter"
        var enabled = true
        var limit: Int = 10
        var phases: [Int] = [1]
        var note: String?
    }

    @Test("keys set properties case-insensitively; missing keys keep their defaults; unknown keys are ignored")
    func defaultsAndCase() throws {
        let decoded = try ConfigurationDecoder.decode(MeterConfiguration.self, from: [
            "INTERVAL": "2.5", "Name": "kitchen", "phases": "1, 2,3", "NOTE": "hello", "unknown": "x",
        ])
        #expect(decoded == MeterConfiguration(interval: 2.5, name: "kitchen", enabled: true, limit: 10, phases: [1, 2, 3],
                                              note: "hello"))
        #expect(try ConfigurationDecoder.decode(MeterConfiguration.self, from: [:]) == MeterConfiguration())
    }

    @Test("booleans in the usual spellings", arguments: [("true", true), ("YES", true), ("1", true), ("off", false), ("no", false)])
    func booleans(text: String, value: Bool) throws {
        #expect(try ConfigurationDecoder.decode(MeterConfiguration.self, from: ["enabled": text]).enabled == value)
    }

    @Test("a bad value is an error naming the key as sent and saying what was wrong", arguments: [
        (["INTERVAL": "soon"], "configuration key INTERVAL: \"soon\" is not a valid Double"),
        (["limit": "12.5"], "configuration key limit: \"12.5\" is not a valid Int"),
        (["Enabled": "maybe"], "configuration key Enabled: \"maybe\" is not true or false"),
        (["phases": "1,x"], "configuration key phases: \"x\" is not a valid Int"),
    ])
    func badValues(map: [String: String], message: String) {
        #expect(throws: ConfigurationError.self) { try ConfigurationDecoder.decode(MeterConfiguration.self, from: map) }
        do {
            _ = try ConfigurationDecoder.decode(MeterConfiguration.self, from: map)
        } catch {
            #expect("\(error)" == message)
        }
    }
}
