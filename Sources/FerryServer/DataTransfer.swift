import FTPCore
import FerryReactor

/// Runs one transfer: its `DataSocket` (plain or TLS bytes, handshake, cork, caps) driven by the
/// pump its kind needs, a stall timer, and one report of how it ended.
final class DataTransfer {
    private let socket: DataSocket
    private let pump: any TransferPump
    private let stallSeconds: Int
    private var stallTimer: (any LoopTimer)?
    private var onFinish: ((TransferOutcome) -> Void)?

    /// With `tls`, the data connection is a TLS server endpoint held to `tlsPolicy`. Uploads obey
    /// `maxFileSize` and `quota`; `caps` bound the rate either way.
    init(kind: TransferKind, socket descriptor: consuming Descriptor, loop: any Scheduler, clock: MonotonicClock, stallSeconds: Int, tls: TLSConnection?,
         tlsPolicy: DataTLSPolicy, caps: [TokenBucket], maxFileSize: UInt64?, quota: (any Quota)?,
         onFinish: @escaping (TransferOutcome) -> Void) {
        switch kind {
        case .retrieve(let file, let offset, let ascii):
            pump = if ascii {
                BufferedSendPump(.file(file, offset: offset, ascii: true), loop: loop)
            } else if tls != nil {
                TLSDownloadPump(file: file, offset: offset, loop: loop)
            } else {
                SendfilePump(file: file, offset: offset)
            }
        case .store(let file, let ascii):
            pump = ReceivePump(file: file, ascii: ascii, maxFileSize: maxFileSize, quota: quota, loop: loop)
        case .listing(.entries(let entries), let style):
            pump = BufferedSendPump(.entries(entries, style), loop: loop)
        case .listing(.directory(let handle), let style):
            pump = BufferedSendPump(.directory(handle.listing, style), loop: loop)
        }
        socket = DataSocket(descriptor, loop: loop, clock: clock, tls: tls, policy: tlsPolicy, caps: caps, sends: pump.sends)
        self.stallSeconds = stallSeconds
        self.onFinish = onFinish
        socket.onReady = { [unowned self] in self.ready() }
        stallTimer = loop.timer { [unowned self] in self.checkStall() }
    }

    /// The data connection resumed the control connection's TLS session.
    var resumedTLSSession: Bool { socket.resumedSession }

    func start() {
        stallTimer?.schedule(timeoutMilliseconds: 1000)
        socket.start()
    }

    /// ABOR: drop the connection at once (RST, so the client cannot mistake it for a complete file).
    func abort() {
        socket.resetOnClose()
        finish(.aborted(bytes: pump.bytes))
    }

    private func ready() {
        switch socket.handshake() {
        case .done: break
        case .waiting: return
        case .failed(let reason): return finish(.dataConnectionInsecure(reason))
        }
        switch pump.pump(socket) {
        case .wait(let readiness): socket.watch(readiness)
        case .paused: break
        case .again: socket.resumeSoon()
        case .finished(let outcome): finish(outcome)
        }
    }

    /// Each second: end the transfer if nothing moved for `stallSeconds`, or look again in a second.
    private func checkStall() {
        guard socket.secondsSinceProgress >= stallSeconds else { return stallTimer?.schedule(timeoutMilliseconds: 1000) ?? () }
        socket.resetOnClose()
        let what = socket.isHandshaking ? "TLS handshake" : "transfer"
        finish(.connectionLost(bytes: pump.bytes, reason: "\(what) made no progress for \(stallSeconds) seconds"))
    }

    /// Close everything and report once.
    private func finish(_ outcome: TransferOutcome) {
        guard let onFinish else { return }
        self.onFinish = nil
        stallTimer?.cancel()
        socket.close(completed: outcome.failureReason == nil)
        onFinish(pump.finish(outcome))
    }
}
