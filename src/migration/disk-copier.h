/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * How the source copies one disk: either an in-process mirror job in scan
 * mode (the disk has no datapath: each pass re-reads the image) or a
 * tracked mirror job run by the domain's datapath daemon, which sees every
 * guest write (dirty passes, then synchronous mirroring).
 *
 * The migration job talks to both the same way. Nothing here blocks the
 * caller on the daemon except xm_disk_copier_start() and
 * xm_disk_copier_complete(): progress is the last snapshot a poller thread
 * fetched, and bandwidth, sync and cancel requests are handed to that
 * thread, so stats and cancel stay instant even if the daemon hangs.
 */
#pragma once

#include <gio/gio.h>
#include <xenmig/mirror.h>

typedef struct _XmDiskCopier XmDiskCopier;

/* Called (from any thread) with each new progress snapshot. */
typedef void (*XmDiskCopierProgressFunc)(const XmMirrorProgress *p, gpointer user_data);

/* Scan mode in this process: @source is read, never written. */
XmDiskCopier *xm_disk_copier_new_local(const char *source, const char *dest_uri,
                                       const XmMirrorOptions *opts,
                                       XmDiskCopierProgressFunc func, gpointer user_data,
                                       GError **error);
/* Tracked mode in the datapath daemon behind @control for disk @target. */
XmDiskCopier *xm_disk_copier_new_datapath(const char *control, const char *target,
                                          const char *dest_uri, const XmMirrorOptions *opts,
                                          XmDiskCopierProgressFunc func, gpointer user_data);
gboolean xm_disk_copier_start(XmDiskCopier *c, GError **error);
gboolean xm_disk_copier_is_tracked(XmDiskCopier *c);
void xm_disk_copier_get_progress(XmDiskCopier *c, XmMirrorProgress *p);
/* A number that grows while the copier gets anything done (copies, reads
 * to hash, verifies), also during complete(): the final drain's watchdog
 * compares it over time. */
guint64 xm_disk_copier_activity(XmDiskCopier *c);
void xm_disk_copier_set_bandwidth(XmDiskCopier *c, double mib_per_s);
/* scan: one more pass; tracked: nothing (passes run by themselves) */
void xm_disk_copier_request_pass(XmDiskCopier *c);
/* tracked: synchronous mirroring from now on; scan: nothing */
void xm_disk_copier_request_sync(XmDiskCopier *c);
/* The guest no longer writes: final drain, flush, verification. */
gboolean xm_disk_copier_complete(XmDiskCopier *c, XmMirrorResult *res,
                                 GCancellable *cancellable, GError **error);
/* Never blocks. */
void xm_disk_copier_cancel(XmDiskCopier *c);
/* The error a copier that ended by itself ended with, if any. */
gboolean xm_disk_copier_check(XmDiskCopier *c, GError **error);
void xm_disk_copier_free(XmDiskCopier *c);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(XmDiskCopier, xm_disk_copier_free)
