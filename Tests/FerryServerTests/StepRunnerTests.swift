@testable import FerryServer
import Testing

@Suite struct StepRunnerTests {
    /// "a" causes "b" and "c" (as a callback would, by calling run while "a" runs); "b" causes "d".
    /// Nested calls would run a b d c, then the step queued first behind "a": that order, unnested.
    @Test func whatAStepCausesRunsRightAfterItNeverInsideIt() {
        let runner = StepRunner<String>()
        var log: [String] = []
        var depth = 0
        var lines = [["x"], ["y", "z"]]
        func perform(_ step: String) {
            depth += 1
            defer { depth -= 1 }
            #expect(depth == 1, "\(step) ran inside another step")
            log.append(step)
            let caused = ["a": ["b", "c"], "b": ["d"]][step] ?? []
            let ran = runner.run(caused, perform: perform, next: { nil })
            #expect(!ran, "a call made while a step runs only queues")
        }
        let ran = runner.run(["a", "e"], perform: perform, next: { lines.isEmpty ? nil : lines.removeFirst() })
        #expect(ran)
        #expect(log == ["a", "b", "d", "c", "e", "x", "y", "z"])
    }
}
