/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A stock libvirtd per host, started inside the host's namespaces with its
 * own configuration and the build's driver module. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lab.h"

static gboolean
write_file(const char *path, const char *text, GError **error)
{
    return g_file_set_contents_full(path, text, -1,
                                    G_FILE_SET_CONTENTS_CONSISTENT, 0644, error);
}

/* The files of host @index below --tls-dir, in libvirtd.conf's order of
 * ca_file, cert_file, key_file. */
static char **
tls_files(const char *tls_dir, guint index)
{
    g_autofree char *host = g_strdup_printf("host%u", index);
    char **files = g_new0(char *, 4);

    files[0] = g_build_filename(tls_dir, "cacert.pem", NULL);
    files[1] = g_build_filename(tls_dir, host, "servercert.pem", NULL);
    files[2] = g_build_filename(tls_dir, host, "serverkey.pem", NULL);
    return files;
}

/* Checked before anything starts: a missing file would otherwise show up
 * only as a libvirtd that exits during `up`. */
gboolean
lab_libvirtd_check_tls_dir(const char *tls_dir, guint n, GError **error)
{
    if (strpbrk(tls_dir, "\"'\\\n")) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("the TLS directory %s contains a quote, backslash or newline"),
                    tls_dir);
        return FALSE;
    }
    for (guint i = 1; i <= n; i++) {
        g_auto(GStrv) files = tls_files(tls_dir, i);

        for (guint f = 0; files[f]; f++) {
            if (access(files[f], R_OK) < 0)
                return xm_set_error_errno(error, errno, XM_ERR_INVALID_ARG,
                                          _("host %u: cannot read %s (--tls-dir needs cacert.pem, and servercert.pem and serverkey.pem in host%u/)"),
                                          i, files[f], i);
        }
    }
    return TRUE;
}

static gboolean
write_config(const char *path, const char *base, const char *tls, GError **error)
{
    g_autofree char *text = g_strconcat(base, tls, NULL);

    return write_file(path, text, error);
}

gboolean
lab_libvirtd_write_config(const Lab *lab, const LabHost *host, GError **error)
{
    g_autofree char *etc = lab_host_path(host, "etc");
    g_autofree char *run = lab_host_path(host, "run");
    g_autofree char *log = lab_host_path(host, "log");
    g_autofree char *lib = lab_host_path(host, "lib");
    g_autofree char *conf = g_build_filename(etc, "libvirtd.conf", NULL);
    g_autofree char *xmconf = g_build_filename(etc, "xenmig.conf", NULL);
    g_autofree char *logfile = g_build_filename(log, "libvirtd.log", NULL);
    g_autofree char *libvirtd_text = NULL;
    g_autofree char *tls_text = NULL;
    g_autofree char *xenmig_text = NULL;
    g_autofree char *datapath_text = NULL;

    /* Everything in these files is ours; values carry no quotes because
     * lab paths are checked for them in `up`. */
    libvirtd_text = g_strdup_printf(
        "# Written by xenmig-lab for host %u; rewritten by every 'up'.\n"
        "unix_sock_dir = \"%s\"\n"
        "unix_sock_ro_perms = \"0777\"\n"
        "unix_sock_rw_perms = \"0700\"\n"
        "auth_unix_ro = \"none\"\n"
        "auth_unix_rw = \"none\"\n"
        "listen_tcp = 1\n"
        "listen_addr = \"%s\"\n"
        "tcp_port = \"%d\"\n"
        "auth_tcp = \"none\"\n"
        "log_outputs = \"3:file:%s\"\n",
        host->index, run, host->address, LAB_LIBVIRTD_PORT, logfile);
    if (lab->tls_dir) {
        g_auto(GStrv) files = tls_files(lab->tls_dir, host->index);

        /* x509 is the authentication: any client certificate the CA
         * signed is let in, and clients must verify ours. */
        tls_text = g_strdup_printf(
            "listen_tls = 1\n"
            "tls_port = \"%d\"\n"
            "auth_tls = \"none\"\n"
            "tls_no_verify_certificate = 0\n"
            "ca_file = \"%s\"\n"
            "cert_file = \"%s\"\n"
            "key_file = \"%s\"\n",
            LAB_LIBVIRTD_TLS_PORT, files[0], files[1], files[2]);
    } else {
        tls_text = g_strdup("listen_tls = 0\n");
    }
    xenmig_text = g_strdup_printf(
        "# Written by xenmig-lab for host %u; rewritten by every 'up'.\n"
        "backend = \"sim\"\n"
        "state_dir = \"%s/libxl\"\n"
        "config_dir = \"%s/libxl\"\n"
        "autostart_dir = \"%s/libxl/autostart\"\n"
        "save_dir = \"%s/save\"\n"
        "sim_host_name = \"%s\"\n"
        "sim_host_memory_mib = 8192\n"
        "sim_host_cpus = 4\n",
        host->index, run, etc, etc, lib, host->hostname);
    /* Without the option the backend's own default stays in force. */
    datapath_text = lab->sim_disk_datapath
        ? g_strdup_printf("sim_disk_datapath = \"%s\"\n", lab->sim_disk_datapath)
        : g_strdup("");
    return lab_mkdir(etc, error) && lab_mkdir(log, error) &&
           lab_mkdir(lib, error) &&
           write_config(conf, libvirtd_text, tls_text, error) &&
           write_config(xmconf, xenmig_text, datapath_text, error);
}

