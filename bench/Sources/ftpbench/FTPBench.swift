import ArgumentParser
import Foundation

/// `ftpbench`: run workloads against one FTP server and print (and save) what they measured.
/// `bench/compare` runs it against Ferry and its peers side by side.
@main
struct FTPBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ftpbench",
        abstract: "Measure an FTP server: throughput, session churn, idle memory, listings.",
        discussion: """
        Workloads (names for --workloads): w1 one-stream RETR of big.bin; w2 parallel RETR of mid.bin at each \
        --parallel count; w3 one-stream STOR of big.bin's size; w4 session churn (connect, login, RETR small.bin, \
        QUIT) at each --churn-clients count; w4s the same as --cheap-hash-user, so the rate is connection and login \
        handling rather than the password hash; w5 w1 over FTPS (AUTH TLS, PROT P, AES-128-GCM); w5u w3 over FTPS; w6 idle logged-in \
        sessions at each --idle count (as --cheap-hash-user when given; past --sessions-per-source from 127.0.0.2, 127.0.0.3, ...), \
        and w1 again while they are held (w6w1); w7 LIST of many/ (w7m: MLSD); w8 \
        fairness: NOOP latency of 50 sessions (one NOOP each 100 ms) while 4 clients LIST huge/ and 16 RETR mid.bin. \
        With curl as the client (one curl process per stream, /usr/bin/curl): w1c, w2c (at each --parallel count), \
        w3c, w5c (FTPS RETR) and w5uc (FTPS STOR). The data folder must be the user's home on the server.
        """
    )

    @Option(help: "Server address (IPv4).") var host = "127.0.0.1"
    @Option(help: "Server control port.") var port: UInt16
    @Option(help: "Login name.") var user: String
    @Option(help: "Password.") var password: String
    @Option(help: "Name for the results.") var name: String
    @Option(name: .customLong("server-pid"), help: "Server process (its whole tree is measured for CPU and memory).") var serverPID: Int32?
    @Option(name: .customLong("data-dir"), help: "The folder the server serves to this user (big.bin, mid.bin, small.bin, many/).") var dataDir: String
    @Option(help: "Comma-separated workloads.") var workloads = "w1,w2,w3,w4,w5,w6,w7,w8"
    @Option(help: "Parallel stream counts for w2.") var parallel = "16,64,256"
    @Option(name: .customLong("churn-clients"), help: "Client counts for w4.") var churnClients = "8,64"
    @Option(name: .customLong("churn-seconds"), help: "Seconds per w4 run.") var churnSeconds = 5.0
    @Option(name: .customLong("cheap-hash-user"), help: "w4s: a user whose password hash is cheap to check (SHA-512 crypt, 5000 rounds).")
    var cheapHashUser: String?
    @Option(name: .customLong("cheap-hash-password"), help: "w4s: that user's password.") var cheapHashPassword: String?
    @Option(help: "Idle session counts for w6.") var idle = "1000,10000"
    // Below the 28 231 ephemeral ports Linux offers by default toward one server address and port.
    @Option(name: .customLong("sessions-per-source"), help: "w6: past this many sessions, connect from 127.0.0.2, 127.0.0.3, ... in turn.")
    var sessionsPerSource = 20_000
    @Option(name: .customLong("fairness-seconds"), help: "Seconds of w8.") var fairnessSeconds = 20.0
    @Option(help: "Append the measurements as JSON lines to this file.") var json: String?

    func run() throws {
        // A hundred thousand idle sessions need as many descriptors (bench/compare raises the hard limit).
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let probe = serverPID.map { ServerProbe(rootPID: $0) }
        let target = Target(name: name, host: host, port: port, user: user, password: password, probe: probe, dataDir: dataDir)
        let cheap = cheapHashUser.flatMap { user in cheapHashPassword.map { password in
            Target(name: name, host: host, port: port, user: user, password: password, probe: probe, dataDir: dataDir) } }
        func size(_ file: String) throws -> UInt64 {
            let attributes = try FileManager.default.attributesOfItem(atPath: "\(dataDir)/\(file)")
            return (attributes[.size] as? NSNumber)?.uint64Value ?? 0
        }
        func counts(_ text: String) -> [Int] { text.split(separator: ",").compactMap { Int($0) } }
        var results: [Measurement] = []
        for workload in workloads.split(separator: ",") {
            let before = results.count
            switch workload {
            case "w1":
                results.append(Workloads.retrieve(target, path: "big.bin", size: try size("big.bin"), streams: 1, label: "w1"))
            case "w2":
                for streams in counts(parallel) {
                    results.append(Workloads.retrieve(target, path: "mid.bin", size: try size("mid.bin"), streams: streams, label: "w2"))
                }
            case "w3":
                results.append(Workloads.store(target, source: "\(dataDir)/big.bin", size: try size("big.bin"), label: "w3"))
            case "w5":
                results.append(Workloads.retrieve(target, path: "big.bin", size: try size("big.bin"), streams: 1, label: "w5",
                                                  tls: try TLSClientContext()))
            case "w5u":
                results.append(Workloads.store(target, source: "\(dataDir)/big.bin", size: try size("big.bin"), label: "w5u",
                                               tls: try TLSClientContext()))
            case "w1c":
                results.append(Workloads.curlRetrieve(target, path: "big.bin", size: try size("big.bin"), streams: 1, tls: false, label: "w1c"))
            case "w2c":
                for streams in counts(parallel) {
                    results.append(Workloads.curlRetrieve(target, path: "mid.bin", size: try size("mid.bin"), streams: streams, tls: false,
                                                          label: "w2c"))
                }
            case "w3c":
                results.append(Workloads.curlStore(target, source: "\(dataDir)/big.bin", size: try size("big.bin"), tls: false, label: "w3c"))
            case "w5c":
                results.append(Workloads.curlRetrieve(target, path: "big.bin", size: try size("big.bin"), streams: 1, tls: true, label: "w5c"))
            case "w5uc":
                results.append(Workloads.curlStore(target, source: "\(dataDir)/big.bin", size: try size("big.bin"), tls: true, label: "w5uc"))
            case "w4":
                for clients in counts(churnClients) {
                    results.append(Workloads.churn(target, path: "small.bin", size: try size("small.bin"), clients: clients,
                                                   duration: churnSeconds, label: "w4"))
                }
            case "w4s":
                guard let cheap else { throw ValidationError("w4s needs --cheap-hash-user and --cheap-hash-password") }
                for clients in counts(churnClients) {
                    results.append(Workloads.churn(cheap, path: "small.bin", size: try size("small.bin"), clients: clients,
                                                   duration: churnSeconds, label: "w4s"))
                }
            case "w6":
                // Logged in as the cheap-hash user where there is one: 100 000 yescrypt logins would take
                // half an hour, and the hash has no part in what an idle session costs.
                let big = try size("big.bin")
                for count in counts(idle) {
                    results += Workloads.idle(cheap ?? target, count: count, perSource: sessionsPerSource, label: "w6") {
                        Workloads.retrieve(target, path: "big.bin", size: big, streams: 1, label: "w6w1")
                    }
                }
            case "w8":
                results.append(Workloads.fairness(target, folder: "huge", file: "mid.bin", idlers: 50, listers: 4, downloaders: 16,
                                                  seconds: fairnessSeconds, label: "w8"))
            case "w7":
                results.append(Workloads.listing(target, path: "many", verb: "LIST", repeats: 5, label: "w7"))
                results.append(Workloads.listing(target, path: "many", verb: "MLSD", repeats: 5, label: "w7m"))
            default:
                throw ValidationError("unknown workload \(workload)")
            }
            for result in results[before...] { print(FTPBench.describe(result)) }
        }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            var lines = ""
            for result in results { lines += String(decoding: try encoder.encode(result), as: UTF8.self) + "\n" }
            if let handle = FileHandle(forWritingAtPath: json) {
                handle.seekToEndOfFile()
                handle.write(Data(lines.utf8))
                handle.closeFile()
            } else {
                try Data(lines.utf8).write(to: URL(fileURLWithPath: json))
            }
        }
        let failures = results.reduce(0) { $0 + $1.errors }
        if failures > 0 { throw BenchError("\(failures) sessions failed (see above)") }
    }

    static func describe(_ m: Measurement) -> String {
        var parts = ["\(m.server) \(m.workload) x\(m.concurrency):"]
        if let v = m.mibPerSecond { parts.append(String(format: "%.0f MiB/s", v)) }
        if let v = m.sessionsPerSecond { parts.append(String(format: "%.1f sessions/s", v)) }
        if let p50 = m.p50Milliseconds, let p99 = m.p99Milliseconds { parts.append(String(format: "p50 %.2f ms, p99 %.2f ms", p50, p99)) }
        if let v = m.serverCPUSecondsPerGiB { parts.append(String(format: "%.3f CPU s/GiB", v)) }
        if let v = m.clientCPUSecondsPerGiB { parts.append(String(format: "(client %.3f)", v)) }
        if let v = m.serverKiBPerSession { parts.append(String(format: "%.1f KiB/session", v)) }
        if m.errors > 0 { parts.append("\(m.errors) errors") }
        if parts.count == 1 { parts.append("no figure (not offered by the server)") }
        return parts.joined(separator: " ")
    }
}
