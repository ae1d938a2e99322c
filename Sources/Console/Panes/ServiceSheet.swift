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
        let partners = catalog.compatiblePartners(of: current)
        if partners.isEmpty {
            sheet.line(("  no interface in the catalog is compatible with these", CellStyle(.dim)))
        } else {
            sheet.table(["INTERFACE", "CONNECTS TO", "OF SERVICE", "IN VERSIONS", "USING"], partners.map { partner in
                [(partner.interface, .plain), (partner.partnerInterface, CellStyle(.ok)), (partner.service, .plain),
                 (partner.serviceVersions.joined(separator: ", "), .plain),
                 ("\(partner.interfaceVersion) ↔ \(partner.partnerInterfaceVersion)", CellStyle(.dim))]
            })
        }
        return sheet.render()
    }
}
