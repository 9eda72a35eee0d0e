import FTPCore
import FerryReactor

/// Binary RETR over TLS. The handshake decides how the bytes go: where the kernel took the
/// connection's encryption (kTLS), by SSL_sendfile as a plaintext download goes (`SendfilePump`);
/// elsewhere read into user space and encrypted by OpenSSL (`BufferedSendPump`).
final class TLSDownloadPump: TransferPump {
    private let file: OpenedFile
    private let offset: UInt64
    private let loop: any Scheduler
    /// Chosen at the first turn, which comes after the handshake.
    private var chosen: (any TransferPump)?
    let sends = true

    init(file: OpenedFile, offset: UInt64, loop: any Scheduler) {
        self.file = file
        self.offset = offset
        self.loop = loop
    }

    var bytes: UInt64 { chosen?.bytes ?? 0 }

    func pump(_ socket: DataSocket) -> PumpStep {
        let pump = chosen ?? (socket.sendsFilesDirectly
            ? SendfilePump(file: file, offset: offset)
            : BufferedSendPump(.file(file, offset: offset, ascii: false), loop: loop))
        chosen = pump
        return pump.pump(socket)
    }

    func finish(_ outcome: TransferOutcome) -> TransferOutcome {
        guard let chosen else {
            file.descriptor.close()
            return outcome
        }
        return chosen.finish(outcome)
    }
}
