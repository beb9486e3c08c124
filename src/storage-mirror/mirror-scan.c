/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Scan mode: a table of one xxh3-64 hash per block. A pass reads the source
 * chunk by chunk (one worker per connection), hashes each block and sends
 * only the blocks that differ:
 *  - first pass of a fresh copy: every block;
 *  - first pass onto an existing copy without a state file: the blocks that
 *    differ from the destination, which is read over NBD while the source
 *    chunk is read and hashed;
 *  - otherwise: the blocks whose hash differs from the table.
 * The table can be saved to and loaded from a state file.
 */
#include "config.h"

#define G_LOG_DOMAIN "xenmig-mirror"

#include <errno.h>
#include <string.h>

#include "storage-mirror/mirror-priv.h"
#include "util/util.h"

#define STATE_MAGIC "XENMIG-SCAN-STATE 1\n"

typedef enum {
    SCAN_SEND_ALL,
    SCAN_COMPARE_DEST,
    SCAN_COMPARE_TABLE,
} ScanKind;

typedef XmScanParams ScanPass;

/* The destination's copy of a chunk, being fetched: first which of its
 * blocks read as zeros (when the server says), then the other blocks.
 * May outlive the worker if the job fails. */
typedef struct {
    gint refs;
    guint64 off;
    guint64 len;
    guint64 bs;
    guint8 *buf;                /* len bytes; only the blocks not zero */
    guint8 *zero;               /* per block: reads as zeros */
    gboolean status_done;
    int status_err;
    guint reads;                /* reads in flight */
    gboolean done;              /* every read finished */
    int err;
} DestRead;

static void
dest_read_unref(DestRead *d)
{
    if (g_atomic_int_dec_and_test(&d->refs)) {
        g_free(d->buf);
        g_free(d->zero);
        g_free(d);
    }
}

static void
dest_zero_extent(gpointer data, guint64 offset, guint64 length)
{
    DestRead *d = data;
    guint64 end = MIN(offset + length, d->off + d->len);
    guint64 k = offset > d->off ? (offset - d->off + d->bs - 1) / d->bs : 0;

    /* blocks entirely inside the extent (the last block of the image may
     * be short) */
    for (; d->off + k * d->bs < end && d->off + MIN((k + 1) * d->bs, d->len) <= end; k++)
        d->zero[k] = 1;
}

static void
dest_status_done(gpointer data, int err)
{
    DestRead *d = data;

    d->status_err = err;
    d->status_done = TRUE;
    dest_read_unref(d);
}

static void
dest_read_done(gpointer data, int err)
{
    DestRead *d = data;

    if (err && !d->err)
        d->err = err;
    if (--d->reads == 0)
        d->done = TRUE;
    dest_read_unref(d);
}

static gboolean
claim_chunk(XmMirrorJob *job, guint64 chunk_len, guint64 *off, guint64 *len)
{
    gboolean ok = FALSE;

    g_mutex_lock(&job->lock);
    if (job->scan_cursor < job->size) {
        *off = job->scan_cursor;
        *len = MIN(chunk_len, job->size - job->scan_cursor);
        job->scan_cursor += *len;
        ok = TRUE;
    }
    g_mutex_unlock(&job->lock);
    return ok;
}

static guint64
block_hash(const ScanPass *sp, const guint8 *buf, guint64 len, guint64 bs)
{
    static const guint8 zeros[4096];

    /* a zero block (a quarter of a typical image) costs a read instead
     * of a hash; a data block stops the check at its first non-zero word */
    if (len == bs && (!buf || xm_mirror_is_zero(buf, len)))
        return sp->zero_hash;
    if (buf)
        return XXH3_64bits(buf, len);
    /* a partial last block of a hole */
    {
        XXH3_state_t *st = XXH3_createState();
        guint64 h;

        XXH3_64bits_reset(st);
        for (guint64 n = 0; n < len; n += sizeof(zeros))
            XXH3_64bits_update(st, zeros, MIN(sizeof(zeros), len - n));
        h = XXH3_64bits_digest(st);
        XXH3_freeState(st);
        return h;
    }
}

/* Asks the destination which blocks of a chunk read as zeros; the caller
 * owns one reference of the result, the request the other. */
static DestRead *
dest_status_start(XmWorker *w, guint64 off, guint64 len, GError **error)
{
    DestRead *dr = g_new0(DestRead, 1);

    dr->refs = 1;
    dr->off = off;
    dr->len = len;
    dr->bs = w->job->granularity;
    dr->zero = g_new0(guint8, (len + dr->bs - 1) / dr->bs);
    if (!xm_nbd_conn_can_zero_status(w->conn)) {
        dr->status_done = TRUE;
        return dr;
    }
    dr->refs++;
    if (!xm_nbd_conn_submit_zero_status(w->conn, len, off, dest_zero_extent,
                                        dest_status_done, dr, error)) {
        dest_read_unref(dr);
        return NULL;
    }
    return dr;
}

