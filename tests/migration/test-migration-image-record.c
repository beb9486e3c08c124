/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Prepare tells its caller about every image it creates before the image
 * has a name (XmMigrationParams.image_created), so that a destination
 * daemon killed at any point leaves either nothing or an image it has on
 * record and removes when it starts again. Images that existed before are
 * never reported, a caller that cannot record an image stops the Prepare,
 * and a file someone else puts at the path meanwhile is not replaced nor
 * removed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xenmig/backend.h>
#include <xenmig/error.h>
#include <xenmig/migration.h>
#include "sim-fixture.h"

typedef struct {
    GPtrArray *paths;
    guint64 dev, ino;
    gboolean refuse;
    gboolean squatter;      /* someone else creates the path meanwhile */
} Told;

/* Whether @dir's file system has unnamed files (O_TMPFILE). */
static gboolean
has_tmpfile(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);

    if (fd < 0)
        return FALSE;
    close(fd);
    return TRUE;
}

static gboolean
on_image_created(const char *path, guint64 dev, guint64 ino, gpointer data,
                 GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    Told *t = data;
    struct stat st;

    if (has_tmpfile(dir)) {
        /* nothing at the path yet: killed now, Prepare leaves nothing */
        g_assert_cmpint(stat(path, &st), ==, -1);
        g_assert_cmpint(errno, ==, ENOENT);
    } else {
        /* already named: the one reported, and empty */
        g_assert_cmpint(stat(path, &st), ==, 0);
        g_assert_cmpuint(st.st_dev, ==, dev);
        g_assert_cmpuint(st.st_ino, ==, ino);
        g_assert_cmpint(st.st_size, ==, 0);
    }
    if (t->squatter)
        make_image(path, 4096);
    g_ptr_array_add(t->paths, g_strdup(path));
    t->dev = dev;
    t->ino = ino;
    if (t->refuse) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED, "no room for the record");
        return FALSE;
    }
    return TRUE;
}

/* A guest with two disks: xvda's image is missing on the destination (to be
 * created), xvdb's exists there already (pre-created, as nova does). */
typedef struct {
    XmDomainDef *def, *ddef;
    char *src2, *dst2;
    XmMigration *src;
    char *c1;
    int domid;
    Told told;
} TwoDisks;

static void
two_disks_begin(Fixture *f, TwoDisks *g)
{
    g_autoptr(GError) err = NULL;
    XmMigrationParams ps;

    g->src2 = g_build_filename(f->dir, "src2.img", NULL);
    g->dst2 = g_build_filename(f->dir, "dst", "kept.img", NULL);
    make_image(g->src2, 16 * MiB);
    fill_image(g->src2, 0, 2, 0x33);
    make_image(g->dst2, 16 * MiB);
    g->def = make_def("recorded", f->src_img, 20, 0);
    g->def->disks = g_renew(XmDiskDef, g->def->disks, 2);
    memset(&g->def->disks[1], 0, sizeof(XmDiskDef));
    g->def->disks[1].source = g_strdup(g->src2);
    g->def->disks[1].target = g_strdup("xvdb");
    g->def->ndisks = 2;
    g->ddef = dest_def(g->def, f->dst_img);
    g_free(g->ddef->disks[1].source);
    g->ddef->disks[1].source = g_strdup(g->dst2);

    g->domid = start_guest(f, g->def);
    base_params(&ps, TRUE);
    g->src = xm_migration_begin(f->b[0], g->domid, g->def, &ps, &g->c1, &err);
    g_assert_no_error(err);
    g->told.paths = g_ptr_array_new_with_free_func(g_free);
}

/* Prepare on host-b, telling g->told about the images it creates. */
static XmMigration *
prepare_told(Fixture *f, TwoDisks *g, char **c2, char **uri, GError **error)
{
    XmMigrationParams pd;

    base_params(&pd, FALSE);
    pd.image_created = on_image_created;
    pd.image_created_data = &g->told;
    return xm_migration_prepare(f->b[1], g->ddef, g->c1, &pd, c2, uri, error);
}

