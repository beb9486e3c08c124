/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The migration cookie: every field survives format → parse → format, and
 * each kind of bad cookie is refused with XM_ERR_XML_DETAIL (or
 * XM_ERR_XML_ERROR when it is not XML at all).
 */
#include "config.h"

#include <string.h>

#include <xenmig/domain.h>
#include <xenmig/error.h>
#include "migration/cookie.h"

#define SECRET "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static XmCookie *
full_cookie(void)
{
    XmCookie *c = g_new0(XmCookie, 1);

    c->host_name = g_strdup("dst.example.org");
    c->dom_name = g_strdup("guest <&'\"> one");
    g_assert_true(xm_uuid_parse("6f3c2a4e-1111-2222-3333-444455556666", c->uuid));
    c->memory_kib = 1048576;
    c->secret = g_strdup(SECRET);
    c->tls = TRUE;
    c->features = g_strsplit("memory-channel,verify,disks", ",", -1);
    c->ndisks = 2;
    c->disks = g_new0(XmCookieDisk, 2);
    c->disks[0].target = g_strdup("xvda");
    c->disks[0].capacity = 10737418240ull;
    c->disks[0].allocation = 123456;
    c->disks[0].format = g_strdup("raw");
    c->disks[0].dest_path = g_strdup("/var/lib/xen/images/a b.img");
    c->disks[0].export_name = g_strdup("0123456789abcdef0123456789abcdef");
    c->disks[0].nbd_port = 49153;
    c->disks[1].target = g_strdup("xvdb");
    c->disks[1].capacity = 1;
    c->disks[1].format = g_strdup("raw");
    c->nbd_host = g_strdup("::1");
    c->nbd_port = 49153;
    c->nbd_tls = TRUE;
    c->mem_host = g_strdup("10.0.0.2");
    c->mem_port = 49152;
    c->has_stats = TRUE;
    c->downtime_ms = 42;
    c->memory_bytes = 1ull << 40;
    c->disk_bytes = 7;
    return c;
}

static void
test_roundtrip(void)
{
    g_autoptr(XmCookie) c = full_cookie();
    g_autoptr(XmCookie) back = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = xm_cookie_format(c);
    g_autofree char *xml2 = NULL;

    back = xm_cookie_parse(xml, strlen(xml), &err);
    g_assert_no_error(err);
    g_assert_cmpstr(back->host_name, ==, c->host_name);
    g_assert_cmpstr(back->dom_name, ==, c->dom_name);
    g_assert_cmpmem(back->uuid, 16, c->uuid, 16);
    g_assert_cmpuint(back->memory_kib, ==, 1048576);
    g_assert_cmpstr(back->secret, ==, SECRET);
    g_assert_true(back->tls);
    g_assert_true(xm_cookie_has_feature(back, "verify"));
    g_assert_false(xm_cookie_has_feature(back, "nope"));
    g_assert_cmpuint(back->ndisks, ==, 2);
    g_assert_cmpstr(back->disks[0].dest_path, ==, "/var/lib/xen/images/a b.img");
    g_assert_cmpuint(back->disks[0].capacity, ==, 10737418240ull);
    g_assert_cmpuint(back->disks[0].allocation, ==, 123456);
    g_assert_cmpuint(back->disks[0].nbd_port, ==, 49153);
    g_assert_null(back->disks[1].dest_path);
    g_assert_null(back->disks[1].export_name);
    g_assert_cmpstr(back->nbd_host, ==, "::1");
    g_assert_true(back->nbd_tls);
    g_assert_cmpstr(back->mem_host, ==, "10.0.0.2");
    g_assert_cmpuint(back->mem_port, ==, 49152);
    g_assert_true(back->has_stats);
    g_assert_cmpuint(back->downtime_ms, ==, 42);
    g_assert_cmpuint(back->memory_bytes, ==, 1ull << 40);
    g_assert_nonnull(xm_cookie_find_disk(back, "xvdb"));
    xml2 = xm_cookie_format(back);
    g_assert_cmpstr(xml2, ==, xml);
}

