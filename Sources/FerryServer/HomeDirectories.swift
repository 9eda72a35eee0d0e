import CFerrySys
import FerryReactor
import Glibc
import Synchronization

/// An open home directory (an O_PATH descriptor, the root of a jail), shared by every session in
/// that home and closed when the last one ends. With a budget, its descriptor is counted there.
public final class HomeHandle: Sendable {
    private let owner: Descriptor
    /// The directory's number, valid while the handle lives.
    var descriptor: Int32 { owner.rawValue }
    public let path: String
    private let budget: DescriptorBudget?

    /// Open `path`, which must be a directory.
    public init(path: String, budget: DescriptorBudget? = nil) throws(SystemError) {
        if let budget, !budget.acquire(1) { throw SystemError("open home \(path)", code: EMFILE) }
        let fd = open(path, ferry_O_PATH | ferry_O_DIRECTORY | ferry_O_CLOEXEC)
        guard fd >= 0 else {
            let error = SystemError("open home \(path)")
            budget?.release(1)
            throw error
        }
        owner = Descriptor(taking: fd)
        self.path = path
        self.budget = budget
    }

    deinit { budget?.release(1) }
}

/// The homes open now, by path: ten thousand sessions of one user hold one descriptor for it, not
/// ten thousand.
public final class HomeDirectories: Sendable {
    /// A weak reference, so a home closes with its last session.
    private final class Slot: @unchecked Sendable {
        weak var handle: HomeHandle?
        init(_ handle: HomeHandle) { self.handle = handle }
    }

    private let slots = Mutex<[String: Slot]>([:])
    private let budget: DescriptorBudget

    public init(budget: DescriptorBudget) { self.budget = budget }

    public func handle(for path: String) throws(SystemError) -> HomeHandle {
        try slots.withLock { (slots) throws(SystemError) -> HomeHandle in
            if let existing = slots[path]?.handle { return existing }
            let fresh = try HomeHandle(path: path, budget: budget)
            slots[path] = Slot(fresh)
            if slots.count > 1024 { slots = slots.filter { $0.value.handle != nil } }
            return fresh
        }
    }
}
