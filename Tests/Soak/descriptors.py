"""How many descriptors a server process holds, for the tests that check nothing leaked."""
import os


def targets(pid):
    """What each descriptor of a process refers to (socket:[n], pipe:[n], a path)."""
    folder = "/proc/%s/fd" % pid
    found = []
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        try:
            found.append(os.readlink(os.path.join(folder, name)))
        except OSError:
            pass
    return found


def server_descriptors(pid):
    """The server's descriptors, leaving out those it shares with its own child processes:
    ThreadSanitizer starts a symbolizer with two pipes the first time it reports."""
    children = []
    for task in os.listdir("/proc/%s/task" % pid):
        try:
            with open("/proc/%s/task/%s/children" % (pid, task)) as listing:
                children += listing.read().split()
        except OSError:
            pass
    shared = {target for child in children for target in targets(child)}
    return len([target for target in targets(pid) if target not in shared])
