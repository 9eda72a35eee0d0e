#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The one owner of an open file's descriptor: it is closed exactly once, by `close()` (which
/// reports the error: a write-back failure of an upload may surface only there, and a 226 must wait
/// for it) or, if no one closed it, when its last reference goes. Whoever ends a transfer calls
/// `close()`; no other code closes the number, so no path can close it twice or leave it open.
public final class FileDescriptor: Sendable {
    /// The number for system calls, valid while the descriptor is open.
    public let rawValue: Int32
    private let isOpen = Atomic(true)
    private let closeCall: @Sendable (Int32) -> Int32

    /// Take ownership of `rawValue`; `close` is the call that closes it (the in-memory test file
    /// system records instead of closing).
    public init(_ rawValue: Int32, close: @escaping @Sendable (Int32) -> Int32 = { Glibc.close($0) }) {
        self.rawValue = rawValue
        closeCall = close
    }

    /// Close now, the first time only; nil when it closed cleanly (or was already closed).
    @discardableResult
    public func close() -> FileSystemError? {
        guard isOpen.exchange(false, ordering: .acquiringAndReleasing) else { return nil }
        return closeCall(rawValue) == 0 ? nil : FileSystemError(errno)
    }

    deinit { close() }
}
