/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Verification. The digests (#XmMirrorResult, and what the destination's
 * own check computes, xm_nbd_server_image_digest()) are xxh3-128 over the
 * canonical xxh3-128 of each chunk of an image, chunks of
 * xm_digest_chunk_size() (256 KiB on images up to 256 GiB). Each source
 * chunk must have the same xxh3-128 as the destination's; any difference
 * is an error naming the first differing chunk's offset.
 *
 * Hashing everything while the guest is paused costs a read of both whole
 * images. With xm_mirror_job_preverify() the hashes are taken while the
 * guest still runs, and the final verification reads only what changed
 * since. What makes an early hash trustworthy is a generation: every
 * change bumps the generation of the chunks it touched once the change is
 * done (the write hook for guest writes, the completion of the copier's
 * and of synchronous writes for the destination), a hash is stored with
 * the generation sampled before its bytes were read, and it counts only
 * while that generation is current. A change racing with the read
 * therefore either happened before the sample (and the read saw it) or
 * bumps the generation after it.
 *
 * A chunk's xxh3-128 can only be computed from all of its bytes (xxh3
 * cannot be updated in place), so the chunk is small: a guest writing a
 * few KiB makes one chunk stale, which costs a 256 KiB read of each side
 * while the guest is paused. Source and destination have their own
 * generations: the destination is read over NBD, and a chunk the copier
 * rewrote with unchanged source bytes is stale there only.
 *
 * Scan mode has no tracking of the source: its chunk hashes come only
 * from the final pass, which runs once the caller stopped the source; the
 * destination is hashed ahead like in tracked mode.
 */
#include "config.h"

#define G_LOG_DOMAIN "xenmig-mirror"

#include <string.h>

#include "storage-mirror/mirror-priv.h"
#include "util/util.h"

/* xxh3-128 of @len zero bytes */
static XXH128_hash_t
zeros_sum(guint64 len)
{
    static const guint8 zeros[65536];
    XXH3_state_t *st = XXH3_createState();
    XXH128_hash_t h;

    XXH3_128bits_reset(st);
    for (guint64 n = 0; n < len; n += sizeof(zeros))
        XXH3_128bits_update(st, zeros, MIN(sizeof(zeros), len - n));
    h = XXH3_128bits_digest(st);
    XXH3_freeState(st);
    return h;
}

void
xm_mirror_verify_init(XmMirrorJob *job)
{
    guint64 chunk = xm_digest_chunk_size(job->size);
    guint64 n = (job->size + chunk - 1) / chunk;

    g_mutex_init(&job->vlock);
    job->vchunk = chunk;
    job->nvchunks = n;
    n = MAX(n, 1);
    job->src_gen = g_new0(guint64, n);
    job->src_hgen = g_new0(guint64, n);
    job->src_sums = g_new0(XXH128_hash_t, n);
    job->dst_gen = g_new0(guint64, n);
    job->dst_hgen = g_new0(guint64, n);
    job->dst_sums = g_new0(XXH128_hash_t, n);
    job->zero_chunk_sum = zeros_sum(chunk);
}

void
xm_mirror_verify_clear(XmMirrorJob *job)
{
    if (!job->src_gen)
        return;
    g_mutex_clear(&job->vlock);
    g_free(job->src_gen);
    g_free(job->src_hgen);
    g_free(job->src_sums);
    g_free(job->dst_gen);
    g_free(job->dst_hgen);
    g_free(job->dst_sums);
}

static guint64
chunk_len(XmMirrorJob *job, guint64 i)
{
    return MIN(job->vchunk, job->size - i * job->vchunk);
}

void
xm_mirror_mark_stale(XmMirrorJob *job, guint64 offset, guint64 length,
                     gboolean source, gboolean dest)
{
    guint64 end;

    if (length == 0 || offset >= job->size)
        return;
    end = MIN(offset + length, job->size) - 1;
    g_mutex_lock(&job->vlock);
    for (guint64 i = offset / job->vchunk; i <= end / job->vchunk; i++) {
        if (source)
            job->src_gen[i]++;
        if (dest)
            job->dst_gen[i]++;
    }
    g_mutex_unlock(&job->vlock);
}

/* Called with vlock held. */
static gboolean
src_valid(XmMirrorJob *job, guint64 i)
{
    return job->src_hgen[i] == job->src_gen[i] + 1;
}

static gboolean
dst_valid(XmMirrorJob *job, guint64 i)
{
    return job->dst_hgen[i] == job->dst_gen[i] + 1;
}

/* The hash of a chunk from its @len bytes (@data NULL: zeroes). */
static XXH128_hash_t
hash_bytes(XmMirrorJob *job, const guint8 *data, guint64 len)
{
    if (!data)
        return len == job->vchunk ? job->zero_chunk_sum : zeros_sum(len);
    return XXH3_128bits(data, len);
}

