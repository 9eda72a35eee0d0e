import Glibc

/// Seconds on a clock that never jumps (for timeouts and durations).
enum MonotonicClock {
    static func seconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec)
    }
}
