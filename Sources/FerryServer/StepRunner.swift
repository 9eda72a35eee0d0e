/// Runs an owner's work one step at a time, never one inside another. A step that causes more
/// steps (itself, or through a callback that fires while it runs, such as a transfer reporting its
/// end when it is aborted) has them queued and run right after it, before the steps queued behind
/// it: the order nested calls would give, without the nesting, so no step ever sees its owner half
/// way through another.
final class StepRunner<Step> {
    private var steps: [Step] = []
    private var caused: [Step] = []
    private var running = false

    /// Run `more`, then the steps `next` hands out until it has none. Called while a step runs, it
    /// only queues `more` and returns false.
    @discardableResult
    func run(_ more: [Step], perform: (Step) -> Void, next: () -> [Step]?) -> Bool {
        if running {
            caused.append(contentsOf: more)
            return false
        }
        running = true
        defer { running = false }
        steps.append(contentsOf: more)
        while true {
            while !steps.isEmpty {
                perform(steps.removeFirst())
                steps.insert(contentsOf: caused, at: 0)
                caused.removeAll()
            }
            guard let following = next() else {
                steps = []   // an idle owner keeps no buffer
                return true
            }
            steps = following
        }
    }
}
