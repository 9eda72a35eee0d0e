import CFerrySys
import FTPCore
import FerryReactor
import Glibc

/// Runs one transfer over a connected, non-blocking data socket and reports how it ended, once.
///
/// RETR in binary mode uses sendfile(2) driven by write-readiness, at most `sliceBytes` per wakeup so
/// one fast client cannot starve the loop's other sessions. ASCII RETR, listings and uploads go through
/// one reused buffer. Owns the data socket and the file descriptor and closes both.
final class DataTransfer {
    static let sliceBytes = 1 << 20
    static let bufferBytes = 256 * 1024

    private let kind: TransferKind
    private let socket: Int32
    private let stallSeconds: Int
    private var onFinish: ((TransferOutcome) -> Void)?
    private var watcher: EventWatcher?
    private var stallTimer: EventWatcher?
    private var lastProgress = MonotonicClock.seconds()
    private(set) var bytes: UInt64 = 0

    // RETR state.
    private var fileOffset: UInt64 = 0
    private var fileEnd: UInt64 = 0
    // Buffered output (ASCII RETR, listings): bytes not yet written start at `outputStart`.
    private var output: [UInt8] = []
    private var outputStart = 0
    private var sourceExhausted = false
    private var converter = AsciiConverter()
    private var listingIndex = 0
    private let now = Int64(time(nil))

    init(kind: TransferKind, socket: Int32, loop: EventLoop, stallSeconds: Int, onFinish: @escaping (TransferOutcome) -> Void) {
        self.kind = kind
        self.socket = socket
        self.stallSeconds = stallSeconds
        self.onFinish = onFinish
        let interest: EventWatcher.Readiness
        switch kind {
        case .retrieve(let file, let offset, _):
            fileOffset = offset
            fileEnd = file.size
            interest = .write
        case .store:
            interest = .read
        case .listing:
            interest = .write
        }
        watcher = EventWatcher.descriptor(loop: loop, fd: socket, interest) { [unowned self] _ in self.ready() }
        stallTimer = EventWatcher.timer(loop: loop, repeating: true) { [unowned self] in self.checkStall() }
    }

    func start() {
        watcher?.schedule()
        stallTimer?.schedule(timeoutMilliseconds: 1000)
    }

    /// ABOR: drop the connection at once (RST, so the client cannot mistake it for a complete file).
    func abort() {
        Sockets.setResetOnClose(socket)
        finish(.aborted(bytes: bytes))
    }

    private func ready() {
        switch kind {
        case .retrieve(let file, _, let ascii):
            if ascii { pumpBuffered { self.fillAscii(file) } } else { sendFile(file) }
        case .listing(let entries, let style):
            pumpBuffered { self.fillListing(entries, style) }
        case .store(let file, let ascii):
            receive(into: file, ascii: ascii)
        }
    }

    private func progressed(_ count: Int) {
        bytes += UInt64(count)
        lastProgress = MonotonicClock.seconds()
    }

    // MARK: RETR, binary: sendfile

