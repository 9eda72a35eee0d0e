import Glibc

/// The one owner of a socket, pipe or directory descriptor: moved, never copied (the compiler checks
/// it), closed exactly once, by `close()` (which reports the error) or when its owner drops it. Code
/// that needs the number borrows `rawValue`; code that hands it to a C owner (a bufferevent or
/// listener that closes on free) calls `release()`. Open files travel inside the session's effects
/// (copyable values), so they have a reference-type owner of their own, FTPCore's `FileDescriptor`.
public struct Descriptor: ~Copyable, Sendable {
    public let rawValue: Int32

    /// Own `rawValue` from now on (a fresh descriptor from a system call).
    public init(taking rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// Give the number to an owner outside Swift, which closes it.
    public consuming func release() -> Int32 {
        let rawValue = rawValue
        discard self
        return rawValue
    }

    /// Close now; the error, if the kernel reported one.
    @discardableResult
    public consuming func close() -> SystemError? {
        let rawValue = rawValue
        discard self
        return Glibc.close(rawValue) == 0 ? nil : SystemError("close")
    }

    deinit { Glibc.close(rawValue) }
}
