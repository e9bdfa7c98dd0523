/* Data connections: passive connect, active listen/accept, and the transfer
 * loops between a socket and a local file. Every call is non-blocking. */
#ifndef FTP_DATA_H
#define FTP_DATA_H

#include <stdio.h>

#include "buf.h"
#include "conn.h"
#include "deflate.h"
#include "net.h"
#include "rate.h"

typedef struct ftp_data {
    ftp_conn conn;
    int listen_fd;      /* active mode: until the server has connected */
    int pipe_fd[2];     /* socket -> pipe -> file with splice; -1 before use */
    int no_splice;      /* splice or sendfile refused this pair: copy instead */
    ftp_buf pending;    /* read from a file, not yet sent */
    long long bytes;    /* payload bytes moved, either way */
    int local_err;      /* errno of the last FTP_EIO */
    /* The receive buffer: made at the first ftp_data_recv, freed on close.
     * One per data connection, so a block costs no allocation. It starts
     * at FTP_RECV_FIRST bytes and grows to FTP_RECV_BUF once a read fills
     * it: a small file costs no mmap and no fresh pages. */
    char *recv_buf;
    size_t recv_cap;    /* its size, 0 before it is made */
    int recv_full;      /* a read has filled the small one */
    /* Bytes a read brought beyond the chunk asked for (ftp_data_recv_chunk):
     * recv_buf[recv_pos ..] holds recv_left of them, given out first. */
    size_t recv_pos, recv_left;
    /* A TLS read failed after others had filled part of the buffer: the
     * bytes went out first, the failure (FTP_CLOSED, an error) waits here
     * for the next ftp_data_recv. FTP_OK when none. */
    int held;
    ftp_rate rate;      /* the transfer's rate limit (rate 0: none) */
    long long wire;     /* bytes through the socket, either way: under MODE Z
                         * the compressed ones (bytes counts the file's) */
    /* MODE Z: the data is a zlib stream (deflate.h). The codec is set up at
     * the first receive (inflate) or send (deflate); splice and sendfile are
     * not used, the bytes must pass through it. */
    int mode_z;
    ftp_z z;
    char *z_out;        /* inflated bytes, FTP_Z_OUT of them at most */
    const char *z_err;  /* why a MODE Z step failed (FTP_EPROTO, FTP_ELIMIT) */
    long long expect;   /* MODE Z: inflating past this many bytes fails (-1: no bound) */
} ftp_data;

/* The most bytes one inflate gives: whatever the stream's ratio, a step
 * holds no more than this much of its output. */
#define FTP_Z_OUT (256 * 1024)

/* Size of the receive buffer, the largest block ftp_data_recv gives. */
#define FTP_RECV_BUF (256 * 1024)
#define FTP_RECV_FIRST (16 * 1024)
/* What a data socket asks the kernel for as its receive buffer (SO_RCVBUF):
 * room for a fast sender between our reads. */
#define FTP_DATA_RCVBUF (4 * 1024 * 1024)

void ftp_data_init(ftp_data *d);
/* Limits the transfer to rate bytes a second (0: no limit). Every step
 * below then moves at most what the limit allows, and answers FTP_PAUSE
 * when it allows nothing yet: the caller waits ftp_data_pause seconds
 * (sleeping, or letting other sessions run), never spinning. */
void ftp_data_set_rate(ftp_data *d, double rate);
/* The bytes the limit lets move now, at most want; 0: pause. */
size_t ftp_data_allow(ftp_data *d, size_t want);
/* Counts n bytes moved against the limit. */
void ftp_data_spend(ftp_data *d, size_t n);
/* Seconds to wait after FTP_PAUSE. */
double ftp_data_pause(const ftp_data *d);
/* Passive mode: starts connecting to dst, as ftp_net_connect does. */
int ftp_data_connect(ftp_data *d, const ftp_addr *dst);
void ftp_data_close(ftp_data *d);
void ftp_data_free(ftp_data *d);

/* Active mode: listens on host (the control connection's local address),
 * with a port from [lo, hi] or any when lo is 0. FTP_OK or FTP_ESYS. */
int ftp_data_listen(ftp_data *d, const ftp_addr *host, int lo, int hi,
                    ftp_addr *bound);
/* Accepts the server's connection. Connections from any other host than
 * server are closed and not counted. FTP_OK, FTP_WANT_READ or FTP_ESYS. */
int ftp_data_accept(ftp_data *d, const ftp_addr *server);

/* Reads up to max bytes (at most FTP_RECV_BUF) into the receive buffer:
 * plain, what one recv gives; under TLS, record after record until the buffer
 * is full or none is ready now, so that one block spans many records. FTP_OK
 * with *block and *got > 0 (the bytes stay valid until the next call), or a
 * status as from ftp_conn_read (FTP_CLOSED with conn.err 0: the end). Bytes
 * read ahead (ftp_data_recv_chunk) come first, up to max, without a read. */
int ftp_data_recv(ftp_data *d, size_t max, const char **block, size_t *got);
/* As ftp_data_recv for a chunk of at most n bytes, but a read from the socket
 * may take up to wire_max (at most FTP_RECV_BUF): what it brings beyond n is
 * given out by the next calls, before any read. Not under MODE Z. */
int ftp_data_recv_chunk(ftp_data *d, size_t n, size_t wire_max, const char **block,
                        size_t *got);
/* Bytes read from the socket and not given out yet. */
size_t ftp_data_read_ahead(const ftp_data *d);

/* Turns MODE Z on (before the first byte moves) or off. */
void ftp_data_set_mode_z(ftp_data *d, int on);
/* MODE Z: a download inflating past size bytes (what the server announced)
 * fails with FTP_ELIMIT, before the bytes past it are given out. */
void ftp_data_set_expect(ftp_data *d, long long size);
/* Sends up to n bytes of s: FTP_OK with *put > 0 (the bytes taken; under
 * MODE Z compressed into d->pending, which goes out first next time), or a
 * status as from ftp_conn_write. */
int ftp_data_send(ftp_data *d, const char *s, size_t n, size_t *put);
/* Ends what was sent: under MODE Z, the end of the zlib stream, flushed
 * (upload: a stream even when nothing was sent, else only one begun).
 * FTP_OK (also when there is nothing to end), FTP_WANT_WRITE, or an error. */
int ftp_data_finish(ftp_data *d, int upload);

/* Socket to file until the socket has nothing more now (FTP_WANT_READ),
 * reached its end (FTP_OK) or the step moved its share (FTP_MORE: call
 * again, after letting others run), or the rate limit allows nothing yet
 * (FTP_PAUSE). *moved counts bytes written to f. */
int ftp_data_to_file(ftp_data *d, FILE *f, size_t *moved);
/* File to socket until the socket is full (FTP_WANT_WRITE), the file has
 * been sent to its end (FTP_OK), the step moved its share (FTP_MORE) or
 * the rate limit allows nothing yet (FTP_PAUSE). */
int ftp_data_from_file(ftp_data *d, FILE *f, size_t *moved);
/* Sends the rest of d->pending: FTP_OK when empty, or FTP_WANT_WRITE. */
int ftp_data_flush(ftp_data *d);

#endif
