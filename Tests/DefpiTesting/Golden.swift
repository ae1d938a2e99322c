import Foundation
import Testing

/// Golden-file comparison for rendered screens (after moncho/dry's golden view tests): the
/// expected text lives in `Tests/Golden/<name>.txt`. On a mismatch the actual text is written
/// next to it as `<name>.got` (git-ignored) and the test fails; `DEFPI_UPDATE_GOLDEN=1`
/// rewrites the expected files instead, except under CI (`CI` set), where asking for it fails.
public enum Golden {
    public static var directory: String { TestBed.repositoryRoot + "/Tests/Golden" }

    public static func check(_ actual: String, named name: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let path = directory + "/" + name + ".txt"
        let got = directory + "/" + name + ".got"
        let environment = ProcessInfo.processInfo.environment
        if environment["DEFPI_UPDATE_GOLDEN"] == "1", !(environment["CI"] ?? "").isEmpty {
            Issue.record("DEFPI_UPDATE_GOLDEN=1 is refused under CI: golden files are compared there, never rewritten",
                         sourceLocation: sourceLocation)
        } else if environment["DEFPI_UPDATE_GOLDEN"] == "1" {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try? (actual + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            try? FileManager.default.removeItem(atPath: got)
            return
        }
        guard let expected = try? String(contentsOfFile: path, encoding: .utf8) else {
            try? (actual + "\n").write(toFile: got, atomically: true, encoding: .utf8)
            Issue.record("no golden file \(path); wrote \(got) (run with DEFPI_UPDATE_GOLDEN=1 to accept)",
                         sourceLocation: sourceLocation)
            return
        }
        if expected != actual + "\n" {
            try? (actual + "\n").write(toFile: got, atomically: true, encoding: .utf8)
            Issue.record("\(name) differs from \(path); see \(got) (DEFPI_UPDATE_GOLDEN=1 accepts it)",
                         sourceLocation: sourceLocation)
        } else {
            try? FileManager.default.removeItem(atPath: got)
        }
    }
}
