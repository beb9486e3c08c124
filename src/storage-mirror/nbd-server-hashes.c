/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-chunk hashes of what the server sent, and the image digest built
 * from them.
 *
 * The mirror's verification reads every chunk of the destination through
 * this server while the guest still runs on the source; the destination
 * then needs the digest of its own image before its guest may start.
 * Remembering the hash of each whole chunk a READ sent lets the digest
 * re-read only the chunks written since.
 *
 * Soundness rests on the generation counter: a write bumps it after its
 * data is in the image, a READ samples it before it reads the image, and
 * its hash is kept only if the counter has not moved by the time the hash
 * is stored. A write racing with the read therefore either lands before
 * the sample (the read saw it) or bumps the counter after it (the hash is
 * dropped, now or at the bump).
 */
#define G_LOG_DOMAIN "xenmig-nbd"
#include "config.h"

#include <xxhash.h>

#include "util/util.h"
#include "storage-mirror/nbd-server-priv.h"

/* The smallest digest chunk: a guest write of a few KiB makes this much
 * stale; doubled only on images of more than DIGEST_MAX_CHUNKS of them,
 * so the per-chunk arrays stay below ~100 MiB. */
#define DIGEST_MIN_CHUNK (256u * 1024)
#define DIGEST_MAX_CHUNKS (G_GUINT64_CONSTANT(1) << 20)
#define MIN_CHUNK (64u * 1024)
#define MAX_CHUNK (1024u * 1024 * 1024)

guint64
xm_digest_chunk_size(guint64 image_size)
{
    guint64 chunk = DIGEST_MIN_CHUNK;

    while ((image_size + chunk - 1) / chunk > DIGEST_MAX_CHUNKS)
        chunk *= 2;
    return chunk;
}

struct _XmNbdChunkHashes {
    guint64 chunk;
    guint64 n;
    GMutex lock;                /* protects the arrays */
    guint64 *gen;               /* bumped by every change of the chunk */
    guint64 *hash_gen;          /* generation @hash was taken at */
    gboolean *has;
    XXH128_hash_t *hash;
};

typedef struct _XmNbdChunkHashes ChunkHashes;

static ChunkHashes *
hashes_get(XmNbdServer *s)
{
    return g_atomic_pointer_get(&s->chunk_hashes);
}

void
xm_nbd_chunk_hashes_free(ChunkHashes *h)
{
    if (!h)
        return;
    g_mutex_clear(&h->lock);
    g_free(h->gen);
    g_free(h->hash_gen);
    g_free(h->has);
    g_free(h->hash);
    g_free(h);
}

gboolean
xm_nbd_server_enable_chunk_hashes(XmNbdServer *s, guint64 chunk, GError **error)
{
    ChunkHashes *h, *old;

    if (chunk < MIN_CHUNK || chunk > MAX_CHUNK || (chunk & (chunk - 1))) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("chunk size %" G_GUINT64_FORMAT " is not a power of two "
                      "between 64 KiB and 1 GiB"), chunk);
        return FALSE;
    }
    old = hashes_get(s);
    if (old) {
        if (old->chunk == chunk)
            return TRUE;
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("chunk hashes are already enabled with chunks of %"
                      G_GUINT64_FORMAT " bytes"), old->chunk);
        return FALSE;
    }
    h = g_new0(ChunkHashes, 1);
    h->chunk = chunk;
    h->n = (s->size + chunk - 1) / chunk;
    g_mutex_init(&h->lock);
    h->gen = g_new0(guint64, MAX(h->n, 1));
    h->hash_gen = g_new0(guint64, MAX(h->n, 1));
    h->has = g_new0(gboolean, MAX(h->n, 1));
    h->hash = g_new0(XXH128_hash_t, MAX(h->n, 1));
    if (!g_atomic_pointer_compare_and_exchange(&s->chunk_hashes, NULL, h)) {
        /* a concurrent call won; judge against its size */
        xm_nbd_chunk_hashes_free(h);
        return xm_nbd_server_enable_chunk_hashes(s, chunk, error);
    }
    g_debug("chunk hashes of %" G_GUINT64_FORMAT " bytes for '%s'", chunk,
            s->image_path);
    return TRUE;
}

void
xm_nbd_chunk_read_begin(XmNbdServer *s, guint64 offset, guint64 length,
                        XmNbdChunkRead *rd)
{
    ChunkHashes *h = hashes_get(s);

    rd->active = FALSE;
    if (!h || offset % h->chunk != 0 || offset >= s->size ||
        length != MIN(h->chunk, s->size - offset))
        return;
    rd->index = offset / h->chunk;
    g_mutex_lock(&h->lock);
    rd->generation = h->gen[rd->index];
    g_mutex_unlock(&h->lock);
    rd->active = TRUE;
}

