import Foundation
import Glibc
import Histogram

/// What one workload run measured.
struct Measurement: Codable {
    var workload: String
    var server: String
    var concurrency: Int
    var seconds: Double
    var bytes: UInt64
    var mibPerSecond: Double?
    var sessionsPerSecond: Double?
    var p50Milliseconds: Double?
    var p99Milliseconds: Double?
    var serverCPUSecondsPerGiB: Double?
    /// ftpbench's own CPU for the same bytes: shows the client is not what limits a run.
    var clientCPUSecondsPerGiB: Double?
    var serverKiBPerSession: Double?
    var errors: Int
}

/// CPU seconds used so far by the server's process tree (when probed) and by ftpbench itself.
struct CPUReading {
    let server: Double?
    let client: Double

    static func now(_ probe: ServerProbe?) -> CPUReading {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let client = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        return CPUReading(server: probe?.cpuSeconds(), client: client)
    }
}

/// Where and as whom to run.
struct Target {
    let name: String
    let host: String
    let port: UInt16
    let user: String
    let password: String
    let probe: ServerProbe?
    /// The folder the server serves to `user`, as this machine sees it.
    let dataDir: String
}

enum Workloads {
    /// Run `body` on `count` threads at once; returns the wall time from start to the last finish.
    static func parallel(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) -> Double {
        let group = DispatchGroup()
        let start = Date()
        for index in 0..<count {
            group.enter()
            let thread = Thread {
                body(index)
                group.leave()
            }
            thread.stackSize = 256 * 1024
            thread.start()
        }
        group.wait()
        return Date().timeIntervalSince(start)
    }

    /// W1/W2/W5: `streams` sessions log in (W5: and secure control and data with `tls`), then all
    /// RETR `path` (expected `size` bytes) at once. Only the transfers are timed and their server CPU
    /// counted (logins are W4's business); the sessions stay open until the CPU is read, so forking
    /// servers' session processes are still there. The file is read into the page cache (from
    /// `dataDir`) between the logins and the transfers, so no server reads it from disk.
    static func retrieve(_ target: Target, path: String, size: UInt64, streams: Int, label: String,
                         tls: TLSClientContext? = nil) -> Measurement {
        let counters = Counters()
        let gate = StartGate(parties: streams)
        let finish = StartGate(parties: streams)
        let coordinator = Thread {
            gate.waitForAll()
            warm("\(target.dataDir)/\(path)")
            gate.open(cpu: CPUReading.now(target.probe))
            finish.waitForAll()
            finish.open(cpu: CPUReading.now(target.probe))
        }
        coordinator.start()
        _ = parallel(streams) { _ in
            var client: FTPClient?
            do {
                let session = try FTPClient(host: target.host, port: target.port)
                if let tls { try session.secure(with: tls) }
                try session.login(user: target.user, password: target.password)
                client = session
            } catch {
                counters.fail("\(error)")
            }
            gate.arriveAndWait()
            guard let client else { return finish.arriveAndWait() }
            do {
                let got = try client.retrieve(path)
                if got == size { counters.add(bytes: got) } else { counters.fail("short: \(got) of \(size)") }
            } catch {
                counters.fail("\(error)")
            }
            finish.arriveAndWait()
            client.quit()
        }
        let (start, cpuBefore) = gate.opened
        let (end, cpuAfter) = finish.opened
        return throughput(label, target, streams, end.timeIntervalSince(start), counters, cpuBefore, cpuAfter)
    }

