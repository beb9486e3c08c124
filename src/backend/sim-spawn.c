/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Starting sim guests as detached processes (their own session, re-parented
 * away from us) so that they outlive a libvirtd restart like real domains,
 * and the per-domain state files that let a new backend find them again.
 */
#include "config.h"

#define G_LOG_DOMAIN "xenmig-sim"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/sim-private.h"
#include "util/util.h"

#define STARTUP_TIMEOUT_MS 60000

char *
sim_path(SimBackend *sb, int domid, const char *suffix)
{
    g_autofree char *base = g_strdup_printf("%d.%s", domid, suffix);

    return g_build_filename(sb->dir, base, NULL);
}

char *
sim_sock_path(SimBackend *sb, int domid, const char *suffix)
{
    g_autofree char *base = g_strdup_printf("%d.%s", domid, suffix);

    return g_build_filename(sb->sock_dir, base, NULL);
}

/* Field 22 of /proc/PID/stat, and the state letter; FALSE if gone. */
static gboolean
read_stat(pid_t pid, char *state, guint64 *starttime)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int) pid);
    g_autofree char *text = NULL;
    g_auto(GStrv) fields = NULL;
    const char *p;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return FALSE;
    p = strrchr(text, ')');       /* the command name may contain spaces */
    if (!p || p[1] != ' ')
        return FALSE;
    fields = g_strsplit(p + 2, " ", 0);
    if (g_strv_length(fields) < 20)
        return FALSE;
    *state = fields[0][0];
    *starttime = g_ascii_strtoull(fields[19], NULL, 10);
    return TRUE;
}

guint64
sim_proc_starttime(pid_t pid)
{
    char state;
    guint64 start = 0;

    return read_stat(pid, &state, &start) ? start : 0;
}

gboolean
sim_proc_alive(pid_t pid, guint64 starttime)
{
    char state;
    guint64 start;

    if (pid <= 0 || !read_stat(pid, &state, &start))
        return FALSE;
    /* an unreaped zombie is dead for us: nobody may reap it soon */
    return start == starttime && state != 'Z' && state != 'X';
}

int
sim_pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
    int fd = syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0)
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
#else
    return -1;
#endif
}

char *
sim_guest_program(void)
{
    return xm_helper_program("XENMIG_SIM_GUEST", "src/backend", "xenmig-sim-guest");
}

/* Removes every "<domid>.*" entry of @dir, logs too unless @keep_log. */
static void
remove_domain_entries(const char *dir, int domid, gboolean keep_log)
{
    g_autofree char *prefix = g_strdup_printf("%d.", domid);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *entry;

    while (d && (entry = g_dir_read_name(d))) {
        g_autofree char *p = NULL;
        if (!g_str_has_prefix(entry, prefix) ||
            (keep_log && g_str_has_suffix(entry, ".log")))
            continue;
        p = g_build_filename(dir, entry, NULL);
        unlink(p);
    }
}

/* The guest's files (conf, pid, sock, exit and the temporary files of an
 * exit file being written when the guest was killed, log) and its
 * datapath's (dp.pid, dp.log, the sockets, perhaps in sock_dir). */
void
sim_remove_files(SimBackend *sb, int domid, gboolean keep_log)
{
    remove_domain_entries(sb->dir, domid, keep_log);
    if (strcmp(sb->sock_dir, sb->dir) != 0)
        remove_domain_entries(sb->sock_dir, domid, keep_log);
}

void
sim_kill_pid_and_wait(pid_t pid, guint64 starttime, int pidfd)
{
    if (!sim_proc_alive(pid, starttime))
        return;
    kill(pid, SIGKILL);
    for (int i = 0; i < 500 && sim_proc_alive(pid, starttime); i++) {
        if (pidfd >= 0) {
            struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
            if (poll(&pfd, 1, 10) > 0)
                break;
        } else {
            g_usleep(10000);
        }
    }
}

void
sim_kill_and_wait(SimDomain *dom)
{
    sim_kill_pid_and_wait(dom->pid, dom->starttime, dom->pidfd);
}

