/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Live migration of a domain with local disks, as a job object that follows
 * libvirt's V3 phases. The library knows nothing of libvirt: the driver
 * passes the cookies (XML strings) between the hosts and maps flags and
 * typed params onto #XmMigrationParams.
 *
 *   source                          destination
 *   xm_migration_begin()   cookie1 →
 *                                   xm_migration_prepare()
 *                          ← cookie2
 *   xm_migration_perform() cookie3 →
 *                                   xm_migration_finish()
 *                          ← cookie4
 *   xm_migration_confirm()
 *   xm_migration_free()             xm_migration_free()
 *
 * Disks travel over NBD (one server on the destination, one export per disk,
 * export names random per migration) and are copied by the mirror engine;
 * memory travels over a dedicated TCP connection (the "memory channel")
 * that the destination accepts only from the peer that proves itself with
 * the per-migration secret carried in the cookies and, with TLS, with a
 * client certificate signed by the CA of the TLS directory.
 *
 * Safety: until the completion record has been sent, every failure or
 * cancel leaves the guest running on the source (resumed if it had been
 * suspended); the destination deletes only the images it created. The
 * source images are only ever read by the migration.
 */
#pragma once

#include <glib.h>
#include <xenmig/backend.h>
#include <xenmig/domain.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * XmMigration:
 *
 * One side (source or destination) of one migration. Every function is
 * thread-safe; the phase functions (begin/prepare, perform/finish, confirm)
 * must be called in order by one thread at a time, while
 * xm_migration_cancel(), xm_migration_get_stats() and the setters may be
 * called from any thread at any time.
 */
typedef struct _XmMigration XmMigration;

/**
 * XmMigrationState:
 * @XM_MIGRATION_STATE_NONE: not started
 * @XM_MIGRATION_STATE_BEGIN: source: begin done, waiting for perform
 * @XM_MIGRATION_STATE_PREPARED: destination: endpoints listening
 * @XM_MIGRATION_STATE_PERFORMING_DISKS: bulk copy and copy-dirty passes
 * @XM_MIGRATION_STATE_PERFORMING_MEMORY: the memory stream is flowing
 * @XM_MIGRATION_STATE_DRAINING: guest suspended, last dirty blocks
 * @XM_MIGRATION_STATE_VERIFYING: comparing disk checksums
 * @XM_MIGRATION_STATE_FINISHED: source: completion record sent;
 *   destination: guest running (or paused on request) here
 * @XM_MIGRATION_STATE_CONFIRMED: source: source domain destroyed
 * @XM_MIGRATION_STATE_CANCELLED: cancelled; guest runs on the source
 * @XM_MIGRATION_STATE_FAILED: failed; see the error of the failing call
 *
 * The state of a job; only ever moves forward.
 */
typedef enum {
    XM_MIGRATION_STATE_NONE,
    XM_MIGRATION_STATE_BEGIN,
    XM_MIGRATION_STATE_PREPARED,
    XM_MIGRATION_STATE_PERFORMING_DISKS,
    XM_MIGRATION_STATE_PERFORMING_MEMORY,
    XM_MIGRATION_STATE_DRAINING,
    XM_MIGRATION_STATE_VERIFYING,
    XM_MIGRATION_STATE_FINISHED,
    XM_MIGRATION_STATE_CONFIRMED,
    XM_MIGRATION_STATE_CANCELLED,
    XM_MIGRATION_STATE_FAILED,
} XmMigrationState;

/**
 * XmMigrationImageFunc:
 * @path: where xm_migration_prepare() is creating an image
 * @dev: the new file's device number (st_dev)
 * @ino: the new file's inode number (st_ino)
 * @user_data: #XmMigrationParams.image_created_data
 * @error: return location for the reason of a refusal
 *
 * Told about every image a Prepare creates. The file is made unnamed
 * (O_TMPFILE) and linked at @path only after this returns, so a process
 * killed at any point leaves no image it was not told about; on a file
 * system without unnamed files, the file is created at @path first and
 * told right away, still empty. @dev and @ino tell the image apart from a
 * file someone else puts at @path later.
 *
 * Returns: %TRUE to go on; %FALSE with @error set fails the Prepare, which
 * then removes the images it created.
 */
typedef gboolean (*XmMigrationImageFunc)(const char *path, guint64 dev, guint64 ino,
                                         gpointer user_data, GError **error);

/**
 * XmMigrationOutStage:
 * @XM_MIGRATION_OUT_SUSPENDING: the source is about to hand the guest to
 *   the backend's suspend (memory stream); from here on a process killed
 *   may leave it suspended
 * @XM_MIGRATION_OUT_COMMITTING: the completion record is about to be
 *   sent; from here on the destination may own the guest
 *
 * The points of no easy return of an outgoing migration.
 */
