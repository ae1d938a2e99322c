import Engine
import Foundation

/// How each resource of the API is shown and filtered.
enum ResourceShapes {
    static let user = ResourceShape(equal: ["username", "email", "admin"])
    static let node = ResourceShape(equal: ["hostname", "dockerId", "status", "architecture", "availability", "role", "kind",
                                            "nodePoolId", "userId"])
    static let pool = ResourceShape()
    static let service = ResourceShape(equal: ["version", "repository"])
    static let interface = ResourceShape(equal: ["serviceId", "allowMultiple", "autoConnect"],
                                         custom: ["hashpair": interfaceHasHashPair])
    static let process = ResourceShape(equal: ["userId", "serviceId", "serviceVersion", "state", "nodePoolId", "privateNodeId",
                                               "publicNodeId", "runningNodeId"])
    static let connection = ResourceShape(equal: ["userId", "state"], custom: ["processId": connectionTouches])
    static let change = ResourceShape(equal: ["type", "state", "userId", "resource"])
    static let candidate = ResourceShape(equal: ["processId", "process", "interfaceId", "fit"])

    /// `hashpair` = `SENDS;RECEIVES`: an interface with a version of exactly those hashes.
    static let interfaceHasHashPair: ResourceShape.Match = { value in
        let pair = try HashPair(ResourceShape.text(value))
        return { item, _ in pair.matches(item["interfaceVersions"]) }
    }

    /// `processId`: a connection with an end at that process.
    static let connectionTouches: ResourceShape.Match = { value in
        let wanted = ResourceShape.text(value)
        return { item, _ in
            ["endpoint1", "endpoint2"].contains { ((item[$0] as? [String: Any])?["processId"]).map(ResourceShape.text) == wanted }
        }
    }
}

/// The original's `hashpair` filter value, `SENDS;RECEIVES`.
struct HashPair {
    var sends: String
    var receives: String

    init(_ text: String) throws {
        let parts = text.split(separator: ";", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw APIError(.invalidRequest, message: "hashpair is SENDS_HASH;RECEIVES_HASH, not \(text)") }
        (sends, receives) = (String(parts[0]), String(parts[1]))
    }

    /// Whether one of `versions` has exactly these hashes.
    func matches(_ versions: [InterfaceVersion]) -> Bool {
        versions.contains { $0.sendsHash == sends && $0.receivesHash == receives }
    }

    /// Whether a JSON list of interface versions has one with exactly these hashes.
    func matches(_ versions: Any?) -> Bool {
        ((versions as? [[String: Any]]) ?? []).contains {
            ($0["sendsHash"] as? String) == sends && ($0["receivesHash"] as? String) == receives
        }
    }
}
