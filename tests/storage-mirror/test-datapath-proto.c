/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The datapath control protocol's field codec and request guards. */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "storage-mirror/datapath-client.h"
#include "util/util.h"

static GHashTable *
parse(const char *line, GError **error)
{
    g_auto(GStrv) words = g_strsplit(line, " ", -1);

    return xm_datapath_parse_fields(words, XM_ERR_INVALID_ARG, error);
}

static void
test_escape_round_trip(void)
{
    const char *values[] = {
        "plain", "", "with space", "a=b", "100%", "nbd+unix:///?socket=/x y/z.sock",
        "tab\there", "comma,list", "caf\xc3\xa9", "line\nbreak",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(values); i++) {
        g_autofree char *esc = xm_datapath_escape(values[i]);
        g_autofree char *line = g_strdup_printf("k=%s", esc);
        g_autoptr(GError) err = NULL;
        g_autoptr(GHashTable) f = NULL;

        /* nothing that could split a line or a field survives escaping */
        g_assert_null(strpbrk(esc, " =\n\r\t"));
        f = parse(line, &err);
        g_assert_no_error(err);
        g_assert_cmpstr(g_hash_table_lookup(f, "k"), ==, values[i]);
    }
}

static void
test_parse_fields(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GHashTable) f = parse("a=1 b= c=x%20y", &err);

    g_assert_no_error(err);
    g_assert_cmpuint(g_hash_table_size(f), ==, 3);
    g_assert_cmpstr(g_hash_table_lookup(f, "a"), ==, "1");
    g_assert_cmpstr(g_hash_table_lookup(f, "b"), ==, "");
    g_assert_cmpstr(g_hash_table_lookup(f, "c"), ==, "x y");
}

static void
test_parse_rejects(void)
{
    const char *bad[] = {
        "novalue", "=x", "a=1 a=2", "a=%zz", "a=%4", "a=%00", "a=1  b=2", "a=1 ",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(GHashTable) f = parse(bad[i], &err);

        g_assert_null(f);
        g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
    }
}

static void
test_request_guards(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *long_path = g_strnfill(200, 'x');
    char *reply;

    reply = xm_datapath_call_raw("/nonexistent/ctl", "PING\nQUIT", 1000, NULL, &err);
    g_assert_null(reply);
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
    g_clear_error(&err);

    g_assert_false(xm_datapath_ping(long_path, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
    g_clear_error(&err);

    /* nobody listens: fails at once, naming the socket */
    g_assert_false(xm_datapath_ping("/nonexistent/ctl", &err));
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_FAILED);
    g_assert_nonnull(strstr(err->message, "/nonexistent/ctl"));
    g_clear_error(&err);

    {
        XmMirrorOptions scan = { .mode = XM_MIRROR_SCAN };

        g_assert_false(xm_datapath_mirror_start("/nonexistent/ctl", "xvda", "nbd://x",
                                                &scan, FALSE, &err));
        g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
    }
}

static void
test_program(void)
{
    g_autofree char *p = NULL;

    g_setenv("XENMIG_DATAPATH", "/opt/x/xenmig-datapath", TRUE);
    p = xm_datapath_program();
    g_assert_cmpstr(p, ==, "/opt/x/xenmig-datapath");
    g_unsetenv("XENMIG_DATAPATH");
    g_clear_pointer(&p, g_free);
    p = xm_datapath_program();
    g_assert_true(g_str_has_suffix(p, "/xenmig-datapath"));
}

static char *self_argv0;

static void
test_pid_serves(void)
{
    /* our own command line stands in for the daemon's */
    g_assert_true(xm_datapath_pid_serves(getpid(), self_argv0));
    g_assert_false(xm_datapath_pid_serves(getpid(), "/nonexistent/ctl"));
    g_assert_false(xm_datapath_pid_serves(G_MAXINT - 1, self_argv0));
}

int
main(int argc, char **argv)
{
    self_argv0 = argv[0];
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/datapath/pid-serves", test_pid_serves);
    g_test_add_func("/datapath/escape-round-trip", test_escape_round_trip);
    g_test_add_func("/datapath/parse-fields", test_parse_fields);
    g_test_add_func("/datapath/parse-rejects", test_parse_rejects);
    g_test_add_func("/datapath/request-guards", test_request_guards);
    g_test_add_func("/datapath/program", test_program);
    return g_test_run();
}
