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

/// Runs one transfer over a connected, non-blocking data socket and reports how it ended, once.
///
/// RETR in binary mode over plaintext uses sendfile(2) driven by write-readiness, at most
/// `sliceBytes` per wakeup so one fast client cannot starve the loop's other sessions. Binary uploads
/// over plaintext move socket → pipe → file with splice(2), never through user space. TLS (PROT P),
/// ASCII, listings, appends (splice refuses O_APPEND files) and uploads that could not get a
/// full-size pipe go through one reused buffer. With TLS the transfer starts with a
/// server handshake and ends with close_notify. Owns the data socket and the file descriptor.
final class DataTransfer {
    /// Per wakeup and transfer. A non-blocking sendfile stops anyway when the socket buffer is full
    /// (at most 4 MiB here), so this bounds a loop's turn without cutting bursts short: 4 MiB moved
    /// W2 x64 from a median of 5277 to 6265 MiB/s against 1 MiB (three runs each, same client).
    static let sliceBytes = 4 << 20
    static let bufferBytes = 256 * 1024
    /// A directory listing is read and rendered in batches of about this many bytes.
    static let listingBatchBytes = 64 * 1024
    /// Splice pipes this size moved W3 uploads 1.7x faster than 64 KiB and 1.5x faster than 256 KiB
    /// ones; a user's pipes share a kernel allowance (fs/pipe-user-pages-soft), so one may be refused.
    static let pipeBytes = 1 << 20
    /// What a refused upload may still send before the connection is reset (see `refuse`).
    static let discardBytes = 16 << 20

    /// What one read or write on the data connection did.
    private enum IOResult {
        case done(Int)
        case wouldBlock(EventWatcher.Readiness)
        case endOfData
        case failed(String)
    }

    private let kind: TransferKind
    private let socket: Int32
    private let loop: EventLoop
    private let stallSeconds: Int
    private let tls: TLSConnection?
    private let tlsPolicy: DataTLSPolicy
    /// Bandwidth caps: each slice moves at most what every bucket holds.
    private let caps: [TokenBucket]
    private var resumeTimer: EventWatcher?
    private var tlsRetryLength: Int?
    /// Uploads stop with EFBIG (552) before the file would pass this size.
    private let maxFileSize: UInt64?
    /// Uploads charge it; one that would pass it stops with EDQUOT (552).
    private let quota: DiskQuota?
    /// What this upload charged to `quota`, and the file's allocation when it started: at the end the
    /// charge is settled to what the file really grew by (see `DiskQuota`).
    private var charged: UInt64 = 0
    private var allocatedAtStart: UInt64 = 0
    private var handshaking: Bool
    private var onFinish: ((TransferOutcome) -> Void)?
    private var watcher: EventWatcher?
    private var interest: EventWatcher.Readiness = []
    private var stallTimer: EventWatcher?
    private var lastProgress = MonotonicClock.seconds()
    private(set) var bytes: UInt64 = 0

    // RETR state.
    private var fileOffset: UInt64 = 0
    private var fileEnd: UInt64 = 0
    // Buffered output (TLS or ASCII RETR, listings): bytes not yet written are
    // output[outputStart..<outputEnd]. Binary reads go straight into it; uploads use it as their read
    // buffer. Both buffers are allocated once per transfer and reused.
    private var output: [UInt8] = []
    private var outputStart = 0
    private var outputEnd = 0
    private var readBuffer: [UInt8] = []
    /// The splice pipe of a binary plaintext upload, made at its first read; nil until then, for
    /// uploads that cannot splice, and when the kernel refused it.
    private var splicePipe: (read: Int32, write: Int32)?
    private var splicePipeTried = false
    private var sourceExhausted = false
    /// How a refused upload will end, once the file took no more of it; `discarded` counts what
    /// was read and dropped since.
    private var refusal: TransferOutcome?
    private var discarded = 0
    private var converter = AsciiConverter()
    private var listingIndex = 0
    /// A batch of a directory listing is being read and rendered on a worker thread.
    private var fetchingListing = false
    private let now = Int64(time(nil))

