import FTPCore
import Glibc

/// The file of a transfer once the transfer is over, however it ended. An atomic replacement (see
/// `JailedFileSystem`'s `atomicUploads`) writes to a temporary file beside its target, which becomes
/// the file only after a complete upload; otherwise it goes and the old file stays as it was.
enum TransferFiles {
    /// An upload ended with `outcome`: make its file final. Blocks on the disk (longest on a network
    /// file system, where close writes back what the server still holds), so it runs on a worker
    /// thread. With `durable` (`--fsync-uploads`) the file is fsynced first; then it is closed (an
    /// error of either turns a completion into a file error: a 226 must mean the data is in the
    /// file); an atomic replacement is committed or discarded; and with `durable` the folder is
    /// fsynced too, so the file's name survives a crash as well as its bytes.
    static func finishUpload(_ request: TransferRequest, _ file: OpenedFile, _ outcome: TransferOutcome, durable: Bool,
                             in fileSystem: JailedFileSystem?) -> TransferOutcome {
        var outcome = outcome
        if durable, case .completed(let bytes) = outcome, fsync(file.descriptor.rawValue) != 0 {
            outcome = .fileError(FileSystemError(errno), bytes: bytes)
        }
        if let error = file.descriptor.close(), case .completed(let bytes) = outcome {
            outcome = .fileError(error, bytes: bytes)
        }
        if let (temporary, target) = file.replacing, let fileSystem {
            if case .completed(let bytes) = outcome {
                do {
                    try fileSystem.rename(temporary, to: target)
                } catch {
                    try? fileSystem.removeFile(temporary)
                    outcome = .fileError(error, bytes: bytes)
                }
            } else {
                try? fileSystem.removeFile(temporary)
            }
        }
        if durable, case .completed(let bytes) = outcome, let fileSystem {
            do throws(FileSystemError) {
                try fileSystem.syncFolder(of: request.path)
            } catch {
                outcome = .fileError(error, bytes: bytes)
            }
        }
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
