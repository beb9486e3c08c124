/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bandwidth limiter and zero detection of the mirror engine. */
#include "config.h"

#include <string.h>

#include "storage-mirror/mirror-priv.h"

/* A burst of at most 100 ms worth of bytes: an idle limiter must not let
 * a large backlog through at once. */
#define BURST_SECONDS 0.1

void
xm_rate_limiter_init(XmRateLimiter *rl, double bytes_per_s, gint64 now_us)
{
    g_mutex_init(&rl->lock);
    rl->rate = bytes_per_s > 0 ? bytes_per_s : 0;
    rl->tokens = 0;
    rl->last_us = now_us;
}

void
xm_rate_limiter_clear(XmRateLimiter *rl)
{
    g_mutex_clear(&rl->lock);
}

static void
refill(XmRateLimiter *rl, gint64 now_us)
{
    double burst = rl->rate * BURST_SECONDS;

    if (now_us > rl->last_us) {
        rl->tokens += rl->rate * (double)(now_us - rl->last_us) / 1e6;
        rl->last_us = now_us;
    }
    if (rl->tokens > burst)
        rl->tokens = burst;
}

void
xm_rate_limiter_set_rate(XmRateLimiter *rl, double bytes_per_s, gint64 now_us)
{
    g_mutex_lock(&rl->lock);
    refill(rl, now_us);
    rl->rate = bytes_per_s > 0 ? bytes_per_s : 0;
    /* a debt made at the old rate is forgiven: the new rate applies now */
    if (rl->tokens < 0)
        rl->tokens = 0;
    g_atomic_int_inc(&rl->epoch);
    g_mutex_unlock(&rl->lock);
}

guint
xm_rate_limiter_epoch(XmRateLimiter *rl)
{
    return (guint)g_atomic_int_get(&rl->epoch);
}

gint64
xm_rate_limiter_reserve(XmRateLimiter *rl, guint64 n, gint64 now_us)
{
    gint64 wait = 0;

    g_mutex_lock(&rl->lock);
    if (rl->rate > 0) {
        refill(rl, now_us);
        rl->tokens -= (double)n;
        if (rl->tokens < 0)
            wait = (gint64)(-rl->tokens * 1e6 / rl->rate + 0.5);
    }
    g_mutex_unlock(&rl->lock);
    return wait;
}

void
xm_rate_limiter_refund(XmRateLimiter *rl, guint64 n, gint64 now_us)
{
    g_mutex_lock(&rl->lock);
    if (rl->rate > 0) {
        refill(rl, now_us);
        rl->tokens += (double)n;
        if (rl->tokens > rl->rate * BURST_SECONDS)
            rl->tokens = rl->rate * BURST_SECONDS;
    }
    g_mutex_unlock(&rl->lock);
}

gboolean
xm_mirror_is_zero(const void *buf, gsize len)
{
    const guint8 *p = buf;
    static const guint8 zeros[256];

    /* compare the first bytes, then the buffer with itself shifted: one
     * pass of memcmp over the whole range */
    if (len <= sizeof(zeros))
        return memcmp(p, zeros, len) == 0;
    if (memcmp(p, zeros, sizeof(zeros)) != 0)
        return FALSE;
    return memcmp(p, p + sizeof(zeros), len - sizeof(zeros)) == 0;
}