void
xm_nbd_chunk_read_record(XmNbdServer *s, const XmNbdChunkRead *rd,
                         const void *data, gsize length)
{
    ChunkHashes *h = hashes_get(s);
    XXH128_hash_t sum;

    if (!rd->active || !h)
        return;
    sum = XXH3_128bits(data, length);
    g_mutex_lock(&h->lock);
    if (h->gen[rd->index] == rd->generation) {
        h->hash[rd->index] = sum;
        h->hash_gen[rd->index] = rd->generation;
        h->has[rd->index] = TRUE;
    }
    g_mutex_unlock(&h->lock);
}

void
xm_nbd_chunk_changed(XmNbdServer *s, guint64 offset, guint64 length)
{
    ChunkHashes *h = hashes_get(s);
    guint64 first, last;

    if (!h || length == 0 || offset >= s->size)
        return;
    first = offset / h->chunk;
    last = MIN((offset + length - 1) / h->chunk, h->n - 1);
    g_mutex_lock(&h->lock);
    for (guint64 i = first; i <= last; i++) {
        h->gen[i]++;
        h->has[i] = FALSE;
    }
    g_mutex_unlock(&h->lock);
}

void
xm_nbd_server_get_chunk_hash_stats(XmNbdServer *s, guint64 *valid_chunks,
                                   guint64 *digest_read_bytes)
{
    ChunkHashes *h = hashes_get(s);
    guint64 valid = 0;

    if (h) {
        g_mutex_lock(&h->lock);
        for (guint64 i = 0; i < h->n; i++)
            valid += h->has[i] && h->hash_gen[i] == h->gen[i];
        g_mutex_unlock(&h->lock);
    }
    if (valid_chunks)
        *valid_chunks = valid;
    if (digest_read_bytes)
        *digest_read_bytes = __atomic_load_n(&s->digest_read, __ATOMIC_RELAXED);
}

/* The hash of chunk @i of @chunk bytes: the recorded one if still valid,
 * else read from the image (and recorded). */
static gboolean
chunk_hash(XmNbdServer *s, ChunkHashes *h, guint64 chunk, guint64 i,
           guint8 *buf, XXH128_hash_t *out, GError **error)
{
    guint64 off = i * chunk;
    gsize len = MIN(chunk, s->size - off);
    guint64 gen = 0;
    int err;

    if (h) {
        g_mutex_lock(&h->lock);
        if (h->has[i] && h->hash_gen[i] == h->gen[i]) {
            *out = h->hash[i];
            g_mutex_unlock(&h->lock);
            return TRUE;
        }
        gen = h->gen[i];
        g_mutex_unlock(&h->lock);
    }
    err = xm_nbd_image_pread(s, buf, len, off);
    if (err)
        return xm_set_error_errno(error, err, XM_ERR_READ_FAILED,
                                  _("cannot read '%s' at offset %" G_GUINT64_FORMAT),
                                  s->image_path, off);
    __atomic_add_fetch(&s->digest_read, len, __ATOMIC_RELAXED);
    *out = XXH3_128bits(buf, len);
    if (h) {
        g_mutex_lock(&h->lock);
        if (h->gen[i] == gen) {
            h->hash[i] = *out;
            h->hash_gen[i] = gen;
            h->has[i] = TRUE;
        }
        g_mutex_unlock(&h->lock);
    }
    return TRUE;
}

gboolean
xm_nbd_server_image_digest(XmNbdServer *s, GCancellable *cancellable,
                           char out[33], GError **error)
{
    ChunkHashes *h = hashes_get(s);
    guint64 chunk = xm_digest_chunk_size(s->size);
    guint64 n = (s->size + chunk - 1) / chunk;
    guint64 read0 = __atomic_load_n(&s->digest_read, __ATOMIC_RELAXED);
    g_autofree guint8 *buf = NULL;
    XXH3_state_t *st;
    XXH128_canonical_t canon;
    char hex[33];

    /* hashes of chunks of another size are of no use to the digest */
    if (h && h->chunk != chunk)
        h = NULL;
    st = XXH3_createState();
    XXH3_128bits_reset(st);
    for (guint64 i = 0; i < n; i++) {
        XXH128_hash_t sum;

        if (g_cancellable_set_error_if_cancelled(cancellable, NULL)) {
            g_set_error_literal(error, XM_ERROR, XM_ERR_OPERATION_ABORTED,
                                _("cancelled"));
            XXH3_freeState(st);
            return FALSE;
        }
        if (!buf)
            buf = g_malloc(chunk);
        if (!chunk_hash(s, h, chunk, i, buf, &sum, error)) {
            XXH3_freeState(st);
            return FALSE;
        }
        XXH128_canonicalFromHash(&canon, sum);
        XXH3_128bits_update(st, &canon, sizeof(canon));
    }
    XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(st));
    XXH3_freeState(st);
    for (guint i = 0; i < 16; i++)
        g_snprintf(hex + 2 * i, 3, "%02x", canon.digest[i]);
    g_debug("digest of '%s': %s (%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
            " bytes read)", s->image_path, hex,
            __atomic_load_n(&s->digest_read, __ATOMIC_RELAXED) - read0, s->size);
    memcpy(out, hex, sizeof(hex));
    return TRUE;
}
