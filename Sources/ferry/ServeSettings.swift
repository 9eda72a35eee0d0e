// Generated from Settings.specs (Sources/FerryServer/Settings.swift) by
// `FERRY_REGENERATE=1 swift test --filter ServeSettingsTests`: edit the table, not this file.
import ArgumentParser
import FerryServer

/// The settings of `Settings.specs` as `ferry serve` flags.
struct ServeSettings: ParsableArguments {
    @Option(name: .customLong("root"), help: "Folder served to anonymous users (default: .).")
    var root: String?
    @Option(name: .customLong("listen"), help: "Control listener, HOST:PORT or [IPv6]:PORT; repeatable (default: 127.0.0.1:2121).")
    var listen: [String] = []
    @Option(name: .customLong("users"), help: "Users file (see `ferry user`), or a postgresql:// URL. Without it, anonymous read-only access is on.")
    var users: String?
    @Flag(name: .customLong("anonymous"), help: "Allow anonymous read-only login (users anonymous and ftp); default: on without a users file, off with one.")
    var anonymous = false
    @Option(name: .customLong("max-sessions"), help: "Sessions in total, 421 when full (default: what the descriptor limit allows).")
    var maxSessions: Int?
    @Option(name: .customLong("max-sessions-per-ip"), help: "Sessions from one client address (IPv6: per /64), 421 when full (default: 64).")
    var maxSessionsPerIp: Int?
    @Option(name: .customLong("passive-ports"), help: "Passive data port range, \"LO-HI\" (default: the kernel's ephemeral ports).")
    var passivePorts: String?
    @Option(name: .customLong("passive-address"), help: "IPv4 address or host name announced in PASV replies (NAT, load balancer); CIDR=ADDRESS for the clients of one network, first match wins; repeatable.")
    var passiveAddress: [String] = []
    @Option(name: .customLong("proxy-protocol"), help: "PROXY protocol header (v1 or v2, HAProxy's send-proxy) before the greeting: off; optional (connections from trusted-proxies must send one, others are served as they are); required (only trusted-proxies may connect) (default: off).")
    var proxyProtocol: String?
    @Option(name: .customLong("trusted-proxies"), help: "Networks (CIDR, or one address) whose PROXY headers are believed: the load balancer's addresses; repeatable.")
    var trustedProxies: [String] = []
    @Flag(name: .customLong("proxy-protocol-data"), help: "Passive data connections from trusted-proxies start with a PROXY header too (the load balancer in front of the passive ports); the client it names must be the session's.")
    var proxyProtocolData = false
    @Option(name: .customLong("proxy-protocol-timeout"), help: "Seconds a connection from a trusted proxy has to send its PROXY header (default: 5).")
    var proxyProtocolTimeout: Int?
    @Option(name: .customLong("workers"), help: "Event loops (default: the cores this process may run on).")
    var workers: Int?
    @Option(name: .customLong("max-login-failures"), help: "Failed logins in one session before it is closed (default: 3).")
    var maxLoginFailures: Int?
    @Option(name: .customLong("max-failed-logins-per-ip"), help: "Failed logins from one address before it is banned for ban-time (default: 10).")
    var maxFailedLoginsPerIp: Int?
    @Option(name: .customLong("ban-time"), help: "Seconds an address stays banned after too many failed logins (default: 600).")
    var banTime: Int?
    @Option(name: .customLong("login-timeout"), help: "Seconds a new session has to log in (default: 60).")
    var loginTimeout: Int?
    @Option(name: .customLong("download-rate"), help: "Download cap per session, bytes per second (K, M, G suffixes).")
    var downloadRate: String?
    @Option(name: .customLong("upload-rate"), help: "Upload cap per session, bytes per second (K, M, G suffixes).")
    var uploadRate: String?
    @Flag(name: .customLong("atomic-uploads"), help: "STOR over an existing file replaces it only when the upload is complete (readers never see it torn).")
    var atomicUploads = false
    @Flag(name: .customLong("fsync-uploads"), help: "Answer 226 only once the uploaded file and its folder are on stable storage (fsync): for shared homes on network file systems that acknowledge writes before they are durable.")
    var fsyncUploads = false
    @Option(name: .customLong("umask"), help: "umask for files and folders clients create, octal (a user's own umask wins) (default: 022).")
    var umask: String?
    @Option(name: .customLong("idle-timeout"), help: "Seconds a control connection may stay silent (default: 300).")
    var idleTimeout: Int?
    @Option(name: .customLong("data-timeout"), help: "Seconds to wait for a data connection or a TLS handshake (default: 30).")
    var dataTimeout: Int?
    @Option(name: .customLong("transfer-timeout"), help: "Seconds a transfer may make no progress (default: 60).")
    var transferTimeout: Int?
    @Option(name: .customLong("shutdown-grace"), help: "Seconds SIGTERM waits for running transfers (default: 10).")
    var shutdownGrace: Int?
    @Option(name: .customLong("tls-cert"), help: "PEM certificate (chain): enables AUTH TLS.")
    var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key for tls-cert.")
    var tlsKey: String?
    @Option(name: .customLong("implicit-tls-listen"), help: "Implicit FTPS listener, HOST:PORT (990 by convention); repeatable.")
    var implicitTlsListen: [String] = []
    @Flag(name: .customLong("require-tls"), help: "Refuse logins and data connections without TLS.")
    var requireTls = false
    @Option(name: .customLong("tls-session-reuse"), help: "required: TLS data connections must resume the control connection's session; optional: they may not (default: required).")
    var tlsSessionReuse: String?
    @Option(name: .customLong("tls-close-notify"), help: "required: a TLS upload that ends without the client's close_notify gets 426; optional: it is complete (default: required).")
    var tlsCloseNotify: String?
    @Option(name: .customLong("tls-min-version"), help: "Lowest TLS version: 1.2 or 1.3 (default: 1.2).")
    var tlsMinVersion: String?
    @Option(name: .customLong("tls-ciphers"), help: "OpenSSL cipher list (TLS 1.2) or ciphersuites (TLS 1.3).")
    var tlsCiphers: String?
    @Option(name: .customLong("tls-client-ca"), help: "PEM CA certificate(s) that issue client certificates (for tls-client-auth).")
    var tlsClientCa: String?
    @Option(name: .customLong("tls-client-auth"), help: "Ask TLS clients for a certificate: off, optional (one that is sent must verify) or required (default: off).")
    var tlsClientAuth: String?
    @Option(name: .customLong("tls-kernel-offload"), help: "auto: TLS data connections hand encryption to the kernel (kTLS) where it has the tls module, so downloads go by sendfile; off: OpenSSL encrypts in user space (default: auto).")
    var tlsKernelOffload: String?
    @Option(name: .customLong("metrics-listen"), help: "Serve Prometheus /metrics and /healthz at HOST:PORT.")
    var metricsListen: String?
    @Option(name: .customLong("xferlog"), help: "Append a wu-ftpd/vsftpd-format xferlog line per transfer to this file (SIGUSR1 reopens it).")
    var xferlog: String?
    @Option(name: .customLong("on-upload"), help: "Run this program (no shell) after each upload, complete or not, with FERRY_* variables.")
    var onUpload: String?
    @Option(name: .customLong("on-download"), help: "Run this program after each download, complete or not.")
    var onDownload: String?
    @Option(name: .customLong("on-delete"), help: "Run this program after each DELE.")
    var onDelete: String?
    @Option(name: .customLong("on-rename"), help: "Run this program after each rename (RNFR/RNTO).")
    var onRename: String?
    @Option(name: .customLong("on-login"), help: "Run this program after each successful login.")
    var onLogin: String?
    @Option(name: .customLong("event-url"), help: "POST every event as JSON to this http:// URL (retried after 1, 2 and 4 s).")
    var eventUrl: String?
    @Option(name: .customLong("hook-timeout"), help: "Seconds an event hook may run before it is killed (default: 30).")
    var hookTimeout: Int?
    @Option(name: .customLong("max-hooks"), help: "Event hooks running at once; an event past that is logged and dropped (default: 8).")
    var maxHooks: Int?
    @Option(name: .customLong("run-as"), help: "Drop from root to this user once the ports are bound.")
    var runAs: String?
    @Option(name: .customLong("log-format"), help: "Server log on standard error: text or json (one object a line) (default: text).")
    var logFormat: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (default: info).")
    var logLevel: String?

