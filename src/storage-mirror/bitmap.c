/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "storage-mirror/bitmap.h"
#include "util/util.h"

struct _XmBitmap {
    GMutex lock;
    GCond cond;          /* signalled when in-flight bits are cleared */
    guint64 size;
    guint64 granularity;
    guint shift;
    guint64 nbits;
    guint64 nwords;
    guint64 *dirty;
    guint64 *inflight;
};

XmBitmap *
xm_bitmap_new(guint64 size, guint64 granularity, GError **error)
{
    XmBitmap *bm;

    if (granularity < 512 || (granularity & (granularity - 1)) != 0) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("granularity %" G_GUINT64_FORMAT
                      " is not a power of two of at least 512"), granularity);
        return NULL;
    }
    bm = g_new0(XmBitmap, 1);
    g_mutex_init(&bm->lock);
    g_cond_init(&bm->cond);
    bm->size = size;
    bm->granularity = granularity;
    bm->shift = (guint)__builtin_ctzll(granularity);
    bm->nbits = (size + granularity - 1) >> bm->shift;
    bm->nwords = (bm->nbits + 63) / 64;
    bm->dirty = g_new0(guint64, bm->nwords ? bm->nwords : 1);
    bm->inflight = g_new0(guint64, bm->nwords ? bm->nwords : 1);
    return bm;
}

void
xm_bitmap_free(XmBitmap *bm)
{
    if (!bm)
        return;
    g_mutex_clear(&bm->lock);
    g_cond_clear(&bm->cond);
    g_free(bm->dirty);
    g_free(bm->inflight);
    g_free(bm);
}

guint64
xm_bitmap_get_size(XmBitmap *bm)
{
    return bm->size;
}

guint64
xm_bitmap_get_granularity(XmBitmap *bm)
{
    return bm->granularity;
}

/* Granule index range [*first, *end) touching the byte range; FALSE if
 * empty. */
static gboolean
range_bits(XmBitmap *bm, guint64 offset, guint64 length, guint64 *first,
           guint64 *end)
{
    if (length == 0 || offset >= bm->size)
        return FALSE;
    if (length > bm->size - offset)
        length = bm->size - offset;
    *first = offset >> bm->shift;
    *end = ((offset + length - 1) >> bm->shift) + 1;
    return TRUE;
}

static inline gboolean
bit_get(const guint64 *w, guint64 i)
{
    return (w[i / 64] >> (i % 64)) & 1;
}

static void
bits_set(guint64 *w, guint64 first, guint64 end, gboolean value)
{
    for (guint64 i = first; i < end;) {
        if (i % 64 == 0 && end - i >= 64) {
            w[i / 64] = value ? ~(guint64)0 : 0;
            i += 64;
            continue;
        }
        if (value)
            w[i / 64] |= (guint64)1 << (i % 64);
        else
            w[i / 64] &= ~((guint64)1 << (i % 64));
        i++;
    }
}

static gboolean
bits_any(const guint64 *w, guint64 first, guint64 end)
{
    for (guint64 i = first; i < end; i++) {
        if (i % 64 == 0 && end - i >= 64) {
            if (w[i / 64])
                return TRUE;
            i += 63;
            continue;
        }
        if (bit_get(w, i))
            return TRUE;
    }
    return FALSE;
}

static guint64
bits_bytes(XmBitmap *bm, const guint64 *w)
{
    guint64 n = 0;

    for (guint64 i = 0; i < bm->nwords; i++)
        n += (guint64)__builtin_popcountll(w[i]);
    if (n == 0)
        return 0;
    n <<= bm->shift;
    /* the last granule may be partial */
    if (bit_get(w, bm->nbits - 1))
        n -= (bm->nbits << bm->shift) - bm->size;
    return n;
}

void
xm_bitmap_mark_dirty(XmBitmap *bm, guint64 offset, guint64 length)
{
    guint64 first, end;

    if (!range_bits(bm, offset, length, &first, &end))
        return;
    g_mutex_lock(&bm->lock);
    bits_set(bm->dirty, first, end, TRUE);
    g_mutex_unlock(&bm->lock);
}

void
xm_bitmap_mark_all(XmBitmap *bm)
{
    xm_bitmap_mark_dirty(bm, 0, bm->size);
}

void
xm_bitmap_clear_dirty(XmBitmap *bm, guint64 offset, guint64 length)
{
    guint64 first, end;

    if (!range_bits(bm, offset, length, &first, &end))
        return;
    g_mutex_lock(&bm->lock);
    bits_set(bm->dirty, first, end, FALSE);
    g_mutex_unlock(&bm->lock);
}

