/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A host's namespaces. The network namespace is a named one (ip netns), so
 * it outlives every process; the UTS and mount namespaces belong to a
 * small holder process that does nothing but exist. Every later command
 * (libvirtd's start, `exec`) enters the holder's namespaces with setns().
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab.h"

/* Reports a failure of the forked child to the parent and ends the child. */
static void G_GNUC_NORETURN G_GNUC_PRINTF(3, 4)
child_fail(int fd, int errsv, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;
    g_autofree char *full = NULL;
    ssize_t G_GNUC_UNUSED n;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    full = errsv ? g_strdup_printf("%s: %s", msg, g_strerror(errsv))
                 : g_steal_pointer(&msg);
    n = write(fd, full, strlen(full));
    _exit(1);
}

static void
child_bind(int fd, const char *src, const char *dst)
{
    if (mount(src, dst, "none", MS_BIND, NULL) < 0)
        child_fail(fd, errno, _("cannot bind-mount %s on %s"), src, dst);
}

static void
child_setup_mounts(int fd, const Lab *lab, const LabHost *host)
{
    g_autofree char *storage = lab_host_path(host, "storage");
    g_autofree char *run = lab_host_path(host, "run");
    g_autofree char *hosts = g_build_filename(lab->dir, "hosts", NULL);

    /* Without this, mounts made here would propagate back to the machine
     * wherever / is a shared mount (the systemd default). */
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
        child_fail(fd, errno, _("cannot make the mount namespace private"));
    if (g_mkdir_with_parents(LAB_IMAGE_DIR, 0755) < 0)
        child_fail(fd, errno, _("cannot create directory %s"), LAB_IMAGE_DIR);
    if (g_mkdir_with_parents(LAB_LIBVIRT_RUN_DIR, 0755) < 0)
        child_fail(fd, errno, _("cannot create directory %s"),
                   LAB_LIBVIRT_RUN_DIR);
    child_bind(fd, storage, LAB_IMAGE_DIR);
    /* libvirtd writes /run/libvirt/common/system.token whatever its socket
     * directory is; a private /run/libvirt keeps hosts (and the machine's
     * own libvirtd) apart and lets a plain xen:///system work inside. */
    child_bind(fd, run, LAB_LIBVIRT_RUN_DIR);
    child_bind(fd, hosts, "/etc/hosts");
}

static void G_GNUC_NORETURN
holder_main(int fd, const Lab *lab, const LabHost *host)
{
    /* Not g_autofree: this function never returns. */
    char *nspath = g_build_filename("/run/netns", host->netns, NULL);
    int nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
    int devnull;

    if (nsfd < 0)
        child_fail(fd, errno, _("cannot open %s"), nspath);
    g_free(nspath);
    if (setns(nsfd, CLONE_NEWNET) < 0)
        child_fail(fd, errno, _("cannot enter network namespace %s"),
                   host->netns);
    close(nsfd);
    if (unshare(CLONE_NEWUTS | CLONE_NEWNS) < 0)
        child_fail(fd, errno, _("cannot create UTS and mount namespaces"));
    if (sethostname(host->hostname, strlen(host->hostname)) < 0)
        child_fail(fd, errno, _("cannot set host name %s"), host->hostname);
    child_setup_mounts(fd, lab, host);

    /* Detach from the caller (its terminal, its pipes, its signals): the
     * holder lives until `xenmig-lab down`. */
    if (setsid() < 0)
        child_fail(fd, errno, "setsid");
    if (chdir("/") < 0)
        child_fail(fd, errno, "chdir /");
    devnull = open("/dev/null", O_RDWR);
    if (devnull < 0)
        child_fail(fd, errno, _("cannot open %s"), "/dev/null");
    dup2(devnull, STDIN_FILENO);
    dup2(devnull, STDOUT_FILENO);
    dup2(devnull, STDERR_FILENO);
    close(fd); /* end of file: success */
    close_range(3, ~0U, 0);
    prctl(PR_SET_NAME, "xenmig-lab-hold", 0, 0, 0);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGTERM, SIG_DFL);
    for (;;)
        pause();
}

/* Reads the child's report: nothing before end of file means success. */
static gboolean
read_child_report(int fd, const char *what, GError **error)
{
    GString *msg = g_string_new(NULL);
    char buf[512];
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        g_string_append_len(msg, buf, n);
    }
    if (msg->len) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED, "%s: %s",
                    what, msg->str);
        g_string_free(msg, TRUE);
        return FALSE;
    }
    g_string_free(msg, TRUE);
    return TRUE;
}

pid_t
lab_holder_spawn(const Lab *lab, const LabHost *host, GError **error)
{
    int fds[2];
    pid_t pid;
    int status;
    g_autofree char *what = NULL;

    if (pipe2(fds, O_CLOEXEC) < 0) {
        xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR, "pipe");
        return -1;
    }
    /* Double fork: the holder must not be our child, or it would be a
     * zombie-to-be that nobody reaps once it is killed by `down`. */
    pid = fork();
    if (pid < 0) {
        xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR, "fork");
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        pid_t grandchild;

        close(fds[0]);
        grandchild = fork();
        if (grandchild < 0) {
            pid_t none = -1;

            if (write(fds[1], &none, sizeof(none)) != sizeof(none))
                _exit(1);
            child_fail(fds[1], errno, "fork");
        }
        if (grandchild == 0) {
            /* The report starts with the holder's PID as raw bytes. */
            pid_t self = getpid();

            if (write(fds[1], &self, sizeof(self)) != sizeof(self))
                _exit(1);
            holder_main(fds[1], lab, host);
        }
        _exit(0);
    }
    close(fds[1]);
    what = g_strdup_printf(_("host %u"), host->index);
    {
        pid_t holder = -1;
        ssize_t n;

        do
            n = read(fds[0], &holder, sizeof(holder));
        while (n < 0 && errno == EINTR);
        waitpid(pid, &status, 0);
        if (n != sizeof(holder) || holder <= 0) {
            read_child_report(fds[0], what, error);
            if (error && !*error)
                g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                            _("%s: the namespace holder did not start"), what);
            close(fds[0]);
            return -1;
        }
        if (!read_child_report(fds[0], what, error)) {
            close(fds[0]);
            return -1;
        }
        close(fds[0]);
        return holder;
    }
}

