/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Verification: every chunk of the source and of the destination (read
 * back over NBD, one worker per connection, the destination read
 * overlapping the source read) gets an xxh3-128 hash; the chunks are
 * compared one by one and each side's digest is the xxh3-128 of its chunk
 * hashes in order. Any difference is an error naming the first offset.
 */
#include "config.h"

#define G_LOG_DOMAIN "xenmig-mirror"

#include <string.h>

#include "storage-mirror/mirror-priv.h"
#include "util/util.h"

#define VERIFY_CHUNK (4u * 1024 * 1024)

typedef struct {
    gint refs;
    guint8 *buf;
    gboolean done;
    int err;
} VerifyRead;

static void
vread_unref(VerifyRead *r)
{
    if (g_atomic_int_dec_and_test(&r->refs)) {
        g_free(r->buf);
        g_free(r);
    }
}

static void
vread_done(gpointer data, int err)
{
    VerifyRead *r = data;

    r->err = err;
    r->done = TRUE;
    vread_unref(r);
}

static gboolean
verify_chunk(XmWorker *w, guint64 off, guint64 len, GError **error)
{
    XmMirrorJob *job = w->job;
    VerifyRead *r = g_new0(VerifyRead, 1);
    g_autofree guint8 *src = g_malloc(len);
    guint64 idx = off / VERIFY_CHUNK;
    gboolean ok = FALSE;

    r->refs = 2;
    r->buf = g_malloc(len);
    if (!xm_nbd_conn_submit_read(w->conn, r->buf, len, off, vread_done, r, error))
        goto out;
    if (!xm_mirror_read_source(job, src, len, off, error))
        goto out;
    job->src_sums[idx] = XXH3_128bits(src, len);
    if (!xm_nbd_conn_wait_flag(w->conn, &r->done, error))
        goto out;
    if (r->err) {
        g_set_error(error, XM_ERROR, XM_ERR_READ_FAILED,
                    _("cannot read %s at offset %" G_GUINT64_FORMAT ": %s"),
                    job->dest_uri, off, g_strerror(r->err));
        goto out;
    }
    job->dst_sums[idx] = XXH3_128bits(r->buf, len);
    if (!XXH128_isEqual(job->src_sums[idx], job->dst_sums[idx])) {
        g_mutex_lock(&job->lock);
        if (job->mismatch_chunks++ == 0 || off < job->first_mismatch)
            job->first_mismatch = off;
        g_mutex_unlock(&job->lock);
    }
    ok = TRUE;

 out:
    vread_unref(r);
    return ok;
}

static gboolean
verify_worker(XmWorker *w, GError **error)
{
    XmMirrorJob *job = w->job;

    while (!xm_mirror_cancelled(job)) {
        guint64 off, len;

        g_mutex_lock(&job->lock);
        if (job->scan_cursor >= job->size) {
            g_mutex_unlock(&job->lock);
            return TRUE;
        }
        off = job->scan_cursor;
        len = MIN(VERIFY_CHUNK, job->size - off);
        job->scan_cursor += len;
        g_mutex_unlock(&job->lock);
        if (!verify_chunk(w, off, len, error))
            return FALSE;
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
xm_mirror_verify(XmMirrorJob *job, GError **error)
{
    guint64 n = (job->size + VERIFY_CHUNK - 1) / VERIFY_CHUNK;

    g_free(job->src_sums);
    g_free(job->dst_sums);
    job->src_sums = g_new0(XXH128_hash_t, n ? n : 1);
    job->dst_sums = g_new0(XXH128_hash_t, n ? n : 1);
    g_mutex_lock(&job->lock);
    job->scan_cursor = 0;
    job->mismatch_chunks = 0;
    g_mutex_unlock(&job->lock);
    if (!xm_mirror_run_workers(job, verify_worker, error))
        return FALSE;

    g_mutex_lock(&job->lock);
    digest(job->src_sums, n, job->result.source_checksum);
    digest(job->dst_sums, n, job->result.dest_checksum);
    g_debug("verify: source %s destination %s", job->result.source_checksum,
            job->result.dest_checksum);
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
