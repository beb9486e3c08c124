/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal interfaces of the migration component (not installed). */
#pragma once

#include <glib.h>
#include <xenmig/migration.h>
#include <xenmig/xenmig.h>

#include "util/util.h"

#define XM_MIGRATION_PORT_MIN 49152
#define XM_MIGRATION_PORT_MAX 49215

/* "tcp://host:port", brackets around IPv6 literals. */
char *xm_migration_uri_format(const char *host, guint port);

/* Binds and listens on @host at the first free port of [min, max] (0, 0:
 * the default range). Returns the listening fd, or -1. */
int xm_migration_listen_in_range(const char *host, guint min, guint max,
                                 guint *port_out, GError **error);

/* A free port of the range other than @skip, for listeners that bind by
 * themselves. */
gboolean xm_migration_probe_port(const char *host, guint min, guint max,
                                 guint skip, guint *port_out, GError **error);

#include <gio/gio.h>
#include <xenmig/mirror.h>
#include <xenmig/nbd-server.h>

#include "migration/channel.h"
#include "migration/cookie.h"
#include "migration/disk-copier.h"

#define XM_MIGRATION_DEFAULT_DOWNTIME_MS 300
#define XM_MIGRATION_DEFAULT_TIMEOUT_S 60
#define XM_MIGRATION_DEFAULT_MAX_PASSES 30
#define XM_MIGRATION_DEFAULT_DRAIN_TIMEOUT_S 10
/* The source sends a PING this often while disks copy, so the
 * destination can tell a slow migration from a dead source. */
#define XM_MIGRATION_PING_MS 1000
/* The destination gives the source at least this long between records
 * (three missed pings), however short its connect timeout. */
#define XM_MIGRATION_MIN_IDLE_MS (3 * XM_MIGRATION_PING_MS)

typedef struct _XmMigration XmMigrationJobFwd;

typedef struct {
    XmMigrationJobFwd *owner;
    char *target;
    guint64 capacity;
    guint64 allocation;
    XmDiskFormat format;
    /* source */
    char *source_path;
    XmDiskCopier *mirror;     /* scan in-process, or tracked by the datapath */
    guint requested;          /* passes asked of the mirror (bulk included) */
    guint started;            /* highest pass seen starting */
    GArray *pass_start_sent;  /* guint64 per pass: mirror "sent" at its start */
    XmMirrorProgress last;    /* last progress snapshot */
    guint64 reported;         /* disk_processed reported so far (monotonic) */
    gboolean went_sync;       /* tracked: seen in synchronous mode */
    char checksum[33];
    /* destination */
    char *dest_path;
    gboolean created;
    char *export_name;
    guint nbd_port;
    XmNbdServer *server;
} XmMigDisk;

struct _XmMigration {
    gboolean is_source;
    XmBackend *backend;
    XmDomainDef *def;
    int domid;                   /* source: the guest; dest: restored guest */

    /* copies of the caller's params; the strings are owned */
    XmMigrationParams params;

    GMutex lock;                 /* protects what follows and the stats */
    XmMigrationState state;
    GCancellable *cancellable;
    gint64 start_us;
    gint64 setup_done_us;
    guint64 downtime_ms;
    guint64 disk_drain_ms;
    guint64 bandwidth_mib;
    guint64 max_downtime_ms;
    guint passes;

    guint8 secret[XM_COOKIE_SECRET_BYTES];
    char *host_name;
    XmCookie *cookie;            /* what this side sent last */

    XmMigDisk *disks;
    size_t ndisks;

    XmChannelListener *listener;
    XmChannel *channel;
    guint64 mem_total;
    guint64 mem_processed;       /* atomic */
    guint64 mem_rate;
    gint64 mem_rate_t0;
    guint64 mem_rate_b0;
    gboolean mem_done;

    /* source */
    gboolean suspended;          /* suspend_to_fd returned: guest stopped */
    gboolean was_paused;         /* source: paused by its user before begin;
                                  * dest: the source said so (stays paused) */
    gboolean completed;          /* completion record sent */

    /* destination */
    GThread *worker;
    gboolean worker_done;
    GCond worker_cond;
    GError *worker_error;
    char **peer_checksums;       /* "target checksum" pairs from COMPLETE */
    gint64 end_received_us;
    gboolean guest_started;
    gboolean torn_down;
    guint refused;
};

XmMigration *xm_migration_new(gboolean is_source, XmBackend *backend,
                              const XmDomainDef *def,
                              const XmMigrationParams *params);
void xm_migration_set_state(XmMigration *job, XmMigrationState state);
gboolean xm_migration_is_cancelled(XmMigration *job);
gboolean xm_migration_check_cancel(XmMigration *job, GError **error);
const char *xm_migration_host_name(XmMigration *job);
/* Destination: destroys the half-made domain, stops the endpoints and
 * deletes the images it created. Idempotent. */
void xm_migration_dest_teardown(XmMigration *job);
gboolean xm_migration_check_params(const XmMigrationParams *p, GError **error);

/* Size in bytes of a file or block device. */
gboolean xm_migration_image_size(const char *path, guint64 *size,
                                 guint64 *allocation, GError **error);
/* xxh3-128 over the xxh3-128 of each xm_digest_chunk_size(@size) chunk of
 * the first @size bytes (the mirror engine's verification digest), as 32
 * hex digits. */
gboolean xm_migration_image_checksum(const char *path, guint64 size,
                                     GCancellable *cancellable,
                                     char out[33], GError **error);
void xm_migration_apply_bandwidth(XmMigration *job);
/* libvirt words XM_ERR_READ_FAILED and XM_ERR_WRITE_FAILED as failures to
 * read or write a configuration file; a broken stream or disk copy is
 * reported to it as a failed operation instead (the message is kept). */
void xm_migration_error_for_libvirt(GError *err);
/* bytes/s for the memory stream, 0: unlimited */
guint64 xm_migration_memory_rate_limit(XmMigration *job);