typedef enum {
    XM_MIGRATION_OUT_SUSPENDING,
    XM_MIGRATION_OUT_COMMITTING,
} XmMigrationOutStage;

/**
 * XmMigrationOutFunc:
 * @stage: the point the source has reached
 * @user_data: #XmMigrationParams.outgoing_data
 * @error: return location for the reason of a refusal
 *
 * Told by xm_migration_perform() before each stage, so that the caller can
 * record it where a restarted process finds it: a guest left suspended by
 * a process killed before %XM_MIGRATION_OUT_COMMITTING is the source's to
 * resume; after it, only the destination knows whether it took the guest.
 *
 * Returns: %TRUE to go on; %FALSE with @error set fails the migration
 * (the guest keeps running, or is resumed, on the source).
 */
typedef gboolean (*XmMigrationOutFunc)(XmMigrationOutStage stage, gpointer user_data,
                                       GError **error);

/**
 * XmMigrationParams:
 * @live: keep the guest running while memory is sent (VIR_MIGRATE_LIVE)
 * @offline: the guest is paused before its memory is sent (no live
 *   phase, as without @live); disks are still copied first. Migrating
 *   an inactive domain's definition alone is the driver's business.
 * @paused: leave the destination guest paused (VIR_MIGRATE_PAUSED)
 * @persist_dest: informational for the driver (it defines the domain)
 * @undefine_source: informational for the driver (it undefines)
 * @non_shared_disk: copy the chosen disks; the destination creates
 *   missing images (VIR_MIGRATE_NON_SHARED_DISK)
 * @non_shared_inc: copy the chosen disks onto images that must already
 *   exist on the destination with the right size (NON_SHARED_INC)
 * @sync_writes: disks served through the domain's datapath are mirrored
 *   synchronously from the end of the bulk copy (a guest write completes
 *   once the destination has it); disks without a datapath are copied in
 *   scan mode, where this has no effect
 * @tls: memory channel over TLS and disks over NBD TLS, both sides
 *   verifying the peer against @tls_dir's CA
 * @auto_converge: accepted; tracked disks switch to synchronous
 *   mirroring by themselves when passes stop shrinking
 * @uri: source: the migration URI given by the user (tcp://host:port,
 *   tcp:host, host, host:port, [v6]:port), may be NULL; destination: the
 *   same from the source, selects the address/port the cookie announces
 * @dest_name: new name on the destination (NULL: keep)
 * @bandwidth_mib: MiB/s for disk and memory together (0: unlimited)
 * @max_downtime_ms: downtime budget (0: 300 ms)
 * @migrate_disks: (nullable): target devs to copy (NULL: every writable,
 *   non-shareable, local file or block disk)
 * @disks_port: destination: NBD port (0: from the port range)
 * @disks_uri: destination: tcp://host[:port] for NBD (NULL: as memory)
 * @listen_address: destination: address to bind (NULL: the host of @uri,
 *   else this host's name; never every address unless it says so)
 * @tls_dir: x509 directory (ca-cert.pem, server-cert.pem,
 *   server-key.pem, client-cert.pem, client-key.pem); required with @tls
 * @port_min: first port of the range (0: 49152)
 * @port_max: last port of the range (0: 49215)
 * @host_name: name of this host written into cookies (NULL: the
 *   machine's host name)
 * @connect_timeout_s: destination: how long the endpoints wait for the
 *   source (0: 60 s)
 * @drain_timeout_s: source: while the guest is suspended for the final
 *   disk copy, this many seconds without progress on any disk fail the
 *   migration (the guest is resumed) instead of waiting for the disk
 *   copy's own 30 s stall timeout (0: 10)
 * @max_passes: copy-dirty passes before the switchover is forced (0: 30);
 *   it is also taken after three passes in a row that do not shrink
 * @image_created: (nullable): destination: called by prepare for each
 *   image it creates, before the image appears at its path, so that the
 *   caller can record the image where a restarted process finds it (see
 *   #XmMigrationImageFunc)
 * @image_created_data: passed to @image_created
 * @outgoing: (nullable): source: called by perform before the guest is
 *   suspended and before the completion record (see #XmMigrationOutFunc)
 * @outgoing_data: passed to @outgoing
 *
 * What the caller asks for; copied by begin and prepare.
 */
typedef struct {
    gboolean live;
    gboolean offline;
    gboolean paused;
    gboolean persist_dest;
    gboolean undefine_source;
    gboolean non_shared_disk;
    gboolean non_shared_inc;
    gboolean sync_writes;
    gboolean tls;
    gboolean auto_converge;
    const char *uri;
    const char *dest_name;
    guint64 bandwidth_mib;
    guint64 max_downtime_ms;
    const char *const *migrate_disks;
    guint disks_port;
    const char *disks_uri;
    const char *listen_address;
    const char *tls_dir;
    guint port_min;
    guint port_max;
    const char *host_name;
    guint connect_timeout_s;
    guint max_passes;
    guint drain_timeout_s;
    XmMigrationImageFunc image_created;
    gpointer image_created_data;
    XmMigrationOutFunc outgoing;
    gpointer outgoing_data;
} XmMigrationParams;