    /// With `tls`, the data connection is a TLS server endpoint held to `tlsPolicy`.
    init(kind: TransferKind, socket: Int32, loop: EventLoop, stallSeconds: Int, tls: TLSConnection?, tlsPolicy: DataTLSPolicy,
         caps: [TokenBucket], maxFileSize: UInt64?, quota: DiskQuota?, onFinish: @escaping (TransferOutcome) -> Void) {
        self.kind = kind
        self.quota = quota
        self.caps = caps
        self.maxFileSize = maxFileSize
        self.socket = socket
        self.loop = loop
        self.stallSeconds = stallSeconds
        self.tls = tls
        self.tlsPolicy = tlsPolicy
        self.handshaking = tls != nil
        self.onFinish = onFinish
        switch kind {
        case .retrieve(let file, let offset, _):
            fileOffset = offset
            fileEnd = file.size
        case .store(let file, _):
            if quota != nil { allocatedAtStart = DataTransfer.allocated(file) }
        case .listing:
            break
        }
        stallTimer = EventWatcher.timer(loop: loop, repeating: true) { [unowned self] in self.checkStall() }
    }

    func start() {
        stallTimer?.schedule(timeoutMilliseconds: 1000)
        if handshaking {
            watch(.read)
        } else {
            corkIfSending()
            watch(transferInterest)
        }
    }

    /// ABOR: drop the connection at once (RST, so the client cannot mistake it for a complete file).
    func abort() {
        Sockets.setResetOnClose(socket)
        finish(.aborted(bytes: bytes))
    }

    private var transferInterest: EventWatcher.Readiness {
        if case .store = kind { return .read }
        return .write
    }

    /// Wait for `readiness` on the socket (re-arming only when it changes).
    private func watch(_ readiness: EventWatcher.Readiness) {
        guard readiness != interest || watcher == nil else { return }
        watcher?.cancel()
        interest = readiness
        watcher = EventWatcher.descriptor(loop: loop, fd: socket, readiness) { [unowned self] _ in self.ready() }
        watcher?.schedule()
    }

    private func ready() {
        if handshaking { return handshake() }
        if refusal != nil { return discard() }
        switch kind {
        case .retrieve(let file, _, let ascii):
            if ascii || tls != nil { pumpBuffered { self.fillFromFile(file, ascii: ascii) } } else { sendFile(file) }
        case .listing(.entries(let entries), let style):
            pumpBuffered { self.fillListing(entries, style) }
        case .listing(.directory(let handle), let style):
            pumpBuffered { self.fetchListing(handle.listing, style) }
        case .store(let file, let ascii):
            if let pipe = splicePipe(for: file, ascii: ascii) {
                receiveSpliced(into: file, through: pipe)
            } else {
                receive(into: file, ascii: ascii)
            }
        }
    }

    private func handshake() {
        guard let tls else { return }
        switch tls.handshake() {
        case .done:
            handshaking = false
            lastProgress = MonotonicClock.seconds()
            if tlsPolicy.requireResumption && !tls.sessionReused {
                return finish(.dataConnectionInsecure(
                    "TLS session not resumed: the data connection must reuse the control connection's TLS session (the server's --tls-session-reuse optional relaxes this)"))
            }
            corkIfSending()
            watch(transferInterest)
            ready()
        case .wantRead: watch(.read)
        case .wantWrite: watch(.write)
        case .closed, .truncated: finish(.dataConnectionInsecure("TLS handshake on the data connection failed: connection closed"))
        case .failed(let reason): finish(.dataConnectionInsecure("TLS handshake on the data connection failed: \(reason)"))
        }
    }

