/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The migration record files (src/driver/driver-migrate-recfile.c): atomic
 * replacement, modes, removal, the start-up drain, and the decision a
 * restarted source takes for an outgoing record.
 */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include <xenmig/domain.h>
#include <xenmig/error.h>
#include "driver/driver-migrate-recfile.h"

static const uint8_t uuid_a[16] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
                                    0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00 };
static const uint8_t uuid_b[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

typedef struct {
    char *state_dir;
} Fixture;

static void
setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *tmp = g_dir_make_tmp("xm-recfile-XXXXXX", &err);

    g_assert_no_error(err);
    /* below the temporary directory: the record code creates the rest */
    f->state_dir = g_build_filename(tmp, "run", "libxl", NULL);
}

static void
rm_rf(const char *path)
{
    g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
    const char *name;

    if (d) {
        while ((name = g_dir_read_name(d))) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            rm_rf(child);
        }
    }
    g_remove(path);
}

static void
teardown(Fixture *f, gconstpointer data)
{
    g_autofree char *run = g_path_get_dirname(f->state_dir);
    g_autofree char *tmp = g_path_get_dirname(run);

    rm_rf(tmp);
    g_free(f->state_dir);
}

static guint
count_entries(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    guint n = 0;

    g_assert_nonnull(d);
    while (g_dir_read_name(d))
        n++;
    return n;
}

/* The record is <state_dir>/<kind>/<uuid>, its directory 0700, itself
 * 0600, and it reads back as written. */
static void
test_write_read(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = xm_migrate_recfile_dir(f->state_dir, XM_MIGRATE_RECORD_OUTGOING);
    g_autofree char *path = xm_migrate_recfile_path(f->state_dir, XM_MIGRATE_RECORD_OUTGOING,
                                                    uuid_a);
    g_autofree char *expect = g_build_filename(f->state_dir, "migrate-out",
                                               "11223344-5566-7788-99aa-bbccddeeff00", NULL);
    g_autofree char *text = NULL;
    struct stat st;

    g_assert_cmpstr(path, ==, expect);
    g_assert_null(xm_migrate_recfile_read(f->state_dir, XM_MIGRATE_RECORD_OUTGOING, uuid_a));
    g_assert_true(xm_migrate_recfile_write(f->state_dir, XM_MIGRATE_RECORD_OUTGOING, uuid_a,
                                           "suspending\n", &err));
    g_assert_no_error(err);
    g_assert_cmpint(stat(dir, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 07777, ==, 0700);
    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 07777, ==, 0600);
    text = xm_migrate_recfile_read(f->state_dir, XM_MIGRATE_RECORD_OUTGOING, uuid_a);
    g_assert_cmpstr(text, ==, "suspending\n");
}

/* A new stage replaces the old one whole, through a rename: no temporary
 * file is left beside it, and the inode changes (never rewritten in
 * place, so a crash cannot leave half of each). */
static void
test_replace(Fixture *f, gconstpointer data)
{
    g_autofree char *dir = xm_migrate_recfile_dir(f->state_dir, XM_MIGRATE_RECORD_OUTGOING);
    g_autofree char *path = xm_migrate_recfile_path(f->state_dir, XM_MIGRATE_RECORD_OUTGOING,
                                                    uuid_a);
    g_autofree char *text = NULL;
    struct stat st1, st2;

    g_assert_true(xm_migrate_recfile_write(f->state_dir, XM_MIGRATE_RECORD_OUTGOING, uuid_a,
                                           "suspending\n", NULL));
    g_assert_cmpint(stat(path, &st1), ==, 0);
    g_assert_true(xm_migrate_recfile_write(f->state_dir, XM_MIGRATE_RECORD_OUTGOING, uuid_a,
                                           "committing\n", NULL));
    g_assert_cmpint(stat(path, &st2), ==, 0);
    g_assert_cmpuint(st1.st_ino, !=, st2.st_ino);
    text = xm_migrate_recfile_read(f->state_dir, XM_MIGRATE_RECORD_OUTGOING, uuid_a);
    g_assert_cmpstr(text, ==, "committing\n");
    g_assert_cmpuint(count_entries(dir), ==, 1);
}

/* Removing a record, and removing one that is not there, are quiet (a
 * warning would abort this test). */
static void
test_remove(Fixture *f, gconstpointer data)
{
    g_autofree char *path = xm_migrate_recfile_path(f->state_dir, XM_MIGRATE_RECORD_INCOMING,
                                                    uuid_b);

    xm_migrate_recfile_remove(f->state_dir, XM_MIGRATE_RECORD_INCOMING, uuid_b);
    g_assert_true(xm_migrate_recfile_write(f->state_dir, XM_MIGRATE_RECORD_INCOMING, uuid_b,
                                           "1 2 /x.img\n", NULL));
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    xm_migrate_recfile_remove(f->state_dir, XM_MIGRATE_RECORD_INCOMING, uuid_b);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    xm_migrate_recfile_remove(f->state_dir, XM_MIGRATE_RECORD_INCOMING, uuid_b);
}

