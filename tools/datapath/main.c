/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xenmig-datapath: serves each of a domain's disk images read-write on its
 * own unix socket, so that every guest write passes through our NBD server,
 * and runs tracked mirror jobs on them for a migration job that talks to it
 * over a control socket. With --daemon it detaches (its own session) so
 * that it outlives the libvirtd that started it; its first process exits
 * only once every socket listens, with the daemon's status.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xenmig/xenmig.h>
#include "util/util.h"
#include "datapath.h"

#define EXIT_USAGE 2

static void
print_error(const char *msg)
{
    fprintf(stderr, "xenmig-datapath: %s\n", msg);
}

/* Log lines carry a time stamp and the pid: several daemons may share a
 * log directory and the log outlives many migrations. */
static GLogWriterOutput
log_line(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
         gpointer data)
{
    const char *domain = NULL, *message = "";
    g_autoptr(GDateTime) now = NULL;
    g_autofree char *stamp = NULL;

    for (gsize i = 0; i < n_fields; i++) {
        if (g_str_equal(fields[i].key, "GLIB_DOMAIN"))
            domain = fields[i].value;
        else if (g_str_equal(fields[i].key, "MESSAGE"))
            message = fields[i].value;
    }
    if (g_log_writer_default_would_drop(level, domain))
        return G_LOG_WRITER_HANDLED;
    now = g_date_time_new_now_utc();
    stamp = g_date_time_format(now, "%F %T.%f");
    fprintf(stderr, "%s xenmig-datapath[%d]: %s%s%s%s\n", stamp, (int) getpid(),
            (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR))
                ? "warning: " : "",
            domain ? domain : "", domain ? ": " : "", message);
    return G_LOG_WRITER_HANDLED;
}

/* TARGET=IMAGE=SOCKET; the image path may itself contain '='. */
static gboolean
parse_disk(const char *spec, DpDisk *disk, GError **error)
{
    const char *first = strchr(spec, '=');
    const char *last = strrchr(spec, '=');

    if (!first || first == last || first == spec || last == first + 1 || !last[1]) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("--disk '%s' is not TARGET=IMAGE=SOCKET"), spec);
        return FALSE;
    }
    disk->target = g_strndup(spec, first - spec);
    disk->image = g_strndup(first + 1, last - first - 1);
    disk->socket = g_strdup(last + 1);
    /* PING lists the targets separated by commas */
    if (strpbrk(disk->target, ", \t")) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("disk target '%s' contains a comma or blank"), disk->target);
        return FALSE;
    }
    return TRUE;
}

static gboolean
parse_disks(Datapath *dp, char **specs, GError **error)
{
    dp->n_disks = specs ? g_strv_length(specs) : 0;
    dp->disks = g_new0(DpDisk, dp->n_disks);
    if (dp->n_disks == 0) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG, _("no --disk given"));
        return FALSE;
    }
    for (guint i = 0; i < dp->n_disks; i++) {
        if (!parse_disk(specs[i], &dp->disks[i], error))
            return FALSE;
        for (guint j = 0; j < i; j++) {
            if (g_str_equal(dp->disks[i].target, dp->disks[j].target) ||
                g_str_equal(dp->disks[i].socket, dp->disks[j].socket)) {
                g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                            _("--disk '%s' repeats the target or socket of another disk"),
                            specs[i]);
                return FALSE;
            }
        }
        if (g_str_equal(dp->disks[i].socket, dp->control_path)) {
            g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                        _("disk socket %s is the control socket"), dp->control_path);
            return FALSE;
        }
    }
    return TRUE;
}

/* Forks; the first process waits for the daemon's "OK" on a pipe and
 * exits with its status. Returns the pipe's write end in the daemon. */
