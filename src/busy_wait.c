#include "busy_wait.h"

#include <stdatomic.h>
#include <unistd.h>

#include "net.h"

/* Shared by every thread of the process (several Lua states may run the
 * module at once): plain atomics, since a lost update only shifts when
 * spinning stops or starts again. */
static _Atomic long spin_ns = (long)(FTP_BUSY_WAIT_DEFAULT * 1e9);
static _Atomic int cpus = -1;
static _Atomic int misses;  /* waits in a row the spin did not catch */
static _Atomic int resting; /* waits left before spinning is tried again */

enum { MISSES_BEFORE_REST = 8, REST_WAITS = 64 };

static int several_cpus(void)
{
    int n = atomic_load_explicit(&cpus, memory_order_relaxed);
    if (n < 0) {
        n = (int)sysconf(_SC_NPROCESSORS_ONLN);
        atomic_store_explicit(&cpus, n, memory_order_relaxed);
    }
    return n > 1;
}

/* Whether this wait may spin: set, several CPUs, and not resting after a
 * run of misses. */
static int may_spin(long ns)
{
    if (ns <= 0 || !several_cpus())
        return 0;
    if (atomic_load_explicit(&resting, memory_order_relaxed) > 0) {
        atomic_fetch_sub_explicit(&resting, 1, memory_order_relaxed);
        return 0;
    }
    return 1;
}

static void count_miss(void)
{
    if (atomic_fetch_add_explicit(&misses, 1, memory_order_relaxed) + 1 >=
        MISSES_BEFORE_REST) {
        atomic_store_explicit(&misses, 0, memory_order_relaxed);
        atomic_store_explicit(&resting, REST_WAITS, memory_order_relaxed);
    }
}

int ftp_busy_wait(struct pollfd *p, double deadline)
{
    long ns = atomic_load_explicit(&spin_ns, memory_order_relaxed);
    if (!may_spin(ns))
        return 0;
    double until = ftp_net_now() + (double)ns / 1e9;
    if (deadline >= 0 && deadline < until)
        until = deadline;
    do {
        if (poll(p, 1, 0) > 0) {
            atomic_store_explicit(&misses, 0, memory_order_relaxed);
            return 1;
        }
    } while (ftp_net_now() < until);
    count_miss();
    return 0;
}

double ftp_busy_wait_set(double seconds)
{
    long ns = seconds > 0 ? (long)(seconds * 1e9) : 0;
    long before = atomic_exchange_explicit(&spin_ns, ns, memory_order_relaxed);
    return (double)before / 1e9;
}
