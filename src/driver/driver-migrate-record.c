/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The images an incoming migration created, on disk until its Finish, so
 * that a libvirtd killed in between removes them when it starts again: the
 * destination deletes only what it created, also after a crash.
 *
 * One file per migration, <state_dir>/migrate-in/<uuid>, one line per
 * image: "<st_dev> <st_ino> <path>", added by Prepare's callback for each
 * image before the image is linked at its path (or, on file systems
 * without unnamed files, right after its creation, still empty), so no
 * kill leaves an image behind that is not on record. An image is removed
 * only if it is still that very file and no active domain has the
 * migration's UUID (a crash right after a successful Finish leaves the
 * record but the guest runs on the image).
 */
#define G_LOG_DOMAIN "xenmig-driver"
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "driver-migrate.h"

#define STATE_DIR (xm_driver->cfg->state_dir)

gboolean
xm_migrate_record_image(const uint8_t *uuid, const char *path, guint64 dev,
                        guint64 ino, GError **error)
{
    g_autofree char *old = xm_migrate_recfile_read(STATE_DIR, XM_MIGRATE_RECORD_INCOMING,
                                                   uuid);
    g_autofree char *text = NULL;

    text = g_strdup_printf("%s%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %s\n",
                           old ? old : "", dev, ino, path);
    if (!xm_migrate_recfile_write(STATE_DIR, XM_MIGRATE_RECORD_INCOMING, uuid, text,
                                  error)) {
        g_prefix_error(error, _("cannot record the image '%s' of an incoming migration: "),
                       path);
        return FALSE;
    }
    return TRUE;
}

void
xm_migrate_record_clear(const uint8_t *uuid)
{
    xm_migrate_recfile_remove(STATE_DIR, XM_MIGRATE_RECORD_INCOMING, uuid);
}

/* Removes the images one record lists, if they are still the same files
 * and no active domain has the migration's UUID. */
static void
recover_one(const uint8_t *uuid, const char *text, gpointer user_data)
{
    g_auto(GStrv) lines = NULL;

    if (uuid) {
        XmDomObj *dom = xm_dom_find_uuid(uuid);
        gboolean in_use = FALSE;

        if (dom) {
            in_use = xm_dom_is_active(dom);
            xm_dom_release(dom);
        } else {
            virResetLastError();
        }
        if (in_use)
            return;
    }
    if (!text)
        return;
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        guint64 dev, ino;
        char *end;
        const char *img;
        struct stat st;

        if (!*lines[i])
            continue;
        dev = g_ascii_strtoull(lines[i], &end, 10);
        if (*end != ' ')
            continue;
        ino = g_ascii_strtoull(end + 1, &end, 10);
        if (*end != ' ')
            continue;
        img = end + 1;
        if (stat(img, &st) == 0 && (guint64)st.st_dev == dev &&
            (guint64)st.st_ino == ino) {
            if (g_unlink(img) == 0)
                g_message("removed %s, created by an incoming migration that never finished",
                          img);
            else
                g_warning("cannot remove %s: %s", img, g_strerror(errno));
        }
    }
}

void
xm_migrate_recover(void)
{
    xm_migrate_recfile_drain(STATE_DIR, XM_MIGRATE_RECORD_INCOMING, recover_one, NULL);
}
