/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `xenmig-lab up N`: the hub, then per host its network, namespaces,
 * configuration and libvirtd; prints one URI per host. */
#include "config.h"

#include <errno.h>
#include <sys/un.h>
#include <unistd.h>

#include "lab.h"

/* The build tree the running executable lives in (<build>/tools/lab/),
 * or NULL when it is installed. */
static char *
build_dir_of_executable(void)
{
    g_autofree char *exe = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *build = NULL;
    g_autofree char *marker = NULL;

    if (!exe)
        return NULL;
    build = g_build_filename(exe, "..", "..", "..", NULL);
    {
        char *canon = g_canonicalize_filename(build, NULL);

        g_free(build);
        build = canon;
    }
    marker = g_build_filename(build, "meson-private", NULL);
    if (!g_file_test(marker, G_FILE_TEST_IS_DIR))
        return NULL;
    return g_steal_pointer(&build);
}

static char *
resolve_module_dir(const char *option, GError **error)
{
    g_autofree char *build = NULL;
    const char *env = g_getenv("XENMIG_LAB_MODULE_DIR");

    if (option)
        return g_canonicalize_filename(option, NULL);
    if (env && *env)
        return g_canonicalize_filename(env, NULL);
    build = build_dir_of_executable();
    if (!build) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("xenmig-lab does not run from a build tree; give the directory holding %s with --module-dir"),
                    LAB_MODULE_FILE);
        return NULL;
    }
    return g_build_filename(build, "src", "driver", NULL);
}

/* Paths end up inside quoted strings of libvirt's conf syntax and in
 * socket addresses; refuse what would not survive either. */
static gboolean
check_dir_usable(const Lab *lab, guint n, GError **error)
{
    g_autofree char *probe = g_strdup_printf("%s/host%u/run/libvirt-admin-sock",
                                             lab->dir, n);

    if (strpbrk(lab->dir, "\"'\\\n")) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("the lab directory %s contains a quote, backslash or newline"),
                    lab->dir);
        return FALSE;
    }
    if (strlen(probe) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("the lab directory %s is too long for libvirtd's socket paths; choose a shorter --dir"),
                    lab->dir);
        return FALSE;
    }
    return TRUE;
}

