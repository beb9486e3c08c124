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

/* A helper program of the project: $@env_name if set, else the build
 * tree's @build_subdir/@name if it is there, else LIBEXECDIR/@name. */
char *xm_helper_program(const char *env_name, const char *build_subdir, const char *name);

/*
 * Opens a disk image (a regular file or a block device) with open(2) @flags
 * (O_RDONLY or O_RDWR) and returns its fd and size. Anything else (FIFO,
 * directory, character device) is refused with XM_ERR_INVALID_ARG without
 * blocking. Returns -1 on error.
 */
int xm_image_open(const char *path, int flags, guint64 *size,
                  gboolean *is_blockdev, GError **error);
