import CFerrySys
import FTPCore
import FerryReactor
import Glibc

/// What a TLS data connection must do to be trusted (`--tls-session-reuse`, `--tls-close-notify`).
struct DataTLSPolicy {
    /// Refuse a handshake that does not resume the control connection's session (522).
    var requireResumption: Bool
    /// An upload whose client closes without close_notify fails (426): a TCP FIN alone cannot tell a
    /// complete upload from one cut short by someone on the path.
    var requireCloseNotify: Bool
}

/// The bytes of one data connection, plain or TLS, and what every transfer needs whatever it moves:
/// the TLS handshake and its policy, readiness watching, TCP_CORK while sending, the bandwidth caps
/// and the time of the last progress (for the stall timer). Owns the socket; a pump
/// (`SendfilePump`, `BufferedSendPump`, `ReceivePump`) decides what goes through it.
final class DataSocket {
    /// What one read or write did.
    enum IO {
        case done(Int)
        case wouldBlock(EventWatcher.Readiness)
        case endOfData
        case failed(String)
    }

    /// Where the TLS handshake stands (always `done` for plaintext).
    enum Handshake {
        case done
        case waiting
        case failed(String)
    }

    private var descriptor: Descriptor?
    private let loop: any Scheduler
    private let tls: TLSConnection?
    private let policy: DataTLSPolicy
    /// Each turn moves at most what every bucket holds.
    private let caps: [TokenBucket]
    /// Downloads and listings send; uploads receive.
    private let sends: Bool
    private var handshaking: Bool
    private var watcher: (any ReadinessWatcher)?
    private var interest: EventWatcher.Readiness = []
    private var resumeTimer: (any LoopTimer)?
    /// OpenSSL wants a write it could not finish retried with at least the length first given.
    private var tlsRetryLength: Int?
    private let clock: MonotonicClock
    private var lastProgress: Int64
    /// Called on the loop whenever the pump should take a turn.
    var onReady: (() -> Void)?

    /// With `tls`, the connection is a TLS server endpoint held to `policy`; its handshake comes first.
    init(_ descriptor: consuming Descriptor, loop: any Scheduler, clock: MonotonicClock, tls: TLSConnection?, policy: DataTLSPolicy, caps: [TokenBucket], sends: Bool) {
        self.descriptor = consume descriptor
        self.loop = loop
        self.clock = clock
        lastProgress = clock.seconds
        self.tls = tls
        self.policy = policy
        self.caps = caps
        self.sends = sends
        handshaking = tls != nil
    }

    /// The socket's number, for sendfile and splice while the transfer runs.
    var rawValue: Int32 { descriptor?.rawValue ?? -1 }

    var isTLS: Bool { tls != nil }

    /// The TLS handshake resumed a session of the control connection (it consumed a ticket).
    var resumedSession: Bool { tls?.sessionReused ?? false }

    /// Begin with the handshake (which may have started before the transfer took the connection, so
    /// it is driven at once rather than on readiness), or go straight to the transfer's readiness.
    func start() {
        if handshaking { return onReady?() ?? () }
        corkIfSending()
        watch(sends ? .write : .read)
    }

    /// Drive the TLS handshake; `done` at once without TLS. A handshake that must resume the control
    /// connection's session and did not is refused (522).
    func handshake() -> Handshake {
        guard handshaking, let tls else { return .done }
        switch tls.handshake() {
        case .done:
            handshaking = false
            lastProgress = clock.seconds
            if policy.requireResumption && !tls.sessionReused {
                return .failed("TLS session not resumed: the data connection must reuse the control connection's TLS session (turn on session reuse in the client)")
            }
            corkIfSending()
            watch(sends ? .write : .read)
            return .done
        case .wantRead:
            watch(.read)
            return .waiting
        case .wantWrite:
            watch(.write)
            return .waiting
        case .closed, .truncated: return .failed("TLS handshake on the data connection failed: connection closed")
        case .failed(let reason): return .failed("TLS handshake on the data connection failed: \(reason)")
        }
    }

    var isHandshaking: Bool { handshaking }

    /// Downloads and listings cork the socket (TCP_CORK) until they end, so data leaves in full
    /// segments whatever the size of each write or sendfile: TLS records are 16 KiB, and a
    /// non-blocking sendfile stops wherever the socket buffer filled. Against uncorked sendfile
    /// (3 interleaved runs, ftpbench): W2 x16 4870 -> 7612 MiB/s and 0.24-0.26 -> 0.16-0.17 s/GiB;
    /// TLS W5 1.48 -> about 1.2 s/GiB. `SendfilePump` lifts it while it is the only download.
    private func corkIfSending() {
        if sends { corked = true }
    }

    /// TCP_CORK on the socket (set only when it changes).
    var corked = false {
        didSet {
            if corked != oldValue, rawValue >= 0 { Sockets.setCorked(rawValue, corked) }
        }
    }

    // MARK: readiness

    /// Wait for `readiness` (re-arming only when it changes).
    func watch(_ readiness: EventWatcher.Readiness) {
        guard descriptor != nil, readiness != interest || watcher == nil else { return }
        watcher?.cancel()
        interest = readiness
        watcher = loop.watch(rawValue, readiness) { [unowned self] _ in self.onReady?() }
        watcher?.schedule(timeoutMilliseconds: nil)
    }

    /// TLS read ahead bytes that no receive has returned yet (perhaps only part of a record).
    var hasBufferedInput: Bool { tls?.hasBufferedInput ?? false }

