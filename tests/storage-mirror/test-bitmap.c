/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the mirror's dirty and in-flight bitmaps. */
#include "config.h"

#include <glib.h>

#include "storage-mirror/bitmap.h"
#include "util/util.h"

#define KiB 1024ull
#define MiB (1024ull * 1024)

static void
test_granularity(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmBitmap) bm = NULL;

    g_assert_null(xm_bitmap_new(MiB, 3000, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
    g_clear_error(&err);
    g_assert_null(xm_bitmap_new(MiB, 256, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
    g_clear_error(&err);

    bm = xm_bitmap_new(MiB, 64 * KiB, &err);
    g_assert_no_error(err);
    /* one byte dirties its whole granule */
    xm_bitmap_mark_dirty(bm, 100, 1);
    g_assert_cmpuint(xm_bitmap_count_dirty(bm), ==, 64 * KiB);
    g_assert_true(xm_bitmap_test_dirty(bm, 0, 1));
    g_assert_true(xm_bitmap_test_dirty(bm, 64 * KiB - 1, 1));
    g_assert_false(xm_bitmap_test_dirty(bm, 64 * KiB, 64 * KiB));
    /* a range straddling a boundary dirties both granules */
    xm_bitmap_mark_dirty(bm, 128 * KiB - 1, 2);
    g_assert_cmpuint(xm_bitmap_count_dirty(bm), ==, 3 * 64 * KiB);
    xm_bitmap_clear_dirty(bm, 0, MiB);
    g_assert_cmpuint(xm_bitmap_count_dirty(bm), ==, 0);
}

static void
test_partial_last_granule(void)
{
    /* 1 MiB + 4 KiB: the 17th granule has only 4 KiB */
    g_autoptr(XmBitmap) bm = xm_bitmap_new(MiB + 4 * KiB, 64 * KiB, NULL);
    guint64 cursor = 0, off, len;

    xm_bitmap_mark_all(bm);
    g_assert_cmpuint(xm_bitmap_count_dirty(bm), ==, MiB + 4 * KiB);
    cursor = MiB;
    g_assert_true(xm_bitmap_next_dirty(bm, &cursor, 2 * MiB, &off, &len));
    g_assert_cmpuint(off, ==, MiB);
    g_assert_cmpuint(len, ==, 4 * KiB);
    g_assert_false(xm_bitmap_next_dirty(bm, &cursor, 2 * MiB, &off, &len));
    /* marks past the end are ignored */
    xm_bitmap_clear_dirty(bm, 0, 2 * MiB);
    xm_bitmap_mark_dirty(bm, 2 * MiB, 10);
    g_assert_cmpuint(xm_bitmap_count_dirty(bm), ==, 0);
}

static void
test_runs(void)
{
    g_autoptr(XmBitmap) bm = xm_bitmap_new(16 * MiB, 64 * KiB, NULL);
    guint64 cursor = 0, off, len;

    xm_bitmap_mark_dirty(bm, 0, 64 * KiB);
    xm_bitmap_mark_dirty(bm, 1 * MiB, 3 * MiB);         /* 1..4 MiB */
    xm_bitmap_mark_dirty(bm, 10 * MiB + 1, 1);          /* one granule */

    g_assert_true(xm_bitmap_next_dirty(bm, &cursor, 2 * MiB, &off, &len));
    g_assert_cmpuint(off, ==, 0);
    g_assert_cmpuint(len, ==, 64 * KiB);
    /* runs are cut at max_len */
    g_assert_true(xm_bitmap_next_dirty(bm, &cursor, 2 * MiB, &off, &len));
    g_assert_cmpuint(off, ==, 1 * MiB);
    g_assert_cmpuint(len, ==, 2 * MiB);
    g_assert_true(xm_bitmap_next_dirty(bm, &cursor, 2 * MiB, &off, &len));
    g_assert_cmpuint(off, ==, 3 * MiB);
    g_assert_cmpuint(len, ==, 1 * MiB);
    g_assert_true(xm_bitmap_next_dirty(bm, &cursor, 2 * MiB, &off, &len));
    g_assert_cmpuint(off, ==, 10 * MiB);
    g_assert_cmpuint(len, ==, 64 * KiB);
    g_assert_false(xm_bitmap_next_dirty(bm, &cursor, 2 * MiB, &off, &len));
    /* iterating changes nothing */
    g_assert_cmpuint(xm_bitmap_count_dirty(bm), ==, 64 * KiB + 3 * MiB + 64 * KiB);
}

static void
test_claim_and_redirty(void)
{
    g_autoptr(XmBitmap) bm = xm_bitmap_new(4 * MiB, 64 * KiB, NULL);
    guint64 cursor = 0, off, len;

    xm_bitmap_mark_all(bm);
    g_assert_true(xm_bitmap_claim_dirty(bm, &cursor, MiB, &off, &len));
    g_assert_cmpuint(off, ==, 0);
    g_assert_cmpuint(len, ==, MiB);
    g_assert_cmpuint(xm_bitmap_count_dirty(bm), ==, 3 * MiB);
    g_assert_cmpuint(xm_bitmap_count_inflight(bm), ==, MiB);

    /* a write lands while the range is in flight: it is dirty again, but a
     * claim in this sweep skips it */
    xm_bitmap_mark_dirty(bm, 4096, 512);
    {
        guint64 c2 = 0, o2, l2;

        g_assert_true(xm_bitmap_claim_dirty(bm, &c2, MiB, &o2, &l2));
        g_assert_cmpuint(o2, ==, MiB);
        xm_bitmap_end_inflight(bm, o2, l2, FALSE);
    }
    xm_bitmap_end_inflight(bm, off, len, FALSE);
    g_assert_true(xm_bitmap_test_dirty(bm, 0, 64 * KiB));
    g_assert_false(xm_bitmap_test_dirty(bm, 64 * KiB, MiB - 64 * KiB));
    g_assert_cmpuint(xm_bitmap_count_inflight(bm), ==, 0);

    /* a failed copy re-dirties its whole range */
    xm_bitmap_clear_dirty(bm, 0, 4 * MiB);
    cursor = 0;
    xm_bitmap_mark_dirty(bm, 2 * MiB, 128 * KiB);
    g_assert_true(xm_bitmap_claim_dirty(bm, &cursor, MiB, &off, &len));
    g_assert_cmpuint(xm_bitmap_count_dirty(bm), ==, 0);
    xm_bitmap_end_inflight(bm, off, len, TRUE);
    g_assert_cmpuint(xm_bitmap_count_dirty(bm), ==, 128 * KiB);
}

typedef struct {
    XmBitmap *bm;
    guint64 off;
    gint started;
} WaitCtx;

static gpointer
waiter(gpointer data)
{
    WaitCtx *w = data;
    gboolean waited;

    g_atomic_int_set(&w->started, 1);
    waited = xm_bitmap_begin_inflight(w->bm, w->off, 4096);
    xm_bitmap_end_inflight(w->bm, w->off, 4096, FALSE);
    return GINT_TO_POINTER(waited);
}

static void
test_begin_inflight_waits(void)
{
    g_autoptr(XmBitmap) bm = xm_bitmap_new(MiB, 64 * KiB, NULL);
    WaitCtx w = { bm, 70 * KiB, 0 };
    GThread *t;

    g_assert_false(xm_bitmap_begin_inflight(bm, 64 * KiB, 64 * KiB));
    t = g_thread_new("waiter", waiter, &w);
    while (!g_atomic_int_get(&w.started))
        g_usleep(1000);
    g_usleep(50 * 1000);
    /* still waiting: the granule is in flight */
    g_assert_cmpuint(xm_bitmap_count_inflight(bm), ==, 64 * KiB);
    xm_bitmap_end_inflight(bm, 64 * KiB, 64 * KiB, FALSE);
    g_assert_true(GPOINTER_TO_INT(g_thread_join(t)));
    g_assert_cmpuint(xm_bitmap_count_inflight(bm), ==, 0);
}

#define NTHREADS 4
#define NMARKS 20000

static gpointer
marker(gpointer data)
{
    XmBitmap *bm = data;
    GRand *r = g_rand_new();

    for (int i = 0; i < NMARKS; i++) {
        guint64 off = (guint64)g_rand_int_range(r, 0, 64 * MiB / 4096) * 4096;

        xm_bitmap_mark_dirty(bm, off, 4096);
    }
    g_rand_free(r);
    return NULL;
}

static void
test_concurrent(void)
{
    /* writers mark while a sweeper claims and releases: at the end every
     * mark is either dirty or was claimed after it was made; the in-flight
     * set is empty and nothing is counted twice */
    g_autoptr(XmBitmap) bm = xm_bitmap_new(64 * MiB, 64 * KiB, NULL);
    GThread *t[NTHREADS];
    guint64 claimed = 0;

    for (int i = 0; i < NTHREADS; i++)
        t[i] = g_thread_new("marker", marker, bm);
    for (int round = 0; round < 50; round++) {
        guint64 cursor = 0, off, len;

        while (xm_bitmap_claim_dirty(bm, &cursor, MiB, &off, &len)) {
            g_assert_cmpuint(off % (64 * KiB), ==, 0);
            g_assert_cmpuint(len, <=, MiB);
            claimed += len;
            xm_bitmap_end_inflight(bm, off, len, FALSE);
        }
    }
    for (int i = 0; i < NTHREADS; i++)
        g_thread_join(t[i]);
    g_assert_cmpuint(xm_bitmap_count_inflight(bm), ==, 0);
    g_assert_cmpuint(xm_bitmap_count_dirty(bm), <=, 64 * MiB);
    g_assert_cmpuint(claimed + xm_bitmap_count_dirty(bm), >=, 64 * KiB);
    /* a final sweep leaves it clean */
    {
        guint64 cursor = 0, off, len;

        while (xm_bitmap_claim_dirty(bm, &cursor, MiB, &off, &len))
            xm_bitmap_end_inflight(bm, off, len, FALSE);
    }
    g_assert_cmpuint(xm_bitmap_count_dirty(bm), ==, 0);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/bitmap/granularity", test_granularity);
    g_test_add_func("/bitmap/partial-last-granule", test_partial_last_granule);
    g_test_add_func("/bitmap/runs", test_runs);
    g_test_add_func("/bitmap/claim-and-redirty", test_claim_and_redirty);
    g_test_add_func("/bitmap/begin-inflight-waits", test_begin_inflight_waits);
    g_test_add_func("/bitmap/concurrent", test_concurrent);
    return g_test_run();
}
