/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `xenmig-lab restart N`: a new libvirtd on host N, the host's guests
 * untouched (what a package upgrade or an admin's restart does). */
#include "config.h"

#include <signal.h>

#include "lab.h"

static gboolean
stop_libvirtd(const LabHost *host, gboolean crash, GError **error)
{
    g_autofree char *netpath = g_strdup_printf("/proc/%d/ns/net", (int)host->libvirtd_pid);
    dev_t dev;
    ino_t ino;

    if (!lab_pid_alive(host->libvirtd_pid) ||
        !lab_ns_identity(netpath, &dev, &ino) ||
        dev != host->netns_dev || ino != host->netns_ino)
        return TRUE; /* already gone; the PID may be someone else's now */
    if (crash) {
        kill(host->libvirtd_pid, SIGKILL);
        for (int waited = 0; waited < 5000; waited += 50) {
            if (!lab_pid_alive(host->libvirtd_pid))
                return TRUE;
            g_usleep(50 * 1000);
        }
    } else if (lab_signal_and_wait(host->libvirtd_pid, 15000)) {
        return TRUE;
    }
    g_set_error(error, XM_ERROR, XM_ERR_OPERATION_TIMEOUT,
                _("host %u: libvirtd (PID %d) did not stop"),
                host->index, (int)host->libvirtd_pid);
    return FALSE;
}

int
lab_cmd_restart(const char *dir, int argc, char **argv)
{
    g_autofree char *dir_opt = NULL;
    gboolean crash = FALSE;
    GOptionEntry entries[] = {
        { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir_opt,
          N_("Lab directory (default $XENMIG_LAB_DIR or /run/xenmig-lab)"), N_("DIR") },
        { "kill", 0, 0, G_OPTION_ARG_NONE, &crash,
          N_("End libvirtd with SIGKILL, as a crash would"), NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new(_("N - restart host N's libvirtd"));
    g_autoptr(GError) error = NULL;
    g_autoptr(Lab) lab = NULL;
    LabHost *host;
    guint64 n;

    g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        lab_print_error(error);
        return LAB_EXIT_USAGE;
    }
    if (argc != 2 || !g_ascii_string_to_unsigned(argv[1], 10, 1, LAB_MAX_HOSTS, &n, NULL)) {
        g_printerr(_("xenmig-lab restart: give the number of one host\n"));
        return LAB_EXIT_USAGE;
    }
    lab = lab_load(dir_opt ? dir_opt : dir, &error);
    if (!lab || !(host = lab_get_host(lab, (guint)n, &error)))
        goto fail;
    if (!lab_pid_alive(host->holder_pid)) {
        g_set_error(&error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                    _("host %u is not running (its namespace holder is gone); run 'xenmig-lab down' and 'xenmig-lab up' again"),
                    host->index);
        goto fail;
    }
    if (!stop_libvirtd(host, crash, &error))
        goto fail;
    host->libvirtd_pid = lab_libvirtd_spawn(lab, host, &error);
    if (host->libvirtd_pid < 0) {
        host->libvirtd_pid = 0;
        lab_save(lab, NULL);
        goto fail;
    }
    if (!lab_save(lab, &error) ||
        !lab_libvirtd_wait(lab, host, lab_module_present(lab), &error))
        goto fail;
    return LAB_EXIT_OK;

 fail:
    lab_print_error(error);
    return LAB_EXIT_FAILURE;
}
