/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Verification. The digests (#XmMirrorResult, and what the destination's
 * own check computes, xm_nbd_server_image_digest()) are xxh3-128 over the
 * canonical xxh3-128 of each 4 MiB chunk of an image. What is compared,
 * source against destination, is finer: every chunk is cut into
 * sub-chunks (XM_MIRROR_VERIFY_SUB, 256 KiB) and each sub-chunk of the
 * source must have the same xxh3-128 as the destination's. Any difference
 * is an error naming the first differing offset.
 *
 * Hashing everything while the guest is paused costs a read of both whole
 * images. With xm_mirror_job_preverify() the hashes are taken while the
 * guest still runs, and the final verification reads only what changed
 * since. What makes an early hash trustworthy is a generation: every
 * change bumps the generation of what it touched once the change is done
 * (the write hook for guest writes, the completion of the copier's and of
 * synchronous writes for the destination), a hash is stored with the
 * generation sampled before its bytes were read, and it counts only while
 * that generation is current. A change racing with the read therefore
 * either happened before the sample (and the read saw it) or bumps the
 * generation after it.
 *
 * The sides differ in what a change costs:
 *  - The destination is read over NBD (bandwidth, maybe a network): its
 *    generations and hashes are per sub-chunk, so a guest writing a few
 *    KiB into a chunk makes one sub-chunk stale, not 4 MiB. Nothing needs
 *    the destination's 4 MiB hashes but the destination digest of the
 *    result: where every sub-chunk of a chunk equals the source's, the
 *    destination chunk holds the source chunk's bytes and its hash is the
 *    source chunk's; a chunk that differs is read whole to report its own.
 *  - The source is a local file; a chunk's xxh3-128 can only be computed
 *    from all of its bytes (xxh3 cannot be updated in place), and the
 *    digest needs it. So the source is read by whole chunks, its chunk
 *    hash and its sub-chunk hashes coming from one read, and it has one
 *    generation per chunk. While the guest is paused a changed chunk costs
 *    a 4 MiB local read on the source, and only its changed sub-chunks on
 *    the destination.
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

#define VERIFY_CHUNK XM_MIRROR_VERIFY_CHUNK

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
    guint64 n = (job->size + VERIFY_CHUNK - 1) / VERIFY_CHUNK;
    guint64 sub = XM_MIRROR_VERIFY_SUB;

    while (sub < VERIFY_CHUNK && (job->size + sub - 1) / sub > XM_MIRROR_VERIFY_MAX_SUBS)
        sub *= 2;
    g_mutex_init(&job->vlock);
    job->nvchunks = n;
    job->vsub = sub;
    job->vsub_per_chunk = VERIFY_CHUNK / sub;
    job->nvsubs = (job->size + sub - 1) / sub;
    n = MAX(n, 1);
    job->src_gen = g_new0(guint64, n);
    job->src_hgen = g_new0(guint64, n);
    job->src_sums = g_new0(XXH128_hash_t, n);
    job->dst_sums = g_new0(XXH128_hash_t, n);
    n = MAX(job->nvsubs, 1);
    job->src_subsums = g_new0(XXH128_hash_t, n);
    job->dst_gen = g_new0(guint64, n);
    job->dst_hgen = g_new0(guint64, n);
    job->dst_subsums = g_new0(XXH128_hash_t, n);
    job->zero_sub_sum = zeros_sum(sub);
    job->zero_chunk_sum = zeros_sum(VERIFY_CHUNK);
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
    g_free(job->dst_sums);
    g_free(job->src_subsums);
    g_free(job->dst_gen);
    g_free(job->dst_hgen);
    g_free(job->dst_subsums);
}

/* The sub-chunks of chunk @i: [*first, *first + *count). */
static void
chunk_subs(XmMirrorJob *job, guint64 i, guint64 *first, guint *count)
{
    guint64 off = i * VERIFY_CHUNK, len = MIN(VERIFY_CHUNK, job->size - off);

    *first = i * job->vsub_per_chunk;
    *count = (guint)((len + job->vsub - 1) / job->vsub);
}