/* A record that cannot be written (the state directory is a file) is an
 * error, which the source turns into a failed migration before anything
 * is suspended. */
static void
test_write_fails(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *run = g_path_get_dirname(f->state_dir);

    g_assert_cmpint(g_mkdir_with_parents(run, 0700), ==, 0);
    g_assert_true(g_file_set_contents(f->state_dir, "not a directory", -1, NULL));
    g_assert_false(xm_migrate_recfile_write(f->state_dir, XM_MIGRATE_RECORD_OUTGOING, uuid_a,
                                            "suspending\n", &err));
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_FAILED);
    g_assert_null(xm_migrate_recfile_read(f->state_dir, XM_MIGRATE_RECORD_OUTGOING, uuid_a));
}

typedef struct {
    guint calls;
    guint unnamed;
    char *seen_a;
    char *seen_b;
} Drained;

static void
on_record(const uint8_t *uuid, const char *text, gpointer user_data)
{
    Drained *d = user_data;

    d->calls++;
    if (!uuid)
        d->unnamed++;
    else if (memcmp(uuid, uuid_a, 16) == 0)
        d->seen_a = g_strdup(text);
    else if (memcmp(uuid, uuid_b, 16) == 0)
        d->seen_b = g_strdup(text);
}

/* The start-up drain hands every record over once, a stray file with a
 * name that is no UUID without one, and leaves the directory empty. */
static void
test_drain(Fixture *f, gconstpointer data)
{
    g_autofree char *dir = xm_migrate_recfile_dir(f->state_dir, XM_MIGRATE_RECORD_OUTGOING);
    g_autofree char *stray = g_build_filename(dir, "not-a-uuid", NULL);
    Drained d = { 0 };

    /* no directory yet: nothing to do */
    xm_migrate_recfile_drain(f->state_dir, XM_MIGRATE_RECORD_OUTGOING, on_record, &d);
    g_assert_cmpuint(d.calls, ==, 0);

    g_assert_true(xm_migrate_recfile_write(f->state_dir, XM_MIGRATE_RECORD_OUTGOING, uuid_a,
                                           "suspending\n", NULL));
    g_assert_true(xm_migrate_recfile_write(f->state_dir, XM_MIGRATE_RECORD_OUTGOING, uuid_b,
                                           "committing\n", NULL));
    g_assert_true(g_file_set_contents(stray, "?", -1, NULL));
    xm_migrate_recfile_drain(f->state_dir, XM_MIGRATE_RECORD_OUTGOING, on_record, &d);
    g_assert_cmpuint(d.calls, ==, 3);
    g_assert_cmpuint(d.unnamed, ==, 1);
    g_assert_cmpstr(d.seen_a, ==, "suspending\n");
    g_assert_cmpstr(d.seen_b, ==, "committing\n");
    g_assert_cmpuint(count_entries(dir), ==, 0);
    g_free(d.seen_a);
    g_free(d.seen_b);
}

/* What a restarted source does with each record. */
static void
test_decide(void)
{
    /* suspended before the completion record: the source resumes it */
    g_assert_cmpint(xm_outrec_decide("suspending\n", TRUE, TRUE), ==, XM_OUTREC_RESUME);
    g_assert_cmpint(xm_outrec_decide(" suspending ", TRUE, TRUE), ==, XM_OUTREC_RESUME);
    /* the destination may run it: left paused */
    g_assert_cmpint(xm_outrec_decide("committing\n", TRUE, TRUE), ==, XM_OUTREC_LEAVE_PAUSED);
    /* a record that says anything else (or cannot be read) is no proof
     * that the destination never got the guest */
    g_assert_cmpint(xm_outrec_decide("", TRUE, TRUE), ==, XM_OUTREC_LEAVE_PAUSED);
    g_assert_cmpint(xm_outrec_decide(NULL, TRUE, TRUE), ==, XM_OUTREC_LEAVE_PAUSED);
    g_assert_cmpint(xm_outrec_decide("suspend", TRUE, TRUE), ==, XM_OUTREC_LEAVE_PAUSED);
    /* running, or gone: nothing to undo, whatever the stage */
    g_assert_cmpint(xm_outrec_decide("suspending\n", TRUE, FALSE), ==, XM_OUTREC_FORGET);
    g_assert_cmpint(xm_outrec_decide("committing\n", TRUE, FALSE), ==, XM_OUTREC_FORGET);
    g_assert_cmpint(xm_outrec_decide("suspending\n", FALSE, FALSE), ==, XM_OUTREC_FORGET);
    g_assert_cmpint(xm_outrec_decide("committing\n", FALSE, TRUE), ==, XM_OUTREC_FORGET);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, setup, fn, teardown)
    ADD("/driver/recfile/write-read", test_write_read);
    ADD("/driver/recfile/replace", test_replace);
    ADD("/driver/recfile/remove", test_remove);
    ADD("/driver/recfile/write-fails", test_write_fails);
    ADD("/driver/recfile/drain", test_drain);
    g_test_add_func("/driver/recfile/decide", test_decide);
    return g_test_run();
}
