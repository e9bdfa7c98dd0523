#include "rate.h"

/* The burst: an eighth of a second of data, at least 4 KiB (a slow limit
 * still moves whole blocks) but never over a second's worth, and at most
 * 4 MiB (a pump step's share). */
enum { BURST_MIN = 4096, BURST_MAX = 4 << 20 };

void ftp_rate_set(ftp_rate *r, double rate, double now)
{
    if (!(rate > 0)) { /* also NaN */
        r->rate = 0;
        return;
    }
    double burst = rate / 8;
    if (burst < BURST_MIN)
        burst = rate < BURST_MIN ? rate : BURST_MIN;
    if (burst > BURST_MAX)
        burst = BURST_MAX;
    r->rate = rate;
    r->burst = burst;
    r->tokens = burst;
    r->stamp = now;
}

/* The least a step waits for: a quarter of the burst (so at most a quarter
 * of a second), at least a byte. */
static double wake_share(const ftp_rate *r)
{
    return r->burst < 4 ? 1 : r->burst / 4;
}

size_t ftp_rate_allow(ftp_rate *r, size_t want, double now)
{
    if (r->rate <= 0)
        return want;
    if (now > r->stamp) { /* a clock that went back adds nothing */
        r->tokens += (now - r->stamp) * r->rate;
        if (r->tokens > r->burst)
            r->tokens = r->burst;
        r->stamp = now;
    }
    if (r->tokens >= (double)want)
        return want;
    /* Less than a share worth a step: wait for one, rather than move the few
     * bytes that came in since the last step (a busy loop of tiny writes). */
    if (r->tokens < wake_share(r))
        return 0;
    return (size_t)r->tokens;
}

void ftp_rate_spend(ftp_rate *r, size_t n)
{
    if (r->rate > 0)
        r->tokens -= (double)n;
}

double ftp_rate_delay(const ftp_rate *r)
{
    if (r->rate <= 0)
        return 0;
    double short_of = wake_share(r) - r->tokens;
    return short_of > 0 ? short_of / r->rate : 0;
}