    /// Downloads and listings cork the socket (TCP_CORK) until they end, so data leaves in full
    /// segments whatever the size of each write or sendfile: TLS records are 16 KiB, and a
    /// non-blocking sendfile stops wherever the socket buffer filled. Against uncorked sendfile
    /// (3 interleaved runs): W1 median 3420 -> 5674 MiB/s and 0.29 -> 0.18 server CPU s/GiB, W2 x16
    /// 4870 -> 7612 MiB/s and 0.24-0.26 -> 0.16-0.17 s/GiB; TLS W5 1.48 -> about 1.2 s/GiB.
    private func corkIfSending() {
        guard transferInterest == .write else { return }
        Sockets.setCorked(socket, true)
    }

    private func progressed(_ count: Int) {
        bytes += UInt64(count)
        lastProgress = MonotonicClock.seconds()
        for cap in caps { cap.consume(count) }
    }

    // MARK: bandwidth caps

    /// How much of `wanted` the caps allow now; 0 pauses the transfer until the emptiest bucket has
    /// refilled (the caller returns and waits).
    private func allowance(_ wanted: Int) -> Int {
        guard !caps.isEmpty else { return wanted }
        let allowed = caps.map { $0.available() }.min() ?? wanted
        if allowed <= 0 {
            throttle()
            return 0
        }
        return min(wanted, allowed)
    }

    private func throttle() {
        watcher?.pause()
        if resumeTimer == nil {
            resumeTimer = EventWatcher.timer(loop: loop) { [unowned self] in
                self.watcher?.schedule()
                self.ready()
            }
        }
        resumeTimer?.schedule(timeoutMilliseconds: caps.map { $0.millisecondsUntilReady() }.max() ?? 1)
    }

    // MARK: socket I/O, plain or TLS

    private func send(_ buffer: UnsafeRawBufferPointer) -> IOResult {
        if let tls {
            switch tls.write(buffer) {
            case .done(let n): return .done(n)
            case .wantRead: return .wouldBlock(.read)
            case .wantWrite: return .wouldBlock(.write)
            case .closed, .truncated: return .failed("peer closed the TLS session")
            case .failed(let reason): return .failed(reason)
            }
        }
        let n = Glibc.write(socket, buffer.baseAddress, buffer.count)
        if n >= 0 { return .done(n) }
        if errno == EAGAIN || errno == EINTR { return .wouldBlock(.write) }
        return .failed(String(cString: strerror(errno)))
    }

    private func receive(_ buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        if let tls {
            switch tls.read(buffer) {
            case .done(let n): return .done(n)
            case .wantRead: return .wouldBlock(.read)
            case .wantWrite: return .wouldBlock(.write)
            case .closed: return .endOfData
            case .truncated:
                if !tlsPolicy.requireCloseNotify { return .endOfData }
                return .failed("the client closed the TLS data connection without close_notify, so the upload may be cut short")
            case .failed(let reason): return .failed(reason)
            }
        }
        let n = Glibc.read(socket, buffer.baseAddress, buffer.count)
        if n > 0 { return .done(n) }
        if n == 0 { return .endOfData }
        if errno == EAGAIN || errno == EINTR { return .wouldBlock(.read) }
        return .failed(String(cString: strerror(errno)))
    }

    // MARK: RETR, binary over plaintext: sendfile

    private func sendFile(_ file: OpenedFile) {
        var budget = DataTransfer.sliceBytes
        while budget > 0 && fileOffset < fileEnd {
            var offset = Int64(fileOffset)
            let want = allowance(Int(min(UInt64(budget), fileEnd - fileOffset)))
            if want == 0 { return }
            let sent = ferry_sendfile(socket, file.descriptor.rawValue, &offset, want)
            if sent > 0 {
                fileOffset = UInt64(offset)
                budget -= sent
                progressed(sent)
            } else if sent == 0 {
                // The file shrank under us: what was there has been sent.
                fileEnd = fileOffset
            } else if errno == EAGAIN || errno == EINTR {
                return
            } else {
                return finish(.connectionLost(bytes: bytes, reason: String(cString: strerror(errno))))
            }
        }
        if fileOffset >= fileEnd { finish(.completed(bytes: bytes)) }
    }