static void
test_minimal(void)
{
    const char *xml =
        "<xenmig-migration version='1'><hostname>a</hostname><name>g</name>"
        "<uuid>6f3c2a4e-1111-2222-3333-444455556666</uuid>"
        "<secret>" SECRET "</secret></xenmig-migration>";
    g_autoptr(GError) err = NULL;
    g_autoptr(XmCookie) c = xm_cookie_parse(xml, strlen(xml), &err);

    g_assert_no_error(err);
    g_assert_cmpuint(c->ndisks, ==, 0);
    g_assert_null(c->mem_host);
    g_assert_false(c->has_stats);
}

typedef struct {
    const char *name;
    const char *body;     /* inside the root, after the mandatory parts */
    const char *root;     /* replaces the whole document when set */
    int code;
} BadCase;

#define HEAD "<hostname>a</hostname><name>g</name>" \
             "<uuid>6f3c2a4e-1111-2222-3333-444455556666</uuid>"
#define SEC "<secret>" SECRET "</secret>"

static const BadCase bad_cases[] = {
    { "not-xml", NULL, "<xenmig-migration", XM_ERR_XML_ERROR },
    { "wrong-root", NULL, "<cookie version='1'/>", XM_ERR_XML_DETAIL },
    { "version-2", NULL, "<xenmig-migration version='2'>" HEAD SEC "</xenmig-migration>",
      XM_ERR_XML_DETAIL },
    { "no-version", NULL, "<xenmig-migration>" HEAD SEC "</xenmig-migration>",
      XM_ERR_XML_DETAIL },
    { "missing-secret", NULL, "<xenmig-migration version='1'>" HEAD "</xenmig-migration>",
      XM_ERR_XML_DETAIL },
    { "short-secret", NULL, "<xenmig-migration version='1'>" HEAD
      "<secret>0011</secret></xenmig-migration>", XM_ERR_XML_DETAIL },
    { "nonhex-secret", NULL, "<xenmig-migration version='1'>" HEAD "<secret>"
      "zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
      "</secret></xenmig-migration>", XM_ERR_XML_DETAIL },
    { "unknown-element", SEC "<bogus/>", NULL, XM_ERR_XML_DETAIL },
    { "bad-uuid", NULL, "<xenmig-migration version='1'><hostname>a</hostname>"
      "<name>g</name><uuid>nope</uuid>" SEC "</xenmig-migration>", XM_ERR_XML_DETAIL },
    { "dup-name", SEC "<name>h</name>", NULL, XM_ERR_XML_DETAIL },
    { "port-zero", SEC "<memory-channel host='h' port='0'/>", NULL, XM_ERR_XML_DETAIL },
    { "port-big", SEC "<memory-channel host='h' port='65536'/>", NULL, XM_ERR_XML_DETAIL },
    { "port-neg", SEC "<nbd host='h' port='-1'/>", NULL, XM_ERR_XML_DETAIL },
    { "bad-tls", SEC "<tls>maybe</tls>", NULL, XM_ERR_XML_DETAIL },
    { "disk-no-target", SEC "<disks><disk capacity='1' format='raw'/></disks>", NULL,
      XM_ERR_XML_DETAIL },
    { "disk-bad-capacity", SEC "<disks><disk target='a' capacity='1x' format='raw'/></disks>",
      NULL, XM_ERR_XML_DETAIL },
    { "disk-overflow", SEC "<disks><disk target='a' capacity='99999999999999999999' "
      "format='raw'/></disks>", NULL, XM_ERR_XML_DETAIL },
    { "disk-format", SEC "<disks><disk target='a' capacity='1' format='vmdk'/></disks>",
      NULL, XM_ERR_XML_DETAIL },
    { "disk-relative", SEC "<disks><disk target='a' capacity='1' format='raw' "
      "path='x.img'/></disks>", NULL, XM_ERR_XML_DETAIL },
    { "disk-twice", SEC "<disks><disk target='a' capacity='1' format='raw'/>"
      "<disk target='a' capacity='1' format='raw'/></disks>", NULL, XM_ERR_XML_DETAIL },
    { "disk-extra-attr", SEC "<disks><disk target='a' capacity='1' format='raw' "
      "evil='1'/></disks>", NULL, XM_ERR_XML_DETAIL },
    { "control-char", NULL, "<xenmig-migration version='1'><hostname>a&#1;</hostname>"
      "<name>g</name><uuid>6f3c2a4e-1111-2222-3333-444455556666</uuid>" SEC
      "</xenmig-migration>", XM_ERR_XML_ERROR },
    { "text-in-root", SEC "junk", NULL, XM_ERR_XML_DETAIL },
    { "entity", NULL, "<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>"
      "<xenmig-migration version='1'><hostname>&e;</hostname><name>g</name>"
      "<uuid>6f3c2a4e-1111-2222-3333-444455556666</uuid>" SEC "</xenmig-migration>",
      -1 },
    { "memory-unit", SEC "<memory unit='MiB'>1</memory>", NULL, XM_ERR_XML_DETAIL },
    { "stats-missing", SEC "<statistics downtime-ms='1'/>", NULL, XM_ERR_XML_DETAIL },
};

