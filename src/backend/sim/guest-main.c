/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xenmig-sim-guest: a sim domain (started by the sim backend), and a tool
 * that checks the heartbeats a sim domain left on its disk.
 *
 *   xenmig-sim-guest run --config FILE --status-fd N [--restore-fd N] [--paused]
 *   xenmig-sim-guest heartbeat-check IMAGE
 *
 * "run" reports on the status fd: first "pid N", then "ok" once the control
 * socket listens (and the memory stream was restored), or "error MESSAGE"
 * before exiting with status 1.
 *
 * "heartbeat-check" prints one line
 *   records=N first=S last=S missing=M max_gap_ms=G hosts=a,b
 * and exits 0 when records exist and none is missing, 1 otherwise, 2 when
 * the image cannot be read.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/sim-heartbeat.h"
#include "backend/sim/guest.h"
#include "util/util.h"

volatile sig_atomic_t guest_sigterm;

void
guest_lock(Guest *g)
{
    g_mutex_lock(&g->lock);
}

void
guest_unlock(Guest *g)
{
    g_mutex_unlock(&g->lock);
}

static void
on_sigterm(int sig)
{
    /* a guest-initiated power-off: the worker notices within a tick */
    guest_sigterm = 1;
}

static gboolean
parse_uuid(const char *s, uint8_t out[16])
{
    size_t n = 0;

    for (; *s && n < 32; s++) {
        int v;
        if (*s == '-')
            continue;
        v = g_ascii_xdigit_value(*s);
        if (v < 0)
            return FALSE;
        out[n / 2] = (n % 2) ? (out[n / 2] | v) : (uint8_t) (v << 4);
        n++;
    }
    return n == 32 && *s == '\0';
}

static gboolean
load_config(Guest *g, const char *path, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    const char *grp = XM_SIM_CONFIG_GROUP;
    GError *e = NULL;

    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, error))
        return FALSE;
    g->name = g_key_file_get_string(kf, grp, "name", &e);
    if (!e)
        g->uuid_str = g_key_file_get_string(kf, grp, "uuid", &e);
    if (!e)
        g->socket_path = g_key_file_get_string(kf, grp, "socket", &e);
    if (!e)
        g->exit_path = g_key_file_get_string(kf, grp, "exit_file", &e);
    if (!e)
        g->host = g_key_file_get_string(kf, grp, "host", &e);
    if (!e)
        g->memory_kib = g_key_file_get_uint64(kf, grp, "memory_kib", &e);
    if (!e)
        g->max_memory_kib = g_key_file_get_uint64(kf, grp, "max_memory_kib", &e);
    if (e) {
        g_propagate_error(error, e);
        return FALSE;
    }
    if (!parse_uuid(g->uuid_str, g->uuid)) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG, _("bad uuid '%s'"), g->uuid_str);
        return FALSE;
    }
    g->domid = g_key_file_get_integer(kf, grp, "domid", NULL);
    g->vcpus = g_key_file_get_integer(kf, grp, "vcpus", NULL);
    g->ram_dirty_mib_s = g_key_file_get_uint64(kf, grp, "ram_dirty_mib_s", NULL);
    g->disk_write_mib_s = g_key_file_get_uint64(kf, grp, "disk_write_mib_s", NULL);
    g->heartbeat_ms = g_key_file_get_integer(kf, grp, "heartbeat_ms", NULL);
    g->disk_paths = g_key_file_get_string_list(kf, grp, "disks", NULL, NULL);
    if (!g->disk_paths)
        g->disk_paths = g_new0(char *, 1);
    g->max_memory_kib = MAX(g->max_memory_kib, g->memory_kib);
    return TRUE;
}

static void
report(int status_fd, const char *line, gboolean last)
{
    if (status_fd >= 0) {
        g_autofree char *msg = g_strconcat(line, "\n", NULL);
        if (write(status_fd, msg, strlen(msg)) < 0)
            fprintf(stderr, "cannot report status: %s\n", g_strerror(errno));
        if (last)
            close(status_fd);
    }
}

