/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal interfaces of the migration component (not installed). */
#pragma once

#include <glib.h>
#include <xenmig/migration.h>

#include "util/util.h"

#define XM_MIGRATION_PORT_MIN 49152
#define XM_MIGRATION_PORT_MAX 49215

/* "tcp://host:port", brackets around IPv6 literals. */
char *xm_migration_uri_format(const char *host, guint port);

/* Binds and listens on @host at the first free port of [min, max] (0, 0:
 * the default range). Returns the listening fd, or -1. */
int xm_migration_listen_in_range(const char *host, guint min, guint max,
                                 guint *port_out, GError **error);

/* A free port of the range other than @skip, for listeners that bind by
 * themselves. */
gboolean xm_migration_probe_port(const char *host, guint min, guint max,
                                 guint skip, guint *port_out, GError **error);
