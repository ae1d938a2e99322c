import Foundation
import Testing

/// Golden-file comparison for rendered screens (after moncho/dry's golden view tests): the
/// expected text lives in `Tests/Golden/<name>.txt`. On a mismatch the actual text is written
/// next to it as `<name>.got` (git-ignored) and the test fails; `DEFPI_UPDATE_GOLDEN=1`
/// rewrites the expected files instead, and fails the test for each file it changed (review the
/// diff, run again), except under CI (`CI` set), where asking for it fails. A golden file was
/// produced by the code under test, so each check also names what the screen must show
/// (`shows`: rows, the selected item, the dialog's question), whatever the file says.
public enum Golden {
    public static var directory: String { TestBed.repositoryRoot + "/Tests/Golden" }

    public static func check(_ actual: String, named name: String, shows expected: [String],
                             sourceLocation: SourceLocation = #_sourceLocation) {
        for fragment in expected where !actual.contains(fragment) {
            Issue.record("\(name) does not show \(fragment.debugDescription):\n\(actual)", sourceLocation: sourceLocation)
        }
        let path = directory + "/" + name + ".txt"
        let got = directory + "/" + name + ".got"
        let environment = ProcessInfo.processInfo.environment
        if environment["DEFPI_UPDATE_GOLDEN"] == "1", !(environment["CI"] ?? "").isEmpty {
            Issue.record("DEFPI_UPDATE_GOLDEN=1 is refused under CI: golden files are compared there, never rewritten",
                         sourceLocation: sourceLocation)
        } else if environment["DEFPI_UPDATE_GOLDEN"] == "1" {
            guard (try? String(contentsOfFile: path, encoding: .utf8)) != actual + "\n" else { return }
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try? (actual + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            try? FileManager.default.removeItem(atPath: got)
            Issue.record("rewrote \(path): review the difference (git diff) and run the tests again without DEFPI_UPDATE_GOLDEN",
                         sourceLocation: sourceLocation)
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
