import Synchronization

/// The process's file descriptors as a budget shared by every loop, so Ferry refuses work with a
/// clear FTP reply before the kernel would refuse a descriptor (never EMFILE mid-transfer).
/// A session holds one (its control connection); each open home holds one, shared by the sessions
/// in it (`HomeDirectories`); a data transfer reserves five more (passive listener or outgoing
/// socket, data socket, file, and an upload's splice pipe) from PASV/PORT or its start until it ends. Idle sessions stay cheap
/// and transfers never find the cupboard bare.
public final class DescriptorBudget: Sendable {
    public static let perSession = 1
    public static let perTransfer = 5
    /// Descriptors kept back for listeners, logs, libevent and libdispatch.
    public static let reserve = 64

    public let capacity: Int
    private let used = Mutex(0)

    public init(limit: Int) {
        capacity = max(DescriptorBudget.perSession + DescriptorBudget.perTransfer, limit - DescriptorBudget.reserve)
    }

    /// Take `count` descriptors; false when that would pass the capacity.
    public func acquire(_ count: Int) -> Bool {
        used.withLock { used in
            guard used + count <= capacity else { return false }
            used += count
            return true
        }
    }

    public func release(_ count: Int) {
        used.withLock { $0 -= count }
    }
}
