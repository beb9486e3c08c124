/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Progress output of xenmig-mirror (a bar on a terminal, or one
 * machine-readable line per update on a file descriptor) and the options
 * and run loop shared by copy, sync and mirror.
 */
#pragma once

#include <glib.h>
#include <xenmig/mirror.h>
#include <xenmig/nbd-server.h>

typedef struct _XmProgressOut XmProgressOut;

/* @spec: NULL (no progress), "" (bar on stderr if it is a terminal) or
 * "fd:N". */
XmProgressOut *xm_progress_out_new(const char *spec, GError **error);
void xm_progress_out_update(XmProgressOut *out, const XmMirrorProgress *p);
/* Ends the bar's line. */
void xm_progress_out_finish(XmProgressOut *out);
void xm_progress_out_free(XmProgressOut *out);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(XmProgressOut, xm_progress_out_free)

/* Options common to copy, sync and mirror. */
typedef struct {
    gint connections;
    char *bandwidth;
    char *tls_dir;
    char *progress;       /* NULL, "" or "fd:N" */
    gboolean verify;
} XmCliCommon;

/* Adds --connections, --bandwidth, --tls-dir, --progress[=fd:N] and
 * --verify to @group's entries. */
GOptionGroup *xm_cli_common_group(XmCliCommon *c);
void xm_cli_common_clear(XmCliCommon *c);
/* Fills the options from @c; FALSE with @error for bad values. */
gboolean xm_cli_common_apply(XmCliCommon *c, XmMirrorOptions *o, GError **error);

/* Exit codes */
#define XM_EXIT_ERROR 1
#define XM_EXIT_USAGE 2

/* Prints "xenmig-mirror: <message>" and returns XM_EXIT_USAGE. */
int xm_cli_usage_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* What the run loop does on SIGUSR1 (mirror only): called in a thread of
 * its own; returns the job's completion result. */
typedef gboolean (*XmCliFinishFunc)(gpointer data, XmMirrorResult *result,
                                    GError **error);

/* Signal handling of a command: create it first thing, so SIGINT,
 * SIGTERM, SIGHUP and SIGUSR1 arriving while the command sets up are
 * acted on once the job runs instead of killing the process. */
typedef struct _XmCliRun XmCliRun;
XmCliRun *xm_cli_run_new(void);
void xm_cli_run_free(XmCliRun *run);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(XmCliRun, xm_cli_run_free)

/* Runs a started job to its end: progress every 200 ms, SIGINT/SIGTERM
 * cancel. Without @on_usr1 the job is completed at once (copy, sync);
 * with it, the job runs until SIGUSR1, then @on_usr1 completes it. If
 * @server is given it is stopped on cancel and failure. Returns TRUE with
 * @result filled on success. */
gboolean xm_cli_run_job(XmCliRun *run, XmMirrorJob *job, XmProgressOut *out,
                        XmNbdServer *server, XmCliFinishFunc on_usr1,
                        gpointer data, XmMirrorResult *result, GError **error);

/* copy and sync share one implementation (cmd-copy.c): a scan-mode job
 * whose first pass copies everything (copy) or only what differs from the
 * destination (sync, @resync). */
int xm_mirror_scan_command(int argc, char **argv, gboolean resync);
