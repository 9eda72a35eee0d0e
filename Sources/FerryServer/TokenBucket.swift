import FerryReactor
import Synchronization

/// A bandwidth cap (bytes per second) that transfers consult before each slice: they move at most
/// what the bucket holds, so sendfile stays in use and only the slice shrinks. Shared by the
/// transfers it caps (one session's, or all of one user's across loops).
public final class TokenBucket: Sendable {
    public let bytesPerSecond: Int
    /// Burst: a tenth of a second's worth (at least 16 KiB), so the rate holds over short spans.
    private let capacity: Double
    private let state: Mutex<(tokens: Double, last: UInt64)>
    private let clock: MonotonicClock

    public init(bytesPerSecond: Int, clock: MonotonicClock = .system) {
        self.bytesPerSecond = bytesPerSecond
        self.clock = clock
        capacity = max(Double(bytesPerSecond) / 10, 16 * 1024)
        state = Mutex((capacity, clock.nanoseconds))
    }

    /// Bytes that may move now.
    public func available() -> Int {
        state.withLock { state in
            refill(&state)
            return Int(state.tokens)
        }
    }

    /// Record `count` bytes moved.
    public func consume(_ count: Int) {
        state.withLock { state in
            refill(&state)
            state.tokens -= Double(count)
        }
    }

    /// Milliseconds until at least a slice's worth (or the whole burst) is available again.
    public func millisecondsUntilReady() -> Int {
        state.withLock { state in
            refill(&state)
            let missing = min(capacity, 16 * 1024) - state.tokens
            return missing <= 0 ? 0 : max(1, Int((missing / Double(bytesPerSecond) * 1000).rounded(.up)))
        }
    }

    private func refill(_ state: inout (tokens: Double, last: UInt64)) {
        let now = clock.nanoseconds
        let elapsed = Double(now &- state.last) / 1e9
        state.tokens = min(capacity, state.tokens + elapsed * Double(bytesPerSecond))
        state.last = now
    }
}
