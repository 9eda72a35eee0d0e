import FTPCore
import FerryReactor
import Synchronization

/// RETR in binary mode over plaintext, or over TLS that the kernel encrypts (kTLS): sendfile(2) or
/// SSL_sendfile from the file to the socket, driven by write-readiness, never through user space.
///
/// The socket is corked only while other plain downloads run in the process. Alone, the cork held
/// back the tail of every sendfile call until the next one, and clients felt it (interleaved rounds
/// against the corked build, MiB/s): one-stream RETR of 1 GiB with curl, median 1495 -> 1824 (vsftpd
/// 1950 in the same rounds); lftp 1522-1821 -> 2028-2635; ftpbench W1 2290-2581 -> 3802-4819, at
/// 0.34-0.40 -> 0.19-0.23 CPU s/GiB. With many streams the CPU is the limit and full segments save
/// it, so they stay corked: 64 parallel curl downloads and ftpbench W2 x64 level with the corked build.
final class SendfilePump: TransferPump {
    private let running: DownloadCount
    private let file: OpenedFile
    private var offset: UInt64
    private var end: UInt64
    private(set) var bytes: UInt64 = 0
    let sends = true

    init(file: OpenedFile, offset: UInt64, running: DownloadCount = .process) {
        self.file = file
        self.offset = offset
        self.running = running
        end = file.size
        running.value.add(1, ordering: .relaxed)
    }

    deinit { running.value.subtract(1, ordering: .relaxed) }

    func pump(_ socket: DataSocket) -> PumpStep {
        socket.corked = running.value.load(ordering: .relaxed) > 1
        var budget = TransferSlice.bytes
        while budget > 0 && offset < end {
            let want = socket.allowance(Int(min(UInt64(budget), end - offset)))
            if want == 0 { return .paused }
            var position = Int64(offset)
            switch socket.sendFile(file.descriptor.rawValue, from: &position, count: want) {
            case .done(0):
                // The file shrank under us: what was there has been sent.
                end = offset
            case .done(let sent):
                offset = UInt64(position)
                budget -= sent
                bytes += UInt64(sent)
                socket.moved(sent)
            case let stopped:
                return .after(stopped, bytes: bytes)
            }
        }
        return offset >= end ? .finished(.completed(bytes: bytes)) : .wait(.write)
    }

    func finish(_ outcome: TransferOutcome) -> TransferOutcome {
        file.descriptor.close()
        return outcome
    }
}

/// Plain downloads under way, counted by their `SendfilePump`s: the process has one count; a unit
/// test that checks the cork has its own, apart from the transfers other tests run meanwhile.
final class DownloadCount: Sendable {
    static let process = DownloadCount()
    fileprivate let value = Atomic(0)
}