    // MARK: buffered output: TLS or ASCII RETR, and listings

    /// Write what is buffered; refill with `fill` (which sets `sourceExhausted` at the end).
    private func pumpBuffered(_ fill: () -> TransferOutcome?) {
        var budget = DataTransfer.sliceBytes
        while budget > 0 {
            if outputStart == outputEnd {
                if sourceExhausted { return finish(.completed(bytes: bytes)) }
                // A listing batch is being read off the loop; its arrival resumes the transfer.
                if fetchingListing { return watcher?.pause() ?? () }
                outputStart = 0
                outputEnd = 0
                if let failure = fill() { return finish(failure) }
                continue
            }
            // OpenSSL wants a write retried with at least the length it was first given.
            let slice = tlsRetryLength ?? allowance(outputEnd - outputStart)
            if slice == 0 { return }
            switch output[outputStart..<outputStart + slice].withUnsafeBytes({ send($0) }) {
            case .done(let n):
                tlsRetryLength = nil
                outputStart += n
                budget -= n
                progressed(n)
            case .wouldBlock(let readiness):
                if tls != nil { tlsRetryLength = slice }
                return watch(readiness)
            case .endOfData:
                return finish(.connectionLost(bytes: bytes, reason: "peer closed the connection"))
            case .failed(let reason):
                return finish(.connectionLost(bytes: bytes, reason: reason))
            }
        }
        watch(.write)
    }

    /// Binary: read straight into `output`. ASCII: read into `readBuffer`, convert into `output`.
    private func fillFromFile(_ file: OpenedFile, ascii: Bool) -> TransferOutcome? {
        let size = ascii ? DataTransfer.bufferBytes / 2 : DataTransfer.bufferBytes
        let want = Int(min(UInt64(size), fileEnd - min(fileOffset, fileEnd)))
        if want == 0 {
            sourceExhausted = true
            return nil
        }
        if ascii && readBuffer.isEmpty { readBuffer = [UInt8](repeating: 0, count: size) }
        if !ascii && output.count < size { output = [UInt8](repeating: 0, count: size) }
        let n = ascii
            ? readBuffer.withUnsafeMutableBytes { pread(file.descriptor.rawValue, $0.baseAddress, want, off_t(fileOffset)) }
            : output.withUnsafeMutableBytes { pread(file.descriptor.rawValue, $0.baseAddress, want, off_t(fileOffset)) }
        if n < 0 { return .fileError(FileSystemError(errno), bytes: bytes) }
        if n == 0 {
            sourceExhausted = true
            return nil
        }
        fileOffset += UInt64(n)
        if ascii {
            output.removeAll(keepingCapacity: true)
            readBuffer.withUnsafeBytes { converter.toNetwork(UnsafeRawBufferPointer(rebasing: $0[0..<n]), into: &output) }
            outputEnd = output.count
        } else {
            outputEnd = n
        }
        return nil
    }

    private func fillListing(_ entries: [FileInfo], _ style: ListingStyle) -> TransferOutcome? {
        output.removeAll(keepingCapacity: true)
        while listingIndex < entries.count && output.count < DataTransfer.listingBatchBytes {
            ListingFormatter.append(entries[listingIndex], style: style, now: now, to: &output)
            listingIndex += 1
        }
        outputEnd = output.count
        if listingIndex == entries.count { sourceExhausted = true }
        return nil
    }

    /// Read and render the next batch of a directory (about 64 KiB of lines) on a worker thread: a
    /// fstatat per entry must not hold up the loop. An empty batch is the end.
    private func fetchListing(_ listing: any DirectoryListing, _ style: ListingStyle) -> TransferOutcome? {
        fetchingListing = true
        let now = self.now
        loop.offload({
            var rendered: [UInt8] = []
            while rendered.count < DataTransfer.listingBatchBytes {
                let entries = listing.next(256)
                if entries.isEmpty { break }
                for entry in entries { ListingFormatter.append(entry, style: style, now: now, to: &rendered) }
            }
            return rendered
        }) { [weak self] rendered in
            guard let self, self.onFinish != nil else { return }
            self.fetchingListing = false
            if rendered.isEmpty {
                self.sourceExhausted = true
            } else {
                self.output = rendered
                self.outputEnd = rendered.count
            }
            self.watcher?.schedule()
            self.ready()
        }
        return nil
    }

