#include "rate.h"

/* The burst: an eighth of a second of data, at least 4 KiB (a slow limit
 * still moves whole blocks) and at most 4 MiB (a pump step's share). */
enum { BURST_MIN = 4096, BURST_MAX = 4 << 20 };

void ftp_rate_set(ftp_rate *r, double rate, double now)
{
    if (!(rate > 0)) { /* also NaN */
        r->rate = 0;
        return;
    }
    double burst = rate / 8;
    if (burst < BURST_MIN)
        burst = BURST_MIN;
    if (burst > BURST_MAX)
        burst = BURST_MAX;
    r->rate = rate;
    r->burst = burst;
    r->tokens = burst;
    r->stamp = now;
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
    if (r->tokens < r->burst / 4)
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
    double short_of = r->burst / 4 - r->tokens;
    return short_of > 0 ? short_of / r->rate : 0;
}
