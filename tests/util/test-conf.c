/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt conf-syntax parser and the driver configuration. */
#include "config.h"

#include <glib/gstdio.h>
#include <xenmig/xenmig.h>

#include "util/conf.h"

static void
test_parse_values(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmConf) conf = xm_conf_parse(
        "# a comment\n"
        "\n"
        "str = \"hello world\"   # trailing comment\n"
        "single = 'x'\n"
        "num = 42\n"
        "neg=-7\n"
        "list = [ \"a\",\n"
        "   \"b\", # inside\n"
        "   3, ]\n"
        "empty = []\n"
        "num = 43;\n"
        "long = \"\"\"two\nlines\"\"\"\n"
        "after = 1\n", "t.conf", &err);
    const XmConfEntry *e;

    g_assert_no_error(err);
    g_assert_nonnull(conf);
    g_assert_cmpuint(xm_conf_n_entries(conf), ==, 9);
    g_assert_cmpstr(xm_conf_lookup(conf, "long")->value->str, ==, "two\nlines");
    g_assert_cmpuint(xm_conf_lookup(conf, "after")->line, ==, 14);

    e = xm_conf_lookup(conf, "str");
    g_assert_cmpint(e->value->type, ==, XM_CONF_STRING);
    g_assert_cmpstr(e->value->str, ==, "hello world");
    g_assert_cmpuint(e->line, ==, 3);
    g_assert_cmpstr(xm_conf_lookup(conf, "single")->value->str, ==, "x");
    g_assert_cmpint(xm_conf_lookup(conf, "neg")->value->num, ==, -7);

    /* the last assignment wins */
    e = xm_conf_lookup(conf, "num");
    g_assert_cmpint(e->value->num, ==, 43);
    g_assert_cmpuint(e->line, ==, 11);

    e = xm_conf_lookup(conf, "list");
    g_assert_cmpint(e->value->type, ==, XM_CONF_LIST);
    g_assert_cmpuint(e->value->list->len, ==, 3);
    g_assert_cmpstr(((XmConfValue *)e->value->list->pdata[1])->str, ==, "b");
    g_assert_cmpint(((XmConfValue *)e->value->list->pdata[2])->num, ==, 3);
    g_assert_cmpuint(xm_conf_lookup(conf, "empty")->value->list->len, ==, 0);
    g_assert_null(xm_conf_lookup(conf, "nope"));
}

static void
check_syntax_error(const char *text, const char *where)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmConf) conf = xm_conf_parse(text, "bad.conf", &err);

    g_assert_null(conf);
    g_assert_error(err, XM_ERROR, XM_ERR_CONF_SYNTAX);
    if (!g_str_has_prefix(err->message, where))
        g_error("'%s' does not start with '%s'", err->message, where);
}

static void
test_syntax_errors(void)
{
    check_syntax_error("a = \"unterminated\n", "bad.conf:1:");
    check_syntax_error("\n\nkey \"x\"\n", "bad.conf:3:");
    check_syntax_error("a = 1\nb = \n", "bad.conf:2:");
    check_syntax_error("a = [ \"x\" \"y\" ]\n", "bad.conf:1:");
    check_syntax_error("a = [ \"x\",\n", "bad.conf:2:");
    check_syntax_error("a = 12abc\n", "bad.conf:1:");
    check_syntax_error("a = 1 2\n", "bad.conf:1:");
    check_syntax_error("= 1\n", "bad.conf:1:");
    check_syntax_error("a = bareword\n", "bad.conf:1:");
    check_syntax_error("a = 99999999999999999999999\n", "bad.conf:1:");
    check_syntax_error("a = 1\nb = \"\"\"open\n", "bad.conf:2:");
}

