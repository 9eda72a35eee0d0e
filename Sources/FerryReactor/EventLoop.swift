import CLibevent
import Dispatch
import Glibc
import Synchronization

/// One libevent `event_base` driven by its own thread. Objects created for a loop are used only on
/// that thread; other threads reach it through `execute`, which queues a closure and wakes the loop.
public final class EventLoop: @unchecked Sendable {
    // `base` is touched only on the loop thread (and by `execute`'s event_active, which libevent
    // locks because evthread_use_pthreads ran before the base was created).
    let base: OpaquePointer
    private let pending = Mutex<[@Sendable () -> Void]>([])
    private var wakeEvent: OpaquePointer?
    private var thread: pthread_t?
    private let threadID = Mutex<pthread_t?>(nil)
    public let name: String

    /// Call before any loop exists: makes libevent thread-safe and ignores SIGPIPE (a peer that
    /// vanishes must not kill the server; writes report EPIPE instead). Any number of calls from any
    /// threads do it once: two evthread_use_pthreads at the same time trip an assertion in libevent
    /// (parallel tests did, and aborted the test process).
    public static func prepareProcess() {
        _ = prepared
    }

    /// Initialised once, under the runtime's once-lock, by the first `prepareProcess`.
    private static let prepared: Void = {
        evthread_use_pthreads()
        signal(SIGPIPE, SIG_IGN)
    }()

    public init(name: String) {
        guard let base = event_base_new() else { fatalError("event_base_new failed: out of memory") }
        self.base = base
        self.name = name
        let context = Unmanaged.passUnretained(self).toOpaque()
        wakeEvent = event_new(base, -1, Int16(EV_PERSIST), { _, _, context in
            Unmanaged<EventLoop>.fromOpaque(context!).takeUnretainedValue().runPending()
        }, context)
        event_add(wakeEvent, nil)
    }

    deinit {
        if let wakeEvent { event_free(wakeEvent) }
        event_base_free(base)
    }

    /// Run `work` on this loop's thread, soon. Safe from any thread.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        pending.withLock { $0.append(work) }
        event_active(wakeEvent, EV_READ, 0)
    }

    /// True on this loop's thread.
    public var inLoop: Bool {
        guard let id = threadID.withLock({ $0 }) else { return false }
        return pthread_equal(id, pthread_self()) != 0
    }

    private func runPending() {
        let work = pending.withLock { queue -> [@Sendable () -> Void] in
            let taken = queue
            queue.removeAll()
            return taken
        }
        for item in work { item() }
    }

    /// Dispatch events on the calling thread until `stop()`.
    public func run() {
        threadID.withLock { $0 = pthread_self() }
        event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY)
    }

    /// Start `run()` on a new thread. A `detached` one is never joined: what it holds is freed when it
    /// ends (a loop that lives as long as an object, not as the server).
    public func startThread(detached: Bool = false) {
        let box = Unmanaged.passRetained(self).toOpaque()
        var handle = pthread_t()
        let result = pthread_create(&handle, nil, { context in
            let loop = Unmanaged<EventLoop>.fromOpaque(context!).takeRetainedValue()
            loop.run()
            return nil
        }, box)
        precondition(result == 0, "pthread_create failed: \(result)")
        if detached {
            pthread_detach(handle)
        } else {
            thread = handle
        }
    }

    /// Make `run()` return after the current callbacks. Safe from any thread.
    public func stop() {
        execute { [self] in event_base_loopbreak(self.base) }
    }

    /// Wait for the thread started by `startThread` to end.
    public func join() {
        if let thread { pthread_join(thread, nil) }
    }
}

extension EventLoop {
    /// Run `work` on this loop after `milliseconds`; the timer keeps itself alive until it fires.
    public func after(milliseconds: Int, _ work: @escaping () -> Void) {
        var timer: EventWatcher?
        timer = EventWatcher.timer(loop: self) {
            timer?.cancel()
            timer = nil
            work()
        }
        timer?.schedule(timeoutMilliseconds: milliseconds)
    }

    /// Worker threads for work that may block (directory walks): never run on a loop.
    private static let workers = DispatchQueue(label: "ferry.offload", attributes: .concurrent)

    /// Run `work` on a worker thread and `then` with its result back on this loop's thread.
    public func offload<T: Sendable>(_ work: @escaping @Sendable () -> T, then: @escaping (T) -> Void) {
        let done = LoopBound(then, loop: self)
        EventLoop.workers.async {
            let result = work()
            done.loop.execute { done.value(result) }
        }
    }
}
