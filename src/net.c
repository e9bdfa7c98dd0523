#include "net.h"

#include "busy_wait.h"
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int new_socket(int family, int *err)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        *err = errno;
    return fd;
}

/* The most SO_RCVBUF may set (Linux: net.core.rmem_max), 0 when unknown.
 * Read once a process, not three system calls for every data connection (a
 * small file's download waits for them). A sysctl changed later is seen by
 * the next process. Atomic: sessions may run in several threads (-1: not read
 * yet; two threads reading it at once store the same value). */
static _Atomic long rcvbuf_max = -1;

static long read_rcvbuf_limit(void)
{
    int fd = open("/proc/sys/net/core/rmem_max", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char text[32];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    return strtol(text, NULL, 10);
}

static long rcvbuf_limit(void)
{
    long limit = atomic_load(&rcvbuf_max);
    if (limit < 0) {
        limit = read_rcvbuf_limit();
        atomic_store(&rcvbuf_max, limit);
    }
    return limit;
}

void ftp_net_set_rcvbuf(int fd, int bytes)
{
    /* A fixed size turns the kernel's own tuning off: worth it only when the
     * whole request is granted (the default limit is about 200 KiB, below
     * what autotuning reaches). */
    if (rcvbuf_limit() < bytes)
        return;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

int ftp_net_connect(const ftp_addr *dst, const ftp_addr *src, int rcvbuf, int *fd,
                    int *err)
{
    *fd = new_socket(dst->sa.ss_family, err);
    if (*fd < 0)
        return FTP_ESYS;
    if (rcvbuf > 0)
        ftp_net_set_rcvbuf(*fd, rcvbuf);
    /* Commands are small and each waits for its reply: no Nagle delay. */
    int one = 1;
    setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (src != NULL && src->len > 0 &&
        bind(*fd, (const struct sockaddr *)&src->sa, src->len) < 0)
        goto fail;
    if (connect(*fd, (const struct sockaddr *)&dst->sa, dst->len) == 0)
        return FTP_OK;
    if (errno == EINPROGRESS)
        return FTP_WANT_WRITE;
fail:
    *err = errno;
    close(*fd);
    *fd = -1;
    return FTP_ESYS;
}

int ftp_net_connect_result(int fd, int *err)
{
    socklen_t len = sizeof *err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &len) < 0) {
        *err = errno;
        return FTP_ESYS;
    }
    if (*err != 0)
        return FTP_ESYS;
    /* Woken before the connection is made (a host loop's stale event, an
     * early resume): no peer yet, so wait for it again. */
    ftp_addr peer;
    if (ftp_net_peer(fd, &peer) < 0) {
        if (errno == ENOTCONN)
            return FTP_WANT_WRITE;
        *err = errno;
        return FTP_ESYS;
    }
    return FTP_OK;
}

double ftp_net_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int ftp_net_poll(struct pollfd *fds, nfds_t nfds, double timeout_s)
{
    double deadline = ftp_net_now() + timeout_s;
    for (;;) {
        int ms = -1;
        if (timeout_s >= 0) {
            double left = deadline - ftp_net_now();
            /* Round up so that a wait never ends before its deadline. */
            ms = left <= 0 ? 0 : (int)(left * 1000.0) + 1;
        }
        int n = poll(fds, nfds, ms);
        if (n > 0)
            return n; /* errors and hang-ups show in the next read or write */
        if (n == 0) {
            if (timeout_s < 0 || ftp_net_now() >= deadline)
                return 0;
            continue;
        }
        return -1; /* EINTR too: see net.h */
    }
}

int ftp_net_wait(int fd, int want_write, double timeout_s, int calm)
{
    struct pollfd p = {.fd = fd, .events = want_write ? POLLOUT : POLLIN};
    /* Reads only: a writer waits for the peer to drain a full buffer, which
     * takes longer than a spin, and an upload's CPU is what it is judged by. */
    if (!want_write && !calm && fd >= 0 &&
        ftp_busy_wait(&p, timeout_s < 0 ? -1 : ftp_net_now() + timeout_s))
        return 1;
    int n = ftp_net_poll(&p, 1, timeout_s);
    return n > 0 ? 1 : n;
}

void ftp_net_addr_text(const ftp_addr *a, char *host, size_t hostlen, int *port)
{
    char serv[16];
    if (getnameinfo((const struct sockaddr *)&a->sa, a->len, host,
                    (socklen_t)hostlen, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        strncpy(host, "?", hostlen);
        *port = 0;
        return;
    }
    *port = 0;
    for (const char *s = serv; *s; s++)
        *port = *port * 10 + (*s - '0');
}

void ftp_net_set_port(ftp_addr *a, int port)
{
    if (a->sa.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&a->sa)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)&a->sa)->sin_port = htons((uint16_t)port);
}

int ftp_net_peer(int fd, ftp_addr *a)
{
    a->len = sizeof a->sa;
    return getpeername(fd, (struct sockaddr *)&a->sa, &a->len);
}

int ftp_net_local(int fd, ftp_addr *a)
{
    a->len = sizeof a->sa;
    return getsockname(fd, (struct sockaddr *)&a->sa, &a->len);
}

int ftp_net_same_host(const ftp_addr *a, const ftp_addr *b)
{
    if (a->sa.ss_family != b->sa.ss_family)
        return 0;
    if (a->sa.ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)&a->sa;
        const struct sockaddr_in *y = (const void *)&b->sa;
        return x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)&a->sa;
        const struct sockaddr_in6 *y = (const void *)&b->sa;
        return memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
    }
    return 0;
}