    private func sendFile(_ file: OpenedFile) {
        var budget = DataTransfer.sliceBytes
        while budget > 0 && fileOffset < fileEnd {
            var offset = Int64(fileOffset)
            let want = Int(min(UInt64(budget), fileEnd - fileOffset))
            let sent = ferry_sendfile(socket, file.descriptor, &offset, want)
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
                return failSocket(errno)
            }
        }
        if fileOffset >= fileEnd { finish(.completed(bytes: bytes)) }
    }

    // MARK: buffered output: ASCII RETR and listings

    /// Write what is buffered; refill with `fill` (which sets `sourceExhausted` at the end).
    private func pumpBuffered(_ fill: () -> TransferOutcome?) {
        var budget = DataTransfer.sliceBytes
        while budget > 0 {
            if outputStart == output.count {
                if sourceExhausted { return finish(.completed(bytes: bytes)) }
                output.removeAll(keepingCapacity: true)
                outputStart = 0
                if let failure = fill() { return finish(failure) }
                continue
            }
            let written = output[outputStart...].withUnsafeBytes { Glibc.write(socket, $0.baseAddress, $0.count) }
            if written > 0 {
                outputStart += written
                budget -= written
                progressed(written)
            } else if errno == EAGAIN || errno == EINTR {
                return
            } else {
                return failSocket(errno)
            }
        }
    }

    private func fillAscii(_ file: OpenedFile) -> TransferOutcome? {
        var chunk = [UInt8](repeating: 0, count: DataTransfer.bufferBytes / 2)
        let n = chunk.withUnsafeMutableBytes { pread(file.descriptor, $0.baseAddress, $0.count, off_t(fileOffset)) }
        if n < 0 { return .fileError(FileSystemError(errno), bytes: bytes) }
        if n == 0 {
            sourceExhausted = true
            return nil
        }
        fileOffset += UInt64(n)
        chunk.withUnsafeBytes { converter.toNetwork(UnsafeRawBufferPointer(rebasing: $0[0..<n]), into: &output) }
        return nil
    }

    private func fillListing(_ entries: [FileInfo], _ style: ListingStyle) -> TransferOutcome? {
        while listingIndex < entries.count && output.count < 64 * 1024 {
            output.append(contentsOf: ListingFormatter.line(entries[listingIndex], style: style, now: now).utf8)
            listingIndex += 1
        }
        if listingIndex == entries.count { sourceExhausted = true }
        return nil
    }

    // MARK: STOR / APPE / STOU

    private func receive(into file: OpenedFile, ascii: Bool) {
        var budget = 4 * DataTransfer.sliceBytes
        if output.isEmpty { output = [UInt8](repeating: 0, count: DataTransfer.bufferBytes) }
        var converted: [UInt8] = []
        while budget > 0 {
            let n = output.withUnsafeMutableBytes { Glibc.read(socket, $0.baseAddress, $0.count) }
            if n == 0 {
                if ascii {
                    converted.removeAll(keepingCapacity: true)
                    converter.finishLocal(into: &converted)
                    if let error = writeAll(file.descriptor, converted) { return finish(.fileError(error, bytes: bytes)) }
                }
                return finish(.completed(bytes: bytes))
            }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { return }
                return failSocket(errno)
            }
            progressed(n)
            budget -= n
            let error: FileSystemError?
            if ascii {
                converted.removeAll(keepingCapacity: true)
                output.withUnsafeBytes { converter.toLocal(UnsafeRawBufferPointer(rebasing: $0[0..<n]), into: &converted) }
                error = writeAll(file.descriptor, converted)
            } else {
                error = output.withUnsafeBytes { writeAll(file.descriptor, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            }
            if let error { return finish(.fileError(error, bytes: bytes)) }
        }
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

    private func failSocket(_ code: Int32) {
        finish(.connectionLost(bytes: bytes, reason: String(cString: strerror(code))))
    }

    private func checkStall() {
        if MonotonicClock.seconds() - lastProgress >= Int64(stallSeconds) {
            Sockets.setResetOnClose(socket)
            finish(.connectionLost(bytes: bytes, reason: "no progress for \(stallSeconds) seconds"))
        }
    }

    /// Close everything and report once. An upload's close is checked: ENOSPC and EDQUOT often
    /// surface only there, and a 226 must mean the data is in the file.
    private func finish(_ outcome: TransferOutcome) {
        guard let onFinish else { return }
        self.onFinish = nil
        watcher?.cancel()
        stallTimer?.cancel()
        Sockets.close(socket)
        var result = outcome
        switch kind {
        case .retrieve(let file, _, _):
            Glibc.close(file.descriptor)
        case .store(let file, _):
            if Glibc.close(file.descriptor) != 0, case .completed = outcome {
                result = .fileError(FileSystemError(errno), bytes: bytes)
            }
        case .listing:
            break
        }
        onFinish(result)
    }
}
