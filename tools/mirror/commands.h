/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Subcommands of xenmig-mirror; each parses its own options from argv
 * (argv[0] is the subcommand's name) and returns the exit status. */
#pragma once

#include <glib.h>

int xm_mirror_cmd_serve(int argc, char **argv);
int xm_mirror_cmd_copy(int argc, char **argv);
int xm_mirror_cmd_sync(int argc, char **argv);
int xm_mirror_cmd_mirror(int argc, char **argv);

/* Prints "xenmig-mirror: <message>" on stderr; returns 1 for
 * "return xm_mirror_fail(...)". */
int xm_mirror_fail(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Parses HOST:PORT or [IPV6]:PORT. */
gboolean xm_mirror_parse_host_port(const char *s, char **host, guint16 *port,
                                   GError **error);