static int
run(const char *config, int status_fd, int restore_fd, gboolean paused)
{
    Guest *g = g_new0(Guest, 1);
    g_autoptr(GError) err = NULL;
    g_autofree char *pid = g_strdup_printf("pid %d", (int) getpid());
    int listen_fd;

    /* first, so that the backend can kill a start-up that takes too long */
    report(status_fd, pid, FALSE);

    g_mutex_init(&g->lock);
    g_cond_init(&g->cond);
    g->rng = (guint64) g_get_real_time() ^ ((guint64) getpid() << 32) ^ 0x9E3779B97F4A7C15ULL;

    if (!load_config(g, config, &err))
        goto fail;
    g->ndisks = g_strv_length(g->disk_paths);
    g->disks = g_new0(SimDisk *, g->ndisks + 1);
    for (size_t i = 0; i < g->ndisks; i++) {
        g->disks[i] = sim_disk_open(g->disk_paths[i], &err);
        if (!g->disks[i])
            goto fail;
    }
    if (g->ndisks)
        g->hb_slots = xm_sim_hb_slots(sim_disk_size(g->disks[0]));
    if (!guest_ram_init(g, &err))
        goto fail;
    if (restore_fd >= 0) {
        if (!guest_restore(g, restore_fd, &err))
            goto fail;
        close(restore_fd);
    } else {
        guest_ram_fill(g, 0, g->ram_pages);
    }
    listen_fd = guest_ctl_listen(g, &err);
    if (listen_fd < 0)
        goto fail;

    g->state = paused ? GUEST_PAUSED : GUEST_RUNNING;
    unlink(g->exit_path);
    g_thread_unref(g_thread_new("worker", guest_worker, g));
    report(status_fd, "ok", TRUE);
    fprintf(stderr, "sim guest %s (domid %d): %s, %zu pages, heartbeat seq %"
            G_GUINT64_FORMAT "\n", g->name, g->domid,
            restore_fd >= 0 ? "restored" : "started", g->ram_pages, g->hb_seq);
    guest_ctl_serve(g, listen_fd);
    return 0;

fail:
    {
        g_autofree char *msg = g_strdup_printf("error %s", err->message);
        fprintf(stderr, "sim guest: %s\n", err->message);
        report(status_fd, msg, TRUE);
    }
    return 1;
}

static int
heartbeat_check(const char *image)
{
    XmSimHeartbeatScan scan = { 0 };
    g_autoptr(GError) err = NULL;
    g_autofree char *line = NULL;
    int rc;

    if (!xm_sim_hb_scan_file(image, &scan, &err)) {
        fprintf(stderr, "heartbeat-check: %s\n", err->message);
        return 2;
    }
    line = xm_sim_hb_scan_format(&scan);
    printf("%s\n", line);
    rc = scan.n == 0 || scan.missing > 0;
    xm_sim_hb_scan_clear(&scan);
    return rc;
}

static int
usage(void)
{
    fprintf(stderr,
            "usage: xenmig-sim-guest run --config FILE --status-fd N "
            "[--restore-fd N] [--paused]\n"
            "       xenmig-sim-guest heartbeat-check IMAGE\n");
    return 2;
}

int
main(int argc, char **argv)
{
    struct sigaction sa = { .sa_handler = on_sigterm };
    const char *config = NULL;
    int status_fd = -1, restore_fd = -1;
    gboolean paused = FALSE;

    if (argc == 3 && strcmp(argv[1], "heartbeat-check") == 0)
        return heartbeat_check(argv[2]);
    if (argc < 2 || strcmp(argv[1], "run") != 0)
        return usage();
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[++i];
        else if (strcmp(argv[i], "--status-fd") == 0 && i + 1 < argc)
            status_fd = atoi(argv[++i]);
        else if (strcmp(argv[i], "--restore-fd") == 0 && i + 1 < argc)
            restore_fd = atoi(argv[++i]);
        else if (strcmp(argv[i], "--paused") == 0)
            paused = TRUE;
        else
            return usage();
    }
    if (!config)
        return usage();

    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    return run(config, status_fd, restore_fd, paused);
}
