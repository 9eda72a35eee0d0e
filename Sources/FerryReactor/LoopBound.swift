/// Carries a loop-confined value through `@Sendable` closures that run on that loop (the pattern
/// SwiftNIO calls NIOLoopBound): it may be created anywhere but read only on `loop`'s thread.
public struct LoopBound<Value>: @unchecked Sendable {
    private let storage: Value
    public let loop: any Scheduler

    public init(_ value: Value, loop: any Scheduler) {
        storage = value
        self.loop = loop
    }

    public var value: Value {
        precondition(loop.inLoop, "LoopBound value read off its loop")
        return storage
    }
}
