import FerryReactor
import Synchronization

/// Per-user state shared by all of a user's sessions on every loop: how many are open (for the
/// user's max-sessions), the user's bandwidth buckets (one cap across all their transfers) and their
/// quota.
public final class UserRegistry: Sendable {
    private struct Entry {
        var sessions = 0
        var download: TokenBucket?
        var upload: TokenBucket?
        var quota: (any Quota)?
    }

    /// What a login gets: its share of the user's caps.
    public struct Admission: Sendable {
        public let download: TokenBucket?
        public let upload: TokenBucket?
        let quota: (any Quota)?
    }

    private let entries = Mutex<[String: Entry]>([:])
    /// Shared quotas no session here uses any more: their room goes back to the cluster at the next
    /// `squareSharedQuotas`.
    private let retired = Mutex<[SharedQuota]>([])

    private let clock: MonotonicClock

    /// `clock` paces the users' shared bandwidth caps.
    public init(clock: MonotonicClock = .system) {
        self.clock = clock
    }

    /// The user's quota if a session already measured their home (with the same limit).
    func quota(for name: String, limit: UInt64) -> (any Quota)? {
        entries.withLock { $0[name]?.quota.flatMap { $0.limit == limit ? $0 : nil } }
    }

    /// Count a session for `name`, or nil when the user is at `limits.maxSessions`. `measured` is the
    /// quota to use when none is shared yet.
    func enter(_ name: String, limits: UserLimits, measured: (any Quota)?) -> Admission? {
        entries.withLock { entries in
            var entry = entries[name] ?? Entry()
            if let max = limits.maxSessions, entry.sessions >= max { return nil }
            entry.sessions += 1
            entry.download = bucket(entry.download, rate: limits.downloadRate)
            entry.upload = bucket(entry.upload, rate: limits.uploadRate)
            if limits.quota == nil || entry.quota?.limit != limits.quota {
                retire(entry.quota)
                entry.quota = limits.quota == nil ? nil : measured
            }
            entries[name] = entry
            return Admission(download: entry.download, upload: entry.upload, quota: entry.quota)
        }
    }

    public func leave(_ name: String) {
        entries.withLock { entries in
            guard var entry = entries[name] else { return }
            entry.sessions -= 1
            if entry.sessions == 0 { retire(entry.quota) }
            entries[name] = entry.sessions > 0 ? entry : nil
        }
    }

    private func retire(_ quota: (any Quota)?) {
        if let shared = quota as? SharedQuota { retired.withLock { $0.append(shared) } }
    }

    /// Square every shared quota with the cluster (each second, on a worker thread): the users'
    /// here keep a block while they upload, retired ones (and, `finally`, all) give back everything.
    /// One that cannot reach the database is tried again next time. Blocks on the network.
    func squareSharedQuotas(finally: Bool = false) throws(PostgresError) {
        let live = entries.withLock { $0.values.compactMap { $0.quota as? SharedQuota } }
        let done = retired.withLock { retired in
            defer { retired.removeAll() }
            return retired
        }
        var failure: PostgresError?
        for quota in live {
            do throws(PostgresError) { try quota.flush(keepNothing: finally) } catch { failure = error }
        }
        for quota in done {
            do throws(PostgresError) {
                try quota.flush(keepNothing: true)
            } catch {
                failure = error
                retired.withLock { $0.append(quota) }
            }
        }
        if let failure { throw failure }
    }

    /// Keep the shared bucket while the rate is unchanged (a reload may change it).
    private func bucket(_ existing: TokenBucket?, rate: Int?) -> TokenBucket? {
        guard let rate else { return nil }
        if let existing, existing.bytesPerSecond == rate { return existing }
        return TokenBucket(bytesPerSecond: rate, clock: clock)
    }
}
