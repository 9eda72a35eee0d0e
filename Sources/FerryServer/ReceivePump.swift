import CFerrySys
import FTPCore
import FerryReactor
import Glibc

/// STOR, APPE and STOU: binary uploads over plaintext move socket → pipe → file with splice(2),
/// never through user space; TLS, ASCII, appends (splice refuses O_APPEND files) and uploads that
/// could not get a full-size pipe read into one reused buffer. Every read is sized to the room the
/// quota gives first, and what it brings is admitted against the maximum file size; what the file
/// will not take is refused.
final class ReceivePump: TransferPump {
    /// Splice pipes this size moved W3 uploads 1.7x faster than 64 KiB and 1.5x faster than 256 KiB
    /// ones; a user's pipes share a kernel allowance (fs/pipe-user-pages-soft), so one may be refused.
    static let pipeBytes = 1 << 20
    /// What a refused upload may still send before the connection is reset (see `refuse`).
    static let discardBytes = 16 << 20

    private let file: OpenedFile
    private let ascii: Bool
    /// Uploads stop with EFBIG (552) before the file would pass this size.
    private let maxFileSize: UInt64?
    /// Uploads take room from it before each read; one that finds none stops with EDQUOT (552).
    private let quota: (any Quota)?
    private let loop: any Scheduler
    /// Room taken from `quota` and not yet filled (given back when the upload ends).
    private var held = 0
    /// A shared quota is fetching more room off the loop; its answer resumes the socket.
    private var refilling = false
    /// The quota refused more room: the next turn refuses the upload with this.
    private var quotaRefusal: FileSystemError?
    private var ended = false
    /// What this upload charged to `quota`, and the file's allocation when it started: at the end the
    /// charge is settled to what the file really grew by (see `DiskQuota`).
    private var charged: UInt64 = 0
    private var allocatedAtStart: UInt64 = 0
    private(set) var bytes: UInt64 = 0
    let sends = false
    private var buffer: [UInt8] = []
    private var converted: [UInt8] = []
    private var converter = AsciiConverter()
    /// The splice pipe, made at the first turn of an upload that can splice.
    private var pipeRead: Descriptor?
    private var pipeWrite: Descriptor?
    private var pipeTried = false
    /// How a refused upload will end, once the file took no more of it; `discarded` counts what
    /// was read and dropped since.
    private var refusal: TransferOutcome?
    private var discarded = 0

    init(file: OpenedFile, ascii: Bool, maxFileSize: UInt64?, quota: (any Quota)?, loop: any Scheduler) {
        self.file = file
        self.ascii = ascii
        self.maxFileSize = maxFileSize
        self.quota = quota
        self.loop = loop
        if quota != nil { allocatedAtStart = ReceivePump.allocated(file) }
    }

    func pump(_ socket: DataSocket) -> PumpStep {
        if refusal != nil { return discard(socket) }
        return makePipe(socket) ? receiveSpliced(socket) : receiveBuffered(socket)
    }

    /// Decided once per upload: TLS and ASCII need the bytes in user space, and splice refuses files
    /// opened O_APPEND (APPE).
    private func makePipe(_ socket: DataSocket) -> Bool {
        if !pipeTried {
            pipeTried = true
            var fds: [Int32] = [-1, -1]
            if !ascii, !socket.isTLS, fcntl(file.descriptor.rawValue, F_GETFL) & O_APPEND == 0,
               ferry_make_splice_pipe(&fds, Int32(ReceivePump.pipeBytes)) == 0 {
                pipeRead = Descriptor(taking: fds[0])
                pipeWrite = Descriptor(taking: fds[1])
            }
        }
        return pipeRead != nil
    }

