/* System calls and constants that Swift's Glibc module cannot reach: openat2(2) (no libc wrapper),
   O_PATH and friends (_GNU_SOURCE-only), sendfile(2), crypt_rn(3) from libxcrypt, and zlib's crc32. */
#ifndef FERRY_CFERRYSYS_H
#define FERRY_CFERRYSYS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>

/* Flags for ferry_openat2, re-exported because Swift does not see them. */
extern const int ferry_O_PATH;
extern const int ferry_O_DIRECTORY;
extern const int ferry_O_CLOEXEC;
extern const int ferry_O_NONBLOCK;
extern const long ferry_UTIME_OMIT;

/* openat2(dirfd, path, {flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS}); retries EAGAIN.
   Returns the fd, or -1 with errno set (ENOSYS when the kernel lacks openat2). */
int ferry_openat_in_root(int dirfd, const char *path, int flags, unsigned int mode);

/* sendfile(2) with a 64-bit offset; returns bytes sent or -1 with errno. */
ssize_t ferry_sendfile(int out_fd, int in_fd, int64_t *offset, size_t count);

/* A non-blocking, close-on-exec pipe of `size` bytes for splice(2) uploads; 0, or -1 with errno
   (also when the kernel will not grow it: the per-user pipe allowance is spent). */
int ferry_make_splice_pipe(int fds[2], int size);

/* splice(2) `count` bytes from `in_fd` to `out_fd` at their current positions (SPLICE_F_MOVE,
   SPLICE_F_NONBLOCK); returns bytes moved, 0 at the end of `in_fd`, or -1 with errno. */
ssize_t ferry_splice(int in_fd, int out_fd, size_t count);

/* Verify `password` against a crypt(3) hash in constant time; 1 = match, 0 = no match.
   Allocates its own crypt_data so any thread may call it. */
int ferry_crypt_verify(const char *password, const char *hash);

/* Hash `password` into `out` with `setting` (a hash prefix such as "$6$salt"), or, when `setting`
   is NULL, with a fresh salt of libxcrypt's default (strongest) method. Returns 0 or -1. */
int ferry_crypt_hash(const char *password, const char *setting, char *out, size_t out_size);

/* accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC): a connection no spawned process
   inherits, ready for the loop. The fd, or -1 with errno. */
int ferry_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length);

/* pipe2(fds, O_CLOEXEC): a pipe no other spawned process inherits. 0, or -1 with errno. */
int ferry_pipe_cloexec(int fds[2]);

/* zlib's CRC-32 of `count` bytes, continuing from `crc` (0 to start); any length. */
unsigned long ferry_crc32(unsigned long crc, const void *bytes, size_t count);

/* CPUs this process may run on (sched_getaffinity: taskset, a container's cpuset), or the online
   count where that cannot be read; at least 1. */
int ferry_usable_cpus(void);

/* Set SO_OOBINLINE so urgent data (ftplib sends ABOR that way) arrives inline. Returns 0 or -1. */
int ferry_set_oobinline(int fd);
#endif
