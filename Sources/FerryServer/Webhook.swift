import FerryReactor
import Logging

/// `--event-url`: every event the hooks hear of is also POSTed, as one JSON object, to an http:// URL,
/// from a loop of its own (the sessions' loops never wait for it). A post that gets no answer or a
/// 5xx is tried again after 1, 2 and 4 seconds, then dropped with a warning.
final class Webhook: Sendable {
    static let retryDelaysMilliseconds = [1000, 2000, 4000]
    let target: HTTPPoster.Target
    private let loop: EventLoop
    private let poster: LoopBound<HTTPPoster>
    private let logger: Logger

    init(target: HTTPPoster.Target, logger: Logger) {
        self.target = target
        self.logger = logger
        loop = EventLoop(name: "webhook")
        poster = LoopBound(HTTPPoster(loop: loop, target: target, timeoutSeconds: 10), loop: loop)
        loop.startThread()
    }

    /// The poster is let go of on its own loop, then the loop stops.
    deinit {
        let poster = self.poster
        loop.execute { _ = poster }
        loop.stop()
    }

    func send(_ facts: EventHooks.Facts) {
        let body = Array(facts.json.utf8)
        let (poster, logger, event) = (poster, logger, facts.event.rawValue)
        loop.execute { Webhook.attempt(body, poster: poster, logger: logger, event: event, retry: 0) }
    }

    private static func attempt(_ body: [UInt8], poster: LoopBound<HTTPPoster>, logger: Logger, event: String, retry: Int) {
        poster.value.post(body, contentType: "application/json") { status in
            if let status, status < 500 {
                if status >= 300 { logger.warning("event webhook refused the event", metadata: ["event": "\(event)", "status": "\(status)"]) }
                return
            }
            guard retry < retryDelaysMilliseconds.count else {
                return logger.warning("event webhook unreachable; event dropped", metadata: ["event": "\(event)", "status": "\(status.map(String.init) ?? "no answer")"])
            }
            poster.loop.after(milliseconds: retryDelaysMilliseconds[retry]) {
                attempt(body, poster: poster, logger: logger, event: event, retry: retry + 1)
            }
        }
    }
}