void
xm_mirror_record_source_chunk(XmMirrorJob *job, guint64 offset,
                              const guint8 *data, guint64 len)
{
    guint64 i = offset / job->vchunk;
    XXH128_hash_t sum = hash_bytes(job, data, len);

    g_mutex_lock(&job->vlock);
    job->src_sums[i] = sum;
    job->src_hgen[i] = job->src_gen[i] + 1;
    g_mutex_unlock(&job->vlock);
}

guint64
xm_mirror_verified_bytes(XmMirrorJob *job)
{
    guint64 n = 0;

    g_mutex_lock(&job->vlock);
    for (guint64 i = 0; i < job->nvchunks; i++) {
        if (src_valid(job, i) && dst_valid(job, i) &&
            XXH128_isEqual(job->src_sums[i], job->dst_sums[i]))
            n += chunk_len(job, i);
    }
    g_mutex_unlock(&job->vlock);
    return n;
}

/* Only a tracked job attached to its server sees every change of its
 * source; otherwise a source hash is trusted only from the final pass. */
static gboolean
source_tracked(XmMirrorJob *job)
{
    return job->opts.mode == XM_MIRROR_TRACKED && job->server != NULL;
}

/* The read of one chunk of the destination. */
typedef struct {
    gint refs;
    gint pending;               /* 1 until the request completed */
    guint8 *buf;
    gboolean done;
    int err;
} DestRead;

static void
dread_unref(DestRead *r)
{
    if (g_atomic_int_dec_and_test(&r->refs)) {
        g_free(r->buf);
        g_free(r);
    }
}

static void
dread_done(gpointer data, int err)
{
    DestRead *r = data;

    if (err && !r->err)
        r->err = err;
    if (g_atomic_int_dec_and_test(&r->pending))
        r->done = TRUE;
    dread_unref(r);
}

/* Submits the read of the destination chunk at @off into a buffer of a
 * whole chunk; dest_wait() collects it. */
static DestRead *
dest_submit(XmWorker *w, guint64 off, guint64 len, GError **error)
{
    XmMirrorJob *job = w->job;
    DestRead *r = g_new0(DestRead, 1);

    r->refs = 2;                /* ours and the request's */
    r->pending = 1;
    /* the worker's buffer; it goes back to the worker after dest_wait(),
     * or with @r once the request is retired */
    r->buf = w->vdst ? g_steal_pointer(&w->vdst) : g_malloc(job->vchunk);
    if (!xm_nbd_conn_submit_read(w->conn, r->buf, len, off, dread_done, r, error)) {
        g_atomic_int_dec_and_test(&r->refs);
        dread_unref(r);
        return NULL;
    }
    return r;
}

/* Waits for the reads of @r and returns its buffer; consumes @r. */
static guint8 *
dest_wait(XmWorker *w, DestRead *r, guint64 off, guint64 total, GError **error)
{
    XmMirrorJob *job = w->job;
    guint8 *buf = NULL;

    if (!xm_nbd_conn_wait_flag(w->conn, &r->done, error))
        goto out;
    if (r->err) {
        g_set_error(error, XM_ERROR, XM_ERR_READ_FAILED,
                    _("cannot read %s at offset %" G_GUINT64_FORMAT ": %s"),
                    job->dest_name, off, g_strerror(r->err));
        goto out;
    }
    xm_atomic_add64(&job->verify_read_dst, total);
    buf = g_steal_pointer(&r->buf);

 out:
    dread_unref(r);
    return buf;
}

/* A sweep ahead of time stops waiting for bandwidth when the copy or the
 * completion wants the job. */
static gboolean
preverify_stop(XmMirrorJob *job)
{
    gboolean stop;

    g_mutex_lock(&job->lock);
    stop = job->complete_requested || job->passes_requested > 0;
    g_mutex_unlock(&job->lock);
    return stop || xm_mirror_cancelled(job);
}

/* Hashes chunk @i of the source (if @want_src) and of the destination
 * (if @want_dst), and stores each hash with the generation sampled before
 * its read. The destination read overlaps the source read. @throttled:
 * the destination read takes its bytes from the bandwidth limit, and
 * gives up (*@skipped) if the completion comes first. */