/* Reads the guest's start-up report: "pid N" then "ok" | "error MSG". */
static gboolean
read_status(int fd, gboolean restoring, GCancellable *cancellable, pid_t *pid,
            GError **error)
{
    g_autoptr(GString) buf = g_string_new(NULL);
    /* a restore takes as long as its stream: only @cancellable ends it (the
     * guest gives up by itself when the stream breaks) */
    gint64 deadline = restoring ? G_MAXINT64
                                : g_get_monotonic_time() + STARTUP_TIMEOUT_MS * 1000LL;
    int cancel_fd = cancellable ? g_cancellable_get_fd(cancellable) : -1;
    gboolean ok = FALSE, done = FALSE;

    while (!done) {
        struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN },
                                 { .fd = cancel_fd, .events = POLLIN } };
        gint64 left = deadline - g_get_monotonic_time();
        char chunk[256];
        ssize_t n;
        char *nl;

        if (left <= 0) {
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_TIMEOUT,
                        _("the sim guest did not start in time"));
            break;
        }
        if (poll(pfd, cancel_fd >= 0 ? 2 : 1,
                 restoring ? -1 : (int) (left / 1000) + 1) < 0) {
            if (errno == EINTR)
                continue;
            xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR, "poll");
            break;
        }
        if (cancel_fd >= 0 && pfd[1].revents) {
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_ABORTED,
                        _("the operation was cancelled"));
            break;
        }
        if (!pfd[0].revents)
            continue;
        n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                        _("the sim guest exited during start-up"));
            break;
        }
        g_string_append_len(buf, chunk, n);
        while ((nl = strchr(buf->str, '\n'))) {
            *nl = '\0';
            if (g_str_has_prefix(buf->str, "pid ")) {
                *pid = atoi(buf->str + 4);
            } else if (strcmp(buf->str, "ok") == 0) {
                ok = done = TRUE;
            } else if (g_str_has_prefix(buf->str, "error ")) {
                g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED, "%s",
                            buf->str + 6);
                done = TRUE;
            }
            g_string_erase(buf, 0, nl - buf->str + 1);
            if (done)
                break;
        }
    }
    if (cancel_fd >= 0)
        g_cancellable_release_fd(cancellable);
    return ok;
}

static int
dup_high(int fd)
{
    return fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 10);
}

pid_t
sim_spawn_guest(SimBackend *sb, int domid, int restore_fd, gboolean paused,
                GCancellable *cancellable, GError **error)
{
    g_autofree char *conf = sim_path(sb, domid, "conf");
    g_autofree char *log = sim_path(sb, domid, "log");
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    int status[2], nullfd, logfd, rfd, sfd, wstatus;
    pid_t child, pid = -1;
    gboolean ok;

    if (!g_file_test(sb->guest_prog, G_FILE_TEST_IS_EXECUTABLE)) {
        g_set_error(error, XM_ERROR, XM_ERR_INTERNAL_ERROR,
                    _("sim guest program '%s' not found (set XENMIG_SIM_GUEST)"),
                    sb->guest_prog);
        return -1;
    }
    g_ptr_array_add(argv, sb->guest_prog);
    g_ptr_array_add(argv, (char *) "run");
    g_ptr_array_add(argv, (char *) "--config");
    g_ptr_array_add(argv, conf);
    g_ptr_array_add(argv, (char *) "--status-fd");
    g_ptr_array_add(argv, (char *) "4");
    if (restore_fd >= 0) {
        g_ptr_array_add(argv, (char *) "--restore-fd");
        g_ptr_array_add(argv, (char *) "3");
    }
    if (paused)
        g_ptr_array_add(argv, (char *) "--paused");
    g_ptr_array_add(argv, NULL);

    if (pipe2(status, O_CLOEXEC) < 0)
        return xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR, "pipe"), -1;
    nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
    logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    /* above the fds the child is going to set up, so dup2 cannot clobber */
    rfd = dup_high(restore_fd);
    sfd = dup_high(status[1]);
    close(status[1]);
    if (nullfd < 0 || logfd < 0 || sfd < 0 || (restore_fd >= 0 && rfd < 0)) {
        xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                           _("cannot prepare the sim guest's files"));
        goto cleanup;
    }
    {
        int n = dup_high(nullfd), l = dup_high(logfd);
        close(nullfd);
        close(logfd);
        nullfd = n;
        logfd = l;
    }

    child = fork();
    if (child < 0) {
        xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR, "fork");
        goto cleanup;
    }
    if (child == 0) {
        /* only async-signal-safe calls from here on */
        sigset_t all;
        pid_t grandchild;

        setsid();
        grandchild = fork();
        if (grandchild != 0)
            _exit(grandchild < 0);
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        signal(SIGPIPE, SIG_DFL);
        dup2(nullfd, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        if (rfd >= 0)
            dup2(rfd, 3);
        else
            close(3);
        dup2(sfd, 4);
        syscall(SYS_close_range, 5, ~0U, 0);
        execv(argv->pdata[0], (char **) argv->pdata);
        _exit(127);
    }
    while (waitpid(child, &wstatus, 0) < 0 && errno == EINTR)
        ;
    close(sfd);
    sfd = -1;

    ok = read_status(status[0], restore_fd >= 0, cancellable, &pid, error);
    if (!ok) {
        if (pid > 0)
            sim_kill_pid_and_wait(pid, sim_proc_starttime(pid), -1);
        pid = -1;
    }

cleanup:
    close(status[0]);
    if (sfd >= 0)
        close(sfd);
    if (rfd >= 0)
        close(rfd);
    if (nullfd >= 0)
        close(nullfd);
    if (logfd >= 0)
        close(logfd);
    return pid;
}
