/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The files behind the incoming (driver-migrate-record.c) and outgoing
 * (driver-migrate-outrec.c) migration records, and the start-up decision
 * for an outgoing one; see driver-migrate-recfile.h.
 */
#define G_LOG_DOMAIN "xenmig-driver"
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include <xenmig/domain.h>
#include "util/util.h"
#include "driver-migrate-recfile.h"

char *
xm_migrate_recfile_dir(const char *state_dir, const char *kind)
{
    return g_build_filename(state_dir, kind, NULL);
}

char *
xm_migrate_recfile_path(const char *state_dir, const char *kind, const uint8_t *uuid)
{
    char s[37];

    xm_uuid_format(uuid, s);
    return g_build_filename(state_dir, kind, s, NULL);
}

gboolean
xm_migrate_recfile_write(const char *state_dir, const char *kind, const uint8_t *uuid,
                         const char *text, GError **error)
{
    g_autofree char *dir = xm_migrate_recfile_dir(state_dir, kind);
    g_autofree char *file = xm_migrate_recfile_path(state_dir, kind, uuid);
    g_autoptr(GError) err = NULL;

    if (g_mkdir_with_parents(dir, 0700) < 0)
        return xm_set_error_errno(error, errno, XM_ERR_OPERATION_FAILED,
                                  _("cannot create the migration record directory '%s'"),
                                  dir);
    /* CONSISTENT: a temporary file, fsync, rename over the old record */
    if (!g_file_set_contents_full(file, text, -1, G_FILE_SET_CONTENTS_CONSISTENT,
                                  0600, &err)) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                    _("cannot write the migration record: %s"), err->message);
        return FALSE;
    }
    return TRUE;
}

char *
xm_migrate_recfile_read(const char *state_dir, const char *kind, const uint8_t *uuid)
{
    g_autofree char *file = xm_migrate_recfile_path(state_dir, kind, uuid);
    char *text = NULL;

    if (!g_file_get_contents(file, &text, NULL, NULL))
        return NULL;
    return text;
}

void
xm_migrate_recfile_remove(const char *state_dir, const char *kind, const uint8_t *uuid)
{
    g_autofree char *path = xm_migrate_recfile_path(state_dir, kind, uuid);

    if (g_unlink(path) < 0 && errno != ENOENT)
        g_warning("cannot remove %s: %s", path, g_strerror(errno));
}

void
xm_migrate_recfile_drain(const char *state_dir, const char *kind,
                         XmMigrateRecfileFunc fn, gpointer user_data)
{
    g_autofree char *dir = xm_migrate_recfile_dir(state_dir, kind);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    if (!d)
        return;
    while ((name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_autofree char *text = NULL;
        uint8_t uuid[16];
        gboolean named = xm_uuid_parse(name, uuid);

        if (!g_file_get_contents(path, &text, NULL, NULL))
            text = NULL;
        fn(named ? uuid : NULL, text, user_data);
        if (g_unlink(path) < 0 && errno != ENOENT)
            g_warning("cannot remove %s: %s", path, g_strerror(errno));
    }
}

XmOutrecAction
xm_outrec_decide(const char *text, gboolean active, gboolean paused)
{
    g_autofree char *stage = g_strstrip(g_strdup(text ? text : ""));

    if (!active || !paused)
        return XM_OUTREC_FORGET;
    if (g_str_equal(stage, XM_OUTREC_SUSPENDING))
        return XM_OUTREC_RESUME;
    return XM_OUTREC_LEAVE_PAUSED;
}
