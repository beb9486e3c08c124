/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `xenmig-lab down` and `xenmig-lab status`. */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <unistd.h>

#include "lab.h"

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    if (remove(path) < 0 && errno != ENOENT)
        g_printerr(_("xenmig-lab: cannot remove %s: %s\n"), path, g_strerror(errno));
    return 0;
}

/* Removes @path and everything below it, staying on its file system so
 * that a mount found below is never emptied. */
static void
remove_tree(const char *path)
{
    if (g_file_test(path, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK))
        nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static void
remove_file(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);

    if (unlink(path) < 0 && errno != ENOENT)
        g_printerr(_("xenmig-lab: cannot remove %s: %s\n"), path, g_strerror(errno));
}

/* libvirtd first, alone, so that it can shut its driver down cleanly;
 * then whatever else lives in the host. */
static void
stop_host(LabHost *host)
{
    g_autofree char *nspath = g_build_filename("/run/netns", host->netns, NULL);
    g_autofree char *netpath = NULL;

    /* A state written before the identity was known still names the
     * namespace: take it from the name. */
    if (host->netns_ino == 0)
        lab_ns_identity(nspath, &host->netns_dev, &host->netns_ino);
    netpath = g_strdup_printf("/proc/%d/ns/net", (int)host->libvirtd_pid);
    if (host->libvirtd_pid > 0 && host->netns_ino != 0) {
        dev_t dev;
        ino_t ino;

        /* The PID may belong to someone else by now. */
        if (lab_ns_identity(netpath, &dev, &ino) &&
            dev == host->netns_dev && ino == host->netns_ino)
            lab_signal_and_wait(host->libvirtd_pid, 10000);
    }
    lab_kill_host_processes(host);
}

gboolean
lab_teardown(Lab *lab, gboolean purge, GError **error)
{
    gboolean ok = TRUE;

    for (guint i = 0; i < lab->hosts->len; i++) {
        LabHost *host = g_ptr_array_index(lab->hosts, i);
        g_autoptr(GError) local = NULL;

        stop_host(host);
        if (!lab_net_delete(host->netns, &local)) {
            if (ok)
                g_propagate_error(error, g_steal_pointer(&local));
            ok = FALSE;
        }
    }
    {
        g_autoptr(GError) local = NULL;

        if (!lab_net_delete(lab->hub_netns, &local)) {
            if (ok)
                g_propagate_error(error, g_steal_pointer(&local));
            ok = FALSE;
        }
    }
    for (guint i = 0; i < lab->hosts->len; i++) {
        LabHost *host = g_ptr_array_index(lab->hosts, i);

        if (purge) {
            remove_tree(host->dir);
        } else {
            g_autofree char *run = lab_host_path(host, "run");
            g_autofree char *etc = lab_host_path(host, "etc");

            remove_tree(run);
            remove_file(etc, "libvirtd.conf");
            remove_file(etc, "xenmig.conf");
        }
    }
    remove_file(lab->dir, "hosts");
    if (ok)
        remove_file(lab->dir, "lab.state");
    if (purge)
        rmdir(lab->dir);
    return ok;
}

int
lab_cmd_down(const char *dir, int argc, char **argv)
{
    g_autofree char *dir_opt = NULL;
    gboolean purge = FALSE;
    GOptionEntry entries[] = {
        { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir_opt,
          N_("Lab directory (default $XENMIG_LAB_DIR or /run/xenmig-lab)"), N_("DIR") },
        { "purge", 0, 0, G_OPTION_ARG_NONE, &purge,
          N_("Also remove the hosts' storage, domain definitions and logs"), NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new(_("- stop the lab and remove what it made"));
    g_autoptr(GError) error = NULL;
    g_autoptr(Lab) lab = NULL;

    g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        lab_print_error(error);
        return LAB_EXIT_USAGE;
    }
    if (argc != 1) {
        g_printerr(_("xenmig-lab down: unexpected argument '%s'\n"), argv[1]);
        return LAB_EXIT_USAGE;
    }
    lab = lab_new(dir_opt ? dir_opt : dir);
    if (!lab_state_exists(lab)) {
        /* Nothing is up: still honour --purge on what a previous lab kept. */
        if (purge) {
            for (guint i = 1; i <= LAB_MAX_HOSTS; i++) {
                g_autofree char *p = g_strdup_printf("%s/host%u", lab->dir, i);

                if (!g_file_test(p, G_FILE_TEST_IS_DIR))
                    break;
                remove_tree(p);
            }
            rmdir(lab->dir);
        }
        return LAB_EXIT_OK;
    }
    g_clear_pointer(&lab, lab_free);
    lab = lab_load(dir_opt ? dir_opt : dir, &error);
    if (!lab || !lab_teardown(lab, purge, &error)) {
        lab_print_error(error);
        return LAB_EXIT_FAILURE;
    }
    return LAB_EXIT_OK;
}

static const char *
pid_state(pid_t pid)
{
    return lab_pid_alive(pid) ? _("running") : _("gone");
}

int
lab_cmd_status(const char *dir, int argc, char **argv)
{
    g_autofree char *dir_opt = NULL;
    GOptionEntry entries[] = {
        { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir_opt,
          N_("Lab directory (default $XENMIG_LAB_DIR or /run/xenmig-lab)"), N_("DIR") },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new(_("- list the lab's hosts"));
    g_autoptr(GError) error = NULL;
    g_autoptr(Lab) lab = NULL;

    g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        lab_print_error(error);
        return LAB_EXIT_USAGE;
    }
    if (argc != 1) {
        g_printerr(_("xenmig-lab status: unexpected argument '%s'\n"), argv[1]);
        return LAB_EXIT_USAGE;
    }
    lab = lab_load(dir_opt ? dir_opt : dir, &error);
    if (!lab) {
        lab_print_error(error);
        return LAB_EXIT_FAILURE;
    }
    g_print(_("lab %s: %u hosts, network namespace %s, driver module directory %s\n"),
            lab->dir, lab->hosts->len, lab->hub_netns,
            lab->module_dir ? lab->module_dir : "-");
    for (guint i = 0; i < lab->hosts->len; i++) {
        LabHost *h = g_ptr_array_index(lab->hosts, i);
        g_autofree char *uri = lab_host_uri(lab, h);
        g_autofree char *tcp = lab_host_tcp_uri(h);

        g_print(_("host %u: %s, address %s, network namespace %s\n"),
                h->index, h->hostname, h->address, h->netns);
        g_print(_("  namespace holder PID %d (%s), libvirtd PID %d (%s)\n"),
                (int)h->holder_pid, pid_state(h->holder_pid),
                (int)h->libvirtd_pid, pid_state(h->libvirtd_pid));
        g_print(_("  URI: %s\n"), uri);
        g_print(_("  URI inside the lab: %s\n"), tcp);
        if (lab->tls_dir) {
            g_autofree char *tls = lab_host_tls_uri(h);

            g_print(_("  TLS URI inside the lab: %s (certificates in %s)\n"),
                    tls, lab->tls_dir);
        }
    }
    return LAB_EXIT_OK;
}
