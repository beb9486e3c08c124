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
    GThread *thread;
} PerformJob;

/* Kills every sim guest of the fixture on SIGABRT (failed assertion). */
void sim_fixture_install_abort_handler(void);
/* g_test_init() and the abort handler, for a test program's main(). */
void sim_test_init(int *argc, char ***argv);
#define SIM_TEST_ADD(path, data, fn) \
    g_test_add(path, Fixture, data, setup, fn, teardown)
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
/* One migration of a sim guest from host-a to host-b as the tests set it
 * up: mig_init() makes the definitions (the disk moves to f->dst_img) and
 * the base params, which the test may change before mig_begin_prepare(). */
typedef struct {
    XmDomainDef *def;
    XmDomainDef *ddef;
    XmMigrationParams ps, pd;
    int domid;
    XmMigration *src, *dst;
    char *c1, *c2;
    PerformJob pj;
} Mig;

void mig_init(Fixture *f, Mig *m, const char *name, guint heartbeat_ms,
              guint64 write_mib_s);
void mig_clear(Mig *m);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Mig, mig_clear)
/* Starts the guest on host-a (m->domid). */
void mig_start_guest(Fixture *f, Mig *m);
/* Begin on host-a, expected to succeed. */
void mig_begin(Fixture *f, Mig *m);
/* Begin on host-a and Prepare on host-b, both expected to succeed. */
void mig_begin_prepare(Fixture *f, Mig *m);
/* Prepare on host-b after mig_begin(): refused with
 * XM_ERR_OPERATION_FAILED and a message containing @why. */
void mig_prepare_refused(Fixture *f, Mig *m, const char *why);
/* Ends a migration that failed before the switchover: Finish on host-b
 * (told that it was cancelled, or left to find out, when it must fail; no
 * Finish when m->dst is NULL), the cancelled Confirm on host-a, and the
 * safety invariant (assert_stayed_on_source). */
void mig_end_failed(Fixture *f, Mig *m, gboolean tell_dest);
/* Perform, Finish and Confirm, all expected to succeed; returns the
 * domain ID on host-b. */
int complete_migration(XmMigration *src, XmMigration *dst, const char *c2);
/* Runs xm_migration_perform(@src, @c2) in a thread of @pj. */
void start_perform(PerformJob *pj, XmMigration *src, const char *c2);
/* Waits for the thread of start_perform(), which must have failed; its
 * error stays in pj->err. */
void join_failed_perform(PerformJob *pj);
/* Waits until @job streams memory and has moved more than @bytes of it. */
void wait_for_memory(XmMigration *job, guint64 bytes);
/* The safety invariant after a failed migration: host-b has no domain and
 * not the image it created (f->dst_img), and guest @domid runs on host-a,
 * writing heartbeats. */
void assert_stayed_on_source(Fixture *f, int domid);
/* TRUE when the sim guests' disks go through their datapath (the disks are
 * then copied by its tracked mirror), FALSE with direct disks (scan mode):
 * XENMIG_TEST_SIM_DATAPATH=direct. */
gboolean sim_tracked(void);
/* Writes @len bytes of @data at @offset of disk @target's export on the
 * destination of @c2 (the prepare cookie) over NBD, as another client of
 * the destination's server would. */
void nbd_write_to_dest(const char *c2, const char *target, const void *data, size_t len,
                       guint64 offset);
