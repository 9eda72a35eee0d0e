import Foundation
import Testing

/// The zero-config quick start and curl, in passive and active mode.
@Suite struct CurlTests {
    @Test func anonymousQuickStartListsAndDownloads() throws {
        let server = try FerryProcess()
        try Disk.write(server.root.appendingPathComponent("hello.txt"), "hello, ferry\n")
        try Disk.write(server.root.appendingPathComponent("dir with space/ünï.txt"), "utf8\n")
        let listing = try Tool.run("curl", ["-sS", "\(server.url)/"])
        #expect(listing.status == 0, "\(listing.stderr)")
        // curl turns the listing's CRLF into LF.
        #expect(listing.stdout.contains(" hello.txt\n") && listing.stdout.contains(" dir with space\n"))
        #expect(listing.stdout.hasPrefix("-rw-r--r-- 1 ftp") || listing.stdout.hasPrefix("drwx"))
        let file = try Tool.run("curl", ["-sS", "\(server.url)/hello.txt"])
        #expect(file.stdout == "hello, ferry\n")
        let utf8 = try Tool.run("curl", ["-sS", "\(server.url)/dir%20with%20space/%C3%BCn%C3%AF.txt"])
        #expect(utf8.stdout == "utf8\n", "\(utf8.stderr)")
        let active = try Tool.run("curl", ["-sS", "-P", "127.0.0.1", "\(server.url)/hello.txt"])
        #expect(active.stdout == "hello, ferry\n", "\(active.stderr)")
        let legacy = try Tool.run("curl", ["-sS", "--disable-epsv", "--disable-eprt", "-P", "-", "\(server.url)/hello.txt"])
        #expect(legacy.stdout == "hello, ferry\n", "\(legacy.stderr)")
        #expect(server.stop() == 0)
    }

    @Test func anonymousCannotUpload() throws {
        let server = try FerryProcess()
        let upload = try Tool.run("curl", ["-sS", "-T", "-", "\(server.url)/new.txt"], input: Data("x".utf8))
        #expect(upload.status != 0)
        #expect(upload.stderr.contains("550"))
        #expect(!FileManager.default.fileExists(atPath: server.root.appendingPathComponent("new.txt").path))
    }
}
