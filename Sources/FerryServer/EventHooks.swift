import CFerrySys
import Dispatch
import FTPCore
import FerryReactor
import Glibc
import Logging
import Synchronization

/// The operator's commands for server events (`--on-upload`, `--on-download`, `--on-delete`,
/// `--on-rename`, `--on-login`). Each runs with posix_spawn (no shell), its facts in FERRY_*
/// variables, on a worker thread, never on a loop: at most `maxRunning` at once (an event past that is
/// logged and dropped, so a slow hook cannot pile up processes), killed after `timeoutSeconds`, its
/// exit status and first output logged. A hook never changes what the client is told.
public final class EventHooks: Sendable {
    public enum Event: String, Sendable, CaseIterable {
        case upload, download, delete, rename, login
    }

    /// What a hook learns, as FERRY_EVENT, FERRY_USER, FERRY_CLIENT, FERRY_PATH (on disk),
    /// FERRY_VIRTUAL_PATH, FERRY_BYTES, FERRY_STATUS (complete/incomplete) and FERRY_SECONDS; a
    /// rename also gets FERRY_TARGET_PATH and FERRY_TARGET_VIRTUAL_PATH.
    public struct Facts: Sendable {
        var event: Event
        var user: String
        var client: String
        var path = ""
        var virtualPath = ""
        var targetPath: String?
        var targetVirtualPath: String?
        var bytes: UInt64 = 0
        var complete = true
        var seconds = 0

        var environment: [String] {
            var pairs = [
                ("FERRY_EVENT", event.rawValue), ("FERRY_USER", user), ("FERRY_CLIENT", client), ("FERRY_PATH", path),
                ("FERRY_VIRTUAL_PATH", virtualPath), ("FERRY_BYTES", String(bytes)),
                ("FERRY_STATUS", complete ? "complete" : "incomplete"), ("FERRY_SECONDS", String(seconds)),
                ("PATH", "/usr/local/bin:/usr/bin:/bin"),
            ]
            if let targetPath, let targetVirtualPath {
                pairs += [("FERRY_TARGET_PATH", targetPath), ("FERRY_TARGET_VIRTUAL_PATH", targetVirtualPath)]
            }
            return pairs.map { "\($0.0)=\($0.1)" }
        }

        /// The same facts as one JSON object, for `--event-url`.
        var json: String {
            var fields = [
                ("event", ServerLogHandler.quote(event.rawValue)), ("user", ServerLogHandler.quote(user)),
                ("client", ServerLogHandler.quote(client)), ("path", ServerLogHandler.quote(path)),
                ("virtual_path", ServerLogHandler.quote(virtualPath)), ("bytes", String(bytes)),
                ("status", ServerLogHandler.quote(complete ? "complete" : "incomplete")), ("seconds", String(seconds)),
            ]
            if let targetPath, let targetVirtualPath {
                fields += [("target_path", ServerLogHandler.quote(targetPath)), ("target_virtual_path", ServerLogHandler.quote(targetVirtualPath))]
            }
            return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
        }
    }

    /// Output kept from a hook for the log.
    static let outputBytes = 4096
    private let commands: [Event: String]
    /// `--event-url`, if set: every event is also posted there.
    let webhook: Webhook?
    private let timeoutSeconds: Int
    private let maxRunning: Int
    private let running = Mutex(0)
    private let logger: Logger

    init(commands: [Event: String], webhook: Webhook?, timeoutSeconds: Int, maxRunning: Int, logger: Logger) {
        self.commands = commands
        self.webhook = webhook
        self.timeoutSeconds = timeoutSeconds
        self.maxRunning = maxRunning
        self.logger = logger
    }

    /// Start the hook for `facts.event`, if there is one, and post to the webhook; returns at once.
    func fire(_ facts: Facts) {
        webhook?.send(facts)
        guard let command = commands[facts.event] else { return }
        let admitted = running.withLock { count in
            guard count < maxRunning else { return false }
            count += 1
            return true
        }
        guard admitted else {
            return logger.warning("event hook skipped: \(maxRunning) hooks are already running", metadata: ["event": "\(facts.event.rawValue)"])
        }
        DispatchQueue.global().async { [self] in
            defer { running.withLock { $0 -= 1 } }
            run(command, facts)
        }
    }

    private func run(_ command: String, _ facts: Facts) {
        var metadata: Logger.Metadata = ["event": "\(facts.event.rawValue)", "command": "\(command)"]
        var pipe: [Int32] = [-1, -1]
        guard ferry_pipe_cloexec(&pipe) == 0 else {
            metadata["error"] = "\(SystemError("pipe2"))"
            return logger.error("event hook not started", metadata: metadata)
        }
        let output = Descriptor(taking: pipe[0])
        let writeEnd = Descriptor(taking: pipe[1])
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, pipe[1], 2)
        var pid: pid_t = 0
        let arguments = [command]
        let spawned = withCStrings(arguments) { argv in
            withCStrings(facts.environment) { envp in posix_spawn(&pid, command, &actions, nil, argv, envp) }
        }
        writeEnd.close()
        guard spawned == 0 else {
            metadata["error"] = "\(String(cString: strerror(spawned)))"
            return logger.error("event hook not started", metadata: metadata)
        }
        let (status, text) = collect(pid, output: output.rawValue)
        metadata["status"] = "\(status)"
        if !text.isEmpty { metadata["output"] = "\(text)" }
        if status == "exit 0" {
            logger.info("event hook ran", metadata: metadata)
        } else {
            logger.warning("event hook failed", metadata: metadata)
        }
    }

    /// Read what the hook writes (keeping the first `outputBytes`) until it exits, checking every
    /// second; past the timeout it is killed. A child it left behind holding the output does not keep
    /// the hook running. Its status: `exit N`, `signal N` or `killed after N s`.
    private func collect(_ pid: pid_t, output fd: Int32) -> (String, String) {
        var kept: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = MonotonicClock.system.seconds + Int64(timeoutSeconds)
        var raw: Int32 = 0
        var open = true
        func drain() {
            while open {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 0) > 0 else { return }
                let count = read(fd, &buffer, buffer.count)
                guard count > 0 else {
                    open = count < 0 && errno == EINTR
                    return
                }
                kept += buffer.prefix(max(0, min(count, EventHooks.outputBytes - kept.count)))
            }
        }
        while waitpid(pid, &raw, WNOHANG) != pid {
            guard MonotonicClock.system.seconds < deadline else {
                kill(pid, SIGKILL)
                while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
                drain()
                return ("killed after \(timeoutSeconds) s", EventHooks.text(kept))
            }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if open, poll(&poller, 1, 1000) > 0 { drain() } else if !open { usleep(20_000) }
        }
        drain()
        let exited = raw & 0x7F == 0
        return (exited ? "exit \((raw >> 8) & 0xFF)" : "signal \(raw & 0x7F)", EventHooks.text(kept))
    }

    private static func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self).trimmingSpaces.replacingAll("\n", with: " | ")
    }
}

/// Run `body` with `strings` as a NULL-terminated C array (argv, envp).
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var pointers = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    pointers.append(nil)
    return body(pointers)
}
