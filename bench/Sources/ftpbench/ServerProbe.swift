import Foundation
import Glibc

/// Reads a server's cost from /proc for its whole process tree (forking servers spread over many
/// processes): CPU seconds and memory (RSS, and PSS, which splits shared pages fairly).
struct ServerProbe {
    let rootPID: Int32

    /// The root and every descendant.
    func processes() -> [Int32] {
        var parents: [Int32: Int32] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            if fields.count > 1, let ppid = Int32(fields[1]) { parents[pid] = ppid }
        }
        var tree: Set<Int32> = [rootPID]
        var grew = true
        while grew {
            grew = false
            for (pid, ppid) in parents where tree.contains(ppid) && !tree.contains(pid) {
                tree.insert(pid)
                grew = true
            }
        }
        return tree.sorted()
    }

    /// CPU seconds of the tree. Per process, the larger of two readings: its live threads' run time
    /// from schedstat (nanoseconds; stat's 10 ms ticks, truncated per process, hid most of the CPU of
    /// forking servers' short-lived session processes) and stat's utime + stime (ticks, but it keeps
    /// the CPU of threads that have exited, such as idle worker threads a runtime retires). Exited
    /// children that were waited for count too (cutime, cstime).
    func cpuSeconds() -> Double {
        processes().reduce(0) { $0 + cpuSeconds(of: $1, reapedChildren: true) }
    }

    /// Each process's own CPU seconds (reaped children left out: a sampler reads them directly).
    func cpuByProcess() -> [Int32: Double] {
        Dictionary(uniqueKeysWithValues: processes().map { ($0, cpuSeconds(of: $0, reapedChildren: false)) })
    }

    private func cpuSeconds(of pid: Int32, reapedChildren: Bool) -> Double {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var threads = 0.0
        for task in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? [] {
            guard let schedstat = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/schedstat", encoding: .utf8),
                  let nanoseconds = schedstat.split(separator: " ").first.flatMap({ Double($0) }) else { continue }
            threads += nanoseconds / 1e9
        }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
            return threads
        }
        // utime, stime, cutime, cstime are fields 14-17 (1-based) of the whole line; 11-14 after "state".
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        guard fields.count > 14 else { return threads }
        func seconds(_ index: Int) -> Double { (Double(fields[index]) ?? 0) / ticks }
        return max(threads, seconds(11) + seconds(12)) + (reapedChildren ? seconds(13) + seconds(14) : 0)
    }

    /// Resident and proportional set size of the tree, in KiB.
    func memoryKiB() -> (rss: Int, pss: Int) {
        var rss = 0, pss = 0
        for pid in processes() {
            guard let rollup = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else { continue }
            for line in rollup.split(separator: "\n") {
                let parts = line.split(separator: " ", omittingEmptySubsequences: true)
                guard parts.count >= 2, let value = Int(parts[1]) else { continue }
                if parts[0] == "Rss:" { rss += value }
                if parts[0] == "Pss:" { pss += value }
            }
        }
        return (rss, pss)
    }
}

/// A server tree's CPU over a run whose sessions end with it (the curl workloads): every 20 ms each
/// process's own CPU is read and its last reading kept, so a session process that exits (and whose
/// CPU a forking server may hand to a parent outside the tree, or to init) still counts, up to its
/// last 20 ms. A reading of the whole tree takes a scan of /proc, so a session shorter than a few
/// scans can be missed: for forking servers the curl rows' CPU is a floor, not a measurement.
final class CPUSampler: @unchecked Sendable {
    private let probe: ServerProbe
    private let lock = NSLock()
    private var first: [Int32: Double] = [:]
    private var last: [Int32: Double] = [:]
    private var running = true
    private let done = DispatchSemaphore(value: 0)

    init(probe: ServerProbe) {
        self.probe = probe
        let now = probe.cpuByProcess()
        first = now
        last = now
        Thread { [self] in
            while lock.withLock({ running }) {
                usleep(20_000)
                let now = probe.cpuByProcess()
                lock.withLock { last.merge(now) { $1 } }
            }
            done.signal()
        }.start()
    }

    /// Stop sampling; the CPU seconds the tree used since the sampler started.
    func stop() -> Double {
        lock.withLock { running = false }
        done.wait()
        let now = probe.cpuByProcess()
        return lock.withLock {
            last.merge(now) { $1 }
            return last.reduce(0) { $0 + $1.value - (first[$1.key] ?? 0) }
        }
    }
}
