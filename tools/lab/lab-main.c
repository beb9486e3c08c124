/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* xenmig-lab: command dispatch. */
#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <unistd.h>

#include "lab.h"

typedef int (*LabCommand)(const char *dir, int argc, char **argv);

static const struct {
    const char *name;
    LabCommand run;
} commands[] = {
    { "up", lab_cmd_up },
    { "down", lab_cmd_down },
    { "status", lab_cmd_status },
    { "exec", lab_cmd_exec },
    { "guest", lab_cmd_guest },
    { "restart", lab_cmd_restart },
};

void
lab_print_error(const GError *error)
{
    g_printerr(_("xenmig-lab: error: %s\n"), error ? error->message : _("unknown error"));
}

static void
usage(FILE *out)
{
    fprintf(out, "%s",
            _("usage: xenmig-lab [--dir DIR] COMMAND [OPTION...]\n"
              "\n"
              "  up N [--module-dir DIR] [--tls-dir DIR]\n"
              "       [--sim-disk-datapath nbd|direct]\n"
              "                            start N libvirtd hosts; print one URI per host\n"
              "  status                    list the hosts, their PIDs and URIs\n"
              "  exec N -- CMD [ARG...]    run CMD inside host N's namespaces\n"
              "  guest NAME [OPTION...]    make disk images on a host and print a sim\n"
              "                            guest's domain XML (see --help of 'guest')\n"
              "  restart N [--kill]        restart host N's libvirtd, leaving its guests alone\n"
              "  down [--purge]            stop every host and remove what the lab made\n"
              "\n"
              "DIR defaults to $XENMIG_LAB_DIR or /run/xenmig-lab. See xenmig-lab(1).\n"));
}

int
main(int argc, char **argv)
{
    g_autofree char *dir = lab_default_dir();
    int i = 1;

    setlocale(LC_ALL, "");
    bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
    bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    textdomain(GETTEXT_PACKAGE);

    /* Options before the command apply to every command. */
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return LAB_EXIT_OK;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("xenmig-lab %s\n", PACKAGE_VERSION);
            return LAB_EXIT_OK;
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            g_free(dir);
            dir = g_strdup(argv[i + 1]);
            i += 2;
        } else if (g_str_has_prefix(argv[i], "--dir=")) {
            g_free(dir);
            dir = g_strdup(argv[i] + strlen("--dir="));
            i++;
        } else {
            g_printerr(_("xenmig-lab: unknown option '%s'\n"), argv[i]);
            usage(stderr);
            return LAB_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return LAB_EXIT_USAGE;
    }
    for (guint c = 0; c < G_N_ELEMENTS(commands); c++) {
        if (strcmp(argv[i], commands[c].name) != 0)
            continue;
        if (!*dir) {
            g_printerr(_("xenmig-lab: the lab directory must not be empty\n"));
            return LAB_EXIT_USAGE;
        }
        /* Namespaces, mounts and libvirtd's system sockets need root. */
        if (geteuid() != 0) {
            g_printerr(_("xenmig-lab: must run as root (it creates network, UTS and mount namespaces)\n"));
            return LAB_EXIT_FAILURE;
        }
        {
            g_autofree char *prgname = g_strdup_printf("xenmig-lab %s", argv[i]);

            /* Option help then reads "xenmig-lab up [OPTION...] N". */
            g_set_prgname(prgname);
        }
        return commands[c].run(dir, argc - i, argv + i);
    }
    g_printerr(_("xenmig-lab: unknown command '%s'\n"), argv[i]);
    usage(stderr);
    return LAB_EXIT_USAGE;
}
