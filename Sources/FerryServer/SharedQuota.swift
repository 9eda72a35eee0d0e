import FerryReactor
import Synchronization

/// Where the nodes of a cluster keep each user's quota usage (`ClusterRegistry`, in PostgreSQL).
/// Every call blocks on the network: worker threads only.
protocol QuotaLedger: Sendable {
    /// Add up to `count` bytes to `user`'s usage without passing `limit`, in one atomic step:
    /// what was added (0 when the quota is used up).
    func reserve(user: String, count: UInt64, limit: UInt64) throws(PostgresError) -> UInt64
    /// Add `delta` to `user`'s usage (negative: bytes given back); the sum stays at or above 0.
    func adjust(user: String, by delta: Int64) throws(PostgresError)
}

/// A user's quota shared by the nodes of a cluster. The count lives in the ledger; a node takes room
/// from it in blocks of up to `block` bytes (one atomic UPDATE each, never two nodes past the limit
/// together) and hands uploads their bytes from that local reserve, so the database sees one round
/// trip per block, not one per read. Deletes and unused room go back to the reserve, and `flush`
/// (each second) returns the reserve to the ledger with what settled uploads owe, so the other nodes
/// see freed space within about a second. A node that dies holds at most one block of each of its
/// users' quotas until the next session of that user that finds no other measures the home again.
/// A "full" answer is believed for a second (the time other nodes take to give back freed room), so
/// a user at the limit cannot make each STOR cost a locked-row UPDATE on the database all nodes share.
final class SharedQuota: Quota {
    /// Room a refill asks for. At 1 GiB/s an upload refills about 60 times a second.
    static let block: UInt64 = 16 << 20
    /// How long the ledger's "full" stands without asking again.
    static let fullNanoseconds: UInt64 = 1_000_000_000

    let limit: UInt64
    let user: String
    private let ledger: any QuotaLedger
    private let clock: MonotonicClock

    private struct Counts {
        /// Taken from the ledger and not handed to an upload yet.
        var reserve: UInt64 = 0
        /// Uploads grew their files past what they took: the ledger is owed this.
        var owed: UInt64 = 0
        /// A refill happened since the last flush: an upload is running, keep a block for it.
        var busy = false
        /// The ledger said full; until this time (monotonic nanoseconds) refills answer full at once.
        var fullUntil: UInt64 = 0
    }
    private let counts = Mutex(Counts())

    init(user: String, limit: UInt64, ledger: any QuotaLedger, clock: MonotonicClock = .system) {
        self.user = user
        self.limit = limit
        self.ledger = ledger
        self.clock = clock
    }

    func take(_ wanted: Int) -> QuotaRoom {
        counts.withLock { counts in
            let taken = min(UInt64(max(wanted, 0)), counts.reserve)
            guard taken > 0 else { return .refill }
            counts.reserve -= taken
            return .bytes(Int(taken))
        }
    }

    func refill(_ wanted: Int) -> QuotaRefill {
        if clock.nanoseconds < counts.withLock({ $0.fullUntil }) { return .full }
        do throws(PostgresError) {
            let granted = try ledger.reserve(user: user, count: max(UInt64(max(wanted, 0)), SharedQuota.block), limit: limit)
            guard granted > 0 else {
                let until = clock.nanoseconds + SharedQuota.fullNanoseconds
                counts.withLock { $0.fullUntil = until }
                return .full
            }
            counts.withLock { counts in
                counts.reserve = counts.reserve.saturatingAdd(granted)
                counts.busy = true
            }
            return .granted
        } catch {
            return .unavailable(error.description)
        }
    }

    func release(_ count: UInt64) {
        counts.withLock { $0.reserve = $0.reserve.saturatingAdd(count) }
    }

    func settle(charged: UInt64, grown: UInt64) {
        counts.withLock { counts in
            if grown >= charged {
                counts.owed = counts.owed.saturatingAdd(grown - charged)
            } else {
                counts.reserve = counts.reserve.saturatingAdd(charged - grown)
            }
        }
    }

    /// Square up with the ledger: pay what is owed and give back the reserve (all of it with
    /// `keepNothing` or when no upload refilled since the last flush, else all but a block). Blocks
    /// on the network; on failure nothing is lost, the next flush tries again.
    func flush(keepNothing: Bool = false) throws(PostgresError) {
        let (returned, owed) = counts.withLock { counts -> (UInt64, UInt64) in
            let keep = counts.busy && !keepNothing ? min(counts.reserve, SharedQuota.block) : 0
            let result = (counts.reserve - keep, counts.owed)
            counts.reserve = keep
            counts.owed = 0
            counts.busy = false
            return result
        }
        guard returned != owed else { return }
        let delta = owed >= returned ? Int64(clamping: owed - returned) : -Int64(clamping: returned - owed)
        do throws(PostgresError) {
            try ledger.adjust(user: user, by: delta)
        } catch {
            counts.withLock { counts in
                counts.reserve = counts.reserve.saturatingAdd(returned)
                counts.owed = counts.owed.saturatingAdd(owed)
            }
            throw error
        }
    }
}
