import FerryReactor
import Glibc
import Synchronization

/// A `Scheduler` for unit tests, with no thread and no real time (SwiftNIO's EmbeddedEventLoop is the
/// model): timers fire when the test moves the clock with `advance`, offloaded work runs at once on
/// the calling thread and its answer waits in the queue, and work other threads `execute` waits in
/// the same queue until `runQueued` (or `advance`, or `run(until:)`) runs it on the test's thread.
final class EmbeddedLoop: Scheduler, @unchecked Sendable {
    /// Milliseconds since the loop was made, as far as its timers know.
    private(set) var now = 0
    private var timers: [EmbeddedTimer] = []
    private var sequence = 0
    private let queued = Mutex<[@Sendable () -> Void]>([])
    private let thread = pthread_self()

    init() {}

    func timer(_ handler: @escaping () -> Void) -> any LoopTimer {
        EmbeddedTimer(loop: self, handler: handler)
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

    /// Run queued work until `condition` holds, waiting for other threads (a password check on a
    /// worker) up to `seconds`; false if it never held.
    func run(until condition: () -> Bool, seconds: Double = 10) -> Bool {
        for _ in 0..<Int(seconds * 1000) {
            runQueued()
            if condition() { return true }
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
