/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The source's outgoing-stage callback (XmMigrationParams.outgoing), which
 * the libvirt driver uses to keep <state_dir>/migrate-out/<uuid> on disk:
 * it is told "suspending" while the guest still runs and "committing"
 * while it is suspended, before the completion record; a callback that
 * refuses either stage fails the migration and the guest runs on at the
 * source (a full state disk must not lose the guest).
 */
#include "config.h"

#include <string.h>

#include <xenmig/backend.h>
#include <xenmig/error.h>
#include <xenmig/migration.h>
#include "sim-fixture.h"

typedef struct {
    Fixture *f;
    int domid;
    int refuse;                 /* the stage to refuse, or -1 */
    guint ntold;
    XmMigrationOutStage told[4];
    XmDomainState state_at[4];  /* the guest's state on host-a when told */
} Watcher;

static gboolean
watch_stage(XmMigrationOutStage stage, gpointer user_data, GError **error)
{
    Watcher *w = user_data;
    g_autoptr(GError) err = NULL;
    XmDomainInfo info;

    g_assert_cmpuint(w->ntold, <, G_N_ELEMENTS(w->told));
    g_assert_true(w->f->ops[0]->info(w->f->b[0], w->domid, &info, &err));
    g_assert_no_error(err);
    w->told[w->ntold] = stage;
    w->state_at[w->ntold] = info.state;
    w->ntold++;
    if ((int) stage == w->refuse) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED, "refused stage %d", stage);
        return FALSE;
    }
    return TRUE;
}

static void
watch(Fixture *f, Mig *m, Watcher *w, int refuse)
{
    memset(w, 0, sizeof(*w));
    w->f = f;
    w->domid = m->domid;
    w->refuse = refuse;
    m->ps.outgoing = watch_stage;
    m->ps.outgoing_data = w;
}

/* A migration that completes is told both stages, in order: "suspending"
 * while the guest still runs, "committing" while it is suspended. */
static void
test_stages_in_order(Fixture *f, gconstpointer data)
{
    g_auto(Mig) m;
    Watcher w;
    int ddomid;

    mig_init(f, &m, "staged", 20, 1);
    make_image(f->src_img, 8 * MiB);
    mig_start_guest(f, &m);
    watch(f, &m, &w, -1);
    mig_begin_prepare(f, &m);
    ddomid = complete_migration(m.src, m.dst, m.c2);
    g_assert_cmpint(ddomid, >, 0);
    g_assert_cmpuint(w.ntold, ==, 2);
    g_assert_cmpint(w.told[0], ==, XM_MIGRATION_OUT_SUSPENDING);
    g_assert_cmpint(w.state_at[0], ==, XM_DOMSTATE_RUNNING);
    g_assert_cmpint(w.told[1], ==, XM_MIGRATION_OUT_COMMITTING);
    g_assert_cmpint(w.state_at[1], ==, XM_DOMSTATE_PAUSED);
    g_assert_cmpuint(count_domains(f, 0), ==, 0);
    g_assert_cmpuint(count_domains(f, 1), ==, 1);
}

/* "suspending" refused (the record cannot be written): the migration
 * fails with the callback's error before the guest is suspended, and it
 * runs on at the source. */
static void
test_refuse_suspending(Fixture *f, gconstpointer data)
{
    g_autofree char *c3 = NULL;
    g_autoptr(GError) err = NULL;
    g_auto(Mig) m;
    Watcher w;

    mig_init(f, &m, "unrecorded", 20, 1);
    make_image(f->src_img, 8 * MiB);
    mig_start_guest(f, &m);
    watch(f, &m, &w, XM_MIGRATION_OUT_SUSPENDING);
    mig_begin_prepare(f, &m);
    g_assert_false(xm_migration_perform(m.src, m.c2, &c3, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_FAILED);
    g_assert_nonnull(strstr(err->message, "refused stage"));
    g_assert_null(c3);
    g_assert_cmpuint(w.ntold, ==, 1);
    g_assert_cmpint(w.state_at[0], ==, XM_DOMSTATE_RUNNING);
    mig_end_failed(f, &m, TRUE);
}

/* "committing" refused: the completion record is never sent, the guest
 * the memory stream suspended is resumed at the source, and the
 * destination, told the migration was cancelled, drops its half. */
static void
test_refuse_committing(Fixture *f, gconstpointer data)
{
    g_autofree char *c3 = NULL;
    g_autoptr(GError) err = NULL;
    g_auto(Mig) m;
    Watcher w;

    mig_init(f, &m, "uncommitted", 20, 1);
    make_image(f->src_img, 8 * MiB);
    mig_start_guest(f, &m);
    watch(f, &m, &w, XM_MIGRATION_OUT_COMMITTING);
    mig_begin_prepare(f, &m);
    g_assert_false(xm_migration_perform(m.src, m.c2, &c3, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_FAILED);
    g_assert_nonnull(strstr(err->message, "refused stage"));
    g_assert_cmpuint(w.ntold, ==, 2);
    g_assert_cmpint(w.state_at[1], ==, XM_DOMSTATE_PAUSED);
    mig_end_failed(f, &m, TRUE);
}

int
main(int argc, char **argv)
{
    sim_test_init(&argc, &argv);
    SIM_TEST_ADD("/migration/outgoing/stages-in-order", NULL, test_stages_in_order);
    SIM_TEST_ADD("/migration/outgoing/refuse-suspending", NULL, test_refuse_suspending);
    SIM_TEST_ADD("/migration/outgoing/refuse-committing", NULL, test_refuse_committing);
    return g_test_run();
}
