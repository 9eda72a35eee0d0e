import FTPCore
import FerryReactor
import Glibc

/// Downloads that need their bytes in user space (TLS, ASCII) and listings: fill one reused buffer
/// from the source, write it out, repeat. Listings of a directory are read and rendered on a worker
/// thread in batches (a fstatat per entry must not hold up the loop).
final class BufferedSendPump: TransferPump {
    /// What is sent.
    enum Source {
        case file(OpenedFile, offset: UInt64, ascii: Bool)
        case entries([FileInfo], ListingStyle)
        case directory(any DirectoryListing, ListingStyle)
    }

    /// A listing is rendered in batches of about this many bytes.
    static let listingBatchBytes = 64 * 1024

    private let source: Source
    private let loop: any Scheduler
    private(set) var bytes: UInt64 = 0
    let sends = true
    /// Bytes not yet written are output[start..<end]. Binary reads go straight into `output`; ASCII
    /// reads go into `readBuffer` and are converted into it.
    private var output: [UInt8] = []
    private var start = 0
    private var end = 0
    private var readBuffer: [UInt8] = []
    private var converter = AsciiConverter()
    private var fileOffset: UInt64 = 0
    private var fileEnd: UInt64 = 0
    private var listingIndex = 0
    private var exhausted = false
    /// A listing batch is being read off the loop; its arrival resumes the socket.
    private var fetching = false
    private var finished = false
    /// Listing dates are relative to when the transfer began.
    private let now = Int64(time(nil))

    init(_ source: Source, loop: any Scheduler) {
        self.source = source
        self.loop = loop
        if case .file(let file, let offset, _) = source {
            fileOffset = offset
            fileEnd = file.size
        }
    }

    func pump(_ socket: DataSocket) -> PumpStep {
        var budget = TransferSlice.bytes
        while budget > 0 {
            if start == end {
                if exhausted { return .finished(.completed(bytes: bytes)) }
                if fetching { return .paused }
                start = 0
                end = 0
                if let failure = fill(socket) { return .finished(failure) }
                continue
            }
            let length = socket.sendLength(end - start)
            if length == 0 { return .paused }
            switch output[start..<start + length].withUnsafeBytes({ socket.send($0) }) {
            case .done(let n):
                start += n
                budget -= n
                bytes += UInt64(n)
                socket.moved(n)
            case let stopped:
                return .after(stopped, bytes: bytes)
            }
        }
        return .wait(.write)
    }

    func finish(_ outcome: TransferOutcome) -> TransferOutcome {
        finished = true
        if case .file(let file, _, _) = source { file.descriptor.close() }
        return outcome
    }

    /// Refill `output` (sets `exhausted` at the end of the source); a file error ends the transfer.
    private func fill(_ socket: DataSocket) -> TransferOutcome? {
        switch source {
        case .file(let file, _, let ascii): return fillFromFile(file, ascii: ascii)
        case .entries(let entries, let style): fillListing(entries, style)
        case .directory(let listing, let style): fetchListing(listing, style, socket)
        }
        return nil
    }

    private func fillFromFile(_ file: OpenedFile, ascii: Bool) -> TransferOutcome? {
        let size = ascii ? TransferSlice.bufferBytes / 2 : TransferSlice.bufferBytes
        let want = Int(min(UInt64(size), fileEnd - min(fileOffset, fileEnd)))
        if want == 0 {
            exhausted = true
            return nil
        }
        if ascii && readBuffer.isEmpty { readBuffer = [UInt8](repeating: 0, count: size) }
        if !ascii && output.count < size { output = [UInt8](repeating: 0, count: size) }
        let read = ascii
            ? readBuffer.withUnsafeMutableBytes { readFile(file, into: $0, count: want) }
            : output.withUnsafeMutableBytes { readFile(file, into: $0, count: want) }
        if case .failure(let error) = read { return .fileError(FileSystemError(error.code), bytes: bytes) }
        // A regular file never says EAGAIN; treat it like the end of the data.
        guard case .success(.processed(let n)) = read, n > 0 else {
            exhausted = true
            return nil
        }
        fileOffset += UInt64(n)
        if ascii {
            output.removeAll(keepingCapacity: true)
            readBuffer.withUnsafeBytes { converter.toNetwork(UnsafeRawBufferPointer(rebasing: $0[0..<n]), into: &output) }
            end = output.count
        } else {
            end = n
        }
        return nil
    }

    private func readFile(_ file: OpenedFile, into buffer: UnsafeMutableRawBufferPointer, count: Int) -> Result<IOResult<Int>, SystemError> {
        let offset = off_t(fileOffset)
        return Result { () throws(SystemError) in try syscall("pread", { pread(file.descriptor.rawValue, buffer.baseAddress, count, offset) }) }
    }

    private func fillListing(_ entries: [FileInfo], _ style: ListingStyle) {
        output.removeAll(keepingCapacity: true)
        while listingIndex < entries.count && output.count < BufferedSendPump.listingBatchBytes {
            ListingFormatter.append(entries[listingIndex], style: style, now: now, to: &output)
            listingIndex += 1
        }
        end = output.count
        if listingIndex == entries.count { exhausted = true }
    }

    /// Read and render the next batch (about 64 KiB of lines) on a worker thread; an empty batch is
    /// the end.
    private func fetchListing(_ listing: any DirectoryListing, _ style: ListingStyle, _ socket: DataSocket) {
        fetching = true
        socket.pause()
        let now = self.now
        loop.offload({
            var rendered: [UInt8] = []
            while rendered.count < BufferedSendPump.listingBatchBytes {
                let entries = listing.next(256)
                if entries.isEmpty { break }
                for entry in entries { ListingFormatter.append(entry, style: style, now: now, to: &rendered) }
            }
            return rendered
        }) { [weak self, weak socket] rendered in
            guard let self, let socket, !self.finished else { return }
            self.fetching = false
            if rendered.isEmpty {
                self.exhausted = true
            } else {
                self.output = rendered
                self.end = rendered.count
            }
            socket.resume()
        }
    }
}
