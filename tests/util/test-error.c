/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The error domain's codes must equal libvirt's virErrorNumber values. */
#include "config.h"

#include <libvirt/virterror.h>
#include <xenmig/xenmig.h>

static void
test_codes_match_libvirt(void)
{
#define CHECK(n) g_assert_cmpint(XM_ERR_##n, ==, VIR_ERR_##n)
    CHECK(INTERNAL_ERROR); CHECK(NO_MEMORY); CHECK(NO_SUPPORT);
    CHECK(UNKNOWN_HOST); CHECK(NO_CONNECT); CHECK(INVALID_CONN);
    CHECK(INVALID_DOMAIN); CHECK(INVALID_ARG); CHECK(OPERATION_FAILED);
    CHECK(NO_XEN); CHECK(XEN_CALL); CHECK(OS_TYPE); CHECK(NO_KERNEL);
    CHECK(NO_SOURCE); CHECK(NO_TARGET); CHECK(NO_NAME); CHECK(NO_DEVICE);
    CHECK(XML_ERROR); CHECK(DOM_EXIST); CHECK(OPERATION_DENIED);
    CHECK(OPEN_FAILED); CHECK(READ_FAILED); CHECK(PARSE_FAILED);
    CHECK(CONF_SYNTAX); CHECK(WRITE_FAILED); CHECK(XML_DETAIL);
    CHECK(SYSTEM_ERROR); CHECK(RPC); CHECK(GNUTLS_ERROR); CHECK(NO_DOMAIN);
    CHECK(INVALID_MAC); CHECK(AUTH_FAILED); CHECK(OPERATION_INVALID);
    CHECK(CONFIG_UNSUPPORTED); CHECK(OPERATION_TIMEOUT);
    CHECK(MIGRATE_PERSIST_FAILED); CHECK(ARGUMENT_UNSUPPORTED);
    CHECK(OPERATION_ABORTED); CHECK(MIGRATE_UNSAFE); CHECK(OVERFLOW);
    CHECK(OPERATION_UNSUPPORTED); CHECK(RESOURCE_BUSY); CHECK(ACCESS_DENIED);
    CHECK(DEVICE_MISSING); CHECK(MIGRATE_FINISH_OK); CHECK(NO_HOSTNAME);
#undef CHECK
}

static void
test_version(void)
{
    g_assert_cmpstr(xm_version_string(), ==, PACKAGE_VERSION);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/error/codes-match-libvirt", test_codes_match_libvirt);
    g_test_add_func("/error/version", test_version);
    return g_test_run();
}
