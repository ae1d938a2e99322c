import ArgumentParser
import Engine
import Foundation

/// Runs a command body; a user-facing error becomes one line on stderr and exit status 1.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as UserFacingError {
        FileHandle.standardError.write(Data("defpi: \(error.userMessage)\n".utf8))
        throw ExitCode.failure
    }
}
