import FTPCore
import FerryReactor
import Logging

/// A session's one transfer at a time, from its request to its record: the data connection from
/// `DataChannel`, a `DataTransfer` under the user's limits, then the file settled (`TransferFiles`)
/// and the transfer recorded (`TransferRecorder`). Every end is reported once through `onEnded`;
/// the owner hands it back to `settle` as a step of its own, never from inside the transfer.
final class TransferCoordinator {
    private let loop: any Scheduler
    private let context: ServerContext
    let channel: DataChannel
    private let recorder: TransferRecorder
    private let onEnded: (TransferOutcome) -> Void
    private var request: TransferRequest?
    private var transfer: DataTransfer?
    private var startedAt: Int64 = 0
    /// The logged-in user's home and limits.
    var grant: LoginGrant?
    var logger: Logger

    init(loop: any Scheduler, context: ServerContext, channel: DataChannel, recorder: TransferRecorder, logger: Logger,
         onEnded: @escaping (TransferOutcome) -> Void) {
        self.loop = loop
        self.context = context
        self.channel = channel
        self.recorder = recorder
        self.logger = logger
        self.onEnded = onEnded
    }

    /// An upload is moving data (it may finish after the control connection is gone).
    var isUploading: Bool {
        guard transfer != nil, case .store = request?.kind else { return false }
        return true
    }

    func start(_ request: TransferRequest) {
        self.request = request
        startedAt = context.clock.seconds
        channel.connect(for: request, onConnected: { [weak self] connection in
            guard let self else { return }
            self.run(connection)
        }, onFailed: onEnded)
    }

    private func run(_ connection: consuming DataConnection) {
        guard let request else { return }
        let upload: Bool
        if case .store = request.kind { upload = true } else { upload = false }
        let configuration = context.configuration
        let tls = connection.tls
        var finished = onEnded
        if case .store(let file, _) = request.kind {
            // Made final off the loop, whether or not this coordinator is still there to hear of it.
            let (fileSystem, durable, onEnded) = (grant?.fileSystem, configuration.fsyncUploads, onEnded)
            finished = { [loop] outcome in
                loop.offload({ TransferFiles.finishUpload(request, file, outcome, durable: durable, in: fileSystem) }) { onEnded($0) }
            }
        }
        let transfer = DataTransfer(
            kind: request.kind, socket: connection.socket, loop: loop, clock: context.clock, stallSeconds: configuration.transferStallTimeout, tls: tls,
            tlsPolicy: DataTLSPolicy(requireResumption: configuration.tlsSessionReuseRequired, requireCloseNotify: configuration.tlsCloseNotifyRequired),
            caps: (upload ? grant?.uploadCaps : grant?.downloadCaps) ?? [], maxFileSize: upload ? grant?.maxFileSize : nil,
            quota: upload ? grant?.quota : nil, onFinish: finished)
        self.transfer = transfer
        transfer.start()
    }

    /// ABOR: a running transfer stops with RST; one still waiting for its connection ends at once.
    func abort() {
        if let transfer {
            transfer.abort()
        } else if request != nil {
            onEnded(.aborted(bytes: 0))
        }
    }

    /// A reported end (an upload's file already made final): close a file that never moved, record
    /// the transfer, give back the data channel. The outcome to answer with, and whether the data connection
    /// resumed a TLS session; nil when no transfer was running.
    func settle(_ reported: TransferOutcome, account: Account?) -> (outcome: TransferOutcome, resumedTLS: Bool)? {
        guard let request else { return nil }
        self.request = nil
        let started = transfer != nil
        let resumedTLS = transfer?.resumedTLSSession ?? false
        transfer = nil
        channel.close()
        if !started { TransferFiles.discardUnstarted(request, in: grant?.fileSystem) }
        recorder.record(request, reported, seconds: Int(context.clock.seconds - startedAt), account: account,
                        grant: grant, logger: logger)
        return (reported, resumedTLS)
    }

    /// The session ends: a running transfer is aborted (its end is still reported and settled); one
    /// that never started just closes its file.
    func end() {
        if let transfer {
            transfer.abort()
        } else if let request {
            self.request = nil
            TransferFiles.discardUnstarted(request, in: grant?.fileSystem)
        }
        channel.close()
    }
}
