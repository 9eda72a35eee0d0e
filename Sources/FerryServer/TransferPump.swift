import FTPCore
import FerryReactor

/// How a pump's turn ended.
enum PumpStep {
    /// Call again when the socket has this readiness.
    case wait(EventWatcher.Readiness)
    /// Something else resumes the socket: the caps' timer or a listing batch read off the loop.
    case paused
    /// The turn's budget ran out with input TLS already read ahead: the socket may never turn
    /// readable for it, so take the next turn on the loop's next pass.
    case again
    case finished(TransferOutcome)

    /// Where a send that moved nothing leaves a download that has sent `bytes`: waiting for the
    /// readiness it needs, or lost (a send that moved bytes has the pump call again when writable).
    static func after(_ send: DataSocket.IO, bytes: UInt64) -> PumpStep {
        switch send {
        case .done: .wait(.write)
        case .wouldBlock(let readiness): .wait(readiness)
        case .endOfData: .finished(.connectionLost(bytes: bytes, reason: "peer closed the connection"))
        case .failed(let reason): .finished(.connectionLost(bytes: bytes, reason: reason))
        }
    }
}

/// Moves one transfer's bytes through its `DataSocket`, at most `TransferSlice.bytes` per turn, so one fast
/// client cannot starve the loop's other sessions.
protocol TransferPump: AnyObject {
    /// Bytes sent to the client or written to the file so far (what 226/426 report).
    var bytes: UInt64 { get }
    /// Downloads and listings send; uploads receive.
    var sends: Bool { get }
    func pump(_ socket: DataSocket) -> PumpStep
    /// The transfer ended: a download closes its file; an upload settles its quota and leaves its
    /// file to `TransferFiles.finishUpload`, which closes it off the loop.
    func finish(_ outcome: TransferOutcome) -> TransferOutcome
}

/// Per-turn bound shared by the pumps.
enum TransferSlice {
    /// 512 KiB against 4 MiB, the two binaries interleaved with ftpbench, 3 rounds each: W8 (NOOP
    /// latency of 50 idle sessions beside 16 RETRs and 4 LISTs of 100 000 entries) p99 12.1–16.4 ms
    /// against 95.0–99.1 ms, p50 4.2–5.5 against 33.7–40.6 ms; W2 x64 10289–12987 against
    /// 5263–6702 MiB/s at 0.11–0.14 against 0.19–0.27 CPU s/GiB; W1, W3 and W5 level (ranges overlap).
    /// A long turn on one transfer left the loop's other sockets and sessions waiting.
    static let bytes = 512 << 10
    /// Size of the buffer a buffered transfer reads into and writes from.
    static let bufferBytes = 256 * 1024
    /// Receives per turn: TLS gives at most one record per receive, whatever its size, so a client
    /// sending one-byte records made a turn of 300 000 of them, and a NOOP on the same loop waited
    /// 310 ms (1170 ms before TLS read ahead). Full 16 KiB records spend the byte budget in 32.
    static let receives = 256
}
