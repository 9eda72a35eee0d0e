#define _GNU_SOURCE
#include "CFerrySys.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <crypt.h>
#include <zlib.h>
#include <sched.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

const int ferry_O_PATH = O_PATH;
const int ferry_O_DIRECTORY = O_DIRECTORY;
const int ferry_O_CLOEXEC = O_CLOEXEC;
const int ferry_O_NONBLOCK = O_NONBLOCK;
const long ferry_UTIME_OMIT = UTIME_OMIT;

int ferry_openat_in_root(int dirfd, const char *path, int flags, unsigned int mode) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(unsigned int)flags;
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    for (int attempt = 0; attempt < 16; attempt++) {
        long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
        if (fd >= 0) return (int)fd;
        if (errno != EAGAIN) return -1;
    }
    return -1;
}

int ferry_make_splice_pipe(int fds[2], int size) {
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return -1;
    if (fcntl(fds[1], F_SETPIPE_SZ, size) < size) {
        int saved = errno;
        close(fds[0]);
        close(fds[1]);
        errno = saved;
        return -1;
    }
    return 0;
}

ssize_t ferry_splice(int in_fd, int out_fd, size_t count) {
    return splice(in_fd, NULL, out_fd, NULL, count, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}

ssize_t ferry_sendfile(int out_fd, int in_fd, int64_t *offset, size_t count) {
    off_t off = (off_t)*offset;
    ssize_t sent = sendfile(out_fd, in_fd, &off, count);
    *offset = (int64_t)off;
    return sent;
}

int ferry_crypt_verify(const char *password, const char *hash) {
    struct crypt_data *data = calloc(1, sizeof *data);
    if (data == NULL) return 0;
    const char *computed = crypt_rn(password, hash, data, sizeof *data);
    int match = 0;
    if (computed != NULL && computed[0] != '*') {
        size_t a = strlen(computed), b = strlen(hash);
        unsigned char diff = (unsigned char)(a != b);
        size_t n = a < b ? a : b;
        for (size_t i = 0; i < n; i++) diff |= (unsigned char)(computed[i] ^ hash[i]);
        match = diff == 0;
    }
    explicit_bzero(data, sizeof *data);
    free(data);
    return match;
}

int ferry_crypt_hash(const char *password, const char *setting, char *out, size_t out_size) {
    struct crypt_data *data = calloc(1, sizeof *data);
    if (data == NULL) return -1;
    int result = -1;
    char fresh[CRYPT_GENSALT_OUTPUT_SIZE];
    if (setting == NULL) setting = crypt_gensalt_rn(NULL, 0, NULL, 0, fresh, sizeof fresh);
    if (setting != NULL) {
        const char *hash = crypt_rn(password, setting, data, sizeof *data);
        if (hash != NULL && hash[0] != '*' && strlen(hash) < out_size) {
            strcpy(out, hash);
            result = 0;
        }
    }
    explicit_bzero(data, sizeof *data);
    free(data);
    return result;
}

int ferry_usable_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
}

int ferry_set_oobinline(int fd) {
    int one = 1;
    return setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof one);
}

unsigned long ferry_crc32(unsigned long crc, const void *bytes, size_t count) {
    const unsigned char *at = bytes;
    while (count > 0) {
        unsigned int chunk = count > (1u << 30) ? (1u << 30) : (unsigned int)count;
        crc = crc32(crc, at, chunk);
        at += chunk;
        count -= chunk;
    }
    return crc;
}

int ferry_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length) {
    return accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int ferry_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}
