/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The block mirror engine: copies a source image (raw file or block device,
 * opened read-only) to a destination NBD export and keeps it in step.
 *
 * Two ways of knowing what changed:
 *  - tracked: the guest's writes pass through an #XmNbdServer whose write
 *    hook marks a dirty bitmap (xm_mirror_job_attach_server()); passes copy
 *    what is dirty; in synchronous mode every guest write is written to the
 *    destination before it is acknowledged.
 *  - scan: no datapath; each pass re-reads the source and sends only blocks
 *    whose xxh3 hash changed since the previous pass.
 *
 * Life cycle: xm_mirror_job_new() → [attach_server] → xm_mirror_job_start()
 * → passes in a worker thread (query with xm_mirror_job_get_progress()) →
 * xm_mirror_job_complete() (final drain, flush, verification) →
 * xm_mirror_job_free(). xm_mirror_job_cancel() may be called at any time
 * from any thread.
 */
#pragma once

#include <glib.h>
#include <xenmig/nbd-server.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * XmMirrorJob:
 *
 * An opaque mirror job. Every function is thread-safe.
 */
typedef struct _XmMirrorJob XmMirrorJob;

/**
 * XmMirrorMode:
 * @XM_MIRROR_TRACKED: dirty tracking through an attached #XmNbdServer
 * @XM_MIRROR_SCAN: per-block hash table, each pass re-reads the source
 */
typedef enum {
    XM_MIRROR_TRACKED,
    XM_MIRROR_SCAN,
} XmMirrorMode;

/**
 * XmMirrorPhase:
 * @XM_MIRROR_PHASE_INIT: not started
 * @XM_MIRROR_PHASE_BULK: first pass over the whole image
 * @XM_MIRROR_PHASE_DIRTY: a later pass (dirty blocks, or changed blocks)
 * @XM_MIRROR_PHASE_SYNC: synchronous mode: guest writes are mirrored
 *   before they complete while the rest drains
 * @XM_MIRROR_PHASE_DRAIN: final drain after xm_mirror_job_complete()
 * @XM_MIRROR_PHASE_VERIFY: comparing checksums of source and destination
 * @XM_MIRROR_PHASE_DONE: finished successfully
 * @XM_MIRROR_PHASE_FAILED: finished with an error
 * @XM_MIRROR_PHASE_CANCELLED: cancelled
 */
typedef enum {
    XM_MIRROR_PHASE_INIT,
    XM_MIRROR_PHASE_BULK,
    XM_MIRROR_PHASE_DIRTY,
    XM_MIRROR_PHASE_SYNC,
    XM_MIRROR_PHASE_DRAIN,
    XM_MIRROR_PHASE_VERIFY,
    XM_MIRROR_PHASE_DONE,
    XM_MIRROR_PHASE_FAILED,
    XM_MIRROR_PHASE_CANCELLED,
} XmMirrorPhase;

/**
 * XmMirrorOptions:
 * @mode: tracked or scan
 * @connections: NBD connections to the destination (0: 4); only one is
 *   used unless the destination advertises multi-conn
 * @bandwidth_mib: limit in MiB/s for the background copy (0: none)
 * @granularity: dirty bitmap granularity (tracked) or hash block size
 *   (scan); a power of two, 0 means 64 KiB
 * @tls_dir: directory with ca-cert.pem, client-cert.pem, client-key.pem
 *   for nbds:// destinations (NULL: libnbd's default)
 * @auto_sync: tracked: enter synchronous mode by itself when a pass does
 *   not shrink the dirty set enough
 * @auto_sync_ratio: with @auto_sync: a pass that leaves more than this
 *   fraction of the dirty bytes it started with does not converge
 *   (0: 0.75); synchronous mode also starts after ten dirty passes
 * @compare_dest: scan: the first pass reads the destination and sends
 *   only blocks that differ (re-sync onto an existing copy)
 * @state_file: scan: block hash table to load (if it exists) instead of
 *   reading the destination, and to save after each pass (NULL: none)
 * @verify: xm_mirror_job_complete() compares checksums of source and
 *   destination
 * @timeout_s: a destination that does not answer for this long is an
 *   error (0: 30 s)
 * @max_request: largest request in bytes (0: 256 KiB)
 * @max_in_flight: requests in flight over all connections (0: 64)
 *
 * Options of a job; copied by xm_mirror_job_new().
 */
