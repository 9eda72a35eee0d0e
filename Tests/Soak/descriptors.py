"""How many descriptors a server process holds, for the tests that check nothing leaked."""
import os


def target(path):
    try:
        return os.readlink(path)
    except OSError:
        return None


def server_descriptors(pid):
    """The server's descriptors, leaving out the pipes its own child processes read and write as
    their standard input and output: ThreadSanitizer starts a symbolizer that way the first time it
    reports. (A child also inherits descriptors the server keeps, so only its fds 0 and 1 count.)"""
    children = []
    for task in os.listdir("/proc/%s/task" % pid):
        try:
            with open("/proc/%s/task/%s/children" % (pid, task)) as listing:
                children += listing.read().split()
        except OSError:
            pass
    streams = {target("/proc/%s/fd/%d" % (child, fd)) for child in children for fd in (0, 1)}
    folder = "/proc/%s/fd" % pid
    own = [target(os.path.join(folder, name)) for name in os.listdir(folder)]
    return len([t for t in own if t is not None and not (t.startswith("pipe:") and t in streams)])