static gboolean
hash_chunk(XmWorker *w, guint64 i, gboolean want_src, gboolean want_dst,
           gboolean throttled, gboolean *skipped, GError **error)
{
    XmMirrorJob *job = w->job;
    guint64 off = i * job->vchunk, len = chunk_len(job, i);
    guint64 sg, dg;
    XXH128_hash_t hs = { 0 }, hd = { 0 };
    guint8 *dst = NULL;
    DestRead *r = NULL;

    if (skipped)
        *skipped = FALSE;
    g_mutex_lock(&job->vlock);
    sg = job->src_gen[i];
    dg = job->dst_gen[i];
    g_mutex_unlock(&job->vlock);

    if (want_dst && throttled) {
        gboolean stopped = FALSE;

        if (!xm_mirror_throttle_until(w, len, preverify_stop, &stopped, error))
            return FALSE;
        if (stopped) {
            *skipped = TRUE;
            return TRUE;
        }
    }
    /* the destination's read travels while the source is read */
    if (want_dst) {
        r = dest_submit(w, off, len, error);
        if (!r)
            return FALSE;
    }
    if (want_src) {
        if (!w->vsrc)
            w->vsrc = g_malloc(job->vchunk);
        if (!xm_mirror_read_source(job, w->vsrc, len, off, error)) {
            if (r)
                dread_unref(r);
            return FALSE;
        }
        xm_atomic_add64(&job->verify_read_src, len);
        hs = hash_bytes(job, w->vsrc, len);
    }
    if (r) {
        dst = dest_wait(w, g_steal_pointer(&r), off, len, error);
        if (!dst)
            return FALSE;
        hd = XXH3_128bits(dst, len);
        w->vdst = dst;
    }
    g_mutex_lock(&job->vlock);
    if (want_src && job->src_gen[i] == sg) {
        job->src_sums[i] = hs;
        job->src_hgen[i] = sg + 1;
    }
    if (want_dst && job->dst_gen[i] == dg) {
        job->dst_sums[i] = hd;
        job->dst_hgen[i] = dg + 1;
    }
    g_mutex_unlock(&job->vlock);
    return TRUE;
}

/* A sweep gives way to the copy: at the end of its turn, to a growing
 * dirty backlog, a requested pass or the completion. */
static gboolean
preverify_yield(XmMirrorJob *job)
{
    if (g_get_monotonic_time() >= job->pv_slice_end || preverify_stop(job))
        return TRUE;
    return job->bitmap &&
           xm_bitmap_count_dirty(job->bitmap) > XM_MIRROR_PREVERIFY_MAX_DIRTY;
}

static gboolean
preverify_worker(XmWorker *w, GError **error)
{
    XmMirrorJob *job = w->job;
    gboolean hash_src = source_tracked(job);

    while (!xm_mirror_cancelled(job)) {
        guint64 i;
        gboolean want_src = FALSE, want_dst = FALSE, skipped = FALSE;

        if (preverify_yield(job))
            break;
        g_mutex_lock(&job->vlock);
        for (;;) {
            i = job->pv_cursor;
            if (i >= job->nvchunks)
                break;
            job->pv_cursor++;
            want_src = hash_src && !src_valid(job, i);
            want_dst = !dst_valid(job, i);
            if (want_src || want_dst)
                break;
        }
        g_mutex_unlock(&job->vlock);
        if (i >= job->nvchunks)
            break;
        if (!hash_chunk(w, i, want_src, want_dst, TRUE, &skipped, error))
            return FALSE;
        if (skipped)
            break;
    }
    if (xm_mirror_cancelled(job)) {
        g_set_error_literal(error, XM_ERROR, XM_ERR_OPERATION_ABORTED, _("cancelled"));
        return FALSE;
    }
    return TRUE;
}

gboolean
xm_mirror_preverify_due(XmMirrorJob *job)
{
    gboolean want;

    g_mutex_lock(&job->lock);
    want = job->preverify && job->opts.verify && !job->complete_requested;
    g_mutex_unlock(&job->lock);
    if (!want)
        return FALSE;
    g_mutex_lock(&job->vlock);
    /* an interrupted sweep goes on at once; a new one waits a little */
    want = job->pv_cursor < job->nvchunks ||
           g_get_monotonic_time() >= job->pv_next_sweep;
    if (want) {
        gboolean hash_src = source_tracked(job);
        guint64 i;

        for (i = 0; i < job->nvchunks; i++) {
            if ((hash_src && !src_valid(job, i)) || !dst_valid(job, i))
                break;
        }
        want = i < job->nvchunks;
    }
    g_mutex_unlock(&job->vlock);
    return want;
}

gboolean
xm_mirror_preverify_step(XmMirrorJob *job, GError **error)
{
    gboolean ok;

    job->pv_slice_end = g_get_monotonic_time() + XM_MIRROR_PREVERIFY_SLICE_US;
    g_mutex_lock(&job->vlock);
    if (job->pv_cursor >= job->nvchunks)
        job->pv_cursor = 0;     /* a new sweep */
    g_mutex_unlock(&job->vlock);
    ok = xm_mirror_run_workers(job, preverify_worker, error);
    g_mutex_lock(&job->vlock);
    if (job->pv_cursor >= job->nvchunks)
        job->pv_next_sweep = g_get_monotonic_time() + XM_MIRROR_PREVERIFY_INTERVAL_US;
    g_mutex_unlock(&job->vlock);
    return ok;
}

