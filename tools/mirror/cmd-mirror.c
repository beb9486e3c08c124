/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xenmig-mirror mirror: serve SRC read-write to local clients on a unix
 * socket through the tracked NBD server while a tracked job copies it to
 * DEST-URI and keeps copying what the clients dirty. On SIGUSR1: enter
 * synchronous mode, let it drain, stop serving (no client write can change
 * the source any more), copy the rest, flush, verify; exit 0 only when the
 * destination is identical.
 */
#include "config.h"

#include <stdio.h>

#include <xenmig/mirror.h>
#include <xenmig/nbd-server.h>
#include "util/util.h"
#include "commands.h"
#include "progress.h"

/* How long SIGUSR1 lets synchronous mode drain the dirty set while the
 * clients still write, before it stops serving them. */
#define CONVERGE_US (10 * G_USEC_PER_SEC)

typedef struct {
    XmMirrorJob *job;
    XmNbdServer *server;
} Mirror;

static gboolean
finish_mirror(gpointer data, XmMirrorResult *result, GError **error)
{
    Mirror *m = data;
    gint64 deadline = g_get_monotonic_time() + CONVERGE_US;
    XmMirrorProgress p;

    xm_mirror_job_request_sync(m->job);
    while (g_get_monotonic_time() < deadline) {
        xm_mirror_job_get_progress(m->job, &p);
        if ((p.phase == XM_MIRROR_PHASE_SYNC && p.dirty == 0) ||
            p.phase == XM_MIRROR_PHASE_FAILED || p.phase == XM_MIRROR_PHASE_CANCELLED)
            break;
        g_usleep(50 * 1000);
    }
    /* Writes still in progress finish, each mirrored synchronously; after
     * this the source no longer changes, so it can be drained and
     * verified. */
    xm_nbd_server_stop(m->server);
    return xm_mirror_job_complete(m->job, result, error);
}

int
xm_mirror_cmd_mirror(int argc, char **argv)
{
    XmCliCommon common = { 0 };
    g_autofree char *unix_path = NULL;
    g_autofree char *export_name = NULL;
    gboolean sync_writes = FALSE, auto_sync = FALSE;
    GOptionEntry entries[] = {
        { "unix", 'u', 0, G_OPTION_ARG_FILENAME, &unix_path,
          N_("Serve SRC to local clients on this unix socket (required)"), N_("PATH") },
        { "export", 'e', 0, G_OPTION_ARG_STRING, &export_name,
          N_("Export name on the unix socket (default: empty)"), N_("NAME") },
        { "sync-writes", 0, 0, G_OPTION_ARG_NONE, &sync_writes,
          N_("Mirror client writes synchronously once the bulk copy is done"), NULL },
        { "auto-sync", 0, 0, G_OPTION_ARG_NONE, &auto_sync,
          N_("Mirror synchronously when dirty passes stop converging"), NULL },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new(
        _("SRC DEST-URI - serve SRC with write tracking while mirroring it"));
    g_autoptr(XmCliRun) run = xm_cli_run_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(XmProgressOut) out = NULL;
    g_autoptr(XmNbdServer) server = NULL;
    g_autoptr(XmMirrorJob) job = NULL;   /* freed first: it detaches its hook */
    XmMirrorOptions opts = { .mode = XM_MIRROR_TRACKED };
    XmNbdServerConfig config = { 0 };
    XmMirrorResult result = { 0 };
    Mirror m;
    int rc = XM_EXIT_ERROR;

    g_option_context_set_main_group(ctx, xm_cli_common_group(&common));
    g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        rc = xm_cli_usage_error("%s", err->message);
        goto out;
    }
    if (argc != 3) {
        rc = xm_cli_usage_error(_("mirror needs SRC and DEST-URI (see --help)"));
        goto out;
    }
    if (!unix_path) {
        rc = xm_cli_usage_error(_("mirror needs --unix PATH for the local clients"));
        goto out;
    }
    if (!xm_cli_common_apply(&common, &opts, &err)) {
        rc = xm_cli_usage_error("%s", err->message);
        goto out;
    }
    opts.auto_sync = auto_sync;
    /* "exits 0 only when the destination is identical" */
    opts.verify = TRUE;
    out = xm_progress_out_new(common.progress, &err);
    if (!out && err) {
        rc = xm_cli_usage_error("%s", err->message);
        goto out;
    }

    job = xm_mirror_job_new(argv[1], argv[2], &opts, &err);
    if (!job)
        goto fail;
    config.image_path = argv[1];
    config.export_name = export_name;
    server = xm_nbd_server_new(&config, &err);
    if (!server)
        goto fail;
    /* the hook is in place before any client can connect */
    if (!xm_mirror_job_attach_server(job, server, &err) ||
        !xm_mirror_job_start(job, &err) ||
        !xm_nbd_server_listen_unix(server, unix_path, &err) ||
        !xm_nbd_server_start(server, &err))
        goto fail;
    if (sync_writes)
        xm_mirror_job_request_sync(job);

    m.job = job;
    m.server = server;
    if (!xm_cli_run_job(run, job, out, server, finish_mirror, &m, &result, &err))
        goto fail;
    fprintf(stderr, _("mirror: destination identical to the source, verified "
                      "(xxh3-128 %s)\n"), result.source_checksum);
    rc = 0;
    goto out;

 fail:
    if (server)
        xm_nbd_server_stop(server);
    xm_progress_out_finish(out);
    xm_mirror_fail("%s", err->message);
 out:
    xm_cli_common_clear(&common);
    return rc;
}
