import Foundation
import Glibc

/// The real-client variants: the same transfers with curl as the client, one curl process per
/// stream, so a result does not hold only for ftpbench's own client (which reads with MSG_TRUNC and
/// a 256 KiB SO_RCVLOWAT). Every server gets the same curl with the same options; the client CPU
/// reported is curl's (the reaped children's), the server CPU the server tree's, as for the others.
/// A curl's session ends with it, and so may a forking server's session process before the CPU is
/// read: `CPUSampler` follows the tree during the run (read once at the end, vsftpd's FTPS STOR
/// showed 0.06 CPU s/GiB).
extension Workloads {
    /// W5c/W5uc: explicit FTPS with AES-128-GCM, as W5 uses; the certificate is the bench's own.
    static let curlTLS = ["--ssl-reqd", "--insecure", "--tls13-ciphers", "TLS_AES_128_GCM_SHA256",
                          "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"]

    /// W1c/W2c/W5c: `streams` curl processes RETR `path` at once (page cache warmed first); timed
    /// from their start to the last one's end.
    static func curlRetrieve(_ target: Target, path: String, size: UInt64, streams: Int, tls: Bool, label: String) -> Measurement {
        warm("\(target.dataDir)/\(path)")
        let options = (tls ? curlTLS : []) + ["--output", "/dev/null", "--write-out", "%{size_download}", url(target, path)]
        return curlRun(target, streams: streams, size: size, label: label) { _ in options }
    }

    /// W3c/W5uc: one curl STOR of `source` to a new file (see `prepareUpload`).
    static func curlStore(_ target: Target, source: String, size: UInt64, tls: Bool, label: String) -> Measurement {
        prepareUpload(target)
        warm(source)
        let options = (tls ? curlTLS : []) + ["--upload-file", source, "--output", "/dev/null", "--write-out", "%{size_upload}",
                                              url(target, uploadName)]
        return curlRun(target, streams: 1, size: size, label: label) { _ in options }
    }

    private static func url(_ target: Target, _ path: String) -> String {
        "ftp://\(target.host):\(target.port)/\(path)"
    }

    /// Start `streams` curls (`--silent --show-error`, the target's user), wait for all; a curl that
    /// fails or moves other than `size` bytes is an error.
    private static func curlRun(_ target: Target, streams: Int, size: UInt64, label: String,
                                options: (Int) -> [String]) -> Measurement {
        let counters = Counters()
        let sampler = target.probe.map(CPUSampler.init)
        let before = CPUReading(server: 0, client: childrenCPUSeconds())
        let start = Date()
        let runs: [(Process, Pipe)] = (0..<streams).compactMap { index in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            process.arguments = ["--silent", "--show-error", "--user", "\(target.user):\(target.password)"] + options(index)
            let output = Pipe()
            process.standardOutput = output
            do {
                try process.run()
                return (process, output)
            } catch {
                counters.fail("cannot run curl: \(error)")
                return nil
            }
        }
        for (process, output) in runs {
            let reported = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            let moved = UInt64(Double(reported.trimmingCharacters(in: .whitespaces)) ?? -1)
            if process.terminationStatus == 0 && moved == size {
                counters.add(bytes: moved)
            } else {
                counters.fail("curl exit \(process.terminationStatus), \(reported) of \(size) bytes")
            }
        }
        let seconds = Date().timeIntervalSince(start)
        let after = CPUReading(server: sampler?.stop(), client: childrenCPUSeconds())
        return throughput(label, target, streams, seconds, counters, before, after)
    }

    /// CPU seconds of this process's children that have been waited for (the curls).
    private static func childrenCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