/* The sim backend starts guests with this program; a build tree has it. */
static char *
find_sim_guest(const Lab *lab)
{
    const char *env = g_getenv("XENMIG_SIM_GUEST");
    g_autofree char *build = NULL;
    static const char *const subpaths[] = {
        "src/backend/xenmig-sim-guest", "src/backend/sim/xenmig-sim-guest",
    };

    if (env && *env)
        return g_strdup(env);
    if (!lab->module_dir)
        return NULL;
    /* module_dir is <build>/src/driver in a build tree. */
    build = g_build_filename(lab->module_dir, "..", "..", NULL);
    for (guint i = 0; i < G_N_ELEMENTS(subpaths); i++) {
        g_autofree char *p = g_build_filename(build, subpaths[i], NULL);

        if (g_file_test(p, G_FILE_TEST_IS_EXECUTABLE))
            return g_canonicalize_filename(p, NULL);
    }
    return NULL;
}

static void G_GNUC_NORETURN
libvirtd_child(int report_fd, const Lab *lab, const LabHost *host)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *etc = lab_host_path(host, "etc");
    g_autofree char *conf = g_build_filename(etc, "libvirtd.conf", NULL);
    g_autofree char *xmconf = g_build_filename(etc, "xenmig.conf", NULL);
    g_autofree char *pidfile = g_build_filename(host->dir, "run", "libvirtd.pid", NULL);
    g_autofree char *out = g_build_filename(host->dir, "log", "libvirtd.out", NULL);
    g_autofree char *sim_guest = find_sim_guest(lab);
    g_autofree char *index = g_strdup_printf("%u", host->index);
    const char *argv[] = {
        "libvirtd", "--listen", "--config", conf, "--pid-file", pidfile, NULL,
    };
    g_autofree char *msg = NULL;
    int fd;
    ssize_t G_GNUC_UNUSED n;

    if (!lab_enter(host, &error))
        goto fail;
    setsid();
    fd = open("/dev/null", O_RDONLY);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        close(fd);
    }
    fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        xm_set_error_errno(&error, errno, XM_ERR_OPEN_FAILED,
                           _("cannot open %s"), out);
        goto fail;
    }
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close_range(3, report_fd - 1, 0);
    close_range(report_fd + 1, ~0U, 0);
    g_unsetenv("LIBVIRT_DEFAULT_URI");
    g_setenv("LIBVIRT_DRIVER_DIR", lab->module_dir, TRUE);
    g_setenv("XENMIG_CONF", xmconf, TRUE);
    g_setenv("XENMIG_LAB_HOST", index, TRUE);
    if (sim_guest)
        g_setenv("XENMIG_SIM_GUEST", sim_guest, TRUE);
    execv(LAB_LIBVIRTD, (char **)argv);
    xm_set_error_errno(&error, errno, XM_ERR_SYSTEM_ERROR,
                       _("cannot run %s"), LAB_LIBVIRTD);
 fail:
    msg = g_strdup(error->message);
    n = write(report_fd, msg, strlen(msg));
    _exit(127);
}

