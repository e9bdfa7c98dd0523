/* A token bucket for a transfer's rate limit: pure arithmetic on times
 * given by the caller (ftp_net_now), no I/O, so that it can be tested and
 * fuzzed without sockets. The bucket holds a small burst (an eighth of a
 * second of data, 4 KiB at least unless that is over a second's worth): a
 * transfer may move that much at once, then waits until the rate has paid
 * for the next share. */
#ifndef FTP_RATE_H
#define FTP_RATE_H

#include <stddef.h>

typedef struct ftp_rate {
    double rate;   /* bytes per second; 0: no limit */
    double burst;  /* the most the bucket holds */
    double tokens; /* bytes that may move now */
    double stamp;  /* when tokens was last brought up to date */
} ftp_rate;

/* Limits to rate bytes a second from now on (0 or less: no limit). The
 * bucket starts full. */
void ftp_rate_set(ftp_rate *r, double rate, double now);
/* The bytes that may move now, at most want (want itself with no limit):
 * want when the bucket has that much, else what it has once that is a
 * share worth a step (a quarter of the burst), else 0: wait ftp_rate_delay
 * seconds. */
size_t ftp_rate_allow(ftp_rate *r, size_t want, double now);
/* Counts n bytes moved. */
void ftp_rate_spend(ftp_rate *r, size_t n);
/* After an allowance of 0: seconds until a share worth a step has come in. */
double ftp_rate_delay(const ftp_rate *r);

#endif
