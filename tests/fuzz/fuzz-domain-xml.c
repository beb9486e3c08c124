/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the domain XML parser: any input must either be
 * refused with an XM_ERROR, or parse into a model whose formatted XML
 * parses back into an equal model and formats to the same bytes, and
 * whose libxl configuration converts back into a model with the same
 * libxl configuration.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxl.h>

#include <xenmig/domain.h>
#include <xenmig/error.h>
#include "domain/domain-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *xml = NULL;
    g_autofree char *out = NULL;
    g_autofree char *out2 = NULL;
    g_autofree char *json = NULL;
    g_autoptr(XmDomainDef) def = NULL;
    g_autoptr(XmDomainDef) def2 = NULL;
    g_autoptr(GError) err = NULL;

    /* Keep inputs small: the interesting structure fits in a few KiB and
     * bigger inputs only slow the fuzzer down. */
    if (size > 64 * 1024)
        return 0;
    xml = g_strndup((const char *)data, size);

    def = xm_domain_def_parse_xml(xml, &err);
    if (!def) {
        if (!err || err->domain != XM_ERROR || !err->message) {
            fprintf(stderr, "parse failed without an XM_ERROR\n");
            abort();
        }
        return 0;
    }

    json = xm_domain_def_to_libxl_json(def, &err);
    if (!json) {
        fprintf(stderr, "libxl conversion of an accepted model failed: %s\n",
                err ? err->message : "(no error)");
        abort();
    }

    /* libxl -> model -> libxl must give the same libxl configuration. */
    {
        g_autoptr(XmDomainDef) back = NULL;
        g_autofree char *json2 = NULL;
        libxl_domain_config cfg;

        libxl_domain_config_init(&cfg);
        if (!xm_domain_def_to_libxl(def, &cfg, NULL, &err) ||
            !(back = xm_domain_def_from_libxl(&cfg, &err)) ||
            !(json2 = xm_domain_def_to_libxl_json(back, &err)) ||
            strcmp(json, json2) != 0) {
            fprintf(stderr, "libxl round trip failed: %s\n%s\n---\n%s\n",
                    err ? err->message : "(configs differ)", json,
                    json2 ? json2 : "");
            abort();
        }
        libxl_domain_config_dispose(&cfg);
    }

    out = xm_domain_def_format_xml(def, -1, XM_DOMAIN_XML_SECURE);
    def2 = xm_domain_def_parse_xml(out, &err);
    if (!def2) {
        fprintf(stderr, "formatted XML does not parse: %s\n%s\n",
                err ? err->message : "(no error)", out);
        abort();
    }
    if (!xm_domain_def_equal(def, def2)) {
        fprintf(stderr, "round trip changed the model:\n%s\n", out);
        abort();
    }
    out2 = xm_domain_def_format_xml(def2, -1, XM_DOMAIN_XML_SECURE);
    if (g_strcmp0(out, out2) != 0) {
        fprintf(stderr, "formatting is not stable:\n%s\n---\n%s\n", out, out2);
        abort();
    }
    return 0;
}
