/// A one-shot timer on a loop: `schedule` arms it (again, restarting its clock), `cancel` drops it
/// for good.
public protocol LoopTimer: AnyObject {
    func schedule(timeoutMilliseconds: Int?)
    func cancel()
}

/// Readiness of one descriptor, reported on the loop each time it holds (level-triggered) while the
/// watcher is armed: `schedule` arms it, `pause` disarms it until the next `schedule`, `cancel`
/// drops it for good.
public protocol ReadinessWatcher: LoopTimer {
    func pause()
}

/// What code confined to a loop needs of it: timers, readiness of the descriptors it owns, work on
/// worker threads whose results come back on the loop, and work that other threads queue onto it.
/// `EventLoop` is the real one; the unit tests' `EmbeddedLoop` runs the same code on a clock the
/// test moves, polling real sockets.
public protocol Scheduler: AnyObject, Sendable {
    /// A timer whose `handler` runs on this loop; it waits until `schedule` arms it.
    func timer(_ handler: @escaping () -> Void) -> any LoopTimer
    /// A watcher calling `handler` while `fd` has `interest`; it waits until `schedule` arms it.
    func watch(_ fd: Int32, _ interest: EventWatcher.Readiness, _ handler: @escaping (EventWatcher.Readiness) -> Void) -> any ReadinessWatcher
    /// Run `work` on a worker thread and `then` with its result back on this loop.
    func offload<T: Sendable>(_ work: @escaping @Sendable () -> T, then: @escaping (T) -> Void)
    /// Run `work` on this loop, soon. Safe from any thread.
    func execute(_ work: @escaping @Sendable () -> Void)
    /// True on this loop's thread.
    var inLoop: Bool { get }
}

extension EventWatcher: ReadinessWatcher {}

extension EventLoop: Scheduler {
    public func timer(_ handler: @escaping () -> Void) -> any LoopTimer {
        EventWatcher.timer(loop: self, handler)
    }

    public func watch(_ fd: Int32, _ interest: EventWatcher.Readiness, _ handler: @escaping (EventWatcher.Readiness) -> Void) -> any ReadinessWatcher {
        EventWatcher.descriptor(loop: self, fd: fd, interest, handler)
    }
}