    /// Socket → pipe → file, a pipeful at a time; the pipe is emptied into the file before the next
    /// read, so nothing is held in it between turns.
    private func receiveSpliced(_ socket: DataSocket) -> PumpStep {
        guard let pipeIn = pipeWrite?.rawValue, let pipeOut = pipeRead?.rawValue else { return .finished(.completed(bytes: bytes)) }
        var budget = TransferSlice.bytes
        while budget > 0 {
            var room = 1
            var overQuota: FileSystemError?
            switch self.room(socket, ReceivePump.pipeBytes) {
            case .bytes(let count): room = count
            case .probe(let error): overQuota = error
            case .stop(let step): return step
            }
            let n: Int
            do {
                switch try syscall("splice", { ferry_splice(socket.rawValue, pipeIn, room) }) {
                case .processed(0): return .finished(.completed(bytes: bytes))
                case .processed(let count): n = count
                case .wouldBlock: return .wait(.read)
                }
            } catch {
                return .finished(.connectionLost(bytes: bytes, reason: error.reason))
            }
            socket.moved(n)
            budget -= n
            if let overQuota { return refuse(overQuota, socket) }
            let (keep, tooLarge) = admit(n)
            var left = keep
            while left > 0 {
                do {
                    // The pipe holds the bytes, so EAGAIN here would be the file's, and a file never says it.
                    guard case .processed(let moved) = try syscall("splice", { ferry_splice(pipeOut, file.descriptor.rawValue, left) }), moved > 0 else {
                        return refuse(FileSystemError(EIO), socket)
                    }
                    left -= moved
                } catch {
                    return refuse(FileSystemError(error.code), socket)
                }
            }
            if tooLarge { return refuse(FileSystemError(EFBIG), socket) }
        }
        return .wait(.read)
    }

    private func receiveBuffered(_ socket: DataSocket) -> PumpStep {
        var budget = TransferSlice.bytes
        var receives = TransferSlice.receives
        if buffer.isEmpty { buffer = [UInt8](repeating: 0, count: TransferSlice.bufferBytes) }
        while budget > 0 && receives > 0 {
            var room = 1
            var overQuota: FileSystemError?
            switch self.room(socket, buffer.count) {
            case .bytes(let count): room = count
            case .probe(let error): overQuota = error
            case .stop(let step): return step
            }
            let (n, stop) = gather(socket, room, &receives)
            if n > 0 {
                socket.moved(n)
                budget -= n
                if let overQuota { return refuse(overQuota, socket) }
                let (keep, tooLarge) = admit(n)
                let error: FileSystemError?
                if ascii {
                    converted.removeAll(keepingCapacity: true)
                    buffer.withUnsafeBytes { converter.toLocal(UnsafeRawBufferPointer(rebasing: $0[0..<keep]), into: &converted) }
                    error = converted.withUnsafeBytes { writeToFile($0) }
                } else {
                    error = buffer.withUnsafeBytes { writeToFile(UnsafeRawBufferPointer(rebasing: $0[0..<keep])) }
                }
                if let error { return refuse(error, socket) }
                if tooLarge { return refuse(FileSystemError(EFBIG), socket) }
            }
            switch stop {
            case nil:
                continue
            case .end:
                if ascii {
                    converted.removeAll(keepingCapacity: true)
                    converter.finishLocal(into: &converted)
                    if let error = converted.withUnsafeBytes({ writeToFile($0) }) { return .finished(.fileError(error, bytes: bytes)) }
                }
                return .finished(.completed(bytes: bytes))
            case .wait(let readiness):
                return .wait(readiness)
            case .lost(let reason):
                return .finished(.connectionLost(bytes: bytes, reason: reason))
            }
        }
        return ReceivePump.nextTurn(socket)
    }

    /// Where a turn that spent its budget leaves the upload. Not after a read that would block: what
    /// is held then is part of a record, and an immediate turn would spin until the rest arrives.
    private static func nextTurn(_ socket: DataSocket) -> PumpStep {
        socket.hasBufferedInput ? .again : .wait(.read)
    }

    /// Why `gather` stopped before filling its room.
    private enum ReadStop {
        case end
        case wait(EventWatcher.Readiness)
        case lost(String)
    }

    /// Read up to `room` bytes into `buffer`: one read on plaintext, which takes what the socket
    /// holds; under TLS, which gives one record (at most 16 KiB) per read, as many as are there, so
    /// the file gets one large write instead of one per record (FTPS uploads made 41 000 writes per
    /// GiB). Each read spends one of `receives`. Returns what was read and, if reading stopped
    /// before `room` for another reason than `receives`, why.
    private func gather(_ socket: DataSocket, _ room: Int, _ receives: inout Int) -> (Int, ReadStop?) {
        var n = 0
        repeat {
            receives -= 1
            // Through the whole array's buffer: a mutating call on a slice (`buffer[n..<room]`) copied it.
            switch buffer.withUnsafeMutableBytes({ socket.receive(UnsafeMutableRawBufferPointer(rebasing: $0[n..<room])) }) {
            case .done(let count): n += count
            case .endOfData: return (n, .end)
            case .wouldBlock(let readiness): return (n, .wait(readiness))
            case .failed(let reason): return (n, .lost(reason))
            }
        } while socket.isTLS && n < room && receives > 0
        return (n, nil)
    }