/* Once the zero blocks are known, reads the others. */
static gboolean
dest_reads_start(XmWorker *w, DestRead *dr, GError **error)
{
    guint64 nb = (dr->len + dr->bs - 1) / dr->bs;

    if (!xm_nbd_conn_wait_flag(w->conn, &dr->status_done, error))
        return FALSE;
    if (dr->status_err)     /* no answer about zeros: read everything */
        memset(dr->zero, 0, nb);
    dr->reads = 1;          /* held until every read is submitted */
    for (guint64 i = 0; i < nb;) {
        guint64 j = i, start = i * dr->bs;

        if (dr->zero[i]) {
            i++;
            continue;
        }
        while (j < nb && !dr->zero[j])
            j++;
        if (!dr->buf)
            dr->buf = g_malloc(dr->len);
        dr->reads++;
        g_atomic_int_inc(&dr->refs);
        if (!xm_nbd_conn_submit_read(w->conn, dr->buf + start,
                                     MIN(j * dr->bs, dr->len) - start,
                                     dr->off + start, dest_read_done, dr, error)) {
            dr->reads--;
            return FALSE;
        }
        i = j;
    }
    if (--dr->reads == 0)
        dr->done = TRUE;
    return TRUE;
}

/* What a pass does with each block of a chunk. */
enum { BLOCK_KEEP, BLOCK_DATA, BLOCK_ZERO };

/* Sends blocks [i, j) of the chunk from its buffer, reading them into it
 * first unless it already holds the chunk, and records the hashes of
 * what was sent. Hashing after the requests are on the socket lets the
 * destination work on them meanwhile. */
static gboolean
send_run(XmWorker *w, XmChunk *c, gboolean loaded, guint64 i, guint64 j,
         GError **error)
{
    XmMirrorJob *job = w->job;
    guint64 bs = job->granularity, first = c->offset / bs;
    guint64 start = i * bs, end = MIN(j * bs, c->length);

    if (!loaded) {
        if (!c->buf)
            xm_chunk_alloc_buf(c);
        if (!xm_mirror_read_source(job, c->buf + start, end - start,
                                   c->offset + start, error))
            return FALSE;
    }
    if (!xm_mirror_send(w, c, c->buf + start, c->offset + start, end - start, error))
        return FALSE;
    for (guint64 k = i; k < j; k++) {
        guint64 boff = k * bs;

        job->hashes[first + k] = XXH3_64bits(c->buf + boff, MIN(bs, c->length - boff));
    }
    return TRUE;
}

/* The final pass of a job with preverify: the verification chunks of
 * [off, off+len) (whole ones: the pass's chunks are made of them) are
 * hashed from the bytes just looked at, so the verification does not
 * read the source again. @src NULL: a hole. */
static void
hash_source_chunks(XmMirrorJob *job, const guint8 *src,
                   guint64 off, guint64 len)
{
    for (guint64 p = 0; p < len; p += job->vchunk) {
        guint64 plen = MIN(job->vchunk, len - p);

        xm_mirror_record_source_chunk(job, off + p, src ? src + p : NULL, plen);
    }
}

/* @dr: the destination read of this chunk (consumed), or NULL when not
 * comparing with the destination.
 *
 * The blocks are looked at in place in the mapped source when possible
 * (hashed, compared, checked for zeros) and only the blocks to send are
 * copied out, so an unchanged block costs no copy; the hash kept for a
 * block is always of the bytes the destination holds: those sent, or
 * those compared equal. */
