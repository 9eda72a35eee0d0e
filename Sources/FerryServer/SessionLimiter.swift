import FTPCore
import Synchronization

/// Counts open sessions, in total and per client (IPv6 clients per /64: `IPAddress.clientPrefix`),
/// across all loops; refuses past the limits.
public final class SessionLimiter: Sendable {
    private struct Counts {
        var total = 0
        var perAddress: [IPAddress: Int] = [:]
        var maxTotal: Int
        var maxPerAddress: Int
    }

    private let counts: Mutex<Counts>

    public init(maxTotal: Int, maxPerAddress: Int) {
        counts = Mutex(Counts(maxTotal: maxTotal, maxPerAddress: maxPerAddress))
    }

    /// New limits (a reload); sessions already open stay.
    public func setLimits(maxTotal: Int, maxPerAddress: Int) {
        counts.withLock {
            $0.maxTotal = maxTotal
            $0.maxPerAddress = maxPerAddress
        }
    }

    public var maxTotal: Int { counts.withLock { $0.maxTotal } }

    /// Take a slot for `address`, or say why not (the 421 text).
    public func admit(_ address: IPAddress) -> String? {
        counts.withLock { counts in
            if counts.total >= counts.maxTotal { return "Too many sessions (\(counts.maxTotal)); try again later." }
            let mine = counts.perAddress[address.clientPrefix, default: 0]
            if mine >= counts.maxPerAddress { return "Too many sessions from your address (\(counts.maxPerAddress)); try again later." }
            counts.total += 1
            counts.perAddress[address.clientPrefix] = mine + 1
            return nil
        }
    }

    public func release(_ address: IPAddress) {
        counts.withLock { counts in
            counts.total -= 1
            let left = counts.perAddress[address.clientPrefix, default: 1] - 1
            counts.perAddress[address.clientPrefix] = left > 0 ? left : nil
        }
    }

    public var open: Int { counts.withLock { $0.total } }
}