/* The final verification: only what has no current hash is read. */
static gboolean
verify_worker(XmWorker *w, GError **error)
{
    XmMirrorJob *job = w->job;

    while (!xm_mirror_cancelled(job)) {
        guint64 i;
        gboolean want_src, want_dst, valid, equal;

        g_mutex_lock(&job->lock);
        if (job->scan_cursor >= job->nvchunks) {
            g_mutex_unlock(&job->lock);
            return TRUE;
        }
        i = job->scan_cursor++;
        g_mutex_unlock(&job->lock);
        g_mutex_lock(&job->vlock);
        want_src = !src_valid(job, i);
        want_dst = !dst_valid(job, i);
        g_mutex_unlock(&job->vlock);
        if ((want_src || want_dst) &&
            !hash_chunk(w, i, want_src, want_dst, FALSE, NULL, error))
            return FALSE;
        g_mutex_lock(&job->vlock);
        valid = src_valid(job, i) && dst_valid(job, i);
        equal = XXH128_isEqual(job->src_sums[i], job->dst_sums[i]);
        g_mutex_unlock(&job->vlock);
        if (!valid) {
            /* nothing may change the images any more */
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                        _("'%s' or %s changed at offset %" G_GUINT64_FORMAT
                          " during the final verification"), job->source,
                        job->dest_name, i * job->vchunk);
            return FALSE;
        }
        if (!equal) {
            g_mutex_lock(&job->lock);
            if (job->mismatch_chunks++ == 0 || i * job->vchunk < job->first_mismatch)
                job->first_mismatch = i * job->vchunk;
            g_mutex_unlock(&job->lock);
        }
    }
    g_set_error_literal(error, XM_ERROR, XM_ERR_OPERATION_ABORTED, _("cancelled"));
    return FALSE;
}

static void
digest(const XXH128_hash_t *sums, guint64 n, char out[33])
{
    XXH3_state_t *st = XXH3_createState();
    XXH128_canonical_t canon;
    XXH128_hash_t h;

    XXH3_128bits_reset(st);
    for (guint64 i = 0; i < n; i++) {
        XXH128_canonicalFromHash(&canon, sums[i]);
        XXH3_128bits_update(st, &canon, sizeof(canon));
    }
    h = XXH3_128bits_digest(st);
    XXH3_freeState(st);
    XXH128_canonicalFromHash(&canon, h);
    for (guint i = 0; i < 16; i++)
        g_snprintf(out + 2 * i, 3, "%02x", canon.digest[i]);
}

gboolean
xm_mirror_verify(XmMirrorJob *job, guint first_conn, GError **error)
{
    guint64 n = job->nvchunks;
    guint64 src0 = xm_atomic_get64(&job->verify_read_src);
    guint64 dst0 = xm_atomic_get64(&job->verify_read_dst);

    g_mutex_lock(&job->lock);
    job->scan_cursor = 0;
    job->mismatch_chunks = 0;
    g_mutex_unlock(&job->lock);
    if (!xm_mirror_run_workers_from(job, first_conn, verify_worker, error))
        return FALSE;

    g_mutex_lock(&job->lock);
    g_mutex_lock(&job->vlock);
    digest(job->src_sums, n, job->result.source_checksum);
    digest(job->dst_sums, n, job->result.dest_checksum);
    g_mutex_unlock(&job->vlock);
    g_debug("verify: source %s destination %s; read %" G_GUINT64_FORMAT
            " bytes of the source and %" G_GUINT64_FORMAT " of the destination",
            job->result.source_checksum, job->result.dest_checksum,
            xm_atomic_get64(&job->verify_read_src) - src0,
            xm_atomic_get64(&job->verify_read_dst) - dst0);
    if (job->mismatch_chunks > 0) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                    _("verification failed: %s differs from '%s' in %" G_GUINT64_FORMAT
                      " chunk(s) of %" G_GUINT64_FORMAT " bytes, the first at offset %"
                      G_GUINT64_FORMAT
                      " (checksums %s and %s)"),
                    job->dest_uri, job->source, job->mismatch_chunks, job->vchunk,
                    job->first_mismatch, job->result.dest_checksum,
                    job->result.source_checksum);
        g_mutex_unlock(&job->lock);
        return FALSE;
    }
    job->result.verified = TRUE;
    g_mutex_unlock(&job->lock);
    return TRUE;
}
