/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Starting xenmig-datapath detached: the daemon forks, its first process
 * exits once every socket listens, so waiting for that process tells
 * whether the daemon is ready. Its messages go to a log file, from which a
 * failure's reason is read back.
 */
#include "config.h"

#define G_LOG_DOMAIN "xenmig-datapath"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage-mirror/datapath-client.h"
#include "util/util.h"

#define SPAWN_TIMEOUT_US (30 * G_USEC_PER_SEC)

/* The last non-empty line the daemon wrote to the log after @start, without
 * its program-name prefix; NULL if none. */
static char *
last_log_line(int log_fd, off_t start)
{
    g_autoptr(GString) text = g_string_new(NULL);
    g_auto(GStrv) lines = NULL;
    char buf[4096];
    ssize_t n;
    off_t off = start;

    if (start < 0)
        return NULL;
    while ((n = pread(log_fd, buf, sizeof(buf), off)) > 0) {
        g_string_append_len(text, buf, n);
        off += n;
        /* only the tail matters */
        if (text->len > 65536)
            g_string_erase(text, 0, text->len - 65536);
    }
    lines = g_strsplit(text->str, "\n", -1);
    for (int i = (int) g_strv_length(lines) - 1; i >= 0; i--) {
        const char *l = g_strstrip(lines[i]);
        const char *prefix = "xenmig-datapath: ";

        if (!*l)
            continue;
        if (g_str_has_prefix(l, prefix))
            l += strlen(prefix);
        return g_strdup(l);
    }
    return NULL;
}

static pid_t
read_pid_file(const char *pid_file, GError **error)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;
    gint64 pid;

    if (!g_file_get_contents(pid_file, &text, NULL, &err)) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                    _("the datapath daemon left no pid file: %s"), err->message);
        return -1;
    }
    g_strstrip(text);
    if (!g_ascii_string_to_signed(text, 10, 2, G_MAXINT, &pid, NULL)) {
        g_set_error(error, XM_ERROR, XM_ERR_INTERNAL_ERROR,
                    _("bad pid file %s"), pid_file);
        return -1;
    }
    return (pid_t) pid;
}

gboolean
xm_datapath_pid_serves(pid_t pid, const char *control)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/cmdline", (int) pid);
    g_autofree char *cmdline = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &cmdline, &len, NULL))
        return FALSE;
    for (gsize off = 0; off < len; off += strlen(cmdline + off) + 1)
        if (g_str_equal(cmdline + off, control))
            return TRUE;
    return FALSE;
}

char *
xm_datapath_socket_dir(const char *state_dir, const char *kind, gsize name_max)
{
    g_autofree char *hash = NULL;

    if (strlen(state_dir) + name_max < sizeof(((struct sockaddr_un *) NULL)->sun_path))
        return g_strdup(state_dir);
    /* stable, so that a process opened again on the same state directory
     * finds the same sockets */
    hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, state_dir, -1);
    g_debug("%s is too deep for sockets; they go below the runtime directory", state_dir);
    return g_strdup_printf("%s/%s/%.16s", geteuid() == 0 ? "/run" : g_get_user_runtime_dir(),
                           kind, hash);
}

gboolean
xm_datapath_make_private_dir(const char *dir, GError **error)
{
    struct stat st;

    if (g_mkdir_with_parents(dir, 0700) < 0)
        return xm_set_error_errno(error, errno, XM_ERR_OPERATION_FAILED,
                                  _("cannot create '%s'"), dir);
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077)) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                    _("'%s' is not a private directory of this user"), dir);
        return FALSE;
    }
    return TRUE;
}

static gboolean
wait_gone(const char *control, pid_t pid, int pidfd, guint ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000LL;

    while (xm_datapath_pid_serves(pid, control)) {
        gint64 left = (end - g_get_monotonic_time()) / 1000;

        if (left <= 0)
            return FALSE;
        if (pidfd >= 0) {
            struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
            poll(&pfd, 1, MIN(left, 50));
        } else {
            g_usleep(10000);
        }
    }
    return TRUE;
}

void
xm_datapath_stop(const char *control, pid_t pid, int pidfd, guint wait_ms)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *reply = NULL;

    if (pid <= 0 || !xm_datapath_pid_serves(pid, control))
        return;
    reply = xm_datapath_call_raw(control, "QUIT", (int) wait_ms, NULL, &err);
    if (!reply || !g_str_has_prefix(reply, "OK"))
        g_debug("datapath %s: QUIT: %s", control, reply ? reply : err->message);
    if (!wait_gone(control, pid, pidfd, wait_ms)) {
        g_debug("datapath %s: pid %d did not quit; killing it", control, (int) pid);
        kill(pid, SIGKILL);
        wait_gone(control, pid, pidfd, wait_ms);
    }
}

