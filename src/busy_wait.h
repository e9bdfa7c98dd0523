/* A short spin before a wait for a read goes to sleep. A process that sleeps
 * on each reply and each block of a small file pays a wake-up every time it
 * blocks (on a virtual machine some 0.1 ms: the idle virtual CPU halts and
 * the host has to bring it back), and a small file takes five such waits.
 * Polling without a timeout for up to the busy-wait time first catches most
 * of them awake. Bounded and self-limiting: never on one CPU (the spin would
 * hold back the very server it waits for), and after a run of waits the spin
 * did not catch (a slow or distant server), none for a while. */
#ifndef FTP_BUSY_WAIT_H
#define FTP_BUSY_WAIT_H

#include <poll.h>

/* The default and the largest busy-wait, in seconds. */
#define FTP_BUSY_WAIT_DEFAULT 250e-6
#define FTP_BUSY_WAIT_MAX 0.01

/* Polls p (one entry) without sleeping for up to the busy-wait time, never
 * past the deadline (ftp_net_now's clock; negative: none): 1 when it became
 * ready, 0 when the caller should sleep in poll. */
int ftp_busy_wait(struct pollfd *p, double deadline);
/* Sets the busy-wait time (0 turns it off) and answers the one before. For
 * the whole process: every session and Lua state shares it. */
double ftp_busy_wait_set(double seconds);

#endif