static int
daemonize(void)
{
    int p[2], fd, status;
    char buf[2];
    ssize_t n;
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
        print_error(g_strerror(errno));
        exit(1);
    }
    if (pid > 0) {
        close(p[1]);
        do {
            n = read(p[0], buf, sizeof(buf));
        } while (n < 0 && errno == EINTR);
        if (n == 2 && memcmp(buf, "OK", 2) == 0)
            _exit(0);
        /* the daemon printed its reason and exits 1; anything else is a
         * crash, and nothing reported it yet */
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
            print_error(_("the daemon died during start-up"));
        _exit(1);
    }
    close(p[0]);
    if (setsid() < 0)
        g_warning("setsid: %s", g_strerror(errno));
    fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        close(fd);
    }
    return p[1];
}

static gboolean
start_disks(Datapath *dp, GError **error)
{
    for (guint i = 0; i < dp->n_disks; i++) {
        DpDisk *d = &dp->disks[i];
        XmNbdServerConfig config = { .image_path = d->image };

        d->server = xm_nbd_server_new(&config, error);
        if (!d->server ||
            !xm_nbd_server_listen_unix(d->server, d->socket, error) ||
            !xm_nbd_server_start(d->server, error)) {
            g_prefix_error(error, _("disk %s: "), d->target);
            return FALSE;
        }
    }
    return TRUE;
}

static void
stop_disks(Datapath *dp)
{
    /* closes every guest connection and removes the sockets */
    for (guint i = 0; i < dp->n_disks; i++)
        g_clear_pointer(&dp->disks[i].server, xm_nbd_server_free);
}

static gboolean
write_pid_file(Datapath *dp, GError **error)
{
    g_autofree char *text = g_strdup_printf("%d\n", (int) getpid());
    g_autoptr(GError) err = NULL;

    if (!g_file_set_contents_full(dp->pid_file, text, -1,
                                  G_FILE_SET_CONTENTS_CONSISTENT, 0644, &err)) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                    _("cannot write pid file: %s"), err->message);
        return FALSE;
    }
    return TRUE;
}

/* Everything a start-up failure or a shutdown must undo, in order: no
 * more requests, jobs ended, guests disconnected, files removed. */
static void
teardown(Datapath *dp, gboolean pid_file_written)
{
    if (dp->listen_fd >= 0) {
        close(dp->listen_fd);
        dp->listen_fd = -1;
        unlink(dp->control_path);
    }
    dp_cancel_all(dp);
    dp_control_close_all(dp);
    dp_free_jobs(dp);
    stop_disks(dp);
    if (pid_file_written)
        unlink(dp->pid_file);
}

