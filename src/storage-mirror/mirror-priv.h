/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internals of the mirror engine (mirror-*.c); not installed. */
#pragma once

#include <glib.h>
#include <xxhash.h>
/* libxxhash's dispatching entry points use the widest vector unit the CPU
 * has (AVX2, AVX-512) instead of the SSE2 build of the plain ones, 1.6x
 * faster on 64 KiB blocks here; the hashes are the same. The header
 * renames XXH3_64bits() and friends to them. */
#if defined(__x86_64__) && __has_include(<xxh_x86dispatch.h>)
#include <xxh_x86dispatch.h>
#endif

#include <xenmig/mirror.h>
#include "storage-mirror/bitmap.h"
#include "storage-mirror/nbd-client.h"

#define XM_MIRROR_DEFAULT_GRANULARITY (64u * 1024)
/* A request fits the L2 cache: the buffer read from the source is still
 * cached when it is checked for zeros, sent and hashed (on loopback 256 KiB
 * copies faster than 1 MiB, plain and TLS, for us and for the server). */
#define XM_MIRROR_DEFAULT_REQUEST (256u * 1024)
#define XM_MIRROR_DEFAULT_IN_FLIGHT 64
#define XM_MIRROR_MAX_IN_FLIGHT_BYTES (64u * 1024 * 1024)
#define XM_MIRROR_ZERO_BLOCK (64u * 1024)
#define XM_MIRROR_SYNC_CONNECTIONS 2
/* A preverify sweep over the chunks made stale since the last one starts
 * at most this often, so a hot chunk is not hashed over and over. */
#define XM_MIRROR_PREVERIFY_INTERVAL_US (G_USEC_PER_SEC / 2)
/* Preverify takes turns with dirty passes while the dirty backlog is at
 * most this large, each turn for at most XM_MIRROR_PREVERIFY_SLICE_US:
 * under a steady trickle of guest writes the backlog is never empty. */
#define XM_MIRROR_PREVERIFY_MAX_DIRTY (16u * 1024 * 1024)
#define XM_MIRROR_PREVERIFY_SLICE_US (G_USEC_PER_SEC / 4)
/* A tracked job that has this much more sent since its last flush flushes
 * the destination while it has nothing to copy: the destination's page
 * cache may hold gigabytes a late fsync would write while the source is
 * paused (a second at 4 GiB on the test machine). */
#define XM_MIRROR_PREFLUSH_MIN (64u * 1024 * 1024)

/* Token bucket; tokens may go negative: a caller that overdraws waits the
 * time the deficit takes to refill. */
typedef struct {
    GMutex lock;
    double rate;        /* bytes/s, 0: unlimited */
    double tokens;
    gint64 last_us;
    gint epoch;         /* atomic: bumped by every new rate */
} XmRateLimiter;

void xm_rate_limiter_init(XmRateLimiter *rl, double bytes_per_s, gint64 now_us);
void xm_rate_limiter_clear(XmRateLimiter *rl);
void xm_rate_limiter_set_rate(XmRateLimiter *rl, double bytes_per_s,
                              gint64 now_us);
/* Takes @n bytes; returns how many microseconds the caller must wait. */
gint64 xm_rate_limiter_reserve(XmRateLimiter *rl, guint64 n, gint64 now_us);

/* Changes with every xm_rate_limiter_set_rate(). */
guint xm_rate_limiter_epoch(XmRateLimiter *rl);
/* Gives back bytes reserved but not sent. */
void xm_rate_limiter_refund(XmRateLimiter *rl, guint64 n, gint64 now_us);

/* TRUE if all @len bytes are zero. */
gboolean xm_mirror_is_zero(const void *buf, gsize len);

/* Parameters of the scan pass running now. */
typedef struct {
    int kind;
    guint64 chunk_len;
    guint64 zero_hash;          /* of a whole zero block */
} XmScanParams;

struct _XmMirrorJob {
    XmMirrorOptions opts;       /* strings below, not the caller's */
    char *source;
    char *dest_uri;
    char *dest_name;            /* dest_uri as messages show it */
    char *tls_dir;
    char *state_file;
    int src_fd;
    guint64 size;
    /* the source mapped read-only (scan mode), or NULL: passes look at
     * blocks they do not send without copying them (see
     * xm_mirror_source_view()) */
    const guint8 *src_map;
    gint src_map_ok;            /* atomic: MADV_POPULATE_READ works */
    gboolean seek_hole;         /* SEEK_DATA/SEEK_HOLE work on the source */
    guint64 granularity;
    guint64 max_request;
    guint max_in_flight;