/* The source gives up: the guest keeps running there. */
static void
two_disks_end(Fixture *f, TwoDisks *g)
{
    g_autoptr(GError) err = NULL;
    XmDomainInfo info;

    g_assert_true(xm_migration_confirm(g->src, NULL, TRUE, &err));
    g_assert_no_error(err);
    g_assert_true(f->ops[0]->info(f->b[0], g->domid, &info, &err));
    g_assert_cmpint(info.state, ==, XM_DOMSTATE_RUNNING);
    /* the pre-existing image is never the migration's to remove */
    g_assert_true(g_file_test(g->dst2, G_FILE_TEST_EXISTS));
    xm_migration_free(g->src);
    xm_domain_def_free(g->def);
    xm_domain_def_free(g->ddef);
    g_free(g->src2);
    g_free(g->dst2);
    g_free(g->c1);
    g_ptr_array_unref(g->told.paths);
}

static void
test_told_while_empty(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *c2 = NULL;
    XmMigration *dst;
    TwoDisks g = { 0 };
    struct stat st;

    two_disks_begin(f, &g);
    dst = prepare_told(f, &g, &c2, NULL, &err);
    g_assert_no_error(err);
    g_assert_nonnull(dst);

    /* exactly the created image, by the identity it still has */
    g_assert_cmpuint(g.told.paths->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(g.told.paths, 0), ==, f->dst_img);
    g_assert_cmpint(stat(f->dst_img, &st), ==, 0);
    g_assert_cmpuint(st.st_dev, ==, g.told.dev);
    g_assert_cmpuint(st.st_ino, ==, g.told.ino);
    g_assert_cmpuint(st.st_size, ==, 16 * MiB);

    /* what the driver's reaper does when no Finish comes */
    xm_migration_free(dst);
    g_assert_false(g_file_test(f->dst_img, G_FILE_TEST_EXISTS));
    g_assert_cmpuint(count_domains(f, 1), ==, 0);
    two_disks_end(f, &g);
}

static void
test_refused(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *c2 = NULL, *uri = NULL;
    TwoDisks g = { 0 };

    two_disks_begin(f, &g);
    g.told.refuse = TRUE;
    g_assert_null(prepare_told(f, &g, &c2, &uri, &err));
    g_assert_null(c2);
    g_assert_null(uri);
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_FAILED);
    g_assert_cmpstr(err->message, ==, "no room for the record");
    g_assert_cmpuint(g.told.paths->len, ==, 1);
    /* an image nobody could record must not stay behind */
    g_assert_false(g_file_test(f->dst_img, G_FILE_TEST_EXISTS));
    g_assert_cmpuint(count_domains(f, 1), ==, 0);
    two_disks_end(f, &g);
}

/* A file appears at the path while Prepare makes the image: Prepare fails
 * and that file stays as it was. */
static void
test_squatter(Fixture *f, gconstpointer data)
{
    g_autofree char *dir = g_path_get_dirname(f->dst_img);
    g_autoptr(GError) err = NULL;
    g_autofree char *c2 = NULL;
    TwoDisks g = { 0 };
    struct stat st;

    if (!has_tmpfile(dir)) {
        g_test_skip("the file system of the test directory has no O_TMPFILE");
        return;
    }
    two_disks_begin(f, &g);
    g.told.squatter = TRUE;
    g_assert_null(prepare_told(f, &g, &c2, NULL, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_FAILED);
    g_assert_nonnull(strstr(err->message, "File exists"));
    g_assert_cmpint(stat(f->dst_img, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, 4096);
    g_assert_cmpuint(count_domains(f, 1), ==, 0);
    two_disks_end(f, &g);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    sim_fixture_install_abort_handler();
    g_test_add("/migration/image-record/told-while-empty", Fixture, NULL, setup,
               test_told_while_empty, teardown);
    g_test_add("/migration/image-record/refused", Fixture, NULL, setup,
               test_refused, teardown);
    g_test_add("/migration/image-record/squatter", Fixture, NULL, setup,
               test_squatter, teardown);
    return g_test_run();
}