typedef struct {
    XmMirrorMode mode;
    guint connections;
    double bandwidth_mib;
    guint64 granularity;
    const char *tls_dir;
    gboolean auto_sync;
    double auto_sync_ratio;
    gboolean compare_dest;
    const char *state_file;
    gboolean verify;
    guint timeout_s;
    guint64 max_request;
    guint max_in_flight;
} XmMirrorOptions;

/**
 * XmMirrorProgress:
 * @phase: the current phase
 * @pass: pass number (1 is the bulk copy)
 * @total: size of the source in bytes
 * @done: bytes known to be on the destination
 * @remaining: @total - @done
 * @dirty: bytes marked dirty (tracked mode; 0 in scan mode)
 * @sent: payload bytes written to the destination so far
 * @blocks_sent: blocks (of the granularity or block size) written or
 *   zeroed on the destination so far
 * @scanned: source bytes read and hashed (scan mode)
 * @rate: recent throughput of @sent in bytes per second
 * @verified: bytes of the chunks whose source and destination hashes
 *   are current and equal: what the final verification will not read
 *   again (see xm_mirror_job_preverify())
 * @verify_read_source: bytes of the source read by verification so far
 *   (ahead of time and final); the final pass of a scan job counts in
 *   @scanned instead
 * @verify_read_dest: bytes of the destination read by verification so far
 *
 * A snapshot of a job's progress.
 */
typedef struct {
    XmMirrorPhase phase;
    guint pass;
    guint64 total;
    guint64 done;
    guint64 remaining;
    guint64 dirty;
    guint64 sent;
    guint64 blocks_sent;
    guint64 scanned;
    guint64 rate;
    guint64 verified;
    guint64 verify_read_source;
    guint64 verify_read_dest;
} XmMirrorProgress;

/**
 * XmMirrorResult:
 * @verified: the checksums were compared (and matched)
 * @source_checksum: xxh3-128 over the canonical xxh3-128 of each chunk of
 *   xm_digest_chunk_size() bytes of the source, as 32 hex digits (empty
 *   without verification)
 * @dest_checksum: the same over the destination
 *
 * The outcome of xm_mirror_job_complete().
 */
typedef struct {
    gboolean verified;
    char source_checksum[33];
    char dest_checksum[33];
} XmMirrorResult;

/**
 * XmMirrorProgressFunc:
 * @progress: the snapshot
 * @user_data: as given
 *
 * Called from the job's thread on every phase change and at the end of
 * each pass. Must not call back into the job except the getters.
 */
typedef void (*XmMirrorProgressFunc)(const XmMirrorProgress *progress,
                                     gpointer user_data);

/**
 * xm_mirror_job_new:
 * @source: path of the source image or block device (opened read-only;
 *   the job never writes to it)
 * @dest_uri: nbd://, nbds://, nbd+unix:// or nbds+unix:// URI
 * @options: (nullable): options, NULL for the defaults (tracked mode)
 * @error: return location for an error
 *
 * Opens the source and checks the URI and options. Nothing is sent yet.
 *
 * Returns: (transfer full): a new job, or NULL with @error set.
 */
XmMirrorJob *xm_mirror_job_new(const char *source, const char *dest_uri,
                               const XmMirrorOptions *options, GError **error);

/**
 * xm_mirror_job_attach_server:
 * @job: a tracked job not started yet
 * @server: the server exporting the same image to the guest; it must
 *   outlive the job (or the job is freed before the server)
 * @error: return location for an error
 *
 * Installs the job's write hook on @server: from now on writes through it
 * mark the dirty bitmap (and in synchronous mode go to the destination
 * before they complete). xm_mirror_job_free() removes the hook.
 *
 * The hook never fails a guest's write: its data is already on the
 * source. If the destination fails a synchronous write, the range is
 * marked dirty again and the job ends with that error.
 *
 * Returns: TRUE on success.
 */
gboolean xm_mirror_job_attach_server(XmMirrorJob *job, XmNbdServer *server,
                                     GError **error);

/**
 * xm_mirror_job_set_progress_callback:
 * @job: a job not started yet
 * @func: (nullable): the callback
 * @user_data: passed to @func
 */
void xm_mirror_job_set_progress_callback(XmMirrorJob *job,
                                         XmMirrorProgressFunc func,
                                         gpointer user_data);

/**
 * xm_mirror_job_start:
 * @job: a new job
 * @error: return location for an error
 *
 * Connects to the destination (checking that it is at least as large as
 * the source), then starts the bulk copy and further passes in a thread
 * of the job. Tracked jobs keep copying dirty blocks until completed;
 * scan jobs do one pass and then one per xm_mirror_job_request_pass().
 *
 * Returns: TRUE if the job is running.
 */