    /// Give the pump its next turn on the loop's next pass, whatever the socket's readiness.
    func resumeSoon() {
        resume(afterMilliseconds: 0)
    }

    /// Stop watching until `resume` (a listing batch is being read off the loop).
    func pause() {
        watcher?.pause()
    }

    func resume() {
        guard descriptor != nil else { return }
        watcher?.schedule(timeoutMilliseconds: nil)
        onReady?()
    }

    // MARK: bandwidth caps and progress

    /// How much of `wanted` the caps allow now; 0 pauses the connection until the emptiest bucket
    /// has refilled, when the pump gets its next turn.
    func allowance(_ wanted: Int) -> Int {
        guard !caps.isEmpty else { return wanted }
        let allowed = caps.map { $0.available() }.min() ?? wanted
        guard allowed <= 0 else { return min(wanted, allowed) }
        watcher?.pause()
        resume(afterMilliseconds: caps.map { $0.millisecondsUntilReady() }.max() ?? 1)
        return 0
    }

    /// Give the pump a turn after `milliseconds`, whatever the socket's readiness.
    private func resume(afterMilliseconds milliseconds: Int) {
        if resumeTimer == nil {
            resumeTimer = loop.timer { [unowned self] in self.resume() }
        }
        resumeTimer?.schedule(timeoutMilliseconds: milliseconds)
    }

    /// `count` bytes crossed the network: they count against the caps and as progress.
    func moved(_ count: Int) {
        lastProgress = clock.seconds
        for cap in caps { cap.consume(count) }
    }

    /// Progress that the caps do not charge (a refused upload being read and dropped).
    func touched() {
        lastProgress = clock.seconds
    }

    /// For the stall timer: how long since bytes last moved (or the handshake finished).
    var secondsSinceProgress: Int { Int(clock.seconds - lastProgress) }

    // MARK: bytes in and out

    /// How many of `available` buffered bytes to offer `send` now.
    func sendLength(_ available: Int) -> Int {
        tlsRetryLength ?? allowance(available)
    }

    func send(_ buffer: UnsafeRawBufferPointer) -> IO {
        if let tls {
            let io = sent(tls.write(buffer))
            tlsRetryLength = if case .wouldBlock = io { buffer.count } else { nil }
            return io
        }
        do {
            switch try syscall("write", { Glibc.write(rawValue, buffer.baseAddress, buffer.count) }) {
            case .processed(let n): return .done(n)
            case .wouldBlock: return .wouldBlock(.write)
            }
        } catch {
            return .failed(error.reason)
        }
    }

    /// Plaintext, or TLS that the kernel encrypts: files can go out by sendfile.
    var sendsFilesDirectly: Bool { tls?.kernelSends ?? true }

    /// Send up to `count` bytes of the file `fd` from `position` (moved past what went) without
    /// copying them through user space: sendfile(2), or SSL_sendfile under kernel TLS. `done(0)` is
    /// the end of the file.
    func sendFile(_ fd: Int32, from position: inout Int64, count: Int) -> IO {
        if let tls {
            let io = sent(tls.sendFile(fd, offset: position, count: count))
            if case .done(let n) = io { position += Int64(n) }
            return io
        }
        do {
            switch try syscall("sendfile", { ferry_sendfile(rawValue, fd, &position, count) }) {
            case .processed(let n): return .done(n)
            case .wouldBlock: return .wouldBlock(.write)
            }
        } catch {
            return .failed(error.reason)
        }
    }

    /// What a TLS send did.
    private func sent(_ status: TLSConnection.Status) -> IO {
        switch status {
        case .done(let n): return .done(n)
        case .wantRead: return .wouldBlock(.read)
        case .wantWrite: return .wouldBlock(.write)
        case .closed, .truncated: return .failed("peer closed the TLS session")
        case .failed(let reason): return .failed(reason)
        }
    }

    func receive(_ buffer: UnsafeMutableRawBufferPointer) -> IO {
        if let tls {
            switch tls.read(buffer) {
            case .done(let n): return .done(n)
            case .wantRead: return .wouldBlock(.read)
            case .wantWrite: return .wouldBlock(.write)
            case .closed: return .endOfData
            case .truncated:
                if !policy.requireCloseNotify { return .endOfData }
                return .failed("the client closed the TLS data connection without close_notify, so the upload may be cut short")
            case .failed(let reason): return .failed(reason)
            }
        }
        do {
            switch try syscall("read", { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }) {
            case .processed(0): return .endOfData
            case .processed(let n): return .done(n)
            case .wouldBlock: return .wouldBlock(.read)
            }
        } catch {
            return .failed(error.reason)
        }
    }

    // MARK: the end

    /// Make the close send RST: an aborted or refused transfer must not look complete to the client.
    func resetOnClose() {
        if descriptor != nil { Sockets.setResetOnClose(rawValue) }
    }

    /// Stop watching and close, once. A completed transfer first ends its TLS session with
    /// close_notify and sends what the cork holds.
    func close(completed: Bool) {
        watcher?.cancel()
        resumeTimer?.cancel()
        onReady = nil
        guard let descriptor = descriptor.take() else { return }
        // Only a transfer that got past its handshake completes.
        if completed {
            tls?.shutdown()
            if corked { Sockets.setCorked(descriptor.rawValue, false) }
        }
        descriptor.close()
    }
}
