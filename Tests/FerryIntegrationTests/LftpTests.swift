import Foundation
import Testing

/// lftp mirroring a 200-file tree down and back up.
@Suite struct LftpTests {
    @Test func mirrorDownAndUp() throws {
        let server = try FerryProcess(users: true)
        let home = server.home("alice")
        var expected: [String: Data] = [:]
        for i in 0..<200 {
            let relative = "tree/d\(i % 10)/file \(i).bin"
            let data = Disk.pattern(100 + i * 37, seed: UInt64(i + 1))
            try FileManager.default.createDirectory(at: home.appendingPathComponent("tree/d\(i % 10)"), withIntermediateDirectories: true)
            try data.write(to: home.appendingPathComponent(relative))
            expected[relative] = data
        }
        let local = server.scratch.appendingPathComponent("local")
        try FileManager.default.createDirectory(at: local, withIntermediateDirectories: true)
        let settings = "set net:max-retries 1; set net:timeout 20; set cmd:fail-exit true; set ftp:passive-mode true"
        let down = try Tool.run("lftp", ["-c", "\(settings); open -u alice,secret -p \(server.port) \(server.host); mirror tree \(local.path)/tree"], timeout: 180)
        #expect(down.status == 0, "\(down.stderr)\n\(server.log)")
        for (relative, data) in expected {
            #expect((try? Data(contentsOf: local.appendingPathComponent(relative))) == data, "\(relative)")
        }
        let up = try Tool.run("lftp", ["-c", "\(settings); open -u alice,secret -p \(server.port) \(server.host); mirror -R \(local.path)/tree uploaded"], timeout: 180)
        #expect(up.status == 0, "\(up.stderr)\n\(server.log)")
        for (relative, data) in expected {
            let uploaded = "uploaded" + relative.dropFirst("tree".count)
            #expect((try? Data(contentsOf: home.appendingPathComponent(uploaded))) == data, "\(uploaded)")
        }
        // lftp's own listing parser sees names with spaces and sizes right.
        let listing = try Tool.run("lftp", ["-c", "\(settings); open -u alice,secret -p \(server.port) \(server.host); cls -l --sort=name tree/d3"])
        #expect(listing.stdout.contains("file 3.bin"), "\(listing.stdout)")
    }
}
