import Glibc

/// Whether this kernel can encrypt TLS records itself (kTLS: the `tls` TCP upper-layer protocol,
/// CONFIG_TLS), so that a TLS download can go out by sendfile. Probed once per process: asking an
/// unconnected TCP socket for the `tls` upper layer fails with ENOTCONN where the kernel has it
/// (loading it if it is a module), and with ENOENT where it has not (any other answer counts as not).
public enum KernelTLS {
    public static let available: Bool = probe()

    private static func probe() -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let result = "tls".withCString { setsockopt(fd, Int32(IPPROTO_TCP), TCP_ULP, $0, 4) }
        return result == 0 || errno == ENOTCONN
    }
}