    /// Read `path` to its end, so its pages are in the page cache. This VM's host reclaims cold page
    /// cache (18 of big.bin's 1024 MiB went in 30 idle seconds), which had made a first W1 after a
    /// pause read from disk at 800-1400 MiB/s where the next ran at 5000-7000.
    static func warm(_ path: String) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while buffer.withUnsafeMutableBytes({ read(fd, $0.baseAddress, $0.count) }) > 0 {}
    }

    /// The name every upload workload stores to.
    static let uploadName = "ftpbench-upload.bin"

    /// Before an upload: remove the last upload's file and flush dirty pages, so every upload writes
    /// a new file and none pays for another's writeback. Overwriting the 1 GiB file the last upload
    /// left halved every server's rate on this ext4 (one curl STOR, pinned: Ferry 2474-2731 MiB/s
    /// to a new file, 985-1071 over the old one; pure-ftpd 2752-2961 and 1018-1204), which made the
    /// upload rows measure the truncation rather than the server.
    static func prepareUpload(_ target: Target) {
        unlink("\(target.dataDir)/\(uploadName)")
        sync()
    }

    /// W3: one STOR of `size` bytes from `source` (W5u: over a session secured with `tls`).
    static func store(_ target: Target, source: String, size: UInt64, label: String, tls: TLSClientContext? = nil) -> Measurement {
        prepareUpload(target)
        let counters = Counters()
        let file = open(source, O_RDONLY)
        defer { close(file) }
        var seconds = 0.0
        var cpuBefore: CPUReading?
        var cpuAfter: CPUReading?
        do {
            let client = try FTPClient(host: target.host, port: target.port)
            if let tls { try client.secure(with: tls) }
            try client.login(user: target.user, password: target.password)
            cpuBefore = CPUReading.now(target.probe)
            let start = Date()
            let sent = try client.store(uploadName, from: file, count: size)
            seconds = Date().timeIntervalSince(start)
            cpuAfter = CPUReading.now(target.probe)
            client.quit()
            if sent == size { counters.add(bytes: sent) } else { counters.fail("short upload") }
        } catch {
            counters.fail("\(error)")
        }
        return throughput(label, target, 1, seconds, counters, cpuBefore, cpuAfter)
    }

    /// W4: `clients` loops of connect + login + RETR `path` + QUIT for `duration` seconds.
    static func churn(_ target: Target, path: String, size: UInt64, clients: Int, duration: Double, label: String) -> Measurement {
        let counters = Counters()
        let deadline = Date().addingTimeInterval(duration)
        let seconds = parallel(clients) { _ in
            var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
            while Date() < deadline {
                let start = DispatchTime.now().uptimeNanoseconds
                do {
                    let client = try FTPClient(host: target.host, port: target.port)
                    try client.login(user: target.user, password: target.password)
                    let got = try client.retrieve(path)
                    client.quit()
                    guard got == size else {
                        counters.fail("short: \(got) of \(size)")
                        continue
                    }
                    _ = histogram.record((DispatchTime.now().uptimeNanoseconds - start) / 1000)
                    counters.add(bytes: got)
                } catch {
                    counters.fail("\(error)")
                }
            }
            counters.merge(histogram)
        }
        var m = Measurement(workload: label, server: target.name, concurrency: clients, seconds: seconds, bytes: counters.bytes,
                            errors: counters.errors)
        let histogram = counters.histogram
        m.sessionsPerSecond = Double(histogram.totalCount) / seconds
        m.p50Milliseconds = Double(histogram.valueAtPercentile(50)) / 1000
        m.p99Milliseconds = Double(histogram.valueAtPercentile(99)) / 1000
        return m
    }

    /// W6: hold `count` logged-in idle sessions (opened by 16 threads: logins are hash-bound);
    /// server memory per session over its idle baseline. `whileHeld` runs with the sessions still
    /// open (W1 beside them: idle sessions must not slow a transfer). Past `perSource`, the sessions
    /// come from 127.0.0.2, 127.0.0.3, ... in turn, so no source address runs out of ports.
    static func idle(_ target: Target, count: Int, perSource: Int, label: String, whileHeld: () -> Measurement) -> [Measurement] {
        var m = Measurement(workload: label, server: target.name, concurrency: count, seconds: 0, bytes: 0, errors: 0)
        guard let probe = target.probe else { return [m] }
        let before = probe.memoryKiB().pss
        let held = Sessions()
        let counters = Counters()
        let openers = min(16, count)
        let perSource = max(perSource, (count + 252) / 253)   // 127.0.0.2 to 127.0.0.254
        let sources = count > perSource ? (0..<(count + perSource - 1) / perSource).map { "127.0.0.\(2 + $0)" } : []
        let start = Date()
        _ = parallel(openers) { index in
            for session in stride(from: index, to: count, by: openers) {
                do {
                    let client = try FTPClient(host: target.host, port: target.port,
                                               source: sources.isEmpty ? nil : sources[session % sources.count])
                    try client.login(user: target.user, password: target.password)
                    held.append(client)
                } catch {
                    counters.fail("\(error)")
                }
            }
        }
        m.errors = counters.errors
        Thread.sleep(forTimeInterval: 1)
        let after = probe.memoryKiB().pss
        m.seconds = Date().timeIntervalSince(start)
        let clients = held.all
        m.serverKiBPerSession = clients.isEmpty ? nil : Double(after - before) / Double(clients.count)
        var beside = whileHeld()
        beside.concurrency = clients.count
        for client in clients { client.quit() }
        return [m, beside]
    }

    /// W7: `verb` (LIST or MLSD) of `path`, a large folder, `repeats` times; latency per listing.
    /// A server without the verb (500/502: vsftpd has no MLSD) gets no figure rather than an error.
    static func listing(_ target: Target, path: String, verb: String, repeats: Int, label: String) -> Measurement {
        let counters = Counters()
        var histogram = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
        let start = Date()
        do {
            let client = try FTPClient(host: target.host, port: target.port)
            try client.login(user: target.user, password: target.password)
            for _ in 0..<repeats {
                let begin = DispatchTime.now().uptimeNanoseconds
                let bytes = try client.list(verb, path)
                _ = histogram.record((DispatchTime.now().uptimeNanoseconds - begin) / 1000)
                counters.add(bytes: bytes)
            }
            client.quit()
        } catch let error as BenchError where error.code == 500 || error.code == 502 {
            return Measurement(workload: label, server: target.name, concurrency: 1, seconds: 0, bytes: 0, errors: 0)
        } catch {
            counters.fail("\(error)")
        }
        var m = Measurement(workload: label, server: target.name, concurrency: 1, seconds: Date().timeIntervalSince(start),
                            bytes: counters.bytes, errors: counters.errors)
        m.p50Milliseconds = Double(histogram.valueAtPercentile(50)) / 1000
        m.p99Milliseconds = Double(histogram.valueAtPercentile(99)) / 1000
        return m
    }

    /// W8, fairness: `idlers` sessions each send NOOP every 100 ms while `listers` clients LIST
    /// `folder` (a huge one) in a loop and `downloaders` RETR `file` in a loop, for `seconds`. The
    /// NOOP round trips (p50/p99) show what busy clients cost everyone else on a server's loops.
    static func fairness(_ target: Target, folder: String, file: String, idlers: Int, listers: Int, downloaders: Int,
                         seconds: Double, label: String) -> Measurement {
        let counters = Counters()
        let deadline = Date().addingTimeInterval(seconds)
        _ = parallel(idlers + listers + downloaders) { index in
            do {
                let client = try FTPClient(host: target.host, port: target.port)
                try client.login(user: target.user, password: target.password)
                var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
                while Date() < deadline {
                    if index < idlers {
                        let begin = DispatchTime.now().uptimeNanoseconds
                        _ = try client.command("NOOP")
                        _ = histogram.record((DispatchTime.now().uptimeNanoseconds - begin) / 1000)
                        Thread.sleep(forTimeInterval: 0.1)
                    } else if index < idlers + listers {
                        _ = try client.list("LIST", folder)
                    } else {
                        counters.add(bytes: try client.retrieve(file))
                    }
                }
                counters.merge(histogram)
                client.quit()
            } catch {
                counters.fail("\(error)")
            }
        }
        var m = Measurement(workload: label, server: target.name, concurrency: idlers, seconds: seconds, bytes: counters.bytes,
                            errors: counters.errors)
        m.p50Milliseconds = Double(counters.histogram.valueAtPercentile(50)) / 1000
        m.p99Milliseconds = Double(counters.histogram.valueAtPercentile(99)) / 1000
        return m
    }

    static func throughput(_ label: String, _ target: Target, _ concurrency: Int, _ seconds: Double, _ counters: Counters,
                                   _ cpuBefore: CPUReading?, _ cpuAfter: CPUReading?) -> Measurement {
        var m = Measurement(workload: label, server: target.name, concurrency: concurrency, seconds: seconds, bytes: counters.bytes,
                            errors: counters.errors)
        m.mibPerSecond = seconds > 0 ? Double(counters.bytes) / 1_048_576 / seconds : nil
        if let before = cpuBefore, let after = cpuAfter, counters.bytes > 0 {
            let gibibytes = Double(counters.bytes) / 1_073_741_824
            if let from = before.server, let to = after.server { m.serverCPUSecondsPerGiB = (to - from) / gibibytes }
            m.clientCPUSecondsPerGiB = (after.client - before.client) / gibibytes
        }
        return m
    }
}