    /// What the next read may take.
    private enum Room {
        case bytes(Int)
        /// The quota has no room left: read one byte to tell the end of the upload (an upload that
        /// fills the quota exactly completes) from more data (refused with this error).
        case probe(FileSystemError)
        /// Return this instead: wait for the caps or the quota's refill.
        case stop(PumpStep)
    }

    /// The caps' allowance of `wanted`, within the room held from the quota (taking more when none
    /// is held; a shared quota that has none here fetches more off the loop while the socket waits).
    private func room(_ socket: DataSocket, _ wanted: Int) -> Room {
        let allowed = socket.allowance(wanted)
        if allowed == 0 { return .stop(.paused) }
        guard let quota else { return .bytes(allowed) }
        if held == 0 {
            if refilling { return .stop(.paused) }
            if let quotaRefusal { return .probe(quotaRefusal) }
            switch quota.take(allowed) {
            case .bytes(let count):
                held = count
            case .refill:
                refill(quota, socket, wanted: allowed)
                return .stop(.paused)
            case .full:
                return .probe(FileSystemError(EDQUOT))
            }
        }
        return .bytes(min(allowed, held))
    }

    private func refill(_ quota: any Quota, _ socket: DataSocket, wanted: Int) {
        refilling = true
        socket.pause()
        loop.offload({ quota.refill(wanted) }) { [weak self, weak socket] answer in
            guard let self, let socket, !self.ended else { return }
            self.refilling = false
            switch answer {
            case .granted: break
            case .full: self.quotaRefusal = FileSystemError(EDQUOT)
            case .unavailable: self.quotaRefusal = .quotaUnavailable
            }
            socket.resume()
        }
    }

    /// How many of `count` received bytes (within the room held) go into the file: all, or up to
    /// the maximum file size (`tooLarge`: the upload stops after them with 552).
    private func admit(_ count: Int) -> (keep: Int, tooLarge: Bool) {
        var keep = count
        var tooLarge = false
        if let maxFileSize, file.size + bytes + UInt64(count) > maxFileSize {
            keep = Int(maxFileSize - min(maxFileSize, file.size + bytes))
            tooLarge = true
        }
        if quota != nil {
            held -= count
            charged += UInt64(keep)
            // What the size limit cut off was taken for nothing.
            quota?.release(UInt64(count - keep))
        }
        bytes += UInt64(keep)
        return (keep, tooLarge)
    }

    private func writeToFile(_ data: UnsafeRawBufferPointer) -> FileSystemError? {
        do {
            try writeAll(file.descriptor.rawValue, data)
            return nil
        } catch {
            return FileSystemError(error.code)
        }
    }

    /// The file took no more of an upload (quota, size limit, disk error): read what the client is
    /// still sending and throw it away, then reply. Closing with unread data would reset the
    /// connection, and a client still sending (ftplib, curl) then reports the reset, not the 552/452.
    /// Past `discardBytes` the connection is reset after all.
    private func refuse(_ error: FileSystemError, _ socket: DataSocket) -> PumpStep {
        refusal = .fileError(error, bytes: bytes)
        return discard(socket)
    }

    private func discard(_ socket: DataSocket) -> PumpStep {
        guard let refusal else { return .finished(.completed(bytes: bytes)) }
        if buffer.isEmpty { buffer = [UInt8](repeating: 0, count: TransferSlice.bufferBytes) }
        var budget = TransferSlice.bytes
        var receives = TransferSlice.receives
        while discarded < ReceivePump.discardBytes {
            if budget <= 0 || receives == 0 { return ReceivePump.nextTurn(socket) }
            receives -= 1
            switch buffer.withUnsafeMutableBytes({ socket.receive($0) }) {
            case .done(let n):
                discarded += n
                budget -= n
                socket.touched()
            case .wouldBlock(let readiness):
                return .wait(readiness)
            case .endOfData, .failed:
                return .finished(refusal)
            }
        }
        socket.resetOnClose()
        return .finished(refusal)
    }

    func finish(_ outcome: TransferOutcome) -> TransferOutcome {
        ended = true
        pipeRead = nil
        pipeWrite = nil
        if let quota {
            quota.release(UInt64(held))
            held = 0
            let now = ReceivePump.allocated(file)
            quota.settle(charged: charged, grown: now - min(now, allocatedAtStart))
        }
        // The file stays open: `TransferFiles.finishUpload` syncs and closes it off the loop.
        return outcome
    }

    private static func allocated(_ file: OpenedFile) -> UInt64 {
        var st = stat()
        return fstat(file.descriptor.rawValue, &st) == 0 ? DiskQuota.allocated(st) : 0
    }
}