static void
test_getters(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmConf) conf = xm_conf_parse("s = \"v\"\nn = 5\nbig = 70000\n",
                                           "g.conf", &err);
    g_autofree char *s = NULL;
    guint u = 1;
    guint64 u64 = 1;

    g_assert_no_error(err);
    g_assert_true(xm_conf_get_string(conf, "s", &s, &err));
    g_assert_cmpstr(s, ==, "v");
    g_assert_true(xm_conf_get_uint(conf, "absent", 10, &u, &err));
    g_assert_cmpuint(u, ==, 1);
    g_assert_true(xm_conf_get_uint(conf, "n", 10, &u, &err));
    g_assert_cmpuint(u, ==, 5);
    g_assert_true(xm_conf_get_uint64(conf, "big", &u64, &err));
    g_assert_cmpuint(u64, ==, 70000);

    g_assert_false(xm_conf_get_uint(conf, "big", 65535, &u, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_CONF_SYNTAX);
    g_assert_nonnull(strstr(err->message, "g.conf:3:"));
    g_assert_cmpuint(u, ==, 5);
    g_clear_error(&err);
    g_assert_false(xm_conf_get_string(conf, "n", &s, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_CONF_SYNTAX);
    g_assert_cmpstr(s, ==, "v");
}

static char *
write_temp(const char *text)
{
    g_autoptr(GError) err = NULL;
    char *path = NULL;
    int fd = g_file_open_tmp("xm-conf-XXXXXX.conf", &path, &err);

    g_assert_no_error(err);
    close(fd);
    g_assert_true(g_file_set_contents(path, text, -1, &err));
    return path;
}

static void
test_driver_defaults(void)
{
    g_autoptr(XmDriverConfig) cfg = xm_driver_config_new();
    g_autoptr(GError) err = NULL;

    /* a missing file is not an error: the defaults stay */
    g_assert_true(xm_driver_config_load(cfg, "/nonexistent/xenmig.conf", &err));
    g_assert_no_error(err);
    g_assert_cmpstr(cfg->backend, ==, "libxl");
    g_assert_cmpstr(cfg->state_dir, ==, "/run/libvirt/libxl");
    g_assert_cmpstr(cfg->config_dir, ==, SYSCONFDIR "/libvirt/libxl");
    g_assert_cmpstr(cfg->autostart_dir, ==, SYSCONFDIR "/libvirt/libxl/autostart");
    g_assert_cmpstr(cfg->save_dir, ==, LOCALSTATEDIR "/lib/libvirt/libxl/save");
    g_assert_cmpstr(cfg->xen_disk_datapath, ==, "direct");
    g_assert_null(cfg->sim_host_name);
    g_assert_cmpuint(cfg->migration_port_min, ==, 49152);
    g_assert_cmpuint(cfg->migration_port_max, ==, 49215);
}

static void
test_driver_load(void)
{
    g_autoptr(XmDriverConfig) cfg = xm_driver_config_new();
    g_autoptr(GError) err = NULL;
    g_autofree char *path = write_temp(
        "backend = \"sim\"\n"
        "config_dir = \"/tmp/xm/etc\"\n"
        "state_dir = \"/tmp/xm/run\"\n"
        "sim_host_name = \"hostA\"\n"
        "sim_host_memory_mib = 2048\n"
        "sim_host_cpus = 2\n"
        "xen_disk_datapath = \"nbd\"\n"
        "# a key of libvirt's own libxl driver: ignored\n"
        "autoballoon = 1\n");

    g_assert_true(xm_driver_config_load(cfg, path, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(cfg->backend, ==, "sim");
    g_assert_cmpstr(cfg->config_dir, ==, "/tmp/xm/etc");
    /* autostart follows config_dir when not set itself */
    g_assert_cmpstr(cfg->autostart_dir, ==, "/tmp/xm/etc/autostart");
    g_assert_cmpstr(cfg->state_dir, ==, "/tmp/xm/run");
    g_assert_cmpstr(cfg->sim_host_name, ==, "hostA");
    g_assert_cmpuint(cfg->sim_host_memory_mib, ==, 2048);
    g_assert_cmpuint(cfg->sim_host_cpus, ==, 2);
    g_assert_cmpstr(cfg->xen_disk_datapath, ==, "nbd");
    g_unlink(path);
}

static void
check_load_fails(const char *text, const char *needle)
{
    g_autoptr(XmDriverConfig) cfg = xm_driver_config_new();
    g_autoptr(GError) err = NULL;
    g_autofree char *path = write_temp(text);

    g_assert_false(xm_driver_config_load(cfg, path, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_CONF_SYNTAX);
    if (!strstr(err->message, needle))
        g_error("'%s' lacks '%s'", err->message, needle);
    /* nothing applied */
    g_assert_cmpstr(cfg->backend, ==, "libxl");
    g_assert_cmpstr(cfg->state_dir, ==, "/run/libvirt/libxl");
    g_unlink(path);
}

static void
test_driver_bad(void)
{
    check_load_fails("state_dir = \"/x\"\nbackend = \"qemu\"\n", ":2: unknown backend 'qemu'");
    check_load_fails("state_dir = \"relative\"\n", ":1: 'state_dir' must be an absolute path");
    check_load_fails("backend = 1\n", ":1: 'backend' must be a string");
    check_load_fails("sim_host_cpus = \"4\"\n", "'sim_host_cpus'");
    check_load_fails("migration_port_min = 50000\nmigration_port_max = 40000\n",
                     "migration_port_min");
    check_load_fails("backend = \"sim\"\nstate_dir = \n", ":2:");
    check_load_fails("\nxen_disk_datapath = \"qdisk\"\n",
                     ":2: unknown xen_disk_datapath 'qdisk'");
}

static void
test_driver_config_path(void)
{
    g_setenv("XENMIG_CONF", "/some/where.conf", TRUE);
    g_assert_cmpstr(xm_driver_config_path(), ==, "/some/where.conf");
    g_unsetenv("XENMIG_CONF");
    g_assert_cmpstr(xm_driver_config_path(), ==, SYSCONFDIR "/libvirt/libxl.conf");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/conf/parse-values", test_parse_values);
    g_test_add_func("/conf/syntax-errors", test_syntax_errors);
    g_test_add_func("/conf/getters", test_getters);
    g_test_add_func("/conf/driver-defaults", test_driver_defaults);
    g_test_add_func("/conf/driver-load", test_driver_load);
    g_test_add_func("/conf/driver-bad", test_driver_bad);
    g_test_add_func("/conf/driver-config-path", test_driver_config_path);
    return g_test_run();
}
