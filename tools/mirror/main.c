/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xenmig-mirror: serve, copy, re-sync and live-mirror disk images over NBD.
 * The subcommands live in cmd-*.c; adding one is one line in the table.
 */
#include "config.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <xenmig/xenmig.h>
#include "util/util.h"
#include "commands.h"
#include "progress.h"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} Command;

static const Command commands[] = {
    { "serve", xm_mirror_cmd_serve, N_("Export an image over NBD") },
    { "copy", xm_mirror_cmd_copy, N_("Copy an image to an NBD destination") },
    { "sync", xm_mirror_cmd_sync, N_("Re-sync an existing copy, sending changed blocks") },
    { "mirror", xm_mirror_cmd_mirror, N_("Serve an image with write tracking while mirroring it") },
};

int
xm_mirror_fail(const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "xenmig-mirror: %s\n", msg);
    return 1;
}

gboolean
xm_mirror_parse_host_port(const char *s, char **host, guint16 *port,
                          GError **error)
{
    const char *colon;
    g_autofree char *h = NULL;
    guint64 p;

    if (s[0] == '[') {
        const char *end = strchr(s, ']');

        if (!end || end[1] != ':')
            goto bad;
        h = g_strndup(s + 1, end - s - 1);
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            goto bad;
        h = g_strndup(s, colon - s);
    }
    if (!g_ascii_string_to_unsigned(colon + 1, 10, 0, 65535, &p, NULL))
        goto bad;
    *host = *h ? g_steal_pointer(&h) : NULL;
    *port = (guint16)p;
    return TRUE;

 bad:
    g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                _("'%s' is not HOST:PORT"), s);
    return FALSE;
}

/* Every message goes to stderr: stdout carries results scripts parse
 * (such as the port serve prints), even with G_MESSAGES_DEBUG set. */
static GLogWriterOutput
log_to_stderr(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
              gpointer data)
{
    const char *domain = NULL;
    g_autofree char *line = NULL;

    for (gsize i = 0; i < n_fields; i++)
        if (g_str_equal(fields[i].key, "GLIB_DOMAIN"))
            domain = fields[i].value;
    if (g_log_writer_default_would_drop(level, domain))
        return G_LOG_WRITER_HANDLED;
    line = g_log_writer_format_fields(level, fields, n_fields,
                                      g_log_writer_supports_color(
                                          fileno(stderr)));
    fprintf(stderr, "%s\n", line);
    return G_LOG_WRITER_HANDLED;
}

static void
usage(FILE *f)
{
    fprintf(f, _("Usage: xenmig-mirror COMMAND [OPTION...]\n\nCommands:\n"));
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, _(commands[i].summary));
    fprintf(f, _("\n'xenmig-mirror COMMAND --help' describes a command.\n"));
}

int
main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    xm_init();
    textdomain(GETTEXT_PACKAGE);
    /* peers that vanish must show up as write errors, not kill us */
    signal(SIGPIPE, SIG_IGN);
    g_log_set_writer_func(log_to_stderr, NULL, NULL);

    if (argc < 2) {
        xm_mirror_fail(_("no command given"));
        usage(stderr);
        return XM_EXIT_USAGE;
    }
    if (g_str_equal(argv[1], "--help") || g_str_equal(argv[1], "-h") ||
        g_str_equal(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (g_str_equal(argv[1], "--version")) {
        printf("xenmig-mirror %s\n", xm_version_string());
        return 0;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
        if (g_str_equal(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    xm_mirror_fail(_("unknown command '%s'"), argv[1]);
    usage(stderr);
    return XM_EXIT_USAGE;
}
