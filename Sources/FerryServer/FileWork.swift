import FTPCore
import FerryReactor

/// A session's file work that does not belong on its loop: opening directories for listings and
/// computing digests (HASH and the X* commands) run on worker threads, and deletes and renames fire
/// the operator's event hooks. Answers come back on the loop through `answer`, as a call on the
/// session that the connection runs as one of its steps.
struct FileWork {
    typealias Answer = (@escaping (inout Session) -> [SessionEffect]) -> Void

    let loop: any Scheduler
    let context: ServerContext
    let peerAddress: IPAddress
    let answer: Answer

    /// LIST, NLST, MLSD and STAT of a directory: reading its names can take long.
    func openDirectory(_ path: VirtualPath, in fileSystem: JailedFileSystem) {
        let answer = self.answer
        loop.offload({
            Result { () throws(FileSystemError) -> any DirectoryListing in try fileSystem.openDirectory(path) }
        }) { result in answer { $0.directoryOpened(result) } }
    }

    /// One digest at a time per session is the session's rule; `FileDigests` bounds them across sessions.
    func computeHash(_ request: HashRequest) {
        let digests = context.digests
        guard digests.reserve() else {
            request.file.descriptor.close()
            return answer { $0.hashComputed(.failure(.busy)) }
        }
        let answer = self.answer
        loop.offload({ digests.compute(request) }) { result in answer { $0.hashComputed(result) } }
    }

    /// DELE and renames fire the operator's event hooks.
    func fileChanged(_ change: FileChange, grant: LoginGrant) {
        var facts = EventHooks.Facts(event: .delete, user: grant.account.name, client: peerAddress.description)
        switch change {
        case .deleted(let path):
            (facts.path, facts.virtualPath) = (grant.onDisk(path), path.description)
        case .renamed(let from, let to):
            facts.event = .rename
            (facts.path, facts.virtualPath) = (grant.onDisk(from), from.description)
            (facts.targetPath, facts.targetVirtualPath) = (grant.onDisk(to), to.description)
        }
        context.hooks.fire(facts)
    }
}
