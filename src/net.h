/* Sockets: non-blocking connect, listen and accept, waits with timeouts and a
 * monotonic clock. No protocol knowledge here. */
#ifndef FTP_NET_H
#define FTP_NET_H

#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>

typedef struct ftp_addr {
    struct sockaddr_storage sa;
    socklen_t len;
} ftp_addr;

/* Starts a non-blocking connect from src (if src->len > 0), asking for a
 * receive buffer of rcvbuf bytes when rcvbuf > 0 (see ftp_net_set_rcvbuf).
 * Returns FTP_OK, FTP_WANT_WRITE (in progress) or FTP_ESYS with *err set. */
int ftp_net_connect(const ftp_addr *dst, const ftp_addr *src, int rcvbuf, int *fd,
                    int *err);
/* Asks for a socket receive buffer of bytes (SO_RCVBUF), before connect or
 * listen so that TCP scales its window to it. Only when the system grants it
 * all (net.core.rmem_max): a smaller fixed size would do worse than the
 * kernel's autotuning, which it switches off. Failure is harmless. */
void ftp_net_set_rcvbuf(int fd, int bytes);
/* After the socket turned writable: FTP_OK, FTP_WANT_WRITE (not connected
 * yet: woken early) or FTP_ESYS with *err set. */
int ftp_net_connect_result(int fd, int *err);

/* poll() for up to timeout_s seconds (negative: no limit), never ending
 * before then (early wake-ups wait again): poll's count of ready entries, 0
 * timed out, -1 with errno set. A signal ends it with -1 and EINTR: the caller
 * goes back to Lua, where a signal hook (lua.c's Ctrl-C) can run, and waits
 * again if nothing else happened. */
int ftp_net_poll(struct pollfd *fds, nfds_t nfds, double timeout_s);
/* Waits until fd is readable (or writable if want_write). 1 ready, 0 timed
 * out, -1 with errno set. A negative timeout waits without limit. A read's
 * wait may busy-wait first (busy_wait.h) unless calm is set. */
int ftp_net_wait(int fd, int want_write, double timeout_s, int calm);
double ftp_net_now(void);

/* Numeric host text and port of an address. */
void ftp_net_addr_text(const ftp_addr *a, char *host, size_t hostlen, int *port);
/* Sets the port of an IPv4 or IPv6 address. */
void ftp_net_set_port(ftp_addr *a, int port);
int ftp_net_peer(int fd, ftp_addr *a);
int ftp_net_local(int fd, ftp_addr *a);
/* Same host (family and IP), port ignored. */
int ftp_net_same_host(const ftp_addr *a, const ftp_addr *b);

#endif
