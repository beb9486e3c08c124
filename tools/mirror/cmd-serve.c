/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* xenmig-mirror serve: export an image over NBD until SIGINT/SIGTERM. */
#include "config.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>

#include <xenmig/nbd-server.h>
#include "util/util.h"
#include "commands.h"
#include "progress.h"

static gboolean
on_signal(gpointer data)
{
    g_main_loop_quit(data);
    return G_SOURCE_CONTINUE;
}

int
xm_mirror_cmd_serve(int argc, char **argv)
{
    g_autofree char *listen = NULL;
    g_autofree char *unix_path = NULL;
    g_autofree char *export_name = NULL;
    g_autofree char *tls_dir = NULL;
    gboolean readonly = FALSE;
    gboolean no_verify = FALSE;
    gint max_conns = 0;
    GOptionEntry entries[] = {
        { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen,
          N_("Listen on TCP HOST:PORT (port 0: pick one and print it)"),
          N_("HOST:PORT") },
        { "unix", 'u', 0, G_OPTION_ARG_FILENAME, &unix_path,
          N_("Listen on a unix socket"), N_("PATH") },
        { "export", 'e', 0, G_OPTION_ARG_STRING, &export_name,
          N_("Export name (default: empty)"), N_("NAME") },
        { "tls-dir", 0, 0, G_OPTION_ARG_FILENAME, &tls_dir,
          N_("Require TLS with the x509 certificates in DIR"), N_("DIR") },
        { "tls-no-verify-peer", 0, 0, G_OPTION_ARG_NONE, &no_verify,
          N_("Do not require client certificates"), NULL },
        { "readonly", 'r', 0, G_OPTION_ARG_NONE, &readonly,
          N_("Export read-only"), NULL },
        { "max-connections", 0, 0, G_OPTION_ARG_INT, &max_conns,
          N_("Maximum simultaneous clients (default 16)"), N_("N") },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx =
        g_option_context_new(_("IMAGE - export an image over NBD"));
    g_autoptr(GError) err = NULL;
    g_autoptr(XmNbdServer) server = NULL;
    g_autoptr(GMainLoop) loop = NULL;
    g_autofree char *host = NULL;
    guint16 port = 0, bound = 0;
    XmNbdServerConfig config = { 0 };
    guint sig_int, sig_term;

    g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
    if (!g_option_context_parse(ctx, &argc, &argv, &err))
        return xm_cli_usage_error("%s", err->message);
    if (argc != 2)
        return xm_cli_usage_error(_("serve needs exactly one IMAGE"));
    if (!listen == !unix_path)
        return xm_cli_usage_error(_("serve needs either --listen or --unix"));
    if (max_conns < 0)
        return xm_cli_usage_error(_("--max-connections must be positive"));
    if (listen && !xm_mirror_parse_host_port(listen, &host, &port, &err))
        return xm_cli_usage_error("%s", err->message);

    config.image_path = argv[1];
    config.export_name = export_name;
    config.readonly = readonly;
    config.tls_dir = tls_dir;
    config.tls_verify_peer = !no_verify;
    config.max_connections = max_conns;
    server = xm_nbd_server_new(&config, &err);
    if (!server)
        return xm_mirror_fail("%s", err->message);
    if (listen) {
        if (!xm_nbd_server_listen_tcp(server, host, port, &bound, &err))
            return xm_mirror_fail("%s", err->message);
    } else if (!xm_nbd_server_listen_unix(server, unix_path, &err)) {
        return xm_mirror_fail("%s", err->message);
    }

    loop = g_main_loop_new(NULL, FALSE);
    sig_int = g_unix_signal_add(SIGINT, on_signal, loop);
    sig_term = g_unix_signal_add(SIGTERM, on_signal, loop);
    if (!xm_nbd_server_start(server, &err))
        return xm_mirror_fail("%s", err->message);
    if (listen && port == 0) {
        /* scripts read the port from here */
        printf("%u\n", bound);
        fflush(stdout);
    }
    g_main_loop_run(loop);
    g_source_remove(sig_int);
    g_source_remove(sig_term);
    xm_nbd_server_stop(server);
    return 0;
}