static guint64
sub_len(XmMirrorJob *job, guint64 k)
{
    return MIN(job->vsub, job->size - k * job->vsub);
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
    if (source) {
        for (guint64 i = offset / VERIFY_CHUNK; i <= end / VERIFY_CHUNK; i++)
            job->src_gen[i]++;
    }
    if (dest) {
        for (guint64 k = offset / job->vsub; k <= end / job->vsub; k++)
            job->dst_gen[k]++;
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
dst_valid(XmMirrorJob *job, guint64 k)
{
    return job->dst_hgen[k] == job->dst_gen[k] + 1;
}

static gboolean
dst_chunk_valid(XmMirrorJob *job, guint64 i)
{
    guint64 k0;
    guint n;

    chunk_subs(job, i, &k0, &n);
    for (guint j = 0; j < n; j++) {
        if (!dst_valid(job, k0 + j))
            return FALSE;
    }
    return TRUE;
}

/* The hashes of source chunk @i from its @len bytes (@data NULL: zeroes):
 * the chunk's in *@sum, its sub-chunks' in @subs. */
static void
hash_source_bytes(XmMirrorJob *job, const guint8 *data, guint64 len,
                  XXH128_hash_t *sum, XXH128_hash_t *subs)
{
    XXH3_state_t *st;

    if (!data) {
        for (guint64 p = 0, j = 0; p < len; p += job->vsub, j++) {
            guint64 n = MIN(job->vsub, len - p);

            subs[j] = n == job->vsub ? job->zero_sub_sum : zeros_sum(n);
        }
        *sum = len == VERIFY_CHUNK ? job->zero_chunk_sum : zeros_sum(len);
        return;
    }
    /* sub-chunk by sub-chunk: the chunk's hash reads each one while it is
     * still in the cache from its own hash */
    st = XXH3_createState();
    XXH3_128bits_reset(st);
    for (guint64 p = 0, j = 0; p < len; p += job->vsub, j++) {
        guint64 n = MIN(job->vsub, len - p);

        subs[j] = XXH3_128bits(data + p, n);
        XXH3_128bits_update(st, data + p, n);
    }
    *sum = XXH3_128bits_digest(st);
    XXH3_freeState(st);
}

void
xm_mirror_record_source_chunk(XmMirrorJob *job, guint64 offset,
                              const guint8 *data, guint64 len)
{
    guint64 i = offset / VERIFY_CHUNK, k0;
    guint n;
    XXH128_hash_t sum, subs[VERIFY_CHUNK / XM_MIRROR_VERIFY_SUB];

    chunk_subs(job, i, &k0, &n);
    hash_source_bytes(job, data, len, &sum, subs);
    g_mutex_lock(&job->vlock);
    job->src_sums[i] = sum;
    memcpy(job->src_subsums + k0, subs, n * sizeof(subs[0]));
    job->src_hgen[i] = job->src_gen[i] + 1;
    g_mutex_unlock(&job->vlock);
}

guint64
xm_mirror_verified_bytes(XmMirrorJob *job)
{
    guint64 n = 0;

    g_mutex_lock(&job->vlock);
    for (guint64 i = 0; i < job->nvchunks; i++) {
        guint64 k0;
        guint cnt;

        if (!src_valid(job, i))
            continue;
        chunk_subs(job, i, &k0, &cnt);
        for (guint64 k = k0; k < k0 + cnt; k++) {
            if (dst_valid(job, k) && XXH128_isEqual(job->src_subsums[k], job->dst_subsums[k]))
                n += sub_len(job, k);
        }
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

/* Reads of one chunk of the destination, perhaps several runs of it. */
typedef struct {
    gint refs;
    gint pending;               /* 1 while submitting, + 1 per request */
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
dread_finish_one(DestRead *r)
{
    if (g_atomic_int_dec_and_test(&r->pending))
        r->done = TRUE;
}

static void
dread_done(gpointer data, int err)
{
    DestRead *r = data;

    if (err && !r->err)
        r->err = err;
    dread_finish_one(r);
    dread_unref(r);
}

/* Submits reads of the sub-chunks @want[0..n) of the destination chunk
 * at @off (each run of wanted sub-chunks in one request) into a buffer
 * for the whole chunk; dest_wait() collects them. */
static DestRead *
dest_submit(XmWorker *w, guint64 off, guint64 len, const gboolean *want, guint n,
            guint64 *total, GError **error)
{
    XmMirrorJob *job = w->job;
    DestRead *r = g_new0(DestRead, 1);

    *total = 0;
    r->refs = 1;
    r->pending = 1;
    /* the worker's buffer; it goes back to the worker after dest_wait(),
     * or with @r once every request is retired */
    r->buf = w->vdst ? g_steal_pointer(&w->vdst) : g_malloc(VERIFY_CHUNK);
    for (guint j = 0; j < n;) {
        guint e = j + 1;
        guint64 roff, rlen;

        if (!want[j]) {
            j++;
            continue;
        }
        while (e < n && want[e])
            e++;
        roff = (guint64)j * job->vsub;
        rlen = MIN((guint64)e * job->vsub, len) - roff;
        g_atomic_int_inc(&r->refs);
        g_atomic_int_inc(&r->pending);
        if (!xm_nbd_conn_submit_read(w->conn, r->buf + roff, rlen, off + roff,
                                     dread_done, r, error)) {
            g_atomic_int_dec_and_test(&r->refs);
            dread_unref(r);
            return NULL;
        }
        *total += rlen;
        j = e;
    }
    dread_finish_one(r);
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
                    job->dest_uri, off, g_strerror(r->err));
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

/* Hashes chunk @i of the source (if @want_src, whole) and the sub-chunks
 * of the destination without a current hash, and stores each hash with
 * the generation sampled before its read. The destination read overlaps
 * the source read. @throttled: the destination read takes its bytes
 * from the bandwidth limit, and gives up (*@skipped) if the completion
 * comes first. */
static gboolean
hash_chunk(XmWorker *w, guint64 i, gboolean want_src, gboolean throttled,
           gboolean *skipped, GError **error)
{
    XmMirrorJob *job = w->job;
    guint64 off = i * VERIFY_CHUNK, len = MIN(VERIFY_CHUNK, job->size - off);
    enum { MAXS = VERIFY_CHUNK / XM_MIRROR_VERIFY_SUB };
    gboolean want[MAXS] = { FALSE };
    guint64 dg[MAXS], sg, k0, dst_bytes = 0;
    XXH128_hash_t hs = { 0 }, ssubs[MAXS], dsubs[MAXS];
    guint8 *dst = NULL;
    DestRead *r = NULL;
    guint64 total = 0;
    guint n;

    if (skipped)
        *skipped = FALSE;
    chunk_subs(job, i, &k0, &n);
    g_mutex_lock(&job->vlock);
    sg = job->src_gen[i];
    for (guint j = 0; j < n; j++) {
        want[j] = !dst_valid(job, k0 + j);
        dg[j] = job->dst_gen[k0 + j];
        if (want[j])
            dst_bytes += sub_len(job, k0 + j);
    }
    g_mutex_unlock(&job->vlock);

    if (dst_bytes > 0 && throttled) {
        gboolean stopped = FALSE;

        if (!xm_mirror_throttle_until(w, dst_bytes, preverify_stop, &stopped, error))
            return FALSE;
        if (stopped) {
            *skipped = TRUE;
            return TRUE;
        }
    }
    /* the destination's reads travel while the source is read */
    if (dst_bytes > 0) {
        r = dest_submit(w, off, len, want, n, &total, error);
        if (!r)
            return FALSE;
    }
    if (want_src) {
        if (!w->vsrc)
            w->vsrc = g_malloc(VERIFY_CHUNK);
        if (!xm_mirror_read_source(job, w->vsrc, len, off, error)) {
            if (r)
                dread_unref(r);
            return FALSE;
        }
        xm_atomic_add64(&job->verify_read_src, len);
        hash_source_bytes(job, w->vsrc, len, &hs, ssubs);
    }
    if (r) {
        dst = dest_wait(w, g_steal_pointer(&r), off, total, error);
        if (!dst)
            return FALSE;
        for (guint j = 0; j < n; j++) {
            if (want[j])
                dsubs[j] = XXH3_128bits(dst + (guint64)j * job->vsub, sub_len(job, k0 + j));
        }
        w->vdst = dst;
    }
    g_mutex_lock(&job->vlock);
    if (want_src && job->src_gen[i] == sg) {
        job->src_sums[i] = hs;
        memcpy(job->src_subsums + k0, ssubs, n * sizeof(ssubs[0]));
        job->src_hgen[i] = sg + 1;
    }
    for (guint j = 0; j < n; j++) {
        if (want[j] && job->dst_gen[k0 + j] == dg[j]) {
            job->dst_subsums[k0 + j] = dsubs[j];
            job->dst_hgen[k0 + j] = dg[j] + 1;
        }
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
        gboolean want_src = FALSE, skipped = FALSE;

        if (preverify_yield(job))
            break;
        g_mutex_lock(&job->vlock);
        for (;;) {
            i = job->pv_cursor;
            if (i >= job->nvchunks)
                break;
            job->pv_cursor++;
            want_src = hash_src && !src_valid(job, i);
            if (want_src || !dst_chunk_valid(job, i))
                break;
        }
        g_mutex_unlock(&job->vlock);
        if (i >= job->nvchunks)
            break;
        if (!hash_chunk(w, i, want_src, TRUE, &skipped, error))
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
            if ((hash_src && !src_valid(job, i)) || !dst_chunk_valid(job, i))
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

/* A chunk whose sub-chunks differ: its destination hash for the digest
 * of the result, from all of its bytes (failures only). */
static gboolean
hash_dest_chunk(XmWorker *w, guint64 i, GError **error)
{
    XmMirrorJob *job = w->job;
    guint64 off = i * VERIFY_CHUNK, len = MIN(VERIFY_CHUNK, job->size - off);
    gboolean want[VERIFY_CHUNK / XM_MIRROR_VERIFY_SUB];
    guint8 *buf;
    guint64 total = 0;
    DestRead *r;
    guint n = (guint)((len + job->vsub - 1) / job->vsub);

    for (guint j = 0; j < n; j++)
        want[j] = TRUE;
    r = dest_submit(w, off, len, want, n, &total, error);
    if (!r)
        return FALSE;
    buf = dest_wait(w, r, off, total, error);
    if (!buf)
        return FALSE;
    g_mutex_lock(&job->vlock);
    job->dst_sums[i] = XXH3_128bits(buf, len);
    g_mutex_unlock(&job->vlock);
    w->vdst = buf;
    return TRUE;
}

/* The final verification: only what has no current hash is read. */
static gboolean
verify_worker(XmWorker *w, GError **error)
{
    XmMirrorJob *job = w->job;

    while (!xm_mirror_cancelled(job)) {
        guint64 i, k0, bad = G_MAXUINT64;
        gboolean want_src, want_dst, valid;
        guint n;

        g_mutex_lock(&job->lock);
        if (job->scan_cursor >= job->nvchunks) {
            g_mutex_unlock(&job->lock);
            return TRUE;
        }
        i = job->scan_cursor++;
        g_mutex_unlock(&job->lock);
        chunk_subs(job, i, &k0, &n);
        g_mutex_lock(&job->vlock);
        want_src = !src_valid(job, i);
        want_dst = !dst_chunk_valid(job, i);
        g_mutex_unlock(&job->vlock);
        if ((want_src || want_dst) &&
            !hash_chunk(w, i, want_src, FALSE, NULL, error))
            return FALSE;
        g_mutex_lock(&job->vlock);
        valid = src_valid(job, i) && dst_chunk_valid(job, i);
        for (guint j = 0; j < n && bad == G_MAXUINT64; j++) {
            if (!XXH128_isEqual(job->src_subsums[k0 + j], job->dst_subsums[k0 + j]))
                bad = (k0 + j) * job->vsub;
        }
        /* equal sub-chunks: the destination chunk is the source's */
        if (bad == G_MAXUINT64)
            job->dst_sums[i] = job->src_sums[i];
        g_mutex_unlock(&job->vlock);
        if (!valid) {
            /* nothing may change the images any more */
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                        _("'%s' or %s changed at offset %" G_GUINT64_FORMAT
                          " during the final verification"), job->source,
                        job->dest_uri, i * VERIFY_CHUNK);
            return FALSE;
        }
        if (bad != G_MAXUINT64) {
            if (!hash_dest_chunk(w, i, error))
                return FALSE;
            g_mutex_lock(&job->lock);
            if (job->mismatch_chunks++ == 0 || bad < job->first_mismatch)
                job->first_mismatch = bad;
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
                      " chunk(s) of %u bytes, the first at offset %" G_GUINT64_FORMAT
                      " (checksums %s and %s)"),
                    job->dest_uri, job->source, job->mismatch_chunks, VERIFY_CHUNK,
                    job->first_mismatch, job->result.dest_checksum,
                    job->result.source_checksum);
        g_mutex_unlock(&job->lock);
        return FALSE;
    }
    job->result.verified = TRUE;
    g_mutex_unlock(&job->lock);
    return TRUE;
}
