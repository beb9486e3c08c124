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

#define INCOMING_DIR "migrate-in"

char *
xm_migrate_record_dir(const char *kind)
{
    return g_build_filename(xm_driver->cfg->state_dir, kind, NULL);
}

char *
xm_migrate_record_path(const char *kind, const uint8_t *uuid)
{
    g_autofree char *dir = xm_migrate_record_dir(kind);
    char s[37];

    xm_uuid_format(uuid, s);
    return g_build_filename(dir, s, NULL);
}

static char *
record_dir(void)
{
    return xm_migrate_record_dir(INCOMING_DIR);
}

static char *
record_path(const uint8_t *uuid)
{
    return xm_migrate_record_path(INCOMING_DIR, uuid);
}

gboolean
xm_migrate_record_image(const uint8_t *uuid, const char *path, guint64 dev,
                        guint64 ino, GError **error)
{
    g_autofree char *dir = record_dir();
    g_autofree char *file = record_path(uuid);
    g_autofree char *old = NULL;
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;
    gsize len = 0;

    if (!g_file_get_contents(file, &old, &len, NULL))
        old = NULL, len = 0;
    text = g_strdup_printf("%.*s%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %s\n",
                           (int) len, old ? old : "", dev, ino, path);
    if (g_mkdir_with_parents(dir, 0700) < 0)
        return xm_set_error_errno(error, errno, XM_ERR_OPERATION_FAILED,
                                  _("cannot record the images of an incoming migration in '%s'"),
                                  dir);
    /* written through a renamed, synced copy: a crash leaves the old
     * record or the new one, never half of it */
    if (!g_file_set_contents_full(file, text, -1, G_FILE_SET_CONTENTS_CONSISTENT,
                                  0600, &err)) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                    _("cannot record the image '%s' of an incoming migration: %s"),
                    path, err->message);
        return FALSE;
    }
    return TRUE;
}

void
xm_migrate_record_clear(const uint8_t *uuid)
{
    g_autofree char *path = record_path(uuid);

    if (g_unlink(path) < 0 && errno != ENOENT)
        g_warning("cannot remove %s: %s", path, g_strerror(errno));
}

/* Removes the images one record lists, if they are still the same files. */
static void
recover_one(const char *path)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
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
    g_autofree char *dir = record_dir();
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    if (!d)
        return;
    while ((name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        uint8_t uuid[16];
        XmDomObj *dom;
        gboolean in_use = FALSE;

        if (xm_uuid_parse(name, uuid)) {
            dom = xm_dom_find_uuid(uuid);
            if (dom) {
                in_use = xm_dom_is_active(dom);
                xm_dom_release(dom);
            } else {
                virResetLastError();
            }
        }
        if (!in_use)
            recover_one(path);
        g_unlink(path);
    }
}
