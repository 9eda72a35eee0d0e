import FerryReactor
import Synchronization

/// Per-user state shared by all of a user's sessions on every loop: how many are open (for the
/// user's max-sessions) and the user's bandwidth buckets (one cap across all their transfers).
public final class UserRegistry: Sendable {
    private struct Entry {
        var sessions = 0
        var download: TokenBucket?
        var upload: TokenBucket?
        var quota: DiskQuota?
    }

    /// What a login gets: its share of the user's caps.
    public struct Admission: Sendable {
        public let download: TokenBucket?
        public let upload: TokenBucket?
        public let quota: DiskQuota?
    }

    private let entries = Mutex<[String: Entry]>([:])

    private let clock: MonotonicClock

    /// `clock` paces the users' shared bandwidth caps.
    public init(clock: MonotonicClock = .system) {
        self.clock = clock
    }

    /// The user's quota if a session already measured their home (with the same limit).
    public func quota(for name: String, limit: UInt64) -> DiskQuota? {
        entries.withLock { $0[name]?.quota.flatMap { $0.limit == limit ? $0 : nil } }
    }

    /// Count a session for `name`, or nil when the user is at `limits.maxSessions`. `measured` is the
    /// quota to use when none is shared yet.
    public func enter(_ name: String, limits: UserLimits, measured: DiskQuota?) -> Admission? {
        entries.withLock { entries in
            var entry = entries[name] ?? Entry()
            if let max = limits.maxSessions, entry.sessions >= max { return nil }
            entry.sessions += 1
            entry.download = bucket(entry.download, rate: limits.downloadRate)
            entry.upload = bucket(entry.upload, rate: limits.uploadRate)
            if limits.quota == nil {
                entry.quota = nil
            } else if entry.quota?.limit != limits.quota {
                entry.quota = measured
            }
            entries[name] = entry
            return Admission(download: entry.download, upload: entry.upload, quota: entry.quota)
        }
    }

    public func leave(_ name: String) {
        entries.withLock { entries in
            guard var entry = entries[name] else { return }
            entry.sessions -= 1
            entries[name] = entry.sessions > 0 ? entry : nil
        }
    }

    /// Keep the shared bucket while the rate is unchanged (a reload may change it).
    private func bucket(_ existing: TokenBucket?, rate: Int?) -> TokenBucket? {
        guard let rate else { return nil }
        if let existing, existing.bytesPerSecond == rate { return existing }
        return TokenBucket(bytesPerSecond: rate, clock: clock)
    }
}
