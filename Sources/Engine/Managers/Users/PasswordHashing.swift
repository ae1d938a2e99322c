import Crypto
import Foundation
import HummingbirdBcrypt
import NIOPosix

/// How passwords are stored: bcrypt (cost 12) for every hash defpi writes. Hashes written by the
/// original dEF-Pi orchestrator (one SHA-256 with a constant salt) are still accepted, so a
/// migrated store keeps its users, and replaced by bcrypt on the next successful sign-in.
///
/// A bcrypt hash takes a quarter of a second of CPU by design, so it runs on NIO's thread pool
/// for blocking work, never on a thread of the concurrency pool that other tasks are waiting for.
enum PasswordHashing {
    static let cost: UInt8 = 12

    /// A new bcrypt hash of `password`.
    static func hash(_ password: String) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    /// A bcrypt hash no password is known to match, checked when a username is unknown.
    private static let decoy = Bcrypt.hash(UUID().uuidString, cost: cost)

    /// Whether `password` matches `hash`, bcrypt or the original's; with no hash (an unknown
    /// user) a decoy is checked, so the answer takes as long and is no.
    static func verify(_ password: String, username: String, hash: String?) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive {
            guard let hash else {
                _ = Bcrypt.verify(password, hash: decoy)
                return false
            }
            return matches(password, username: username, hash: hash)
        }
    }

    private static func matches(_ password: String, username: String, hash: String) -> Bool {
        if isBcrypt(hash) { return Bcrypt.verify(password, hash: hash) }
        let legacy = originalHash(password, username: username)
        return legacy.utf8.count == hash.utf8.count && zip(legacy.utf8, hash.utf8).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// Whether `hash` should be replaced by a bcrypt hash at the next sign-in.
    static func needsUpgrade(_ hash: String) -> Bool { !isBcrypt(hash) }

    private static func isBcrypt(_ hash: String) -> Bool { hash.hasPrefix("$2") }

    /// The original's salt, compiled into its `User` class.
    private static let originalSalt = #"$salt@"[3.c*%t<RBYA?,N"2%[})X"#

    /// The original's hash: SHA-256 of password + username + salt, as a lower-case hex number
    /// without leading zeros (it went through a Java BigInteger).
    static func originalHash(_ password: String, username: String) -> String {
        let digest = SHA256.hash(data: Data((password + username + originalSalt).utf8))
        let hex = digest.map { String(format: "%02x", $0) }.joined()
        let trimmed = hex.drop { $0 == "0" }
        return trimmed.isEmpty ? "0" : String(trimmed)
    }
}
