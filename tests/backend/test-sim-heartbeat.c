/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The heartbeat record codec and the scanner, on images built here. */
#include "config.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include "backend/sim-heartbeat.h"

static char *
make_image(guint64 size)
{
    g_autoptr(GError) err = NULL;
    char *path = NULL;
    int fd = g_file_open_tmp("xm-hb-XXXXXX.img", &path, &err);

    g_assert_no_error(err);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    close(fd);
    return path;
}

static void
put_record(const char *path, guint64 seq, guint64 time_ms, const char *host)
{
    XmSimHeartbeat hb = { .seq = seq, .time_ns = time_ms * 1000000 };
    uint8_t rec[XM_SIM_HB_RECORD_SIZE];
    guint64 slots = xm_sim_hb_slots(16 * 1024 * 1024);
    int fd = open(path, O_WRONLY);

    g_strlcpy(hb.host, host, sizeof(hb.host));
    g_strlcpy(hb.name, "guest", sizeof(hb.name));
    xm_sim_hb_encode(&hb, rec);
    g_assert_cmpint(pwrite(fd, rec, sizeof(rec), xm_sim_hb_offset(seq, slots)), ==,
                    sizeof(rec));
    close(fd);
}

static void
test_roundtrip(void)
{
    XmSimHeartbeat in = { .seq = 42, .time_ns = 123456789, .uuid = { 1, 2, 3 } };
    XmSimHeartbeat out;
    uint8_t rec[XM_SIM_HB_RECORD_SIZE];

    g_strlcpy(in.host, "a-host-name-that-is-exactly-forty-chars!", sizeof(in.host));
    g_strlcpy(in.name, "dom", sizeof(in.name));
    xm_sim_hb_encode(&in, rec);
    g_assert_true(xm_sim_hb_decode(rec, &out));
    g_assert_cmpuint(out.seq, ==, 42);
    g_assert_cmpuint(out.time_ns, ==, 123456789);
    g_assert_cmpmem(out.uuid, 16, in.uuid, 16);
    g_assert_cmpstr(out.host, ==, in.host);
    g_assert_cmpstr(out.name, ==, "dom");

    rec[60] ^= 1;
    g_assert_false(xm_sim_hb_decode(rec, &out));
}

static void
test_scan_gaps_and_hosts(void)
{
    g_autofree char *img = make_image(16 * 1024 * 1024);
    XmSimHeartbeatScan scan = { 0 };
    g_autoptr(GError) err = NULL;
    g_autofree char *line = NULL;

    for (guint64 s = 1; s <= 10; s++) {
        if (s == 5 || s == 6)
            continue;
        put_record(img, s, 1000 + s * 20 + (s >= 7 ? 300 : 0), s >= 7 ? "dst" : "src");
    }
    g_assert_true(xm_sim_hb_scan_file(img, &scan, &err));
    line = xm_sim_hb_scan_format(&scan);
    /* 4 -> 7 spans 60 ms of sequence plus the 300 ms jump */
    g_assert_cmpstr(line, ==,
                    "records=8 first=1 last=10 missing=2 max_gap_ms=360 hosts=src,dst");
    xm_sim_hb_scan_clear(&scan);
    unlink(img);
}

/* The command-line face that other test suites use. */
static void
test_cli_exit_status(void)
{
    g_autofree char *img = make_image(16 * 1024 * 1024);
    g_autofree char *prog = g_build_filename(BUILDDIR, "src", "backend",
                                             "xenmig-sim-guest", NULL);
    const char *argv[] = { prog, "heartbeat-check", img, NULL };
    g_autoptr(GError) err = NULL;
    g_autofree char *out1 = NULL, *out2 = NULL;
    int status;

    for (guint64 s = 1; s <= 3; s++)
        put_record(img, s, s * 100, "h");
    g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL,
                               NULL, &out1, NULL, &status, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(out1, ==, "records=3 first=1 last=3 missing=0 max_gap_ms=100 hosts=h\n");
    g_assert_true(g_spawn_check_wait_status(status, NULL));

    put_record(img, 9, 900, "h");
    g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL,
                               NULL, &out2, NULL, &status, &err));
    g_assert_cmpstr(out2, ==, "records=4 first=1 last=9 missing=5 max_gap_ms=600 hosts=h\n");
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    unlink(img);
}

static void
test_scan_empty(void)
{
    g_autofree char *img = make_image(1024 * 1024);
    XmSimHeartbeatScan scan = { 0 };
    g_autoptr(GError) err = NULL;
    g_autofree char *line = NULL;

    g_assert_true(xm_sim_hb_scan_file(img, &scan, &err));
    line = xm_sim_hb_scan_format(&scan);
    g_assert_cmpstr(line, ==, "records=0 first=0 last=0 missing=0 max_gap_ms=0 hosts=");
    xm_sim_hb_scan_clear(&scan);
    unlink(img);
}

static void
test_scan_missing_file(void)
{
    XmSimHeartbeatScan scan = { 0 };
    g_autoptr(GError) err = NULL;

    g_assert_false(xm_sim_hb_scan_file("/nonexistent/image", &scan, &err));
    g_assert_nonnull(err);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/sim/heartbeat/roundtrip", test_roundtrip);
    g_test_add_func("/sim/heartbeat/scan-gaps-and-hosts", test_scan_gaps_and_hosts);
    g_test_add_func("/sim/heartbeat/scan-empty", test_scan_empty);
    g_test_add_func("/sim/heartbeat/cli-exit-status", test_cli_exit_status);
    g_test_add_func("/sim/heartbeat/scan-missing-file", test_scan_missing_file);
    return g_test_run();
}