/**
 * XmMigrationStats:
 * @state: the job's state
 * @elapsed_ms: since begin/prepare
 * @setup_time_ms: from begin to the start of the copy (source), from
 *   prepare to the source's connection (destination)
 * @downtime_ms: source: from the end of the memory stream (guest
 *   suspended) to the completion record, after confirm the larger of that
 *   and the destination's figure; destination: from the end of the memory
 *   stream to the guest running
 * @data_total: memory_total + disk_total
 * @data_processed: memory_processed + disk_processed
 * @data_remaining: memory_remaining + disk_remaining
 * @disk_total: bytes of every copied disk
 * @disk_processed: bytes on the destination; after the bulk copy, the
 *   capacity less what the last pass had to send (an estimate of what is
 *   dirty); never decreases
 * @disk_remaining: disk_total - disk_processed
 * @disk_sent: disk payload bytes sent, all passes counted
 * @memory_total: guest memory (grows to what was sent if the stream was
 *   larger)
 * @memory_processed: memory stream bytes sent (source) or received
 * @memory_remaining: memory_total - memory_processed; 0 once the stream
 *   ended
 * @memory_bps: recent memory rate in bytes/s
 * @disk_bps: recent disk rate in bytes/s
 * @passes: disk passes so far (1 is the bulk copy)
 * @bandwidth_mib: the current limit (0: none)
 * @max_downtime_ms: the current downtime budget
 * @refused_connections: connections to the memory endpoint refused
 *   (wrong secret or certificate)
 * @disk_drain_ms: source: time of the final disk drain and verification
 *   with the guest suspended (part of @downtime_ms)
 * @disks_tracked: disks copied by a tracked mirror in the domain's
 *   datapath (the others are copied in scan mode)
 * @disks_synchronous: tracked disks that went into synchronous mirroring
 *
 * A consistent snapshot of a job's progress.
 */
typedef struct {
    XmMigrationState state;
    guint64 elapsed_ms;
    guint64 setup_time_ms;
    guint64 downtime_ms;
    guint64 data_total;
    guint64 data_processed;
    guint64 data_remaining;
    guint64 disk_total;
    guint64 disk_processed;
    guint64 disk_remaining;
    guint64 disk_sent;
    guint64 memory_total;
    guint64 memory_processed;
    guint64 memory_remaining;
    guint64 memory_bps;
    guint64 disk_bps;
    guint passes;
    guint64 bandwidth_mib;
    guint64 max_downtime_ms;
    guint refused_connections;
    guint64 disk_drain_ms;
    guint disks_tracked;
    guint disks_synchronous;
} XmMigrationStats;

/**
 * xm_migration_begin:
 * @backend: the source host's backend
 * @domid: the running domain
 * @def: its definition (copied)
 * @params: what is asked for (copied)
 * @cookie_out: (out): the cookie for prepare (XML)
 * @error: return location for an error
 *
 * Checks @params (XM_ERR_INVALID_ARG / XM_ERR_ARGUMENT_UNSUPPORTED) and
 * chooses the disks to copy, recording capacity, allocation and format.
 * Nothing is sent.
 *
 * Returns: (transfer full): the source job in state BEGIN, or NULL.
 */
XmMigration *xm_migration_begin(XmBackend *backend, int domid,
                                const XmDomainDef *def,
                                const XmMigrationParams *params,
                                char **cookie_out, GError **error);

/**
 * xm_migration_prepare:
 * @backend: the destination host's backend
 * @def: the definition to start here (the destination XML, whose disk
 *   paths may differ from the source's; copied)
 * @cookie_in: the cookie from xm_migration_begin()
 * @params: what is asked for (copied)
 * @cookie_out: (out): the cookie for perform (XML)
 * @uri_out: (out) (optional): "tcp://host:port" of the memory endpoint
 * @error: return location for an error
 *
 * Checks free memory and disk space (and, with @non_shared_inc, that each
 * image exists with the source's size) before anything is created, then
 * creates missing raw images sparse with the source's size, starts the NBD
 * server (one export per disk) and the memory listener. Both accept only
 * the source (per-migration secret, plus the CA with TLS) and close after
 * @connect_timeout_s without it.
 *
 * Returns: (transfer full): the destination job in state PREPARED, or NULL
 * (anything created is removed again).
 */
XmMigration *xm_migration_prepare(XmBackend *backend, const XmDomainDef *def,
                                  const char *cookie_in,
                                  const XmMigrationParams *params,
                                  char **cookie_out, char **uri_out,
                                  GError **error);