gboolean xm_mirror_job_start(XmMirrorJob *job, GError **error);

/**
 * xm_mirror_job_get_progress:
 * @job: a job
 * @progress: (out): where to store the snapshot
 */
void xm_mirror_job_get_progress(XmMirrorJob *job, XmMirrorProgress *progress);

/**
 * xm_mirror_job_set_bandwidth:
 * @job: a job
 * @mib_per_s: new limit in MiB/s, 0 for none; applies at once
 */
void xm_mirror_job_set_bandwidth(XmMirrorJob *job, double mib_per_s);

/**
 * xm_mirror_job_request_sync:
 * @job: a tracked job
 *
 * Asks for synchronous mode; it begins once the bulk copy is done.
 */
void xm_mirror_job_request_sync(XmMirrorJob *job);

/**
 * xm_mirror_job_request_pass:
 * @job: a scan job
 *
 * Asks for one more scan pass (re-read the source, send changed blocks).
 */
void xm_mirror_job_request_pass(XmMirrorJob *job);

/**
 * xm_mirror_job_preverify:
 * @job: a job with #XmMirrorOptions.verify (before or after it started)
 *
 * Moves most of the verification out of the time the source is stopped.
 * While the guest still runs, whenever the job has nothing to copy, it
 * hashes both images by chunks of xm_digest_chunk_size() (256 KiB on
 * images up to 256 GiB): the destination read over NBD within the
 * bandwidth limit, and, for a tracked job attached to its server, the
 * source (a local read). Every later
 * change makes the hashes of what it touched stale: a guest write through
 * the server (at the hook's start and again once it and its synchronous
 * mirror write are done) and every write or zero the job sends there
 * (once it completed); stale hashes are taken again in later sweeps.
 * xm_mirror_job_complete() then reads only what has no current hash: the
 * chunks written since, on either side. The comparison and the digests in
 * #XmMirrorResult are the same as without preverify.
 *
 * A scan job cannot know when its source changes, so it hashes only the
 * destination ahead of time; xm_mirror_job_complete() then runs the final
 * pass itself (in place of any pass still requested), hashing the source
 * as it reads it, so the source is read once while stopped. Do not
 * request a pass right before xm_mirror_job_complete(): if it already
 * started, the source is read twice.
 *
 * Changes made to the destination by anyone but this job (another client
 * of its server, or behind the server's back) are not seen: pair this with
 * the destination's own check, e.g. xm_nbd_server_image_digest().
 * Without #XmMirrorOptions.verify it does nothing. See
 * #XmMirrorProgress.verified for how much is done.
 */
void xm_mirror_job_preverify(XmMirrorJob *job);

/**
 * xm_mirror_job_complete:
 * @job: a started job
 * @result: (out) (optional): checksums and verification outcome
 * @error: return location for an error
 *
 * The caller guarantees that the source no longer changes (guest
 * suspended, tracked server stopped). Waits for the running and requested
 * passes, copies what is left dirty, flushes the destination and, with
 * #XmMirrorOptions.verify, compares checksums of source and destination
 * (a mismatch is an error). The flush and the verification run side by
 * side when the destination allows multi-conn.
 *
 * Returns: TRUE when the destination holds the source's data.
 */
gboolean xm_mirror_job_complete(XmMirrorJob *job, XmMirrorResult *result,
                                GError **error);

/**
 * xm_mirror_job_cancel:
 * @job: a job
 *
 * Stops the job as soon as possible; it ends with
 * %XM_ERR_OPERATION_ABORTED. Idempotent; never blocks.
 */
void xm_mirror_job_cancel(XmMirrorJob *job);

/**
 * xm_mirror_job_free:
 * @job: (nullable): a job
 *
 * Cancels the job if it still runs, detaches it from its server and frees
 * it.
 */
void xm_mirror_job_free(XmMirrorJob *job);

/**
 * xm_mirror_phase_to_string:
 * @phase: a phase
 *
 * Returns: a short lowercase name ("bulk", "dirty", "sync", "drain",
 * "verify", "done", "failed", "cancelled", "init").
 */
const char *xm_mirror_phase_to_string(XmMirrorPhase phase);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(XmMirrorJob, xm_mirror_job_free)

#ifdef __cplusplus
}
#endif
