/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Golden tests of the domain model: for each tests/domain/xml/<case>.xml,
 *   - the libxl JSON of the parsed model equals json/<case>.json, and
 *     converting that libxl config back to a model and to libxl again
 *     gives the same JSON,
 *   - the formatted XML equals xml-out/<case>.xml,
 *   - that output parses back into an equal model, which formats to the
 *     same bytes again.
 * XENMIG_REGENERATE=1 rewrites json/ and xml-out/ instead of comparing;
 * review the diff before committing it.
 */
#include "config.h"

#include <string.h>

#include <libxl.h>

#include <xenmig/domain.h>
#include "domain/domain-private.h"
#include "xml-cases.h"

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(libxl_domain_config, libxl_domain_config_dispose)

static const char *srcdir;

static gboolean
regenerate(void)
{
    return g_strcmp0(g_getenv("XENMIG_REGENERATE"), "1") == 0;
}

static void
check_golden(const char *path, const char *actual)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *expected = NULL;

    if (regenerate()) {
        g_assert_true(g_file_set_contents(path, actual, -1, &err));
        g_assert_no_error(err);
        return;
    }
    if (!g_file_get_contents(path, &expected, NULL, &err)) {
        g_test_message("missing golden file %s (run with XENMIG_REGENERATE=1)", path);
        g_assert_no_error(err);
    }
    if (strcmp(expected, actual) != 0) {
        g_auto(GStrv) want = g_strsplit(expected, "\n", -1);
        g_auto(GStrv) got = g_strsplit(actual, "\n", -1);
        guint i = 0;

        while (want[i] && got[i] && strcmp(want[i], got[i]) == 0)
            i++;
        g_test_message("%s differs at line %u:\n  expected: %s\n  actual:   %s\n"
                       "(XENMIG_REGENERATE=1 rewrites the golden files)",
                       path, i + 1, want[i] ? want[i] : "(end)",
                       got[i] ? got[i] : "(end)");
        g_test_fail();
    }
}

static void
test_case(gconstpointer data)
{
    const char *name = data;
    g_autofree char *in_path = g_strdup_printf("%s/xml/%s.xml", srcdir, name);
    g_autofree char *json_path = g_strdup_printf("%s/json/%s.json", srcdir, name);
    g_autofree char *out_path = g_strdup_printf("%s/xml-out/%s.xml", srcdir, name);
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *json = NULL;
    g_autofree char *out = NULL;
    g_autofree char *out2 = NULL;
    g_autoptr(XmDomainDef) def = NULL;
    g_autoptr(XmDomainDef) def2 = NULL;

    g_assert_true(g_file_get_contents(in_path, &xml, NULL, &err));
    def = xm_domain_def_parse_xml(xml, &err);
    g_assert_no_error(err);
    g_assert_nonnull(def);

    json = xm_domain_def_to_libxl_json(def, &err);
    g_assert_no_error(err);
    check_golden(json_path, json);

    /* SECURE so that a VNC password survives the round trip. */
    out = xm_domain_def_format_xml(def, -1, XM_DOMAIN_XML_SECURE);
    check_golden(out_path, out);

    /* libxl -> model -> libxl gives the same libxl configuration. */
    {
        g_auto(libxl_domain_config) cfg;
        g_autoptr(XmDomainDef) back = NULL;
        g_autofree char *json2 = NULL;

        libxl_domain_config_init(&cfg);
        g_assert_true(xm_domain_def_to_libxl(def, &cfg, NULL, &err));
        g_assert_no_error(err);
        back = xm_domain_def_from_libxl(&cfg, &err);
        g_assert_no_error(err);
        json2 = xm_domain_def_to_libxl_json(back, &err);
        g_assert_no_error(err);
        g_assert_cmpstr(json2, ==, json);
    }

    def2 = xm_domain_def_parse_xml(out, &err);
    g_assert_no_error(err);
    g_assert_true(xm_domain_def_equal(def, def2));
    out2 = xm_domain_def_format_xml(def2, -1, XM_DOMAIN_XML_SECURE);
    g_assert_cmpstr(out2, ==, out);
}

int
main(int argc, char **argv)
{
    g_autoptr(GPtrArray) names = NULL;

    g_test_init(&argc, &argv, NULL);
    srcdir = argc > 1 ? argv[1] : g_getenv("XENMIG_DOMAIN_TESTDIR");
    g_assert_nonnull(srcdir);

    names = xm_test_add_xml_cases(srcdir, "xml", "/domain/golden", test_case);
    return g_test_run();
}
