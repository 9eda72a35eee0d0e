import CLibevent
import Glibc

/// A libevent `event`: a timer, a descriptor's readiness, or a signal, calling `handler` on its loop.
/// The handler may capture its owner; `cancel()` frees the event and drops the handler, which
/// breaks that cycle. A watcher must be cancelled (or deallocated) on its loop's thread.
public final class EventWatcher {
    /// What woke the watcher.
    public struct Readiness: OptionSet, Sendable {
        public let rawValue: Int16
        public init(rawValue: Int16) { self.rawValue = rawValue }
        public static let read = Readiness(rawValue: Int16(EV_READ))
        public static let write = Readiness(rawValue: Int16(EV_WRITE))
        public static let timeout = Readiness(rawValue: Int16(EV_TIMEOUT))
    }

    private var event: OpaquePointer?
    private var handler: ((Readiness) -> Void)?

    private init(loop: EventLoop, fd: Int32, events: Int16, handler: @escaping (Readiness) -> Void) {
        self.handler = handler
        let context = Unmanaged.passUnretained(self).toOpaque()
        event = event_new(loop.base, fd, events, { _, what, context in
            let watcher = Unmanaged<EventWatcher>.fromOpaque(context!).takeUnretainedValue()
            withExtendedLifetime(watcher) { watcher.handler?(Readiness(rawValue: what)) }
        }, context)
    }

    /// A timer; `repeating` keeps it armed after each firing. Call `schedule` to arm it.
    public static func timer(loop: EventLoop, repeating: Bool = false, _ handler: @escaping () -> Void) -> EventWatcher {
        EventWatcher(loop: loop, fd: -1, events: repeating ? Int16(EV_PERSIST) : 0) { _ in handler() }
    }

    /// Readiness of `fd` (persistent until cancelled or `pause()`d). Call `schedule` to arm it.
    public static func descriptor(loop: EventLoop, fd: Int32, _ interest: Readiness, _ handler: @escaping (Readiness) -> Void) -> EventWatcher {
        EventWatcher(loop: loop, fd: fd, events: interest.rawValue | Int16(EV_PERSIST), handler: handler)
    }

    /// A signal delivered to the process, observed on this loop. The signal is unblocked on the calling
    /// thread: a parent may have started us with it blocked, and then it would never arrive.
    public static func signal(loop: EventLoop, _ number: Int32, _ handler: @escaping () -> Void) -> EventWatcher {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, number)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        let watcher = EventWatcher(loop: loop, fd: number, events: Int16(EV_SIGNAL | EV_PERSIST)) { _ in handler() }
        watcher.schedule()
        return watcher
    }

    /// Arm the watcher; with `timeoutMilliseconds` it also fires `.timeout` after that long
    /// (re-arming restarts the clock).
    public func schedule(timeoutMilliseconds: Int? = nil) {
        guard let event else { return }
        if let ms = timeoutMilliseconds {
            var tv = timeval(tv_sec: ms / 1000, tv_usec: (ms % 1000) * 1000)
            event_add(event, &tv)
        } else {
            event_add(event, nil)
        }
    }

    /// Disarm without freeing; `schedule` arms it again.
    public func pause() {
        if let event { event_del(event) }
    }

    /// Free the event and drop the handler. Idempotent.
    public func cancel() {
        if let event { event_free(event) }
        event = nil
        handler = nil
    }

    deinit { cancel() }
}