    XmNbdConn **conns;          /* one per worker */
    guint nconns;
    XmNbdConn **sync_conns;     /* for synchronous-mode writes */
    guint nsync;
    GAsyncQueue *sync_pool;

    GAsyncQueue *buf_pool;      /* free buffers of max_request bytes */

    XmBitmap *bitmap;           /* tracked mode */
    guint64 pass_cursor;        /* guarded by the bitmap's lock */
    XmRateLimiter rate;
    XmNbdServer *server;
    XmMirrorProgressFunc progress_cb;
    gpointer progress_data;
    GThread *thread;

    gint cancel;                /* atomic: stop everything */
    gint sync_mode;             /* atomic: the hook mirrors writes */

    GMutex lock;
    GCond cond;
    XmMirrorPhase phase;
    guint pass;
    gboolean started;
    gboolean finished;
    gboolean sync_requested;
    gboolean complete_requested;
    guint passes_requested;
    GError *error;              /* first error of the job */
    XmMirrorResult result;
    gint64 rate_t0;
    guint64 rate_sent0;
    guint64 rate_value;
    guint64 scan_cursor;        /* scan and verify passes */

    /* counters, atomic */
    guint64 sent;
    guint64 preflushed_sent;     /* job thread: @sent at the last early flush */
    guint64 blocks_sent;
    guint64 scanned;
    guint64 pass_done;

    /* scan mode */
    guint64 *hashes;
    guint64 nblocks;
    gboolean have_hashes;
    XmScanParams scan;

    /* verification (mirror-verify.c): chunks of vchunk bytes,
     * xm_digest_chunk_size() (the digests' unit, what is compared and what
     * a change makes stale). A hash describes its bytes only while its
     * hgen == gen + 1: every change bumps the generation after the change,
     * and a hash records the generation sampled before its bytes were
     * read. */
    GMutex vlock;               /* guards the arrays and pv_cursor */
    guint64 vchunk;             /* a power of two */
    guint64 nvchunks;
    guint64 *src_gen;
    guint64 *src_hgen;          /* 0: no hash */
    XXH128_hash_t *src_sums;
    guint64 *dst_gen;
    guint64 *dst_hgen;
    XXH128_hash_t *dst_sums;
    XXH128_hash_t zero_chunk_sum; /* of a whole zero chunk */
    guint64 pv_cursor;          /* next chunk of the preverify sweep */
    gint64 pv_next_sweep;       /* monotonic µs; job thread only */
    gint64 pv_slice_end;        /* monotonic µs: the current turn ends */
    gboolean preverify;         /* under job->lock */
    gboolean hash_source_pass;  /* scan: the final pass hashes the source */
    guint64 verify_read_src;    /* atomic: bytes read by verification */
    guint64 verify_read_dst;
    guint64 mismatch_chunks;
    guint64 first_mismatch;
};

/* One worker thread per connection during a pass. */
typedef struct {
    XmMirrorJob *job;
    XmNbdConn *conn;
    guint max_reqs;
    guint64 max_bytes;
    gboolean prepaid;           /* the bandwidth was reserved up front */
    /* the last hole or data extent of the source seen by SEEK_DATA and
     * SEEK_HOLE; cleared before each range in tracked mode, where the
     * guest may fill holes at any time */
    guint64 ext_start;
    guint64 ext_end;
    gboolean ext_hole;
    guint64 data_sent;          /* payload bytes sent for the current range */
    /* verification buffers of a whole chunk, kept across chunks (a fresh
     * allocation faults on every page); freed after the run */
    guint8 *vsrc;
    guint8 *vdst;
} XmWorker;

/* A piece of the image being copied; the buffer lives until every request
 * made from it completed. */
typedef struct {
    gint refs;
    XmMirrorJob *job;
    guint8 *buf;
    guint64 offset;
    guint64 length;
    gboolean tracked;           /* ends an in-flight range of the bitmap */
    gint failed;
    gint wrote;                 /* a write or zero was sent for it */
} XmChunk;

static inline void
xm_atomic_add64(guint64 *p, guint64 v)
{
    __atomic_add_fetch(p, v, __ATOMIC_RELAXED);
}

