/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/sim-proto.h"
#include "backend-test.h"

/* static, so that the abort handler needs no allocation to read it */
static char watched_dir[4096];

char *
bt_make_disk(const char *dir, const char *name, guint64 size)
{
    char *path = g_build_filename(dir, name, NULL);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    close(fd);
    return path;
}

void
bt_sim_config(XmBackendConfig *cfg, const char *dir)
{
    cfg->backend = (char *) "sim";
    cfg->state_dir = g_build_filename(dir, "state", NULL);
    cfg->sim_host_name = (char *) "host-a";
    cfg->sim_host_memory_mib = 1024;
    cfg->sim_host_cpus = 2;
}

int
bt_create(XmBackend *b, const XmDomainDef *def, gboolean paused)
{
    g_autoptr(GError) err = NULL;
    int domid = xm_backend_ops(b)->create(b, def, paused, &err);

    g_assert_no_error(err);
    g_assert_cmpint(domid, >, 0);
    return domid;
}

gboolean
bt_process_alive(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int) pid);
    g_autofree char *text = NULL;
    const char *p;

    if (pid <= 0 || !g_file_get_contents(path, &text, NULL, NULL))
        return FALSE;
    p = strrchr(text, ')');
    return p && p[2] != 'Z' && p[2] != 'X';
}

char *
bt_heartbeat_check(const char *disk, int *status)
{
    g_autofree char *prog = g_build_filename(BUILDDIR, "src", "backend",
                                             "xenmig-sim-guest", NULL);
    const char *argv[] = { prog, "heartbeat-check", disk, NULL };
    g_autoptr(GError) err = NULL;
    char *out = NULL;
    int wstatus = 0;

    g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL,
                               NULL, &out, NULL, &wstatus, &err));
    g_assert_no_error(err);
    *status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    g_strstrip(out);
    g_test_message("heartbeat-check: %s", out);
    return out;
}

guint64
bt_field(const char *line, const char *key)
{
    return xm_sim_reply_get_u64(line, key, G_MAXUINT64);
}

int
bt_procs_with(const char *needle, pid_t *out, int max)
{
    GDir *d = g_dir_open("/proc", 0, NULL);
    const char *name;
    int n = 0;

    while (d && (name = g_dir_read_name(d))) {
        char path[64], buf[8192];
        ssize_t len;
        int fd;
        pid_t pid = atoi(name);

        if (pid <= 0 || pid == getpid())
            continue;
        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        len = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (len <= 0)
            continue;
        for (ssize_t i = 0; i < len; i++) {
            if (buf[i] == '\0')
                buf[i] = ' ';
        }
        buf[len] = '\0';
        if (strstr(buf, needle) && n < max)
            out[n++] = pid;
    }
    if (d)
        g_dir_close(d);
    return n;
}

void
bt_watch_dir(const char *dir)
{
    if (dir)
        g_strlcpy(watched_dir, dir, sizeof(watched_dir));
    else
        watched_dir[0] = '\0';
}

void
bt_kill_test_processes(void)
{
    pid_t pids[64];
    int n = watched_dir[0] ? bt_procs_with(watched_dir, pids, 64) : 0;

    for (int i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
}

static void
on_abort(int sig)
{
    bt_kill_test_processes();
    signal(sig, SIG_DFL);
    raise(sig);
}

void
bt_kill_on_abort(void)
{
    signal(SIGABRT, on_abort);
    signal(SIGTERM, on_abort);
}