/// Holds every session at the start line until all have logged in, then lets them go at once.
final class StartGate: @unchecked Sendable {
    private let condition = NSCondition()
    private let parties: Int
    private var arrived = 0
    private var isOpen = false
    private(set) var opened: (Date, CPUReading?) = (Date(), nil)

    init(parties: Int) { self.parties = parties }

    func arriveAndWait() {
        condition.lock()
        arrived += 1
        condition.broadcast()
        while !isOpen { condition.wait() }
        condition.unlock()
    }

    func waitForAll() {
        condition.lock()
        while arrived < parties { condition.wait() }
        condition.unlock()
    }

    func open(cpu: CPUReading?) {
        condition.lock()
        opened = (Date(), cpu)
        isOpen = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Sessions opened by several threads, kept open together.
final class Sessions: @unchecked Sendable {
    private let lock = NSLock()
    private var clients: [FTPClient] = []

    func append(_ client: FTPClient) { lock.withLock { clients.append(client) } }
    var all: [FTPClient] { lock.withLock { clients } }
}

/// Totals shared by a workload's threads.
final class Counters: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var bytes: UInt64 = 0
    private(set) var errors = 0
    private(set) var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    private var firstError: String?

    func add(bytes count: UInt64) { lock.withLock { bytes += count } }

    func fail(_ reason: String) {
        lock.withLock {
            errors += 1
            if firstError == nil {
                firstError = reason
                FileHandle.standardError.write(Data("ftpbench: \(reason)\n".utf8))
            }
        }
    }

    func merge(_ other: Histogram<UInt64>) { lock.withLock { histogram.add(other) } }
}
