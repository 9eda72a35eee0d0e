import FerryReactor
import Logging
import Synchronization

/// `--event-url`: every event the hooks hear of is also POSTed, as one JSON object, to an http:// URL,
/// from a loop of its own (the sessions' loops never wait for it). A post that gets no answer or a
/// 5xx is tried again after 1, 2 and 4 seconds, then dropped with a warning. At most `maxPending`
/// events wait for their post: past that (a receiver that is down while clients keep busy) they are
/// dropped, so memory stays bounded.
final class Webhook: Sendable {
    static let retryDelaysMilliseconds = [1000, 2000, 4000]
    static let maxPending = 1000
    private let pending = Atomic(0)
    let target: HTTPPoster.Target
    private let loop: EventLoop
    private let poster: LoopBound<HTTPPoster>
    private let logger: Logger

    init(target: HTTPPoster.Target, logger: Logger) {
        self.target = target
        self.logger = logger
        loop = EventLoop(name: "webhook")
        poster = LoopBound(HTTPPoster(loop: loop, target: target, timeoutSeconds: 10), loop: loop)
        // Its loop ends with it (a reload can replace it), possibly on that loop's own thread: nobody
        // can join it, so it is detached (ThreadSanitizer reported the unjoined thread as a leak).
        loop.startThread(detached: true)
    }

    /// The poster is let go of on its own loop, then the loop stops.
    deinit {
        let poster = self.poster
        loop.execute { _ = poster }
        loop.stop()
    }

    func send(_ facts: EventHooks.Facts) {
        guard pending.add(1, ordering: .relaxed).newValue <= Webhook.maxPending else {
            pending.subtract(1, ordering: .relaxed)
            return logger.warning("event webhook behind by \(Webhook.maxPending) events; event dropped", metadata: ["event": "\(facts.event.rawValue)"])
        }
        let body = Array(facts.json.utf8)
        loop.execute { [self] in attempt(body, event: facts.event.rawValue, retry: 0) }
    }

    private func attempt(_ body: [UInt8], event: String, retry: Int) {
        poster.value.post(body, contentType: "application/json") { [self] status in
            if let status, status < 500 {
                if status >= 300 { logger.warning("event webhook refused the event", metadata: ["event": "\(event)", "status": "\(status)"]) }
                pending.subtract(1, ordering: .relaxed)
                return
            }
            guard retry < Webhook.retryDelaysMilliseconds.count else {
                pending.subtract(1, ordering: .relaxed)
                return logger.warning("event webhook unreachable; event dropped", metadata: ["event": "\(event)", "status": "\(status.map(String.init) ?? "no answer")"])
            }
            loop.after(milliseconds: Webhook.retryDelaysMilliseconds[retry]) { [self] in attempt(body, event: event, retry: retry + 1) }
        }
    }
}