static gboolean
scan_chunk(XmWorker *w, const ScanPass *sp, guint64 off, guint64 len,
           DestRead *dr, GError **error)
{
    XmMirrorJob *job = w->job;
    guint64 bs = job->granularity;
    g_autofree guint8 *what = NULL;
    const guint8 *view = NULL, *src = NULL;
    XmChunk *c;
    gboolean hole, ok = FALSE;
    guint64 nb = (len + bs - 1) / bs, first = off / bs;

    c = xm_chunk_new(job, off, len, FALSE);
    hole = xm_mirror_range_is_hole(w, off, len);
    if (!hole) {
        /* A pass that sends everything reads every byte into the buffer
         * anyway: looking at it through the mapping first would only add
         * the cost of mapping and unmapping (a TLB shootdown per chunk). */
        if (sp->kind != SCAN_SEND_ALL)
            view = xm_mirror_source_view(job, off, len);
        if (!view) {
            xm_chunk_alloc_buf(c);
            if (!xm_mirror_read_source(job, c->buf, len, off, error))
                goto out;
        }
        src = view ? view : c->buf;
    }
    what = g_new0(guint8, nb);
    if (dr) {
        if (!xm_nbd_conn_wait_flag(w->conn, &dr->done, error))
            goto out;
        if (dr->err) {
            g_set_error(error, XM_ERROR, XM_ERR_READ_FAILED,
                        _("cannot read %s at offset %" G_GUINT64_FORMAT ": %s"),
                        job->dest_name, off, g_strerror(dr->err));
            goto out;
        }
    }
    for (guint64 i = 0; i < nb; i++) {
        guint64 boff = i * bs, blen = MIN(bs, len - boff);
        const guint8 *s = src ? src + boff : NULL;
        gboolean same;

        if (sp->kind == SCAN_SEND_ALL) {
            /* whole zero blocks go as zeroes without being copied; below
             * XM_MIRROR_ZERO_BLOCK they stay with the data around them
             * (xm_mirror_send() decides from the copy) */
            what[i] = view && bs >= XM_MIRROR_ZERO_BLOCK && xm_mirror_is_zero(s, blen)
                      ? BLOCK_ZERO : BLOCK_DATA;
            continue;
        }
        if (sp->kind == SCAN_COMPARE_TABLE) {
            same = job->hashes[first + i] == block_hash(sp, s, blen, bs);
        } else if (dr->zero[i]) {
            same = !s || xm_mirror_is_zero(s, blen);
            if (same)
                job->hashes[first + i] = block_hash(sp, NULL, blen, bs);
        } else {
            same = s ? memcmp(s, dr->buf + boff, blen) == 0
                     : xm_mirror_is_zero(dr->buf + boff, blen);
            if (same)
                job->hashes[first + i] = XXH3_64bits(dr->buf + boff, blen);
        }
        what[i] = same ? BLOCK_KEEP : BLOCK_DATA;
    }
    if (!src) {
        /* a hole: whatever is sent is zeroes */
        for (guint64 i = 0; i < nb; i++) {
            if (what[i] != BLOCK_KEEP) {
                what[i] = BLOCK_ZERO;
            }
        }
    }
    if (job->hash_source_pass)
        hash_source_chunks(job, src, off, len);
    xm_atomic_add64(&job->scanned, len);
    for (guint64 i = 0; i < nb;) {
        guint64 j = i + 1;
        guint64 start = i * bs;

        if (what[i] == BLOCK_KEEP) {
            i++;
            continue;
        }
        while (j < nb && what[j] == what[i])
            j++;
        if (what[i] == BLOCK_ZERO) {
            for (guint64 k = i; k < j; k++)
                job->hashes[first + k] = block_hash(sp, NULL, MIN(bs, len - k * bs), bs);
            if (!xm_mirror_send(w, c, NULL, off + start, MIN(j * bs, len) - start, error))
                goto out;
        } else {
            if (!send_run(w, c, view == NULL, i, j, error))
                goto out;
        }
        i = j;
    }
    ok = TRUE;

 out:
    if (view)
        xm_mirror_source_release(job, off, len);
    if (!ok)
        g_atomic_int_set(&c->failed, 1);
    xm_chunk_unref(c);
    if (dr)
        dest_read_unref(dr);
    return ok;
}

/* A chunk claimed by a worker, with its destination read when comparing. */
typedef struct {
    gboolean have;
    guint64 off;
    guint64 len;
    DestRead *dr;
} Claimed;

static gboolean
claim_next(XmWorker *w, gboolean compare, Claimed *n, GError **error)
{
    XmMirrorJob *job = w->job;

    n->dr = NULL;
    n->have = claim_chunk(job, job->scan.chunk_len, &n->off, &n->len);
    if (n->have && compare && !(n->dr = dest_status_start(w, n->off, n->len, error)))
        return FALSE;
    return TRUE;
}

/* When comparing with the destination each worker keeps two chunks ahead
 * in flight: the zero status of the one after next, and the reads of the
 * next, while it reads, compares and sends the current one. */
