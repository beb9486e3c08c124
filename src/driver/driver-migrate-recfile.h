/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The on-disk records of migrations: <state_dir>/<kind>/<uuid>, one small
 * text file per migration, replaced atomically. No libvirt and no driver
 * state here, so that the unit tests build it alone.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

#define XM_MIGRATE_RECORD_INCOMING "migrate-in"
#define XM_MIGRATE_RECORD_OUTGOING "migrate-out"

/* <@state_dir>/@kind, and its file for migration @uuid. */
char *xm_migrate_recfile_dir(const char *state_dir, const char *kind);
char *xm_migrate_recfile_path(const char *state_dir, const char *kind,
                              const uint8_t *uuid);
/* Replaces the record of @uuid by @text: written to a temporary file,
 * synced, renamed over the old one, so a crash leaves the old record or
 * the new one, never a mix. Creates the directory (0700); the file is
 * 0600. */
gboolean xm_migrate_recfile_write(const char *state_dir, const char *kind,
                                  const uint8_t *uuid, const char *text,
                                  GError **error);
/* The record of @uuid, or NULL (no error) when there is none. */
char *xm_migrate_recfile_read(const char *state_dir, const char *kind,
                              const uint8_t *uuid);
/* Removes the record of @uuid; a missing one is fine, other failures are
 * logged. */
void xm_migrate_recfile_remove(const char *state_dir, const char *kind,
                               const uint8_t *uuid);

/* Called for each record of @kind by xm_migrate_recfile_drain(); @uuid is
 * NULL for a file whose name is not a UUID; @text is NULL if it cannot be
 * read. */
typedef void (*XmMigrateRecfileFunc)(const uint8_t *uuid, const char *text,
                                     gpointer user_data);
/* At start-up: hands every record of @kind to @fn, then removes it. */
void xm_migrate_recfile_drain(const char *state_dir, const char *kind,
                              XmMigrateRecfileFunc fn, gpointer user_data);

/* ---- what a restarted source does with an outgoing record ---- */

typedef enum {
    XM_OUTREC_FORGET,           /* domain gone or running: nothing to undo */
    XM_OUTREC_RESUME,           /* suspended before the completion record */
    XM_OUTREC_LEAVE_PAUSED,     /* the destination may run it: ask the admin */
} XmOutrecAction;

#define XM_OUTREC_SUSPENDING "suspending"
#define XM_OUTREC_COMMITTING "committing"

/* The decision for a record saying @text (as read, or NULL) about a domain
 * that is @active and, per the backend, @paused. Anything but
 * "suspending" counts as "committing": resuming a guest the destination
 * may run is the one mistake that cannot be undone. */
XmOutrecAction xm_outrec_decide(const char *text, gboolean active, gboolean paused);
