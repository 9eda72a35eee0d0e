import Synchronization

/// Counters for the Prometheus endpoint, shared by every loop. Updated per session, login and
/// transfer (never per byte), so one lock is cheap.
public final class Metrics: Sendable {
    /// What a transfer's end counts as.
    public enum TransferResult: String, Sendable { case complete, aborted, failed }

    private struct Counters {
        var sessionsTotal = 0
        var sessionsRefused = 0
        var loginsOK = 0
        var loginsFailed = 0
        var transfers: [String: Int] = [:]
        var bytesIn: UInt64 = 0
        var bytesOut: UInt64 = 0
        var tlsHandshakes = 0
        var tlsHandshakeFailures = 0
    }

    private let counters: Mutex<Counters>

    public init() {
        counters = Mutex(Counters())
    }

    func sessionStarted() { counters.withLock { $0.sessionsTotal += 1 } }
    func sessionRefused() { counters.withLock { $0.sessionsRefused += 1 } }
    func login(succeeded: Bool) { counters.withLock { if succeeded { $0.loginsOK += 1 } else { $0.loginsFailed += 1 } } }
    func tlsHandshake(succeeded: Bool) { counters.withLock { if succeeded { $0.tlsHandshakes += 1 } else { $0.tlsHandshakeFailures += 1 } } }

    func transfer(direction: String, result: TransferResult, bytes: UInt64) {
        counters.withLock { counters in
            counters.transfers["direction=\"\(direction)\",result=\"\(result.rawValue)\"", default: 0] += 1
            if direction == "in" { counters.bytesIn += bytes } else { counters.bytesOut += bytes }
        }
    }

    /// The Prometheus text exposition (format 0.0.4). `loopConnections`: connections open on each
    /// event loop (the balancer's count).
    public func render(openSessions: Int, loopConnections: [Int]) -> String {
        let c = counters.withLock { $0 }
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples { out += labels.isEmpty ? "\(name) \(value)\n" : "\(name){\(labels)} \(value)\n" }
        }
        metric("ferry_sessions_open", "gauge", "Control connections open now.", [("", "\(openSessions)")])
        metric("ferry_sessions_total", "counter", "Sessions accepted since start.", [("", "\(c.sessionsTotal)")])
        metric("ferry_sessions_refused_total", "counter", "Sessions refused with 421 (limits).", [("", "\(c.sessionsRefused)")])
        metric("ferry_logins_total", "counter", "Login attempts by result.",
               [("result=\"ok\"", "\(c.loginsOK)"), ("result=\"failed\"", "\(c.loginsFailed)")])
        metric("ferry_transfers_total", "counter", "Finished transfers by direction and result.",
               c.transfers.sorted { $0.key < $1.key }.map { ($0.key, "\($0.value)") })
        metric("ferry_transfer_bytes_total", "counter", "Bytes moved by transfers.",
               [("direction=\"in\"", "\(c.bytesIn)"), ("direction=\"out\"", "\(c.bytesOut)")])
        metric("ferry_tls_handshakes_total", "counter", "TLS handshakes on control connections by result.",
               [("result=\"ok\"", "\(c.tlsHandshakes)"), ("result=\"failed\"", "\(c.tlsHandshakeFailures)")])
        metric("ferry_loop_sessions", "gauge", "Connections open on each event loop.",
               loopConnections.enumerated().map { ("loop=\"\($0.offset)\"", "\($0.element)") })
        return out
    }
}