    // MARK: STOR / APPE / STOU

    private func receive(into file: OpenedFile, ascii: Bool) {
        var budget = DataTransfer.sliceBytes
        if output.isEmpty { output = [UInt8](repeating: 0, count: DataTransfer.bufferBytes) }
        var converted: [UInt8] = []
        while budget > 0 {
            let room = allowance(output.count)
            if room == 0 { return }
            let n: Int
            // Through the whole array's buffer: a mutating call on a slice (`output[0..<room]`) copied it.
            switch output.withUnsafeMutableBytes({ receive(UnsafeMutableRawBufferPointer(rebasing: $0[0..<room])) }) {
            case .done(let count):
                n = count
            case .endOfData:
                if ascii {
                    converted.removeAll(keepingCapacity: true)
                    converter.finishLocal(into: &converted)
                    if let error = writeAll(file.descriptor.rawValue, converted) { return finish(.fileError(error, bytes: bytes)) }
                }
                return finish(.completed(bytes: bytes))
            case .wouldBlock(let readiness):
                return watch(readiness)
            case .failed(let reason):
                return finish(.connectionLost(bytes: bytes, reason: reason))
            }
            guard let (keep, tooLarge) = admit(n, into: file) else {
                return refuse(FileSystemError(EDQUOT))
            }
            progressed(keep)
            budget -= n
            let error: FileSystemError?
            if ascii {
                converted.removeAll(keepingCapacity: true)
                output.withUnsafeBytes { converter.toLocal(UnsafeRawBufferPointer(rebasing: $0[0..<keep]), into: &converted) }
                error = writeAll(file.descriptor.rawValue, converted)
            } else {
                error = output.withUnsafeBytes { writeAll(file.descriptor.rawValue, UnsafeRawBufferPointer(rebasing: $0[0..<keep])) }
            }
            if let error { return refuse(error) }
            if tooLarge { return refuse(FileSystemError(EFBIG)) }
        }
        watch(.read)
    }

    /// How many of `count` received bytes may go into the file: all, or up to the maximum file size
    /// (`tooLarge`: the upload stops after them with 552). Nil when the quota refuses them.
    private func admit(_ count: Int, into file: OpenedFile) -> (keep: Int, tooLarge: Bool)? {
        var keep = count
        var tooLarge = false
        if let maxFileSize, file.size + bytes + UInt64(count) > maxFileSize {
            keep = Int(maxFileSize - min(maxFileSize, file.size + bytes))
            tooLarge = true
        }
        if let quota {
            guard quota.charge(UInt64(keep)) else { return nil }
            charged += UInt64(keep)
        }
        return (keep, tooLarge)
    }

    private static func allocated(_ file: OpenedFile) -> UInt64 {
        var st = stat()
        return fstat(file.descriptor.rawValue, &st) == 0 ? DiskQuota.allocated(st) : 0
    }

    /// Decided once per upload: TLS and ASCII need the bytes in user space, and splice refuses files
    /// opened O_APPEND (APPE).
    private func splicePipe(for file: OpenedFile, ascii: Bool) -> (read: Int32, write: Int32)? {
        if !splicePipeTried {
            splicePipeTried = true
            var fds: [Int32] = [-1, -1]
            if !ascii, tls == nil, fcntl(file.descriptor.rawValue, F_GETFL) & O_APPEND == 0,
               ferry_make_splice_pipe(&fds, Int32(DataTransfer.pipeBytes)) == 0 {
                splicePipe = (fds[0], fds[1])
            }
        }
        return splicePipe
    }

