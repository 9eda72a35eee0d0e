import Glibc

/// Time that never jumps, for timeouts, durations, rates and bans: the one clock of the server.
/// Production reads CLOCK_MONOTONIC (`system`); a test passes a closure it advances by hand, so
/// rates and deadlines can be checked without waiting. Wall-clock time (listings, logs) is not this.
public struct MonotonicClock: Sendable {
    private let read: @Sendable () -> UInt64

    /// A clock that reads `nanoseconds`, which must never go back.
    public init(nanoseconds: @escaping @Sendable () -> UInt64) {
        read = nanoseconds
    }

    public static let system = MonotonicClock {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    public var nanoseconds: UInt64 { read() }
    public var seconds: Int64 { Int64(read() / 1_000_000_000) }
}