gboolean
xm_bitmap_test_dirty(XmBitmap *bm, guint64 offset, guint64 length)
{
    guint64 first, end;
    gboolean ret;

    if (!range_bits(bm, offset, length, &first, &end))
        return FALSE;
    g_mutex_lock(&bm->lock);
    ret = bits_any(bm->dirty, first, end);
    g_mutex_unlock(&bm->lock);
    return ret;
}

guint64
xm_bitmap_count_dirty(XmBitmap *bm)
{
    guint64 n;

    g_mutex_lock(&bm->lock);
    n = bits_bytes(bm, bm->dirty);
    g_mutex_unlock(&bm->lock);
    return n;
}

guint64
xm_bitmap_count_inflight(XmBitmap *bm)
{
    guint64 n;

    g_mutex_lock(&bm->lock);
    n = bits_bytes(bm, bm->inflight);
    g_mutex_unlock(&bm->lock);
    return n;
}

/* Index of the first bit >= @from that is set in (dirty & ~inflight) when
 * @skip_inflight, else in dirty; nbits if none. */
static guint64
find_next(XmBitmap *bm, guint64 from, gboolean skip_inflight)
{
    guint64 wi = from / 64;

    if (from >= bm->nbits)
        return bm->nbits;
    for (; wi < bm->nwords; wi++) {
        guint64 w = bm->dirty[wi];

        if (skip_inflight)
            w &= ~bm->inflight[wi];
        if (wi == from / 64)
            w &= ~(guint64)0 << (from % 64);
        if (w) {
            guint64 i = wi * 64 + (guint64)__builtin_ctzll(w);
            return i < bm->nbits ? i : bm->nbits;
        }
    }
    return bm->nbits;
}

static gboolean
next_run(XmBitmap *bm, guint64 *cursor, guint64 max_len, gboolean claim,
         guint64 *offset, guint64 *length)
{
    guint64 start = *cursor >> bm->shift, i, maxbits, off, len;

    /* a cursor inside a granule starts at the next whole one */
    if ((*cursor & (bm->granularity - 1)) != 0)
        start++;
    i = find_next(bm, start, claim);
    if (i >= bm->nbits)
        return FALSE;
    maxbits = MAX(max_len >> bm->shift, 1);
    start = i;
    while (i < bm->nbits && i - start < maxbits && bit_get(bm->dirty, i) &&
           !(claim && bit_get(bm->inflight, i)))
        i++;
    if (claim) {
        bits_set(bm->dirty, start, i, FALSE);
        bits_set(bm->inflight, start, i, TRUE);
    }
    off = start << bm->shift;
    len = MIN(i << bm->shift, bm->size) - off;
    *offset = off;
    *length = len;
    *cursor = off + len;
    return TRUE;
}

gboolean
xm_bitmap_next_dirty(XmBitmap *bm, guint64 *cursor, guint64 max_len,
                     guint64 *offset, guint64 *length)
{
    gboolean ret;

    g_mutex_lock(&bm->lock);
    ret = next_run(bm, cursor, max_len, FALSE, offset, length);
    g_mutex_unlock(&bm->lock);
    return ret;
}

gboolean
xm_bitmap_claim_dirty(XmBitmap *bm, guint64 *cursor, guint64 max_len,
                      guint64 *offset, guint64 *length)
{
    gboolean ret;

    g_mutex_lock(&bm->lock);
    ret = next_run(bm, cursor, max_len, TRUE, offset, length);
    g_mutex_unlock(&bm->lock);
    return ret;
}

gboolean
xm_bitmap_begin_inflight(XmBitmap *bm, guint64 offset, guint64 length)
{
    guint64 first, end;
    gboolean waited = FALSE;

    if (!range_bits(bm, offset, length, &first, &end))
        return FALSE;
    g_mutex_lock(&bm->lock);
    while (bits_any(bm->inflight, first, end)) {
        waited = TRUE;
        g_cond_wait(&bm->cond, &bm->lock);
    }
    bits_set(bm->inflight, first, end, TRUE);
    g_mutex_unlock(&bm->lock);
    return waited;
}

void
xm_bitmap_end_inflight(XmBitmap *bm, guint64 offset, guint64 length,
                       gboolean redirty)
{
    guint64 first, end;

    if (!range_bits(bm, offset, length, &first, &end))
        return;
    g_mutex_lock(&bm->lock);
    bits_set(bm->inflight, first, end, FALSE);
    if (redirty)
        bits_set(bm->dirty, first, end, TRUE);
    g_cond_broadcast(&bm->cond);
    g_mutex_unlock(&bm->lock);
}
