/// One interface of a service in the catalog (in one or more of its versions) that an interface
/// of another service can be connected to: what connections are made from.
public struct CompatiblePartner: Sendable, Equatable {
    /// The interface of the service asked about.
    public var interface: String
    /// The partner service and its interface.
    public var service: String
    public var partnerInterface: String
    /// The partner's versions that have the compatible interface, newest first.
    public var serviceVersions: [String]
    /// The interface versions defpi would connect with, for the newest pair.
    public var interfaceVersion: String
    public var partnerInterfaceVersion: String
}

extension ServiceCatalog {
    /// Every interface in the catalog, in any service (this one included), whose sends and
    /// receives hashes match an interface of `service`: per interface of `service`, partners in
    /// catalog order.
    public func compatiblePartners(of service: Service) -> [CompatiblePartner] {
        var partners: [CompatiblePartner] = []
        for interface in service.interfaces {
            for entry in entries {
                var byInterface: [String: CompatiblePartner] = [:]
                var order: [String] = []
                for version in entry.versions {
                    for other in version.interfaces {
                        guard let pair = interface.bestCompatibleVersions(with: other) else { continue }
                        if byInterface[other.id] == nil {
                            order.append(other.id)
                            byInterface[other.id] = CompatiblePartner(
                                interface: interface.name, service: entry.id, partnerInterface: other.name, serviceVersions: [],
                                interfaceVersion: pair.mine.versionName, partnerInterfaceVersion: pair.theirs.versionName)
                        }
                        byInterface[other.id]!.serviceVersions.append(version.version)
                    }
                }
                partners.append(contentsOf: order.compactMap { byInterface[$0] })
            }
        }
        return partners
    }
}
