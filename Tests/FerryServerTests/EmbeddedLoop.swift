import FerryReactor
import Glibc
import Synchronization

/// A `Scheduler` for unit tests, with no thread and no real time (SwiftNIO's EmbeddedEventLoop is the
/// model): timers fire when the test moves the clock with `advance`, offloaded work runs at once on
/// the calling thread and its answer waits in the queue, and work other threads `execute` waits in
/// the same queue until `runQueued` (or `advance`, or `run(until:)`) runs it on the test's thread.
/// Descriptors are real (socketpairs, loopback): `pollOnce` (and `run(until:)`) asks poll(2) which
/// watched ones are ready and calls their handlers, level-triggered as libevent does.
final class EmbeddedLoop: Scheduler, @unchecked Sendable {
    /// Milliseconds since the loop was made, as far as its timers know.
    private(set) var now: Int {
        get { nowMilliseconds.load(ordering: .relaxed) }
        set { nowMilliseconds.store(newValue, ordering: .relaxed) }
    }
    private let nowMilliseconds = Atomic<Int>(0)
    private var timers: [EmbeddedTimer] = []
    private var watchers: [EmbeddedWatcher] = []
    private var sequence = 0
    private let queued = Mutex<[@Sendable () -> Void]>([])
    private let thread = pthread_self()

    init() {}

    func timer(_ handler: @escaping () -> Void) -> any LoopTimer {
        EmbeddedTimer(loop: self, handler: handler)
    }

    func watch(_ fd: Int32, _ interest: EventWatcher.Readiness, _ handler: @escaping (EventWatcher.Readiness) -> Void) -> any ReadinessWatcher {
        EmbeddedWatcher(loop: self, fd: fd, interest: interest, handler: handler)
    }

    /// The loop's time as a `MonotonicClock` (for the caps and the stall clock of the code under test).
    var clock: MonotonicClock {
        MonotonicClock { [unowned self] in UInt64(1_000_000_000 + self.now * 1_000_000) }
    }

    func offload<T: Sendable>(_ work: @escaping @Sendable () -> T, then: @escaping (T) -> Void) {
        let result = work()
        let answer = LoopBound(then, loop: self)
        execute { answer.value(result) }
    }

    func execute(_ work: @escaping @Sendable () -> Void) {
        queued.withLock { $0.append(work) }
    }

    var inLoop: Bool { pthread_equal(thread, pthread_self()) != 0 }

    /// How many timers are armed: a test can wait for one to be armed by work from another thread.
    var armedTimers: Int { timers.count }

    /// How many descriptor watchers are armed.
    var armedWatchers: Int { watchers.count }

    /// Call the handler of each armed watcher whose descriptor is ready now (poll with no wait); true
    /// if any was.
    @discardableResult
    func pollOnce() -> Bool {
        precondition(inLoop, "an EmbeddedLoop runs on the thread that made it")
        let armed = watchers
        guard !armed.isEmpty else { return false }
        var fds = armed.map { pollfd(fd: $0.fd, events: $0.pollEvents, revents: 0) }
        guard poll(&fds, nfds_t(fds.count), 0) > 0 else { return false }
        for (watcher, polled) in zip(armed, fds) where polled.revents != 0 {
            watcher.fire(polled.revents)
        }
        return true
    }

    /// Run the queued work, and what it queues in turn, until the queue is empty.
    func runQueued() {
        precondition(inLoop, "an EmbeddedLoop runs on the thread that made it")
        while true {
            let work = queued.withLock { queue -> [@Sendable () -> Void] in
                defer { queue.removeAll() }
                return queue
            }
            if work.isEmpty { return }
            for item in work { item() }
        }
    }

    /// Move the clock forward, firing each timer that falls due in deadline order (those armed for
    /// the same time in the order they were armed), with queued work run before and after each.
    func advance(milliseconds: Int) {
        let target = now + milliseconds
        runQueued()
        while let next = timers.filter({ $0.deadline! <= target }).min(by: { ($0.deadline!, $0.sequence) < ($1.deadline!, $1.sequence) }) {
            now = next.deadline!
            next.fire()
            runQueued()
        }
        now = target
    }

    /// Run queued work and ready descriptors' handlers until `condition` holds, waiting for other
    /// threads (a password check on a worker) and sockets up to `seconds`; false if it never held.
    func run(until condition: () -> Bool, seconds: Double = 10) -> Bool {
        for _ in 0..<Int(seconds * 1000) {
            runQueued()
            if condition() { return true }
            if pollOnce() { continue }
            usleep(1000)
        }
        runQueued()
        return condition()
    }

    fileprivate func arm(_ timer: EmbeddedTimer, after milliseconds: Int) {
        sequence += 1
        timer.deadline = now + milliseconds
        timer.sequence = sequence
        if !timers.contains(where: { $0 === timer }) { timers.append(timer) }
    }

    fileprivate func disarm(_ timer: EmbeddedTimer) {
        timer.deadline = nil
        timers.removeAll { $0 === timer }
    }

    fileprivate func arm(_ watcher: EmbeddedWatcher) {
        if !watchers.contains(where: { $0 === watcher }) { watchers.append(watcher) }
    }

    fileprivate func disarm(_ watcher: EmbeddedWatcher) {
        watchers.removeAll { $0 === watcher }
    }
}

/// A descriptor watcher of an `EmbeddedLoop`.
private final class EmbeddedWatcher: ReadinessWatcher {
    private unowned let loop: EmbeddedLoop
    let fd: Int32
    private let interest: EventWatcher.Readiness
    private var handler: ((EventWatcher.Readiness) -> Void)?

    init(loop: EmbeddedLoop, fd: Int32, interest: EventWatcher.Readiness, handler: @escaping (EventWatcher.Readiness) -> Void) {
        self.loop = loop
        self.fd = fd
        self.interest = interest
        self.handler = handler
    }

    var pollEvents: Int16 {
        (interest.contains(.read) ? Int16(POLLIN) : 0) | (interest.contains(.write) ? Int16(POLLOUT) : 0)
    }

    /// An error or hang-up wakes both directions, as it does in libevent.
    func fire(_ revents: Int16) {
        var ready: EventWatcher.Readiness = []
        if revents & Int16(POLLIN | POLLERR | POLLHUP) != 0, interest.contains(.read) { ready.insert(.read) }
        if revents & Int16(POLLOUT | POLLERR | POLLHUP) != 0, interest.contains(.write) { ready.insert(.write) }
        if !ready.isEmpty { handler?(ready) }
    }

    func schedule(timeoutMilliseconds: Int?) {
        precondition(timeoutMilliseconds == nil, "the server's descriptor watchers have no timeout")
        if handler != nil { loop.arm(self) }
    }

    func pause() { loop.disarm(self) }

    func cancel() {
        loop.disarm(self)
        handler = nil
    }
}

/// A timer of an `EmbeddedLoop`.
private final class EmbeddedTimer: LoopTimer {
    private unowned let loop: EmbeddedLoop
    private var handler: (() -> Void)?
    private var interval = 0
    fileprivate var deadline: Int?
    fileprivate var sequence = 0

    init(loop: EmbeddedLoop, handler: @escaping () -> Void) {
        self.loop = loop
        self.handler = handler
    }

    func schedule(timeoutMilliseconds: Int?) {
        guard handler != nil else { return }
        if let timeoutMilliseconds { interval = timeoutMilliseconds }
        loop.arm(self, after: interval)
    }

    func cancel() {
        loop.disarm(self)
        handler = nil
    }

    func fire() {
        loop.disarm(self)
        handler?()
    }
}