static void
serve(Datapath *dp, int sig_fd)
{
    for (;;) {
        struct pollfd pfd[3] = { { .fd = dp->listen_fd, .events = POLLIN },
                                 { .fd = sig_fd, .events = POLLIN },
                                 { .fd = dp->wake_fd, .events = POLLIN } };

        if (poll(pfd, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            g_warning("poll: %s", g_strerror(errno));
            return;
        }
        if (pfd[1].revents) {
            struct signalfd_siginfo si;

            if (read(sig_fd, &si, sizeof(si)) == sizeof(si))
                g_message("signal %s: shutting down", strsignal(si.ssi_signo));
            return;
        }
        if (pfd[2].revents)
            return;
        if (pfd[0].revents) {
            dp_control_reap(dp);
            dp_control_accept(dp);
        }
    }
}

static int
run(Datapath *dp, int status_fd)
{
    g_autoptr(GError) err = NULL;
    gboolean pid_written = FALSE;
    sigset_t stop_sigs;
    int sig_fd;

    /* blocked before any thread exists, so that only the signalfd sees them */
    sigemptyset(&stop_sigs);
    sigaddset(&stop_sigs, SIGTERM);
    sigaddset(&stop_sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL);
    sig_fd = signalfd(-1, &stop_sigs, SFD_CLOEXEC);
    dp->wake_fd = eventfd(0, EFD_CLOEXEC);
    if (sig_fd < 0 || dp->wake_fd < 0) {
        xm_set_error_errno(&err, errno, XM_ERR_SYSTEM_ERROR, "signalfd/eventfd");
        goto fail;
    }
    if (!start_disks(dp, &err) || !dp_control_listen(dp, &err))
        goto fail;
    if (!write_pid_file(dp, &err))
        goto fail;
    pid_written = TRUE;
    if (status_fd >= 0) {
        /* fails only if whoever started us is gone: nobody would know we run */
        if (write(status_fd, "OK", 2) != 2) {
            xm_set_error_errno(&err, errno, XM_ERR_OPERATION_FAILED,
                               _("cannot report readiness"));
            goto fail;
        }
        close(status_fd);
    }
    g_message("serving %u disk(s); control socket %s", dp->n_disks, dp->control_path);
    for (guint i = 0; i < dp->n_disks; i++)
        g_message("disk %s: %s on %s", dp->disks[i].target, dp->disks[i].image,
                  dp->disks[i].socket);

    serve(dp, sig_fd);
    teardown(dp, TRUE);
    g_message("stopped");
    return 0;

 fail:
    teardown(dp, pid_written);
    print_error(err->message);
    return 1;
}

int
main(int argc, char **argv)
{
    g_autofree char *control = NULL;
    g_autofree char *pid_file = NULL;
    g_auto(GStrv) disk_specs = NULL;
    gboolean daemon_mode = FALSE;
    GOptionEntry entries[] = {
        { "control", 'c', 0, G_OPTION_ARG_FILENAME, &control,
          N_("Control socket to create (required)"), N_("SOCKET") },
        { "pid-file", 'p', 0, G_OPTION_ARG_FILENAME, &pid_file,
          N_("Write the daemon's pid here once it serves (required)"), N_("FILE") },
        { "daemon", 'd', 0, G_OPTION_ARG_NONE, &daemon_mode,
          N_("Detach; exit once every socket listens"), NULL },
        { "disk", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &disk_specs,
          N_("Serve IMAGE on unix SOCKET as disk TARGET (repeatable)"),
          N_("TARGET=IMAGE=SOCKET") },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = NULL;
    g_autoptr(GError) err = NULL;
    Datapath dp = { .listen_fd = -1, .wake_fd = -1 };
    sigset_t none;
    int status_fd = -1, rc;

    setlocale(LC_ALL, "");
    xm_init();
    textdomain(GETTEXT_PACKAGE);
    /* a control client or guest that goes away is a write error, not death */
    signal(SIGPIPE, SIG_IGN);
    /* nor is a hang-up of whatever terminal started us: the guest's disks
     * depend on this process */
    signal(SIGHUP, SIG_IGN);
    /* exec keeps the spawner's signal mask (libvirtd blocks some) */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    g_log_set_writer_func(log_line, NULL, NULL);

    ctx = g_option_context_new(_("- serve a domain's disks and mirror them on request"));
    g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        print_error(err->message);
        return EXIT_USAGE;
    }
    if (argc != 1 || !control || !pid_file) {
        print_error(_("usage: xenmig-datapath --control SOCKET --pid-file FILE "
                      "[--daemon] --disk TARGET=IMAGE=SOCKET..."));
        return EXIT_USAGE;
    }
    dp.control_path = control;
    dp.pid_file = pid_file;
    g_mutex_init(&dp.lock);
    g_cond_init(&dp.idle);
    dp.conns = g_ptr_array_new();
    if (!parse_disks(&dp, disk_specs, &err)) {
        print_error(err->message);
        rc = EXIT_USAGE;
    } else {
        if (daemon_mode)
            status_fd = daemonize();
        rc = run(&dp, status_fd);
    }

    for (guint i = 0; i < dp.n_disks; i++) {
        g_free(dp.disks[i].target);
        g_free(dp.disks[i].image);
        g_free(dp.disks[i].socket);
    }
    g_free(dp.disks);
    g_ptr_array_unref(dp.conns);
    g_cond_clear(&dp.idle);
    g_mutex_clear(&dp.lock);
    return rc;
}