    /// The flags that were given, as settings.
    var given: [String: Settings.Source] {
        var values: [String: SettingValue] = [:]
        values["root"] = root.map(SettingValue.string)
        values["listen"] = listen.isEmpty ? nil : .list(listen)
        values["users"] = users.map(SettingValue.string)
        values["anonymous"] = anonymous ? .boolean(true) : nil
        values["max-sessions"] = maxSessions.map(SettingValue.integer)
        values["max-sessions-per-ip"] = maxSessionsPerIp.map(SettingValue.integer)
        values["passive-ports"] = passivePorts.map(SettingValue.string)
        values["passive-address"] = passiveAddress.isEmpty ? nil : .list(passiveAddress)
        values["proxy-protocol"] = proxyProtocol.map(SettingValue.string)
        values["trusted-proxies"] = trustedProxies.isEmpty ? nil : .list(trustedProxies)
        values["proxy-protocol-data"] = proxyProtocolData ? .boolean(true) : nil
        values["proxy-protocol-timeout"] = proxyProtocolTimeout.map(SettingValue.integer)
        values["workers"] = workers.map(SettingValue.integer)
        values["max-login-failures"] = maxLoginFailures.map(SettingValue.integer)
        values["max-failed-logins-per-ip"] = maxFailedLoginsPerIp.map(SettingValue.integer)
        values["ban-time"] = banTime.map(SettingValue.integer)
        values["login-timeout"] = loginTimeout.map(SettingValue.integer)
        values["download-rate"] = downloadRate.map(SettingValue.string)
        values["upload-rate"] = uploadRate.map(SettingValue.string)
        values["atomic-uploads"] = atomicUploads ? .boolean(true) : nil
        values["fsync-uploads"] = fsyncUploads ? .boolean(true) : nil
        values["umask"] = umask.map(SettingValue.string)
        values["idle-timeout"] = idleTimeout.map(SettingValue.integer)
        values["data-timeout"] = dataTimeout.map(SettingValue.integer)
        values["transfer-timeout"] = transferTimeout.map(SettingValue.integer)
        values["shutdown-grace"] = shutdownGrace.map(SettingValue.integer)
        values["tls-cert"] = tlsCert.map(SettingValue.string)
        values["tls-key"] = tlsKey.map(SettingValue.string)
        values["implicit-tls-listen"] = implicitTlsListen.isEmpty ? nil : .list(implicitTlsListen)
        values["require-tls"] = requireTls ? .boolean(true) : nil
        values["tls-session-reuse"] = tlsSessionReuse.map(SettingValue.string)
        values["tls-close-notify"] = tlsCloseNotify.map(SettingValue.string)
        values["tls-min-version"] = tlsMinVersion.map(SettingValue.string)
        values["tls-ciphers"] = tlsCiphers.map(SettingValue.string)
        values["tls-client-ca"] = tlsClientCa.map(SettingValue.string)
        values["tls-client-auth"] = tlsClientAuth.map(SettingValue.string)
        values["tls-kernel-offload"] = tlsKernelOffload.map(SettingValue.string)
        values["metrics-listen"] = metricsListen.map(SettingValue.string)
        values["xferlog"] = xferlog.map(SettingValue.string)
        values["on-upload"] = onUpload.map(SettingValue.string)
        values["on-download"] = onDownload.map(SettingValue.string)
        values["on-delete"] = onDelete.map(SettingValue.string)
        values["on-rename"] = onRename.map(SettingValue.string)
        values["on-login"] = onLogin.map(SettingValue.string)
        values["event-url"] = eventUrl.map(SettingValue.string)
        values["hook-timeout"] = hookTimeout.map(SettingValue.integer)
        values["max-hooks"] = maxHooks.map(SettingValue.integer)
        values["run-as"] = runAs.map(SettingValue.string)
        values["log-format"] = logFormat.map(SettingValue.string)
        values["log-level"] = logLevel.map(SettingValue.string)
        return values.reduce(into: [:]) { $0[$1.key] = Settings.Source(origin: "--\($1.key)", value: $1.value) }
    }
}