static gboolean
scan_worker(XmWorker *w, GError **error)
{
    XmMirrorJob *job = w->job;
    gboolean compare = job->scan.kind == SCAN_COMPARE_DEST;
    Claimed q[3] = { { 0 } };
    gboolean ok = FALSE;

    if (!claim_next(w, compare, &q[0], error) || !claim_next(w, compare, &q[1], error))
        goto out;
    if (q[0].dr && !dest_reads_start(w, q[0].dr, error))
        goto out;
    while (q[0].have && !xm_mirror_cancelled(job)) {
        if (!claim_next(w, compare, &q[2], error))
            goto out;
        if (q[1].dr && !dest_reads_start(w, q[1].dr, error))
            goto out;
        /* scan_chunk() consumes the read */
        if (!scan_chunk(w, &job->scan, q[0].off, q[0].len, g_steal_pointer(&q[0].dr),
                        error))
            goto out;
        q[0] = q[1];
        q[1] = q[2];
        q[2].dr = NULL;
    }
    if (xm_mirror_cancelled(job)) {
        g_set_error_literal(error, XM_ERROR, XM_ERR_OPERATION_ABORTED, _("cancelled"));
        goto out;
    }
    ok = xm_nbd_conn_wait(w->conn, 0, 0, error);

 out:
    for (guint i = 0; i < G_N_ELEMENTS(q); i++) {
        if (q[i].dr)
            dest_read_unref(q[i].dr);
    }
    return ok;
}

gboolean
xm_mirror_scan_pass(XmMirrorJob *job, gboolean first, GError **error)
{
    guint64 bs = job->granularity;
    g_autofree guint8 *zero = g_malloc0(bs);
    gboolean ok;

    /* one pass at a time: the parameters are per job in practice */
    job->scan.chunk_len = MAX(xm_mirror_request_size(job) / bs, 1) * bs;
    if (job->hash_source_pass) {
        /* whole verification chunks (both are powers of two) */
        job->scan.chunk_len = MAX(job->vchunk, bs);
    }
    job->scan.zero_hash = XXH3_64bits(zero, bs);
    if (job->have_hashes)
        job->scan.kind = SCAN_COMPARE_TABLE;
    else if (first && job->opts.compare_dest)
        job->scan.kind = SCAN_COMPARE_DEST;
    else
        job->scan.kind = SCAN_SEND_ALL;
    g_mutex_lock(&job->lock);
    job->scan_cursor = 0;
    g_mutex_unlock(&job->lock);
    __atomic_store_n(&job->pass_done, 0, __ATOMIC_RELAXED);
    ok = xm_mirror_run_workers(job, scan_worker, error);
    if (ok)
        job->have_hashes = TRUE;
    return ok;
}

gboolean
xm_mirror_scan_load_state(XmMirrorJob *job, GError **error)
{
    g_autofree char *data = NULL;
    g_autofree char *header = NULL;
    gsize len;
    g_autoptr(GError) err = NULL;
    gsize hlen;

    if (!g_file_get_contents(job->state_file, &data, &len, &err)) {
        if (g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return TRUE;    /* first use: the state is made by this run */
        g_set_error(error, XM_ERROR, XM_ERR_READ_FAILED,
                    _("cannot read state file: %s"), err->message);
        return FALSE;
    }
    header = g_strdup_printf(STATE_MAGIC "size=%" G_GUINT64_FORMAT
                             " block=%" G_GUINT64_FORMAT "\n", job->size, job->granularity);
    hlen = strlen(header);
    if (len < hlen || memcmp(data, header, hlen) != 0) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("state file '%s' was not made for this image size and "
                      "block size (%s)"), job->state_file,
                    len >= strlen(STATE_MAGIC) && !memcmp(data, STATE_MAGIC, strlen(STATE_MAGIC))
                    ? _("size or block size differ") : _("not a state file"));
        return FALSE;
    }
    if (len - hlen != job->nblocks * 8) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("state file '%s' is truncated or corrupt"), job->state_file);
        return FALSE;
    }
    for (guint64 i = 0; i < job->nblocks; i++) {
        guint64 v;

        memcpy(&v, data + hlen + i * 8, 8);
        job->hashes[i] = GUINT64_FROM_LE(v);
    }
    job->have_hashes = TRUE;
    return TRUE;
}

gboolean
xm_mirror_scan_save_state(XmMirrorJob *job, GError **error)
{
    g_autoptr(GString) s = g_string_new(STATE_MAGIC);
    g_autoptr(GError) err = NULL;

    g_string_append_printf(s, "size=%" G_GUINT64_FORMAT " block=%" G_GUINT64_FORMAT "\n",
                           job->size, job->granularity);
    for (guint64 i = 0; i < job->nblocks; i++) {
        guint64 v = GUINT64_TO_LE(job->hashes[i]);

        g_string_append_len(s, (const char *)&v, 8);
    }
    if (!g_file_set_contents(job->state_file, s->str, (gssize)s->len, &err)) {
        g_set_error(error, XM_ERROR, XM_ERR_WRITE_FAILED,
                    _("cannot write state file: %s"), err->message);
        return FALSE;
    }
    return TRUE;
}