static inline guint64
xm_atomic_get64(const guint64 *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline gboolean
xm_mirror_cancelled(XmMirrorJob *job)
{
    return g_atomic_int_get(&job->cancel) != 0;
}

/* mirror-job.c */
void xm_mirror_job_fail(XmMirrorJob *job, const GError *error);
void xm_mirror_set_phase(XmMirrorJob *job, XmMirrorPhase phase, guint pass);
void xm_mirror_notify(XmMirrorJob *job);
/* The same on the connections from @first on. */
gboolean xm_mirror_run_workers_from(XmMirrorJob *job, guint first,
                                    gboolean (*fn)(XmWorker *w, GError **error),
                                    GError **error);
gboolean xm_mirror_run_workers(XmMirrorJob *job,
                               gboolean (*fn)(XmWorker *w, GError **error),
                               GError **error);
gboolean xm_mirror_flush_all(XmMirrorJob *job, GError **error);

/* mirror-copy.c */
XmChunk *xm_chunk_new(XmMirrorJob *job, guint64 offset, guint64 length,
                      gboolean tracked);
void xm_chunk_unref(XmChunk *c);
/* A buffer of c->length bytes for the chunk (reused across chunks:
 * fresh large allocations cost a page fault per page). */
guint8 *xm_chunk_alloc_buf(XmChunk *c);
gboolean xm_mirror_read_source(XmMirrorJob *job, void *buf, guint64 len,
                               guint64 offset, GError **error);
gboolean xm_mirror_range_is_hole(XmWorker *w, guint64 offset, guint64 len);
/* Maps the source for xm_mirror_source_view() (scan mode); without it the
 * passes copy every block with pread(). */
void xm_mirror_source_map(XmMirrorJob *job);
void xm_mirror_source_unmap(XmMirrorJob *job);
/* [offset, offset+len) of the source, readable in place until
 * xm_mirror_source_release(), or NULL (no mapping, or the range cannot be
 * faulted in: the caller reads it with pread(), which reports why). Only
 * for looking at data: bytes that are sent or whose hash is kept must be
 * read with xm_mirror_read_source() so that what is sent, what is hashed
 * and what was checked are the same bytes even while the source changes. */
const guint8 *xm_mirror_source_view(XmMirrorJob *job, guint64 offset, guint64 len);
void xm_mirror_source_release(XmMirrorJob *job, guint64 offset, guint64 len);
/* Sends [offset, offset+len) of @c: data runs as writes, zero runs as
 * write-zeroes; @data NULL means the whole range is zero. */
gboolean xm_mirror_send(XmWorker *w, XmChunk *c, const guint8 *data,
                        guint64 offset, guint64 len, GError **error);
/* The request size for the current bandwidth limit. */
guint64 xm_mirror_request_size(XmMirrorJob *job);
gboolean xm_mirror_tracked_pass(XmMirrorJob *job, GError **error);

/* mirror-scan.c */
gboolean xm_mirror_scan_pass(XmMirrorJob *job, gboolean first, GError **error);
gboolean xm_mirror_scan_load_state(XmMirrorJob *job, GError **error);
gboolean xm_mirror_scan_save_state(XmMirrorJob *job, GError **error);

/* mirror-sync.c */
gboolean xm_mirror_write_hook(gpointer user_data, XmNbdWriteKind kind,
                              guint64 offset, guint64 length,
                              const void *data, GError **error);

/* mirror-copy.c: waits for the bandwidth limiter to grant @bytes; a new
 * rate ends the wait (it forgives the debt). */
gboolean xm_mirror_throttle(XmWorker *w, guint64 bytes, GError **error);
/* The same, but gives up (refunding @bytes, *@stopped TRUE) as soon as
 * @stop returns TRUE. */
gboolean xm_mirror_throttle_until(XmWorker *w, guint64 bytes,
                                  gboolean (*stop)(XmMirrorJob *job),
                                  gboolean *stopped, GError **error);

/* mirror-verify.c */
void xm_mirror_verify_init(XmMirrorJob *job);
void xm_mirror_verify_clear(XmMirrorJob *job);
/* [offset, offset+length) of the source and/or the destination changed or
 * is about to: hashes taken before do not describe it any more. */
void xm_mirror_mark_stale(XmMirrorJob *job, guint64 offset, guint64 length,
                          gboolean source, gboolean dest);
/* Scan: hashes the source chunk at @offset (@data: its @len bytes, NULL
 * for zeroes), read during the final pass while the source no longer
 * changes. */
void xm_mirror_record_source_chunk(XmMirrorJob *job, guint64 offset,
                                   const guint8 *data, guint64 len);
/* Hashes the chunks without a current hash (both sides, or only the
 * destination when the source's changes are not tracked) until every
 * chunk is done or the copy has work again; TRUE unless the job failed. */
gboolean xm_mirror_preverify_step(XmMirrorJob *job, GError **error);
/* Whether a preverify sweep is due now (job thread). */
gboolean xm_mirror_preverify_due(XmMirrorJob *job);
guint64 xm_mirror_verified_bytes(XmMirrorJob *job);
/* The final verification, on the connections from @first_conn on. */
gboolean xm_mirror_verify(XmMirrorJob *job, guint first_conn, GError **error);
