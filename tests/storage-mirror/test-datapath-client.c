/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A command-line front end to every call of the datapath client library,
 * for the datapath-*.sh tests:
 *
 *   test-datapath-client spawn CONTROL PIDFILE LOG TARGET=IMAGE=SOCKET...
 *   test-datapath-client ping|quit CONTROL
 *   test-datapath-client mirror CONTROL TARGET URI [KEY=VALUE...]
 *        (keys: bandwidth sync auto_sync verify granularity connections
 *         tls_dir timeout)
 *   test-datapath-client progress|sync|cancel CONTROL TARGET
 *   test-datapath-client bandwidth CONTROL TARGET MIB
 *   test-datapath-client complete CONTROL TARGET [CANCEL-AFTER-MS]
 *   test-datapath-client raw CONTROL LINE
 *
 * Success prints the result (if any) on stdout and exits 0; failure prints
 * "ERR <code> <message>" on stdout and exits 1; bad usage exits 2. raw
 * prints the reply line unparsed and exits 1 if it is an ERR.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenmig/xenmig.h>
#include "storage-mirror/datapath-client.h"
#include "util/util.h"

static int
usage(void)
{
    fprintf(stderr, "usage: see the header of test-datapath-client.c\n");
    return 2;
}

static gboolean
mirror_option(const char *kv, XmMirrorOptions *o, gboolean *sync)
{
    const char *eq = strchr(kv, '=');
    g_autofree char *key = eq ? g_strndup(kv, eq - kv) : NULL;
    const char *v = eq ? eq + 1 : NULL;

    if (!key)
        return FALSE;
    if (g_str_equal(key, "bandwidth"))
        o->bandwidth_mib = g_ascii_strtod(v, NULL);
    else if (g_str_equal(key, "sync"))
        *sync = atoi(v) != 0;
    else if (g_str_equal(key, "auto_sync"))
        o->auto_sync = atoi(v) != 0;
    else if (g_str_equal(key, "verify"))
        o->verify = atoi(v) != 0;
    else if (g_str_equal(key, "granularity"))
        o->granularity = g_ascii_strtoull(v, NULL, 10);
    else if (g_str_equal(key, "connections"))
        o->connections = atoi(v);
    else if (g_str_equal(key, "tls_dir"))
        o->tls_dir = v;
    else if (g_str_equal(key, "timeout"))
        o->timeout_s = atoi(v);
    else
        return FALSE;
    return TRUE;
}

static gboolean
cancel_later(gpointer data)
{
    g_cancellable_cancel(data);
    return G_SOURCE_REMOVE;
}

static gpointer
timer_thread(gpointer data)
{
    GMainLoop *loop = data;

    g_main_loop_run(loop);
    return NULL;
}

static gboolean
do_complete(const char *control, const char *target, const char *cancel_ms,
            GError **error)
{
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GMainLoop) loop = g_main_loop_new(ctx, FALSE);
    GThread *thread = NULL;
    XmMirrorResult res;
    gboolean ok;

    if (cancel_ms) {
        g_autoptr(GSource) src = g_timeout_source_new(atoi(cancel_ms));

        g_source_set_callback(src, cancel_later, cancellable, NULL);
        g_source_attach(src, ctx);
        thread = g_thread_new("cancel", timer_thread, loop);
    }
    ok = xm_datapath_complete(control, target, &res, cancellable, error);
    if (thread) {
        g_main_loop_quit(loop);
        g_thread_join(thread);
    }
    if (ok)
        printf("verified=%d source=%s dest=%s\n", res.verified,
               res.source_checksum, res.dest_checksum);
    return ok;
}

static gboolean
run(int argc, char **argv, GError **error)
{
    const char *cmd = argv[1], *control = argv[2];
    const char *target = argc > 3 ? argv[3] : NULL;

    if (g_str_equal(cmd, "spawn") && argc >= 6) {
        g_autofree XmDatapathDisk *disks = g_new0(XmDatapathDisk, argc - 5);
        g_autoptr(GPtrArray) specs = g_ptr_array_new_with_free_func(
            (GDestroyNotify) g_strfreev);
        pid_t pid;

        for (int i = 5; i < argc; i++) {
            char **p = g_strsplit(argv[i], "=", 3);

            g_ptr_array_add(specs, p);
            if (g_strv_length(p) != 3)
                exit(usage());
            disks[i - 5] = (XmDatapathDisk) { p[0], p[1], p[2] };
        }
        pid = xm_datapath_spawn(control, argv[3], argv[4], disks, argc - 5, error);
        if (pid < 0)
            return FALSE;
        printf("%d\n", (int) pid);
        return TRUE;
    }
    if (g_str_equal(cmd, "ping") && argc == 3)
        return xm_datapath_ping(control, error);
    if (g_str_equal(cmd, "quit") && argc == 3)
        return xm_datapath_quit(control, error);
    if (g_str_equal(cmd, "mirror") && argc >= 5) {
        XmMirrorOptions o = { .mode = XM_MIRROR_TRACKED };
        gboolean sync = FALSE;

        for (int i = 5; i < argc; i++)
            if (!mirror_option(argv[i], &o, &sync)) {
                g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG, "bad option %s", argv[i]);
                return FALSE;
            }
        return xm_datapath_mirror_start(control, target, argv[4], &o, sync, error);
    }
    if (g_str_equal(cmd, "progress") && argc == 4) {
        XmMirrorProgress p;

        if (!xm_datapath_get_progress(control, target, &p, error))
            return FALSE;
        printf("phase=%s pass=%u total=%" G_GUINT64_FORMAT " done=%" G_GUINT64_FORMAT
               " remaining=%" G_GUINT64_FORMAT " dirty=%" G_GUINT64_FORMAT
               " sent=%" G_GUINT64_FORMAT " blocks_sent=%" G_GUINT64_FORMAT
               " rate=%" G_GUINT64_FORMAT "\n",
               xm_mirror_phase_to_string(p.phase), p.pass, p.total, p.done,
               p.remaining, p.dirty, p.sent, p.blocks_sent, p.rate);
        return TRUE;
    }
    if (g_str_equal(cmd, "sync") && argc == 4)
        return xm_datapath_request_sync(control, target, error);
    if (g_str_equal(cmd, "cancel") && argc == 4)
        return xm_datapath_cancel(control, target, error);
    if (g_str_equal(cmd, "bandwidth") && argc == 5)
        return xm_datapath_set_bandwidth(control, target, g_ascii_strtod(argv[4], NULL),
                                         error);
    if (g_str_equal(cmd, "complete") && (argc == 4 || argc == 5))
        return do_complete(control, target, argc == 5 ? argv[4] : NULL, error);
    if (g_str_equal(cmd, "raw") && argc == 4) {
        g_autofree char *reply = xm_datapath_call_raw(control, argv[3], 30000, NULL,
                                                      error);
        if (!reply)
            return FALSE;
        printf("%s\n", reply);
        /* the reply as it came; only its status is interpreted */
        exit(g_str_has_prefix(reply, "ERR") ? 1 : 0);
    }
    exit(usage());
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;

    xm_init();
    /* as in a caller that does not care about its children: they are
     * reaped by the kernel, so spawn cannot see the exit status */
    if (g_getenv("DATAPATH_TEST_IGNORE_SIGCHLD"))
        signal(SIGCHLD, SIG_IGN);
    if (argc < 3)
        return usage();
    if (!run(argc, argv, &err)) {
        if (!err)
            return usage();
        printf("ERR %d %s\n", err->code, err->message);
        return 1;
    }
    return 0;
}
