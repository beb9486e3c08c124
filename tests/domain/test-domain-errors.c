/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One test per refused document: tests/domain/bad/<case>.xml must fail to
 * parse with the error code on the first line of bad/<case>.expect and a
 * message containing its second line.
 */
#include "config.h"

#include <string.h>

#include <xenmig/domain.h>
#include <xenmig/error.h>
#include "xml-cases.h"

static const char *srcdir;

static const struct {
    const char *name;
    XmErrorCode code;
} codes[] = {
    { "XM_ERR_XML_ERROR", XM_ERR_XML_ERROR },
    { "XM_ERR_XML_DETAIL", XM_ERR_XML_DETAIL },
    { "XM_ERR_CONFIG_UNSUPPORTED", XM_ERR_CONFIG_UNSUPPORTED },
    { "XM_ERR_INVALID_ARG", XM_ERR_INVALID_ARG },
    { "XM_ERR_NO_NAME", XM_ERR_NO_NAME },
    { "XM_ERR_OS_TYPE", XM_ERR_OS_TYPE },
    { "XM_ERR_OVERFLOW", XM_ERR_OVERFLOW },
    { "XM_ERR_NO_SOURCE", XM_ERR_NO_SOURCE },
    { "XM_ERR_NO_TARGET", XM_ERR_NO_TARGET },
};

static void
test_case(gconstpointer data)
{
    const char *name = data;
    g_autofree char *xml_path = g_strdup_printf("%s/bad/%s.xml", srcdir, name);
    g_autofree char *expect_path = g_strdup_printf("%s/bad/%s.expect", srcdir, name);
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *expect = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(XmDomainDef) def = NULL;
    int code = -1;

    g_assert_true(g_file_get_contents(xml_path, &xml, NULL, &err));
    g_assert_true(g_file_get_contents(expect_path, &expect, NULL, &err));
    lines = g_strsplit(expect, "\n", 3);
    g_assert_cmpuint(g_strv_length(lines), >=, 2);
    for (size_t i = 0; i < G_N_ELEMENTS(codes); i++) {
        if (strcmp(codes[i].name, lines[0]) == 0)
            code = codes[i].code;
    }
    g_assert_cmpint(code, >=, 0);

    def = xm_domain_def_parse_xml(xml, &err);
    g_assert_null(def);
    g_assert_nonnull(err);
    g_test_message("%s: %s", name, err->message);
    g_assert_error(err, XM_ERROR, code);
    g_assert_nonnull(strstr(err->message, lines[1]));
}

int
main(int argc, char **argv)
{
    g_autoptr(GPtrArray) names = NULL;

    g_test_init(&argc, &argv, NULL);
    srcdir = argc > 1 ? argv[1] : g_getenv("XENMIG_DOMAIN_TESTDIR");
    g_assert_nonnull(srcdir);

    names = xm_test_add_xml_cases(srcdir, "bad", "/domain/bad", test_case);
    return g_test_run();
}
