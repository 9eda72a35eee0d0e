/// A clean absolute path inside a user's home, as the client sees it (`/` is the home).
///
/// Client paths are normalised lexically against the current directory: `.` is dropped, `..` pops a
/// component and stays at `/` at the top, repeated slashes collapse. The kernel (openat2 with
/// RESOLVE_IN_ROOT) still enforces the jail for symlinks; this only makes names canonical.
public struct VirtualPath: Hashable, Sendable, CustomStringConvertible {
    public let components: [String]

    public static let root = VirtualPath(components: [])

    public init(components: [String]) {
        self.components = components
    }

    /// Resolve `text` (absolute, or relative to `self`). Split at `/` bytes, as the kernel does, not
    /// at `/` characters: a combining mark after a slash makes one Swift Character of both, which a
    /// Character split would keep inside a component (fuzzing found `/\u{343}`).
    public func resolving(_ text: String) -> VirtualPath {
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        var result = text.utf8.first == slash ? [] : components
        for part in text.utf8.split(separator: slash, omittingEmptySubsequences: true) {
            if part.elementsEqual([dot]) { continue }
            if part.elementsEqual([dot, dot]) {
                if !result.isEmpty { result.removeLast() }
                continue
            }
            result.append(String(decoding: part, as: UTF8.self))
        }
        return VirtualPath(components: result)
    }

    public var parent: VirtualPath { VirtualPath(components: Array(components.dropLast())) }
    public var name: String { components.last ?? "/" }
    public var isRoot: Bool { components.isEmpty }

    public func appending(_ name: String) -> VirtualPath { VirtualPath(components: components + [name]) }

    /// `/a/b`, or `/` for the root.
    public var description: String { "/" + components.joined(separator: "/") }

    /// The path relative to the home, for the `*at` calls (`.` for the home itself).
    public var relative: String { components.isEmpty ? "." : components.joined(separator: "/") }
}
