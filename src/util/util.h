/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal helpers shared by every component (not installed). */
#pragma once

#include <glib.h>
#include <glib/gi18n-lib.h>
#include <xenmig/error.h>

/* Sets @error to "<formatted message>: <strerror(errsv)>" with @code.
 * Always returns FALSE so it can end a failing function. */
gboolean xm_set_error_errno(GError **error, int errsv, XmErrorCode code,
                            const char *fmt, ...) G_GNUC_PRINTF(4, 5);
