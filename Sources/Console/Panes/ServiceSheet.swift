import Engine
import Foundation

/// The page a service opens to: its versions, each version's interfaces (hashes, cardinality,
/// auto-connect), and which interfaces of the catalog its newest version can connect to.
enum ServiceSheet {
    static func render(_ entry: ServiceCatalog.Entry, catalog: ServiceCatalog) -> CellGrid {
        var sheet = TextSheet()
        let current = entry.current
        sheet.line((current?.name ?? entry.id, CellStyle(.header, bold: true)), ("  \(entry.id)", CellStyle(.dim)))
        if let current, let image = current.architectures.first.flatMap(current.image(for:)) {
            sheet.line(("image ", CellStyle(.dim)), (image, .plain))
        }

        sheet.heading("Versions (newest first)")
        sheet.table(["VERSION", "ARCH", "CREATED", "INTERFACES", "PROBLEM"], entry.versions.map { version in
            [(version.version, CellStyle(version.version == current?.version ? .ok : .text)),
             (version.architectures.map { $0.rawValue.lowercased() }.joined(separator: ", "), .plain),
             (version.created.map { $0.formatted(.iso8601) } ?? "-", .plain),
             ("\(version.interfaces.count)", .plain),
             (version.problem ?? "-", CellStyle(version.problem == nil ? .text : .warning))]
        })

        for version in entry.versions where !version.interfaces.isEmpty {
            sheet.heading("Interfaces of \(version.version)")
            sheet.table(["NAME", "ID", "VERSION", "SENDS", "RECEIVES", "MULTIPLE", "AUTO-CONNECT"],
                        version.interfaces.flatMap { interface in
                            interface.interfaceVersions.map { interfaceVersion in
                                [(interface.name, .plain), (interface.id, CellStyle(.dim)),
                                 (interfaceVersion.versionName, .plain),
                                 (String(interfaceVersion.sendsHash.prefix(12)), .plain),
                                 (String(interfaceVersion.receivesHash.prefix(12)), .plain),
                                 (interface.allowMultiple ? "yes" : "no", .plain),
                                 (interface.autoConnect ? "yes" : "no", .plain)]
                            }
                        })
        }

        guard let current, !current.interfaces.isEmpty else { return sheet.render() }
        sheet.heading("Compatible interfaces of \(current.version) (every service in the catalog)")
        let partners = compatiblePartners(of: current, in: catalog)
        if partners.isEmpty {
            sheet.line(("  no interface in the catalog is compatible with these", CellStyle(.dim)))
        } else {
            sheet.table(["INTERFACE", "CONNECTS TO", "OF SERVICE", "IN VERSIONS", "USING"], partners.map { partner in
                [(partner.mine, .plain), (partner.theirs, CellStyle(.ok)), (partner.service, .plain),
                 (partner.versions.joined(separator: ", "), .plain), (partner.using, CellStyle(.dim))]
            })
        }
        return sheet.render()
    }

    /// One interface of another service (in one or more of its versions) that an interface of
    /// `service` can be connected to.
    struct Partner: Equatable {
        var mine: String
        var theirs: String
        var service: String
        var versions: [String]
        /// The interface versions defpi would choose, `mine ↔ theirs`, for the newest pair.
        var using: String
    }

    static func compatiblePartners(of service: Service, in catalog: ServiceCatalog) -> [Partner] {
        var partners: [Partner] = []
        for interface in service.interfaces {
            for entry in catalog.entries {
                var byInterface: [String: Partner] = [:]
                var order: [String] = []
                for version in entry.versions {
                    for other in version.interfaces {
                        guard let pair = interface.bestCompatibleVersions(with: other) else { continue }
                        if byInterface[other.id] == nil {
                            order.append(other.id)
                            byInterface[other.id] = Partner(
                                mine: interface.name, theirs: other.name, service: entry.id, versions: [],
                                using: "\(pair.mine.versionName) ↔ \(pair.theirs.versionName)")
                        }
                        byInterface[other.id]!.versions.append(version.version)
                    }
                }
                partners.append(contentsOf: order.compactMap { byInterface[$0] })
            }
        }
        return partners
    }
}
