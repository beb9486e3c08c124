/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Migration URIs in every form callers send, and the port range. */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <xenmig/error.h>
#include <xenmig/migration.h>
#include "migration/migration-private.h"

typedef struct {
    const char *uri;
    const char *host;     /* NULL: must be refused */
    guint port;
} UriCase;

static const UriCase cases[] = {
    { "tcp://dst.example.org:49200", "dst.example.org", 49200 },
    { "tcp://dst.example.org", "dst.example.org", 0 },
    { "tcp://dst.example.org/", "dst.example.org", 0 },
    { "tcp:10.0.0.1", "10.0.0.1", 0 },                 /* CloudStack */
    { "tcp:10.0.0.1:5000", "10.0.0.1", 5000 },
    { "dst", "dst", 0 },
    { "dst:1234", "dst", 1234 },
    { "[::1]:49152", "::1", 49152 },
    { "[fe80::1]", "fe80::1", 0 },
    { "tcp://[::1]:7", "::1", 7 },
    { "tcp:[2001:db8::5]:49152", "2001:db8::5", 49152 },
    { "rdma://dst:1", NULL, 0 },
    { "unix:///tmp/sock", NULL, 0 },
    { "fd:3", NULL, 0 },
    { "tcp://dst:0", NULL, 0 },
    { "tcp://dst:65536", NULL, 0 },
    { "tcp://dst:12x", NULL, 0 },
    { "tcp://user@dst:1", NULL, 0 },
    { "tcp://dst:1/path", NULL, 0 },
    { "::1", NULL, 0 },
    { "[::1", NULL, 0 },
    { "[nothex]:1", NULL, 0 },
    { "", NULL, 0 },
    { "tcp://", NULL, 0 },
    { "dst name", NULL, 0 },
};

static void
test_uri(gconstpointer data)
{
    const UriCase *c = data;
    g_autofree char *host = NULL;
    g_autoptr(GError) err = NULL;
    guint port = 99;
    gboolean ok = xm_migration_uri_parse(c->uri, &host, &port, &err);

    if (c->host) {
        g_assert_no_error(err);
        g_assert_true(ok);
        g_assert_cmpstr(host, ==, c->host);
        g_assert_cmpuint(port, ==, c->port);
    } else {
        g_assert_false(ok);
        g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
        g_assert_null(host);
        g_assert_cmpuint(port, ==, 99);
    }
}

static void
test_format(void)
{
    g_autofree char *a = xm_migration_uri_format("10.0.0.1", 5);
    g_autofree char *b = xm_migration_uri_format("::1", 6);

    g_assert_cmpstr(a, ==, "tcp://10.0.0.1:5");
    g_assert_cmpstr(b, ==, "tcp://[::1]:6");
}

/* A range of two ports: two listeners get them, a third finds none. */
static void
test_port_range(void)
{
    g_autoptr(GError) err = NULL;
    guint base = 0, p1 = 0, p2 = 0, p3 = 0;
    int probe, fd1, fd2, fd3;

    /* find two free neighbouring ports to use as the range */
    for (base = 40000 + (getpid() % 5000) * 2; base < 60000; base += 2) {
        probe = xm_migration_listen_in_range("127.0.0.1", base, base + 1, &p1, NULL);
        if (probe >= 0 && p1 == base) {
            close(probe);
            break;
        }
        if (probe >= 0)
            close(probe);
    }
    fd1 = xm_migration_listen_in_range("127.0.0.1", base, base + 1, &p1, &err);
    g_assert_no_error(err);
    fd2 = xm_migration_listen_in_range("127.0.0.1", base, base + 1, &p2, &err);
    if (fd2 < 0 || p1 != base) {
        if (fd2 >= 0)
            close(fd2);
        close(fd1);
        g_test_skip("port range busy");
        return;
    }
    g_assert_no_error(err);
    g_assert_cmpuint(p1, ==, base);
    g_assert_cmpuint(p2, ==, base + 1);
    fd3 = xm_migration_listen_in_range("127.0.0.1", base, base + 1, &p3, &err);
    g_assert_cmpint(fd3, ==, -1);
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_FAILED);
    g_assert_nonnull(strstr(err->message, "no free port"));
    g_assert_cmpuint(p3, ==, 0);
    close(fd1);
    close(fd2);
}

static void
test_bad_range(void)
{
    g_autoptr(GError) err = NULL;
    guint p = 0;

    g_assert_cmpint(xm_migration_listen_in_range("127.0.0.1", 50001, 50000, &p, &err),
                    ==, -1);
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_strdup_printf("/migration/uri/%u", i);
        g_test_add_data_func(path, &cases[i], test_uri);
    }
    g_test_add_func("/migration/uri/format", test_format);
    g_test_add_func("/migration/ports/range-exhausted", test_port_range);
    g_test_add_func("/migration/ports/bad-range", test_bad_range);
    return g_test_run();
}