pid_t
lab_libvirtd_spawn(const Lab *lab, const LabHost *host, GError **error)
{
    int fds[2];
    pid_t pid;
    GString *msg;
    char buf[512];
    ssize_t n;

    if (!g_file_test(LAB_LIBVIRTD, G_FILE_TEST_IS_EXECUTABLE)) {
        g_set_error(error, XM_ERROR, XM_ERR_NO_SUPPORT,
                    _("%s is not installed (Debian package libvirt-daemon)"),
                    LAB_LIBVIRTD);
        return -1;
    }
    /* A close-on-exec pipe: end of file without data means exec worked. */
    if (pipe2(fds, O_CLOEXEC) < 0) {
        xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR, "pipe");
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR, "fork");
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        libvirtd_child(fds[1], lab, host);
    }
    close(fds[1]);
    msg = g_string_new(NULL);
    while ((n = read(fds[0], buf, sizeof(buf))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        g_string_append_len(msg, buf, n);
    }
    close(fds[0]);
    if (msg->len) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                    _("host %u: cannot start libvirtd: %s"), host->index, msg->str);
        g_string_free(msg, TRUE);
        return -1;
    }
    g_string_free(msg, TRUE);
    return pid;
}

gboolean
lab_module_present(const Lab *lab)
{
    g_autofree char *path = NULL;

    if (!lab->module_dir)
        return FALSE;
    path = g_build_filename(lab->module_dir, LAB_MODULE_FILE, NULL);
    return g_file_test(path, G_FILE_TEST_EXISTS);
}

char *
lab_log_tail(const char *path, guint lines)
{
    g_autofree char *text = NULL;
    gsize len;
    const char *p;
    guint seen = 0;

    if (!g_file_get_contents(path, &text, &len, NULL) || len == 0)
        return g_strdup("");
    p = text + len;
    if (p > text && p[-1] == '\n')
        p--;
    while (p > text) {
        if (p[-1] == '\n' && ++seen == lines)
            break;
        p--;
    }
    return g_strdup(p);
}

static gboolean
socket_answers(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd;
    gboolean ok;

    if (strlen(path) >= sizeof(sa.sun_path))
        return FALSE;
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return FALSE;
    ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

static GError *
died_error(const LabHost *host)
{
    g_autofree char *out = lab_host_path(host, "log/libvirtd.out");
    g_autofree char *log = lab_host_path(host, "log/libvirtd.log");
    g_autofree char *tail = lab_log_tail(log, 5);
    const char *path = log;

    /* Errors before logging is set up only reach standard error. */
    if (!*tail) {
        g_free(tail);
        tail = lab_log_tail(out, 5);
        path = out;
    }
    return g_error_new(XM_ERROR, XM_ERR_OPERATION_FAILED,
                       _("host %u: libvirtd (PID %d) exited; the end of %s:\n%s"),
                       host->index, (int)host->libvirtd_pid, path, tail);
}

/* Asks the driver through stock virsh: the same path every user takes. */
static gboolean
driver_answers(const Lab *lab, const LabHost *host, char **err_out)
{
    g_autofree char *uri = lab_host_uri(lab, host);
    const char *argv[] = { "timeout", "20", "virsh", "-q", "-c", uri, "uri", NULL };
    g_auto(GStrv) env = g_environ_unsetenv(g_get_environ(), "LIBVIRT_DEFAULT_URI");
    int status = 0;

    g_clear_pointer(err_out, g_free);
    if (!g_spawn_sync(NULL, (char **)argv, env,
                      G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                      NULL, NULL, NULL, err_out, &status, NULL))
        return FALSE;
    return g_spawn_check_wait_status(status, NULL);
}

gboolean
lab_libvirtd_wait(const Lab *lab, const LabHost *host, gboolean check_driver,
                  GError **error)
{
    g_autofree char *sock = lab_host_socket(host);
    g_autofree char *err_out = NULL;
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;

    while (!socket_answers(sock)) {
        if (!lab_pid_alive(host->libvirtd_pid)) {
            g_propagate_error(error, died_error(host));
            return FALSE;
        }
        if (g_get_monotonic_time() > deadline) {
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_TIMEOUT,
                        _("host %u: libvirtd did not open %s within 30 s"),
                        host->index, sock);
            return FALSE;
        }
        g_usleep(100 * 1000);
    }
    if (!check_driver)
        return TRUE;
    deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
    while (!driver_answers(lab, host, &err_out)) {
        if (!lab_pid_alive(host->libvirtd_pid)) {
            g_propagate_error(error, died_error(host));
            return FALSE;
        }
        if (g_get_monotonic_time() > deadline) {
            g_autofree char *log = lab_host_path(host, "log/libvirtd.log");

            g_set_error(error, XM_ERROR, XM_ERR_NO_CONNECT,
                        _("host %u: libvirtd runs but the xen driver from %s does not answer: %s(see %s)"),
                        host->index, lab->module_dir,
                        err_out ? err_out : "", log);
            return FALSE;
        }
        g_usleep(250 * 1000);
    }
    return TRUE;
}