static gboolean
check_free(const Lab *lab, guint n, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autoptr(Lab) old = NULL;

    if (lab_state_exists(lab)) {
        old = lab_load(lab->dir, &local);
        if (!old) {
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                        _("%s; remove it or run 'xenmig-lab down'"),
                        local->message);
            return FALSE;
        }
        for (guint i = 0; i < old->hosts->len; i++) {
            LabHost *h = g_ptr_array_index(old->hosts, i);

            if (lab_pid_alive(h->holder_pid) || lab_pid_alive(h->libvirtd_pid) ||
                lab_netns_exists(h->netns)) {
                g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                            _("a lab is already up in %s (host %u is there); run 'xenmig-lab down' first"),
                            lab->dir, h->index);
                return FALSE;
            }
        }
        /* Only stale runtime files remain: clear them. */
        if (!lab_teardown(old, FALSE, error))
            return FALSE;
    }
    if (lab_netns_exists(lab->hub_netns)) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                    _("network namespace %s exists but no lab state names it; remove it with 'ip netns delete %s'"),
                    lab->hub_netns, lab->hub_netns);
        return FALSE;
    }
    for (guint i = 1; i <= n; i++) {
        g_autofree char *name = g_strdup_printf("%s-%u", lab->ns_prefix, i);

        if (lab_netns_exists(name)) {
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                        _("network namespace %s exists but no lab state names it; remove it with 'ip netns delete %s'"),
                        name, name);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
write_hosts_file(const Lab *lab, guint n, GError **error)
{
    g_autoptr(GString) text = g_string_new(
        "# Written by xenmig-lab: /etc/hosts inside every lab host.\n"
        "127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n");
    g_autofree char *path = g_build_filename(lab->dir, "hosts", NULL);

    for (guint i = 1; i <= n; i++)
        g_string_append_printf(text, LAB_SUBNET ".%u\txenmig-host%u\n", i, i);
    return g_file_set_contents_full(path, text->str, text->len,
                                    G_FILE_SET_CONTENTS_CONSISTENT, 0644, error);
}

static gboolean
make_host(Lab *lab, LabHost *host, GError **error)
{
    static const char *const subdirs[] = { "storage", "run", "etc", "log", "lib" };
    g_autofree char *mntns = NULL;

    for (guint i = 0; i < G_N_ELEMENTS(subdirs); i++) {
        g_autofree char *p = lab_host_path(host, subdirs[i]);

        if (!lab_mkdir(p, error))
            return FALSE;
    }
    if (!lab_net_add_host(lab, host, error) || !lab_save(lab, error))
        return FALSE;
    host->holder_pid = lab_holder_spawn(lab, host, error);
    if (host->holder_pid < 0) {
        host->holder_pid = 0;
        return FALSE;
    }
    mntns = g_strdup_printf("/proc/%d/ns/mnt", (int)host->holder_pid);
    if (!lab_ns_identity(mntns, &host->mntns_dev, &host->mntns_ino)) {
        lab_save(lab, NULL);
        return xm_set_error_errno(error, errno, XM_ERR_OPERATION_FAILED,
                                  _("host %u: the namespace holder (PID %d) is gone"),
                                  host->index, (int)host->holder_pid);
    }
    if (!lab_save(lab, error) || !lab_libvirtd_write_config(lab, host, error))
        return FALSE;
    host->libvirtd_pid = lab_libvirtd_spawn(lab, host, error);
    if (host->libvirtd_pid < 0) {
        host->libvirtd_pid = 0;
        return FALSE;
    }
    return lab_save(lab, error);
}

static gboolean
bring_up(Lab *lab, guint n, GError **error)
{
    g_autofree char *module = g_build_filename(lab->module_dir, LAB_MODULE_FILE, NULL);
    gboolean have_module = lab_module_present(lab);

    if (!have_module)
        g_printerr(_("xenmig-lab: warning: %s does not exist; the hosts' libvirtd run without the xen driver\n"),
                   module);
    if (!lab_mkdir(lab->dir, error) || !write_hosts_file(lab, n, error) ||
        !lab_save(lab, error) || !lab_net_create_hub(lab, error))
        return FALSE;
    for (guint i = 1; i <= n; i++) {
        LabHost *host = lab_add_host(lab);

        if (!make_host(lab, host, error))
            return FALSE;
    }
    /* All daemons start in parallel; wait for them in turn. */
    for (guint i = 0; i < lab->hosts->len; i++)
        if (!lab_libvirtd_wait(lab, g_ptr_array_index(lab->hosts, i),
                               have_module, error))
            return FALSE;
    return TRUE;
}

int
lab_cmd_up(const char *dir, int argc, char **argv)
{
    g_autofree char *dir_opt = NULL;
    g_autofree char *module_opt = NULL;
    g_autofree char *tls_opt = NULL;
    g_autofree char *datapath_opt = NULL;
    GOptionEntry entries[] = {
        { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir_opt,
          N_("Lab directory (default $XENMIG_LAB_DIR or /run/xenmig-lab)"), N_("DIR") },
        { "module-dir", 0, 0, G_OPTION_ARG_FILENAME, &module_opt,
          N_("Directory holding libvirt_driver_libxl.so (default: the build tree's src/driver)"), N_("DIR") },
        { "tls-dir", 0, 0, G_OPTION_ARG_FILENAME, &tls_opt,
          N_("Also listen for TLS (port 16514) with DIR/cacert.pem, DIR/host<i>/servercert.pem and DIR/host<i>/serverkey.pem"), N_("DIR") },
        { "sim-disk-datapath", 0, 0, G_OPTION_ARG_STRING, &datapath_opt,
          N_("How sim guests reach their disks on every host: nbd (through the datapath daemon, the default) or direct"), N_("MODE") },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new(_("N - start N libvirtd hosts"));
    g_autoptr(GError) error = NULL;
    g_autoptr(Lab) lab = NULL;
    guint64 n;

    g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        lab_print_error(error);
        return LAB_EXIT_USAGE;
    }
    if (argc != 2 || !g_ascii_string_to_unsigned(argv[1], 10, 1, LAB_MAX_HOSTS, &n, NULL)) {
        g_printerr(_("xenmig-lab up: give the number of hosts, 1 to %d\n"), LAB_MAX_HOSTS);
        return LAB_EXIT_USAGE;
    }
    /* checked here so that a typo fails before anything starts, not as
     * libvirtd's refusal to load the module */
    if (datapath_opt && g_strcmp0(datapath_opt, "nbd") != 0 &&
        g_strcmp0(datapath_opt, "direct") != 0) {
        g_printerr(_("xenmig-lab up: --sim-disk-datapath is nbd or direct, not '%s'\n"),
                   datapath_opt);
        return LAB_EXIT_USAGE;
    }
    lab = lab_new(dir_opt ? dir_opt : dir);
    lab->sim_disk_datapath = g_steal_pointer(&datapath_opt);
    if (tls_opt)
        lab->tls_dir = g_canonicalize_filename(tls_opt, NULL);
    if (!check_dir_usable(lab, (guint)n, &error) ||
        (lab->tls_dir && !lab_libvirtd_check_tls_dir(lab->tls_dir, (guint)n, &error)) ||
        !check_free(lab, (guint)n, &error) ||
        !(lab->module_dir = resolve_module_dir(module_opt, &error))) {
        lab_print_error(error);
        return LAB_EXIT_FAILURE;
    }
    if (!bring_up(lab, (guint)n, &error)) {
        g_autoptr(GError) down_error = NULL;

        lab_print_error(error);
        g_printerr(_("xenmig-lab: removing what was started; logs stay in %s/host*/log\n"),
                   lab->dir);
        if (!lab_teardown(lab, FALSE, &down_error))
            lab_print_error(down_error);
        return LAB_EXIT_FAILURE;
    }
    for (guint i = 0; i < lab->hosts->len; i++) {
        g_autofree char *uri = lab_host_uri(lab, g_ptr_array_index(lab->hosts, i));

        g_print("%s\n", uri);
    }
    return LAB_EXIT_OK;
}
