import CFerrySys
import FTPCore
import FerryReactor

/// RETR in binary mode over plaintext: sendfile(2) from the file to the socket, driven by
/// write-readiness, never through user space.
final class SendfilePump: TransferPump {
    private let file: OpenedFile
    private var offset: UInt64
    private var end: UInt64
    private(set) var bytes: UInt64 = 0
    let sends = true

    init(file: OpenedFile, offset: UInt64) {
        self.file = file
        self.offset = offset
        end = file.size
    }

    func pump(_ socket: DataSocket) -> PumpStep {
        var budget = TransferSlice.bytes
        while budget > 0 && offset < end {
            let want = socket.allowance(Int(min(UInt64(budget), end - offset)))
            if want == 0 { return .paused }
            var position = Int64(offset)
            do {
                switch try syscall("sendfile", { ferry_sendfile(socket.rawValue, file.descriptor.rawValue, &position, want) }) {
                case .processed(0):
                    // The file shrank under us: what was there has been sent.
                    end = offset
                case .processed(let sent):
                    offset = UInt64(position)
                    budget -= sent
                    bytes += UInt64(sent)
                    socket.moved(sent)
                case .wouldBlock:
                    return .wait(.write)
                }
            } catch {
                return .finished(.connectionLost(bytes: bytes, reason: error.reason))
            }
        }
        return offset >= end ? .finished(.completed(bytes: bytes)) : .wait(.write)
    }

    func finish(_ outcome: TransferOutcome) -> TransferOutcome {
        file.descriptor.close()
        return outcome
    }
}