gboolean
lab_ns_identity(const char *path, dev_t *dev, ino_t *ino)
{
    struct stat st;

    if (stat(path, &st) < 0)
        return FALSE;
    *dev = st.st_dev;
    *ino = st.st_ino;
    return TRUE;
}

static gboolean
pid_ns_is(pid_t pid, const char *ns, dev_t dev, ino_t ino)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/ns/%s", (int)pid, ns);
    dev_t d;
    ino_t i;

    return ino != 0 && lab_ns_identity(path, &d, &i) && d == dev && i == ino;
}

gboolean
lab_enter(const LabHost *host, GError **error)
{
    static const struct { const char *name; int type; } order[] = {
        { "net", CLONE_NEWNET }, { "uts", CLONE_NEWUTS }, { "mnt", CLONE_NEWNS },
    };
    int fds[G_N_ELEMENTS(order)];
    g_autofree char *cwd = g_get_current_dir();

    /* The PID in the state file may have been reused by now. */
    if (host->holder_pid <= 0 ||
        !pid_ns_is(host->holder_pid, "mnt", host->mntns_dev, host->mntns_ino)) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                    _("host %u is not running (its namespace holder, PID %d, is gone); run 'xenmig-lab down' and 'xenmig-lab up' again"),
                    host->index, (int)host->holder_pid);
        return FALSE;
    }
    for (guint i = 0; i < G_N_ELEMENTS(order); i++) {
        g_autofree char *path = g_strdup_printf("/proc/%d/ns/%s",
                                                (int)host->holder_pid,
                                                order[i].name);

        fds[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0) {
            xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                               _("cannot open %s"), path);
            while (i-- > 0)
                close(fds[i]);
            return FALSE;
        }
    }
    for (guint i = 0; i < G_N_ELEMENTS(order); i++) {
        if (setns(fds[i], order[i].type) < 0) {
            xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                               _("cannot enter the %s namespace of host %u"),
                               order[i].name, host->index);
            for (guint j = i; j < G_N_ELEMENTS(order); j++)
                close(fds[j]);
            return FALSE;
        }
        close(fds[i]);
    }
    /* Entering a mount namespace moves us to its root directory; the same
     * path is usually there too. */
    if (chdir(cwd) < 0 && chdir("/") < 0)
        return xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR, "chdir");
    return TRUE;
}

gboolean
lab_pid_alive(pid_t pid)
{
    g_autofree char *path = NULL;
    g_autofree char *stat = NULL;
    const char *p;

    if (pid <= 0 || kill(pid, 0) < 0)
        return FALSE;
    path = g_strdup_printf("/proc/%d/stat", (int)pid);
    if (!g_file_get_contents(path, &stat, NULL, NULL))
        return FALSE;
    /* "pid (comm) S ...": comm may hold spaces and parentheses. */
    p = strrchr(stat, ')');
    return !(p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

gboolean
lab_signal_and_wait(pid_t pid, int timeout_ms)
{
    if (!lab_pid_alive(pid))
        return TRUE;
    kill(pid, SIGTERM);
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        if (!lab_pid_alive(pid))
            return TRUE;
        g_usleep(50 * 1000);
    }
    return !lab_pid_alive(pid);
}

static GArray *
host_processes(const LabHost *host)
{
    GArray *pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
    DIR *d = opendir("/proc");
    struct dirent *de;
    pid_t self = getpid();

    if (!d)
        return pids;
    while ((de = readdir(d))) {
        char *end;
        long v = strtol(de->d_name, &end, 10);
        pid_t pid = (pid_t)v;

        if (*end || v <= 0 || pid == self)
            continue;
        if (pid_ns_is(pid, "net", host->netns_dev, host->netns_ino) ||
            pid_ns_is(pid, "mnt", host->mntns_dev, host->mntns_ino))
            g_array_append_val(pids, pid);
    }
    closedir(d);
    return pids;
}

/* Ends every process that lives in the host: libvirtd, the sim guests it
 * started, anything `exec` left behind, and the holder. */
guint
lab_kill_host_processes(const LabHost *host)
{
    g_autoptr(GArray) pids = host_processes(host);
    guint killed = pids->len;

    for (guint i = 0; i < pids->len; i++)
        kill(g_array_index(pids, pid_t, i), SIGTERM);
    for (int waited = 0; waited < 5000 && pids->len; waited += 50) {
        g_usleep(50 * 1000);
        g_array_unref(pids);
        pids = host_processes(host);
    }
    for (guint i = 0; i < pids->len; i++)
        kill(g_array_index(pids, pid_t, i), SIGKILL);
    for (int waited = 0; waited < 3000 && pids->len; waited += 50) {
        g_usleep(50 * 1000);
        g_array_unref(pids);
        pids = host_processes(host);
    }
    return killed;
}
