import FTPCore
import Synchronization

/// Counts open sessions, in total and per client address, across all loops; refuses past the limits.
public final class SessionLimiter: Sendable {
    private struct Counts {
        var total = 0
        var perAddress: [IPAddress: Int] = [:]
    }

    public let maxTotal: Int
    public let maxPerAddress: Int
    private let counts = Mutex(Counts())

    public init(maxTotal: Int, maxPerAddress: Int) {
        self.maxTotal = maxTotal
        self.maxPerAddress = maxPerAddress
    }

    /// Take a slot for `address`, or say why not (the 421 text).
    public func admit(_ address: IPAddress) -> String? {
        counts.withLock { counts in
            if counts.total >= maxTotal { return "Too many sessions (\(maxTotal)); try again later." }
            let mine = counts.perAddress[address, default: 0]
            if mine >= maxPerAddress { return "Too many sessions from your address (\(maxPerAddress)); try again later." }
            counts.total += 1
            counts.perAddress[address] = mine + 1
            return nil
        }
    }

    public func release(_ address: IPAddress) {
        counts.withLock { counts in
            counts.total -= 1
            let left = counts.perAddress[address, default: 1] - 1
            counts.perAddress[address] = left > 0 ? left : nil
        }
    }

    public var open: Int { counts.withLock { $0.total } }
}
