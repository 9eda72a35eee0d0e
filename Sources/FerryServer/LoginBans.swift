import FTPCore
import Synchronization

/// Temporary bans of client addresses after repeated failed logins, across all sessions and loops.
/// Failures older than the ban time are forgotten. A successful login clears nothing: an attacker
/// could otherwise wipe its record with an anonymous login between guesses. IPv6 clients are counted
/// per /64 (`IPAddress.clientPrefix`).
public final class LoginBans: Sendable {
    private struct Record {
        var failures = 0
        var lastFailure: Int64 = 0
        var bannedUntil: Int64 = 0
    }

    private struct Limits {
        var maxFailures: Int
        var banSeconds: Int64
    }

    private let records = Mutex<[IPAddress: Record]>([:])
    private let limits: Mutex<Limits>

    public init(maxFailures: Int, banSeconds: Int) {
        limits = Mutex(Limits(maxFailures: maxFailures, banSeconds: Int64(banSeconds)))
    }

    /// New limits (a reload); bans already in force run their course.
    public func setLimits(maxFailures: Int, banSeconds: Int) {
        limits.withLock { $0 = Limits(maxFailures: maxFailures, banSeconds: Int64(banSeconds)) }
    }

    /// Seconds `address` stays banned, or nil when it may connect.
    public func remainingBan(_ address: IPAddress, now: Int64) -> Int64? {
        records.withLock { records in
            guard let record = records[address.clientPrefix], record.bannedUntil > now else { return nil }
            return record.bannedUntil - now
        }
    }

    /// Ban `address` for `seconds` from `now` (a ban another node started); a longer ban in force stays.
    public func impose(_ address: IPAddress, seconds: Int64, now: Int64) {
        records.withLock { records in
            var record = records[address.clientPrefix] ?? Record()
            record.bannedUntil = max(record.bannedUntil, now + seconds)
            records[address.clientPrefix] = record
        }
    }

    /// Count a failure; returns the ban's length when this failure started one.
    public func failed(_ address: IPAddress, now: Int64) -> Int64? {
        let (maxFailures, banSeconds) = limits.withLock { ($0.maxFailures, $0.banSeconds) }
        return records.withLock { records in
            var record = records[address.clientPrefix] ?? Record()
            if now - record.lastFailure > banSeconds { record.failures = 0 }
            record.failures += 1
            record.lastFailure = now
            var started: Int64?
            if record.failures >= maxFailures {
                record.bannedUntil = now + banSeconds
                record.failures = 0
                started = banSeconds
            }
            records[address.clientPrefix] = record
            // Keep the table small: forget addresses with nothing left to remember.
            if records.count > 10_000 {
                records = records.filter { $0.value.bannedUntil > now || now - $0.value.lastFailure <= banSeconds }
            }
            return started
        }
    }
}
