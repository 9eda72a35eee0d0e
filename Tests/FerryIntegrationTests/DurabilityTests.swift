import Foundation
import Glibc
import Testing

/// `--fsync-uploads`: an upload's 226 comes only after fsync of the file and of its folder, for a new
/// file and for an atomic replacement (whose temporary file is synced, then renamed, then the folder
/// synced). strace, the server's launcher, records the calls and the replies in the order they ran.
@Suite struct DurabilityTests {
    @Test func fsyncUploadsSyncsTheFileAndItsFolderBeforeThe226() throws {
        let trace = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-strace-\(UUID().uuidString).txt")
        defer { try? FileManager.default.removeItem(at: trace) }
        let server = try FerryProcess(["--fsync-uploads", "--atomic-uploads"], users: true,
                                      launcher: ["strace", "-f", "-qq", "-y", "-e", "signal=none", "-e", "trace=fsync,write,writev,sendto,sendmsg",
                                                 "-o", trace.path])
        let result = try Tool.python(FtplibTests.prelude + #"""
f = connect(); f.sendcmd("TYPE I")
f.storbinary("STOR new.bin", io.BytesIO(b"n" * 300000))
f.storbinary("STOR new.bin", io.BytesIO(b"r" * 200000))
f.quit()
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
        #expect((try? Data(contentsOf: server.home("alice").appendingPathComponent("new.bin"))) == Data(repeating: UInt8(ascii: "r"), count: 200_000))
        // strace's child is the server: stop it by its PID, then strace ends with it.
        let children = (try? String(contentsOfFile: "/proc/\(server.pid)/task/\(server.pid)/children", encoding: .utf8)) ?? ""
        for child in children.split(separator: " ").compactMap({ pid_t($0) }) { kill(child, SIGTERM) }
        server.stop()
        let home = server.home("alice").path
        var synced: [String] = []
        var replies: [[String]] = []
        for line in try String(contentsOf: trace, encoding: .utf8).split(separator: "\n") {
            if line.contains("fsync("), line.hasSuffix("= 0"), let path = line.split(separator: "<").dropFirst().first?.split(separator: ">").first {
                synced.append(String(path))
            } else if line.contains("\"226 ") {
                replies.append(synced)
                synced = []
            }
        }
        #expect(replies.count == 2, "two uploads answered 226: \(replies)")
        guard replies.count == 2 else { return }
        #expect(replies[0] == ["\(home)/new.bin", home], "the new file, then its folder, before the first 226")
        #expect(replies[1].count == 2 && replies[1][0].hasPrefix("\(home)/.new.bin.ferry-") && replies[1][1] == home,
                "the replacement's temporary file, then the folder after the rename, before the second 226: \(replies[1])")
    }
}