    /// Socket → pipe → file, a pipeful at a time; the pipe is emptied into the file before the next
    /// read, so nothing is held in it between wakeups.
    private func receiveSpliced(into file: OpenedFile, through pipe: (read: Int32, write: Int32)) {
        var budget = DataTransfer.sliceBytes
        while budget > 0 {
            let room = allowance(DataTransfer.pipeBytes)
            if room == 0 { return }
            let n = ferry_splice(socket, pipe.write, room)
            if n == 0 { return finish(.completed(bytes: bytes)) }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { return watch(.read) }
                return finish(.connectionLost(bytes: bytes, reason: String(cString: strerror(errno))))
            }
            guard let (keep, tooLarge) = admit(n, into: file) else {
                return refuse(FileSystemError(EDQUOT))
            }
            progressed(keep)
            budget -= n
            var left = keep
            while left > 0 {
                let moved = ferry_splice(pipe.read, file.descriptor.rawValue, left)
                if moved < 0 && errno == EINTR { continue }
                guard moved > 0 else { return refuse(FileSystemError(moved < 0 ? errno : EIO)) }
                left -= moved
            }
            if tooLarge { return refuse(FileSystemError(EFBIG)) }
        }
        watch(.read)
    }

    /// The file took no more of an upload (quota, size limit, disk error): read what the client is
    /// still sending and throw it away, then reply. Closing with unread data would reset the
    /// connection, and a client still sending (ftplib, curl) then reports the reset, not the 552/452.
    /// Past `discardBytes` the connection is reset after all.
    private func refuse(_ error: FileSystemError) {
        refusal = .fileError(error, bytes: bytes)
        discard()
    }

    private func discard() {
        guard let refusal else { return }
        if output.isEmpty { output = [UInt8](repeating: 0, count: DataTransfer.bufferBytes) }
        while discarded < DataTransfer.discardBytes {
            switch output.withUnsafeMutableBytes({ receive($0) }) {
            case .done(let n):
                discarded += n
                lastProgress = MonotonicClock.seconds()
            case .wouldBlock(let readiness):
                return watch(readiness)
            case .endOfData, .failed:
                return finish(refusal)
            }
        }
        Sockets.setResetOnClose(socket)
        finish(refusal)
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> FileSystemError? {
        bytes.withUnsafeBytes { writeAll(fd, $0) }
    }

    private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> FileSystemError? {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return FileSystemError(errno)
            }
            offset += n
        }
        return nil
    }

    // MARK: the end

    private func checkStall() {
        if MonotonicClock.seconds() - lastProgress >= Int64(stallSeconds) {
            Sockets.setResetOnClose(socket)
            let what = handshaking ? "TLS handshake" : "transfer"
            finish(.connectionLost(bytes: bytes, reason: "\(what) made no progress for \(stallSeconds) seconds"))
        }
    }

    /// Close everything and report once. An upload's close is checked: ENOSPC and EDQUOT often
    /// surface only there, and a 226 must mean the data is in the file. A completed TLS transfer ends
    /// with close_notify.
    private func finish(_ outcome: TransferOutcome) {
        guard let onFinish else { return }
        self.onFinish = nil
        watcher?.cancel()
        stallTimer?.cancel()
        resumeTimer?.cancel()
        if case .completed = outcome {
            tls?.shutdown()
            // Only a download or listing that got past its handshake completes, so it is corked.
            if transferInterest == .write { Sockets.setCorked(socket, false) }
        }
        Sockets.close(socket)
        if let pipe = splicePipe {
            Glibc.close(pipe.read)
            Glibc.close(pipe.write)
        }
        var result = outcome
        switch kind {
        case .retrieve(let file, _, _):
            file.descriptor.close()
        case .store(let file, _):
            if let quota {
                let now = DataTransfer.allocated(file)
                quota.settle(charged: charged, grown: now - min(now, allocatedAtStart))
            }
            if let error = file.descriptor.close(), case .completed = outcome {
                result = .fileError(error, bytes: bytes)
            }
        case .listing:
            break
        }
        onFinish(result)
    }
}
