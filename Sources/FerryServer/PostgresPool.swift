import Dispatch
import FerryReactor
import Synchronization

/// A few PostgreSQL connections shared by the worker threads of one process. A call borrows an
/// idle connection or opens one (up to `size`; beyond that it waits), and gives it back unless it
/// broke. While the database cannot be reached, calls fail at once for a growing pause (0.5 s
/// doubling to 10 s) instead of each waiting for a connect timeout, so logins get their 421 quickly;
/// the first call after the pause tries again. No statement runs longer than 5 s.
final class PostgresPool: Sendable {
    private struct State {
        var idle: [PostgresConnection] = []
        /// No connect attempt before this (monotonic nanoseconds), and the pause after the next failure.
        var retryAt: UInt64 = 0
        var backoff: UInt64 = 500_000_000
        var lastError = ""
    }

    private let conninfo: String
    private let clock: MonotonicClock
    private let state: Mutex<State>
    /// At most `size` connections are in use at once; a call beyond that waits for one.
    private let slots: DispatchSemaphore

    init(conninfo: String, size: Int = 4, clock: MonotonicClock = .system) {
        self.conninfo = conninfo
        self.clock = clock
        state = Mutex(State())
        slots = DispatchSemaphore(value: size)
    }

    /// Run `body` with a connection; a lost connection is closed, and the call fails with it.
    func withConnection<T>(_ body: (PostgresConnection) throws(PostgresError) -> T) throws(PostgresError) -> T {
        let connection = try borrow()
        do {
            let value = try body(connection)
            giveBack(connection)
            return value
        } catch {
            giveBack(error.connectionLost || connection.isBroken ? nil : connection)
            throw error
        }
    }

    private func borrow() throws(PostgresError) -> PostgresConnection {
        slots.wait()
        if let idle = state.withLock({ $0.idle.popLast() }) { return idle }
        let now = clock.nanoseconds
        let paused = state.withLock { state -> String? in now < state.retryAt ? state.lastError : nil }
        if let paused {
            slots.signal()
            throw PostgresError(paused, connectionLost: true)
        }
        do {
            let connection = try PostgresConnection(conninfo)
            // A statement that hangs (a lock, an overloaded server) must not hold a worker thread
            // for long: the login it serves gets its 421 instead.
            try connection.execute("SET statement_timeout = 5000")
            state.withLock { $0.backoff = 500_000_000 }
            return connection
        } catch {
            state.withLock { state in
                state.retryAt = clock.nanoseconds + state.backoff
                state.backoff = min(state.backoff * 2, 10_000_000_000)
                state.lastError = error.description
            }
            slots.signal()
            throw error
        }
    }

    private func giveBack(_ connection: PostgresConnection?) {
        if let connection { state.withLock { $0.idle.append(connection) } }
        slots.signal()
    }
}
