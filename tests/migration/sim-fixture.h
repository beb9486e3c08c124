/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared fixture of the in-process migration tests: two sim backends
 * ("host-a" and "host-b", separate state directories) on loopback and
 * helpers to build guests, images and params.
 */
#pragma once

#include <glib.h>
#include <xenmig/backend.h>
#include <xenmig/migration.h>

#define MiB (1024ull * 1024)

typedef struct {
    char *dir;
    char *src_img;
    char *dst_img;
    char *pki;
    XmBackendConfig cfg[2];
    XmBackend *b[2];
    const XmBackendOps *ops[2];
} Fixture;

typedef struct {
    XmMigration *job;
    const char *cookie;
    gboolean ok;
    GError *err;
} PerformJob;

/* Kills every sim guest of the fixture on SIGABRT (failed assertion). */
void sim_fixture_install_abort_handler(void);
void setup(Fixture *f, gconstpointer data);
void teardown(Fixture *f, gconstpointer data);
void make_image(const char *path, guint64 size);
/* Fills [from_mib, to_mib) of the image with @byte. */
void fill_image(const char *path, guint from_mib, guint to_mib, int byte);
XmDomainDef *make_def(const char *name, const char *disk, guint heartbeat_ms,
                      guint64 write_mib_s);
XmDomainDef *dest_def(const XmDomainDef *def, const char *path);
int start_guest(Fixture *f, const XmDomainDef *def);
guint count_domains(Fixture *f, int host);
guint64 hb_seq(Fixture *f, int host, int domid);
char *file_checksum(const char *path);
void base_params(XmMigrationParams *p, gboolean source);
/* Waits until the source job copies disks and has sent @bytes. */
void wait_for_copy(XmMigration *job, guint64 bytes);
/* g_thread_new() body running xm_migration_perform() on a PerformJob. */
gpointer perform_thread(gpointer data);
