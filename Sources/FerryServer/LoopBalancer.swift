import Synchronization

/// Chooses the event loop for each new connection: the one with the fewest open, so sessions (and
/// the transfers they bring) spread evenly over the cores. The per-loop SO_REUSEPORT listeners
/// alone spread connections by a hash of their addresses: 16 connections from one client landed
/// 5 and 11 on two loops, and the busier loop then carried most of the transfers on one core.
final class LoopBalancer: Sendable {
    private let open: Mutex<[Int]>

    init(loops: Int) {
        open = Mutex(Array(repeating: 0, count: max(1, loops)))
    }

    /// Takes a place on the least-loaded loop and returns its index; on a tie the loop that
    /// accepted the connection keeps it (no hand-off).
    func assign(accepting: Int) -> Int {
        open.withLock { counts in
            var chosen = accepting
            for (index, count) in counts.enumerated() where count < counts[chosen] { chosen = index }
            counts[chosen] += 1
            return chosen
        }
    }

    /// The connection `assign` placed on `loop` has closed.
    func release(_ loop: Int) {
        open.withLock { $0[loop] -= 1 }
    }

    /// Connections open on each loop now.
    var connections: [Int] { open.withLock { $0 } }
}
