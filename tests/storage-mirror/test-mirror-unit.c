/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the mirror engine's pure parts: zero detection, the
 * bandwidth limiter's arithmetic, destination URI checks, job options. */
#include "config.h"

#include <glib.h>
#include <string.h>

#include "storage-mirror/mirror-priv.h"
#include "util/util.h"

#define MiB (1024.0 * 1024)

static void
test_zero_detection(void)
{
    g_autofree guint8 *buf = g_malloc0(1 << 20);

    g_assert_true(xm_mirror_is_zero(buf, 0));
    g_assert_true(xm_mirror_is_zero(buf, 1));
    g_assert_true(xm_mirror_is_zero(buf, 100));
    g_assert_true(xm_mirror_is_zero(buf, 1 << 20));
    /* a single set byte anywhere, in short and long buffers */
    for (gsize pos = 0; pos < (1 << 20); pos = pos * 3 + 1) {
        buf[pos] = 1;
        g_assert_false(xm_mirror_is_zero(buf, 1 << 20));
        g_assert_false(xm_mirror_is_zero(buf + (pos & ~(gsize)255), MIN(256, (1 << 20) - (pos & ~(gsize)255))));
        buf[pos] = 0;
    }
    buf[(1 << 20) - 1] = 0x80;
    g_assert_false(xm_mirror_is_zero(buf, 1 << 20));
    g_assert_true(xm_mirror_is_zero(buf, (1 << 20) - 1));
}

static void
test_rate_limiter(void)
{
    XmRateLimiter rl;
    gint64 t = 1000000;

    /* unlimited never waits */
    xm_rate_limiter_init(&rl, 0, t);
    g_assert_cmpint(xm_rate_limiter_reserve(&rl, 1 << 30, t), ==, 0);
    xm_rate_limiter_clear(&rl);

    /* 1 MiB/s, starting empty: 1 MiB costs 1 s, the next one 2 s from now */
    xm_rate_limiter_init(&rl, MiB, t);
    g_assert_cmpint(xm_rate_limiter_reserve(&rl, 1 << 20, t), ==, 1000000);
    g_assert_cmpint(xm_rate_limiter_reserve(&rl, 1 << 20, t), ==, 2000000);
    /* after 2 s the debt is paid; half a MiB then costs 0.5 s */
    t += 2000000;
    g_assert_cmpint(xm_rate_limiter_reserve(&rl, 1 << 19, t), ==, 500000);
    /* an idle limiter saves up at most 100 ms of burst */
    t += 60 * 1000000;
    g_assert_cmpint(xm_rate_limiter_reserve(&rl, 1 << 20, t), ==, 900000);
    /* changing the rate applies at once and forgives the debt */
    xm_rate_limiter_set_rate(&rl, 4 * MiB, t);
    g_assert_cmpint(xm_rate_limiter_reserve(&rl, 1 << 20, t), ==, 250000);
    /* bytes reserved but not sent are given back */
    g_assert_cmpint(xm_rate_limiter_reserve(&rl, 1 << 20, t), ==, 500000);
    xm_rate_limiter_refund(&rl, 1 << 20, t);
    g_assert_cmpint(xm_rate_limiter_reserve(&rl, 1 << 20, t), ==, 500000);
    xm_rate_limiter_set_rate(&rl, 0, t);
    g_assert_cmpint(xm_rate_limiter_reserve(&rl, 1 << 30, t), ==, 0);
    xm_rate_limiter_clear(&rl);
}

static void
test_uri_check(void)
{
    static const struct {
        const char *uri;
        gboolean ok;
        gboolean tls;
    } cases[] = {
        { "nbd://127.0.0.1:10809/disk", TRUE, FALSE },
        { "nbd://localhost", TRUE, FALSE },
        { "nbds://[::1]:10809/", TRUE, TRUE },
        { "nbd+unix:///?socket=/tmp/s.sock", TRUE, FALSE },
        { "nbds+unix:///disk?socket=/tmp/s.sock", TRUE, TRUE },
        { "http://127.0.0.1/disk", FALSE, FALSE },
        { "nbd:/missing-slashes", FALSE, FALSE },
        { "nbd+unix:///disk", FALSE, FALSE },
        { "nbd+unix:///disk?socket=", FALSE, FALSE },
        { "nbd://127.0.0.1:notaport/disk", FALSE, FALSE },
        { "not a uri", FALSE, FALSE },
        { "", FALSE, FALSE },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        gboolean tls = !cases[i].tls;
        gboolean ok = xm_nbd_uri_check(cases[i].uri, &tls, &err);

        g_test_message("%s", cases[i].uri);
        g_assert_cmpint(ok, ==, cases[i].ok);
        if (ok) {
            g_assert_no_error(err);
            g_assert_cmpint(tls, ==, cases[i].tls);
        } else {
            g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
            /* the message names the URI */
            g_assert_nonnull(strstr(err->message, cases[i].uri));
        }
    }
}

static void
test_job_options(void)
{
    g_autoptr(GError) err = NULL;
    XmMirrorOptions o = { .granularity = 3000 };
    XmMirrorJob *job;

    job = xm_mirror_job_new("/dev/null", "nbd://127.0.0.1/", &o, &err);
    g_assert_null(job);
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
    g_clear_error(&err);

    job = xm_mirror_job_new("/no/such/source.img", "nbd://127.0.0.1/", NULL, &err);
    g_assert_null(job);
    g_assert_error(err, XM_ERROR, XM_ERR_OPEN_FAILED);
    g_assert_nonnull(strstr(err->message, "/no/such/source.img"));
    g_clear_error(&err);

    job = xm_mirror_job_new("/dev/null", "ftp://x/", NULL, &err);
    g_assert_null(job);
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
    g_clear_error(&err);

    /* a character device is not a disk */
    job = xm_mirror_job_new("/dev/null", "nbd://127.0.0.1/", NULL, &err);
    g_assert_null(job);
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
    g_clear_error(&err);

    g_assert_cmpstr(xm_mirror_phase_to_string(XM_MIRROR_PHASE_SYNC), ==, "sync");
    g_assert_cmpstr(xm_mirror_phase_to_string(XM_MIRROR_PHASE_DONE), ==, "done");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/mirror/zero-detection", test_zero_detection);
    g_test_add_func("/mirror/rate-limiter", test_rate_limiter);
    g_test_add_func("/mirror/uri-check", test_uri_check);
    g_test_add_func("/mirror/job-options", test_job_options);
    return g_test_run();
}
