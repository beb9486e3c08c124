/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Backend selection and the libxl backend's behaviour on a host without Xen. */
#include "config.h"

#include <string.h>
#include <unistd.h>
#include <xenmig/backend.h>
#include <xenmig/error.h>

static void
test_libxl_no_xen(void)
{
    XmBackendConfig cfg = { .backend = (char *) "libxl", .state_dir = (char *) "/nonexistent" };
    g_autoptr(GError) err = NULL;
    XmBackend *b;

    if (access("/dev/xen/privcmd", F_OK) == 0 || access("/proc/xen/privcmd", F_OK) == 0) {
        g_test_skip("this host runs Xen");
        return;
    }
    b = xm_backend_new(&cfg, NULL, NULL, &err);
    g_assert_null(b);
    g_assert_error(err, XM_ERROR, XM_ERR_NO_XEN);
    g_assert_cmpstr(err->message, ==,
                    "cannot open Xen: /dev/xen/privcmd not present (is this a Xen dom0?)");
}

static void
test_default_is_libxl(void)
{
    XmBackendConfig cfg = { 0 };
    g_autoptr(GError) err = NULL;

    if (access("/dev/xen/privcmd", F_OK) == 0) {
        g_test_skip("this host runs Xen");
        return;
    }
    g_assert_null(xm_backend_new(&cfg, NULL, NULL, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_NO_XEN);
}

static void
test_unknown_backend(void)
{
    XmBackendConfig cfg = { .backend = (char *) "qemu" };
    g_autoptr(GError) err = NULL;

    g_assert_null(xm_backend_new(&cfg, NULL, NULL, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
    g_assert_nonnull(strstr(err->message, "'qemu'"));
}

static void
test_sim_needs_state_dir(void)
{
    XmBackendConfig cfg = { .backend = (char *) "sim" };
    g_autoptr(GError) err = NULL;

    g_assert_null(xm_backend_new(&cfg, NULL, NULL, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
}

static void
test_sim_opens_and_reports_host(void)
{
    g_autofree char *dir = g_dir_make_tmp("xm-backend-XXXXXX", NULL);
    XmBackendConfig cfg = { .backend = (char *) "sim", .state_dir = dir,
                            .sim_host_memory_mib = 2048, .sim_host_cpus = 3 };
    g_autoptr(GError) err = NULL;
    g_autoptr(XmBackend) b = xm_backend_new(&cfg, NULL, NULL, &err);
    const XmBackendOps *ops;
    XmNodeInfo ni;
    guint64 free_kib = 0;
    unsigned long version = 0;
    g_autofree int *ids = NULL;
    size_t n = 99;

    g_assert_no_error(err);
    ops = xm_backend_ops(b);
    g_assert_cmpstr(ops->name, ==, "sim");
    g_assert_cmpstr(xm_backend_config(b)->state_dir, ==, dir);
    g_assert_true(ops->node_info(b, &ni, &err));
    g_assert_cmpuint(ni.memory_kib, ==, 2048 * 1024);
    g_assert_cmpuint(ni.cpus, ==, 3);
    g_assert_true(ops->free_memory(b, &free_kib, &err));
    g_assert_cmpuint(free_kib, ==, 2048 * 1024);
    g_assert_true(ops->version(b, &version, &err));
    g_assert_cmpuint(version, ==, 4017000);
    g_assert_cmpint(ops->max_vcpus(b, &err), >, 0);
    g_assert_true(ops->list(b, &ids, &n, &err));
    g_assert_cmpuint(n, ==, 0);
    g_clear_pointer(&b, xm_backend_free);
    g_assert_no_error(err);

    g_autofree char *sim = g_build_filename(dir, "sim", NULL);
    g_autofree char *next = g_build_filename(sim, "next-domid", NULL);
    unlink(next);
    rmdir(sim);
    rmdir(dir);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/backend/libxl/no-xen", test_libxl_no_xen);
    g_test_add_func("/backend/default-is-libxl", test_default_is_libxl);
    g_test_add_func("/backend/unknown", test_unknown_backend);
    g_test_add_func("/backend/sim/needs-state-dir", test_sim_needs_state_dir);
    g_test_add_func("/backend/sim/host", test_sim_opens_and_reports_host);
    return g_test_run();
}