/**
 * xm_migration_perform:
 * @job: a source job in state BEGIN
 * @cookie_in: the cookie from xm_migration_prepare()
 * @cookie_out: (out) (optional): the cookie for finish (statistics)
 * @error: return location for an error
 *
 * Copies the disks (bulk, then copy-dirty passes until the dirty data fits
 * the downtime budget or the pass limit is reached), streams memory
 * through the backend's suspend_to_fd, drains and verifies the disks with
 * the guest suspended, and sends the completion record. Blocks until done.
 *
 * On success the guest is suspended here and starts on the destination;
 * on failure or cancel it runs here again (resumed) and the error says so.
 *
 * Returns: TRUE when the completion record was sent.
 */
gboolean xm_migration_perform(XmMigration *job, const char *cookie_in,
                              char **cookie_out, GError **error);

/**
 * xm_migration_finish:
 * @job: a destination job in state PREPARED
 * @cookie_in: (nullable): the cookie from xm_migration_perform()
 * @cancelled: the source failed: tear down instead of waiting
 * @cookie_out: (out) (optional): the cookie for confirm (statistics)
 * @error: return location for an error
 *
 * Waits for the memory restore (domain created paused) and the completion
 * record, checks each disk's checksum against the source's, then unpauses
 * the guest unless @paused was asked. With @cancelled, or on any error:
 * destroys the half-made domain, deletes the images prepare created and
 * closes the endpoints.
 *
 * Returns: the destination domid, or -1 (with @cancelled: always -1, and
 * @error is left unset).
 */
int xm_migration_finish(XmMigration *job, const char *cookie_in,
                        gboolean cancelled, char **cookie_out, GError **error);

/**
 * xm_migration_confirm:
 * @job: a source job after perform
 * @cookie_in: (nullable): the cookie from xm_migration_finish()
 * @cancelled: the destination failed
 * @error: return location for an error
 *
 * Without @cancelled: destroys the source domain (the driver undefines it
 * if asked). With @cancelled: resumes the source guest if it is suspended.
 *
 * Returns: TRUE on success.
 */
gboolean xm_migration_confirm(XmMigration *job, const char *cookie_in,
                              gboolean cancelled, GError **error);

/**
 * xm_migration_cancel:
 * @job: a job
 *
 * Aborts the running phase as soon as possible; it fails with
 * %XM_ERR_OPERATION_ABORTED. Has no effect once the completion record was
 * sent (source) or the guest was started (destination). Idempotent, never
 * blocks, callable from any thread.
 */
void xm_migration_cancel(XmMigration *job);

/**
 * xm_migration_get_stats:
 * @job: a job
 * @stats: (out): a snapshot
 */
void xm_migration_get_stats(XmMigration *job, XmMigrationStats *stats);

/**
 * xm_migration_get_state:
 * @job: a job
 *
 * Returns: the job's state.
 */
XmMigrationState xm_migration_get_state(XmMigration *job);

/**
 * xm_migration_set_bandwidth:
 * @job: a job
 * @mib_per_s: new limit for memory and disk together (0: none); applies
 *   at once
 */
void xm_migration_set_bandwidth(XmMigration *job, guint64 mib_per_s);

/**
 * xm_migration_get_bandwidth:
 * @job: a job
 *
 * Returns: the current limit in MiB/s (0: none).
 */
guint64 xm_migration_get_bandwidth(XmMigration *job);

/**
 * xm_migration_set_max_downtime:
 * @job: a job
 * @ms: new downtime budget; applies from the next pass
 */
void xm_migration_set_max_downtime(XmMigration *job, guint64 ms);

/**
 * xm_migration_free:
 * @job: (nullable): a job
 *
 * Cancels what still runs, closes the endpoints and frees the job. A
 * destination job freed before a successful finish tears down like
 * finish(cancelled); a source job freed between a failed perform and
 * confirm leaves the guest running.
 */
void xm_migration_free(XmMigration *job);

/**
 * xm_migration_state_to_string:
 * @state: a state
 *
 * Returns: a short lowercase name, e.g. "performing-disks".
 */
const char *xm_migration_state_to_string(XmMigrationState state);

/**
 * xm_migration_uri_parse:
 * @uri: tcp://host:port, tcp://host, tcp:host, tcp:host:port, host,
 *   host:port, [v6addr]:port, tcp://[v6addr]:port
 * @host: (out): the host, without brackets
 * @port: (out): the port, 0 when none was given
 * @error: XM_ERR_INVALID_ARG for other schemes or bad syntax
 *
 * Returns: TRUE on success.
 */
gboolean xm_migration_uri_parse(const char *uri, char **host, guint *port,
                                GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(XmMigration, xm_migration_free)

#ifdef __cplusplus
}
#endif
