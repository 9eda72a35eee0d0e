import FerryReactor
import Glibc
import Synchronization

/// Hands out passive data ports for every loop: drawn at random from the configured range (or from
/// the kernel's ephemeral range without one), never two sessions on the same port at once.
public final class PassivePortAllocator: Sendable {
    private let range: ClosedRange<UInt16>?
    private let inUse = Mutex<Set<UInt16>>([])

    public init(range: ClosedRange<UInt16>?) {
        self.range = range
    }

    /// Bind a listening socket on `local`'s address and a free port (read it with
    /// `SocketAddress.local(of:)`; `release` it when done).
    public func open(on local: SocketAddress) throws(SystemError) -> Descriptor {
        guard let range else {
            var address = local
            address.port = 0
            return try Sockets.listen(on: address, reusePort: false, backlog: 1)
        }
        let attempts = min(range.count, 64)
        for _ in 0..<attempts {
            let port = inUse.withLock { used -> UInt16? in
                guard used.count < range.count else { return nil }
                var candidate = UInt16.random(in: range)
                while used.contains(candidate) { candidate = UInt16.random(in: range) }
                used.insert(candidate)
                return candidate
            }
            guard let port else { break }
            var address = local
            address.port = port
            do throws(SystemError) {
                return try Sockets.listen(on: address, reusePort: false, backlog: 1)
            } catch {
                // Another process holds it: try another.
                release(port)
                if error.code != EADDRINUSE { throw error }
            }
        }
        throw SystemError("passive port range \(range.lowerBound)-\(range.upperBound) exhausted", code: EADDRINUSE)
    }

    public func release(_ port: UInt16) {
        guard range != nil else { return }
        _ = inUse.withLock { $0.remove(port) }
    }
}
