import Foundation

/// Writes a POSIX ustar archive in memory: the layer format of an image.
///
/// Hand-written because no tar library is available to the package; it writes only what an
/// image layer needs (directories and regular files, fixed owner and time, so the same inputs
/// always give the same bytes and therefore the same digest).
public struct TarWriter {
    public private(set) var data = Data()
    private var directories: Set<String> = []

    public init() {}

    /// Adds a directory (and its missing parents). `path` is absolute inside the image.
    public mutating func addDirectory(_ path: String, mode: Int = 0o755) throws {
        let relative = Self.relative(path)
        guard !relative.isEmpty, !directories.contains(relative) else { return }
        let parent = (relative as NSString).deletingLastPathComponent
        if !parent.isEmpty { try addDirectory("/" + parent) }
        directories.insert(relative)
        try appendHeader(name: relative + "/", size: 0, mode: mode, type: "5")
    }

    /// Adds a regular file with `contents` at `path`, creating parent directories.
    public mutating func addFile(_ path: String, contents: Data, mode: Int = 0o755) throws {
        let relative = Self.relative(path)
        let parent = (relative as NSString).deletingLastPathComponent
        if !parent.isEmpty { try addDirectory("/" + parent) }
        try appendHeader(name: relative, size: contents.count, mode: mode, type: "0")
        data.append(contents)
        data.append(Data(count: Self.padding(contents.count)))
    }

    /// Ends the archive (two zero blocks) and returns it.
    public mutating func finish() -> Data {
        data.append(Data(count: 1024))
        return data
    }

    private static func relative(_ path: String) -> String {
        path.split(separator: "/").joined(separator: "/")
    }

    private static func padding(_ size: Int) -> Int { (512 - size % 512) % 512 }

    private mutating func appendHeader(name: String, size: Int, mode: Int, type: Character) throws {
        var header = [UInt8](repeating: 0, count: 512)
        let (prefix, short) = try Self.split(name)
        func put(_ text: String, at offset: Int, width: Int) {
            for (index, byte) in text.utf8.prefix(width).enumerated() { header[offset + index] = byte }
        }
        func octal(_ value: Int, at offset: Int, width: Int) {
            put(String(value, radix: 8).leftPadded(to: width - 1), at: offset, width: width - 1)
        }
        put(short, at: 0, width: 100)
        octal(mode, at: 100, width: 8)
        octal(0, at: 108, width: 8)  // uid
        octal(0, at: 116, width: 8)  // gid
        octal(size, at: 124, width: 12)
        octal(0, at: 136, width: 12)  // mtime: fixed, for reproducible layers
        put("        ", at: 148, width: 8)  // checksum placeholder
        header[156] = UInt8(ascii: type.unicodeScalars.first!)
        put("ustar", at: 257, width: 6)
        put("00", at: 263, width: 2)
        put("root", at: 265, width: 32)
        put("root", at: 297, width: 32)
        put(prefix, at: 345, width: 155)
        let checksum = header.reduce(0) { $0 + Int($1) }
        put(String(checksum, radix: 8).leftPadded(to: 6), at: 148, width: 6)
        header[154] = 0
        header[155] = UInt8(ascii: " ")
        data.append(contentsOf: header)
    }

    /// Splits a long name into ustar's prefix (155) and name (100) fields at a slash.
    private static func split(_ name: String) throws -> (prefix: String, name: String) {
        if name.utf8.count <= 100 { return ("", name) }
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        for cut in 1..<parts.count {
            let prefix = parts[..<cut].joined(separator: "/")
            let rest = parts[cut...].joined(separator: "/")
            if prefix.utf8.count <= 155, rest.utf8.count <= 100 { return (prefix, rest) }
        }
        throw PublishError.pathTooLong(name)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
