import Glibc

/// Dropping root after the ports are bound (`--run-as`): supplementary groups, group, then user,
/// and a check that root cannot be regained.
enum Privileges {
    static func drop(to name: String) throws(StartupError) {
        guard geteuid() == 0 else {
            throw StartupError("--run-as \(name) needs Ferry to start as root; without root, bind ports below 1024 with CAP_NET_BIND_SERVICE instead")
        }
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getpwnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil else {
            throw StartupError("--run-as \(name): no such user")
        }
        let uid = entry.pw_uid
        let gid = entry.pw_gid
        guard initgroups(name, gid) == 0, setgid(gid) == 0, setuid(uid) == 0 else {
            throw StartupError("--run-as \(name): cannot switch user: \(String(cString: strerror(errno)))")
        }
        guard setuid(0) != 0 else { throw StartupError("--run-as \(name): root could be regained; refusing to run") }
    }
}