static void
test_bad(gconstpointer data)
{
    const BadCase *bc = data;
    g_autofree char *xml = bc->root ? g_strdup(bc->root)
        : g_strconcat("<xenmig-migration version='1'>" HEAD, bc->body,
                      "</xenmig-migration>", NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(XmCookie) c = xm_cookie_parse(xml, strlen(xml), &err);

    g_assert_null(c);
    g_assert_nonnull(err);
    g_assert_true(err->domain == XM_ERROR);
    if (bc->code >= 0)
        g_assert_cmpint(err->code, ==, bc->code);
    g_assert_nonnull(strstr(err->message, "cookie"));
}

static void
test_too_large(void)
{
    gsize n = XM_COOKIE_MAX_BYTES + 1;
    g_autofree char *big = g_malloc(n);
    g_autoptr(GError) err = NULL;

    memset(big, ' ', n);
    g_assert_null(xm_cookie_parse(big, n, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_XML_DETAIL);
}

static void
test_too_many_disks(void)
{
    g_autoptr(GString) s = g_string_new("<xenmig-migration version='1'>" HEAD SEC "<disks>");
    g_autoptr(GError) err = NULL;
    g_autoptr(XmCookie) c = NULL;

    for (int i = 0; i <= XM_COOKIE_MAX_DISKS; i++)
        g_string_append_printf(s, "<disk target='d%d' capacity='1' format='raw'/>", i);
    g_string_append(s, "</disks></xenmig-migration>");
    c = xm_cookie_parse(s->str, s->len, &err);
    g_assert_null(c);
    g_assert_error(err, XM_ERROR, XM_ERR_XML_DETAIL);
}

static void
test_empty(void)
{
    g_autoptr(GError) err = NULL;

    g_assert_null(xm_cookie_parse(NULL, 0, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_XML_DETAIL);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migration/cookie/roundtrip", test_roundtrip);
    g_test_add_func("/migration/cookie/minimal", test_minimal);
    g_test_add_func("/migration/cookie/too-large", test_too_large);
    g_test_add_func("/migration/cookie/too-many-disks", test_too_many_disks);
    g_test_add_func("/migration/cookie/empty", test_empty);
    for (guint i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        g_autofree char *path = g_strdup_printf("/migration/cookie/bad/%s",
                                                bad_cases[i].name);
        g_test_add_data_func(path, &bad_cases[i], test_bad);
    }
    return g_test_run();
}