/* Waits for the daemon's first process and stores its wait status, or -1
 * when someone else reaped it (SIGCHLD ignored or handled by the caller).
 * FALSE on timeout: then it is killed, and the daemon, whose report can no
 * longer be read, gives up by itself. */
static gboolean
wait_first_process(GPid pid, int *status)
{
    gint64 deadline = g_get_monotonic_time() + SPAWN_TIMEOUT_US;
    gboolean reaped_elsewhere = FALSE;

    for (;;) {
        pid_t r = reaped_elsewhere ? -1 : waitpid(pid, status, WNOHANG);

        if (r == pid)
            return TRUE;
        if (r < 0 && errno == ECHILD)
            reaped_elsewhere = TRUE;
        if (reaped_elsewhere && kill(pid, 0) < 0 && errno == ESRCH) {
            *status = -1;
            return TRUE;
        }
        if (g_get_monotonic_time() > deadline) {
            kill(pid, SIGKILL);
            while (!reaped_elsewhere && waitpid(pid, status, 0) < 0 && errno == EINTR)
                ;
            return FALSE;
        }
        g_usleep(10 * 1000);
    }
}

pid_t
xm_datapath_spawn(const char *control, const char *pid_file,
                  const char *log_path, const XmDatapathDisk *disks, size_t n,
                  GError **error)
{
    g_autofree char *program = xm_datapath_program();
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) err = NULL;
    g_autofree char *why = NULL;
    int null_fd = -1, log_fd = -1, status = 0;
    pid_t result = -1;
    off_t log_start;
    GPid pid;

    g_return_val_if_fail(control && pid_file && (disks || n == 0), -1);

    g_ptr_array_add(argv, g_strdup(program));
    g_ptr_array_add(argv, g_strdup("--daemon"));
    g_ptr_array_add(argv, g_strdup("--control"));
    g_ptr_array_add(argv, g_strdup(control));
    g_ptr_array_add(argv, g_strdup("--pid-file"));
    g_ptr_array_add(argv, g_strdup(pid_file));
    for (size_t i = 0; i < n; i++) {
        g_ptr_array_add(argv, g_strdup("--disk"));
        g_ptr_array_add(argv, g_strdup_printf("%s=%s=%s", disks[i].target,
                                              disks[i].image, disks[i].socket));
    }
    g_ptr_array_add(argv, NULL);

    null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0) {
        xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR, _("cannot open %s"),
                           "/dev/null");
        goto out;
    }
    if (log_path) {
        /* read back too: a failure's reason is the daemon's last line */
        log_fd = open(log_path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (log_fd < 0) {
            xm_set_error_errno(error, errno, XM_ERR_OPERATION_FAILED,
                               _("cannot open log file %s"), log_path);
            goto out;
        }
    }
    log_start = log_fd >= 0 ? lseek(log_fd, 0, SEEK_END) : -1;

    if (!g_spawn_async_with_fds(NULL, (char **) argv->pdata, NULL,
                                G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid,
                                null_fd, null_fd, log_fd >= 0 ? log_fd : null_fd,
                                &err)) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                    _("cannot run %s: %s"), program, err->message);
        goto out;
    }
    if (!wait_first_process(pid, &status)) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_TIMEOUT,
                    _("the datapath daemon %s was not ready within %d s"),
                    program, (int) (SPAWN_TIMEOUT_US / G_USEC_PER_SEC));
        goto out;
    }
    if (status == -1) {
        /* exit status unknown: a pid file naming a live daemon on
         * @control (not a stale one) means it started */
        pid_t daemon_pid = read_pid_file(pid_file, NULL);

        if (daemon_pid > 0 && xm_datapath_pid_serves(daemon_pid, control)) {
            result = daemon_pid;
            goto out;
        }
        status = 1 << 8;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        why = log_fd >= 0 ? last_log_line(log_fd, log_start) : NULL;
        if (why)
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                        _("the datapath daemon did not start: %s"), why);
        else if (WIFEXITED(status))
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                        _("the datapath daemon %s did not start (exit status %d)"),
                        program, WEXITSTATUS(status));
        else
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                        _("the datapath daemon %s did not start (signal %d)"),
                        program, WTERMSIG(status));
        goto out;
    }
    result = read_pid_file(pid_file, error);
    g_debug("datapath daemon for %s started, pid %d", control, (int) result);

 out:
    if (null_fd >= 0)
        close(null_fd);
    if (log_fd >= 0)
        close(log_fd);
    return result;
}
