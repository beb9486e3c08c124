/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `xenmig-lab exec N -- CMD...`: CMD replaces us inside host N. */
#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "lab.h"

int
lab_cmd_exec(const char *dir, int argc, char **argv)
{
    g_autofree char *lab_dir = g_strdup(dir);
    g_autoptr(GError) error = NULL;
    g_autoptr(Lab) lab = NULL;
    g_autofree char *uri = NULL;
    g_autofree char *index = NULL;
    LabHost *host;
    guint64 n;
    int i = 1;

    /* Parsed by hand: everything after N (and an optional "--") belongs
     * to CMD, options included. */
    while (i < argc && g_str_has_prefix(argv[i], "--") && strcmp(argv[i], "--") != 0) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            g_free(lab_dir);
            lab_dir = g_strdup(argv[i + 1]);
            i += 2;
        } else if (g_str_has_prefix(argv[i], "--dir=")) {
            g_free(lab_dir);
            lab_dir = g_strdup(argv[i] + strlen("--dir="));
            i++;
        } else {
            g_printerr(_("xenmig-lab exec: unknown option '%s'\n"), argv[i]);
            return LAB_EXIT_USAGE;
        }
    }
    if (i >= argc || !g_ascii_string_to_unsigned(argv[i], 10, 1, LAB_MAX_HOSTS, &n, NULL)) {
        g_printerr(_("usage: xenmig-lab exec [--dir DIR] N -- COMMAND [ARG...]\n"));
        return LAB_EXIT_USAGE;
    }
    i++;
    if (i < argc && strcmp(argv[i], "--") == 0)
        i++;
    if (i >= argc) {
        g_printerr(_("xenmig-lab exec: no command given\n"));
        return LAB_EXIT_USAGE;
    }
    lab = lab_load(lab_dir, &error);
    if (!lab || !(host = lab_get_host(lab, (guint)n, &error)) ||
        !lab_enter(host, &error)) {
        lab_print_error(error);
        return LAB_EXIT_FAILURE;
    }
    uri = lab_host_uri(lab, host);
    index = g_strdup_printf("%u", host->index);
    g_setenv("LIBVIRT_DEFAULT_URI", uri, TRUE);
    g_setenv("XENMIG_LAB_HOST", index, TRUE);
    g_setenv("XENMIG_LAB_DIR", lab->dir, TRUE);
    execvp(argv[i], argv + i);
    g_printerr(_("xenmig-lab exec: cannot run %s: %s\n"), argv[i], g_strerror(errno));
    return LAB_EXIT_FAILURE;
}
