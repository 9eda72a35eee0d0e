import FTPCore

/// The file of a transfer once the transfer is over, however it ended. An atomic replacement (see
/// `JailedFileSystem`'s `atomicUploads`) writes to a temporary file beside its target, which becomes
/// the file only after a complete upload; otherwise it goes and the old file stays as it was.
enum TransferFiles {
    /// A transfer ran and ended with `outcome`: commit or discard an atomic replacement. A commit
    /// that fails turns the completion into a file error.
    static func settle(_ request: TransferRequest, _ outcome: TransferOutcome, in fileSystem: JailedFileSystem?) -> TransferOutcome {
        guard case .store(let file, _) = request.kind, let (temporary, target) = file.replacing, let fileSystem else { return outcome }
        if case .completed(let bytes) = outcome {
            do {
                try fileSystem.rename(temporary, to: target)
                return outcome
            } catch {
                try? fileSystem.removeFile(temporary)
                return .fileError(error, bytes: bytes)
            }
        }
        try? fileSystem.removeFile(temporary)
        return outcome
    }

    /// The transfer never started (no data connection, ABOR, session end): close its file and drop
    /// an atomic replacement's temporary file.
    static func discardUnstarted(_ request: TransferRequest, in fileSystem: JailedFileSystem?) {
        switch request.kind {
        case .retrieve(let file, _, _):
            file.descriptor.close()
        case .store(let file, _):
            file.descriptor.close()
            if let (temporary, _) = file.replacing { try? fileSystem?.removeFile(temporary) }
        case .listing:
            break
        }
    }
}
