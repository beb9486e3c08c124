/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Behaviour of the domain model API beyond the golden files. */
#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include <libxl.h>

#include <xenmig/domain.h>
#include <xenmig/error.h>
#include "domain/domain-private.h"

static const char *srcdir;

static XmDomainDef *
load(const char *name)
{
    g_autofree char *path = g_strdup_printf("%s/xml/%s.xml", srcdir, name);
    g_autofree char *xml = NULL;
    g_autoptr(GError) err = NULL;
    XmDomainDef *def;

    g_assert_true(g_file_get_contents(path, &xml, NULL, &err));
    def = xm_domain_def_parse_xml(xml, &err);
    g_assert_no_error(err);
    return def;
}

static void
test_uuid_roundtrip(void)
{
    uint8_t uuid[16], back[16];
    char str[37];

    g_assert_true(xm_uuid_parse("4F5E1C2A-9b3d-4e6f-8a7b-0c1d2e3f4a5b", uuid));
    xm_uuid_format(uuid, str);
    g_assert_cmpstr(str, ==, "4f5e1c2a-9b3d-4e6f-8a7b-0c1d2e3f4a5b");
    g_assert_true(xm_uuid_parse("4f5e1c2a9b3d4e6f8a7b0c1d2e3f4a5b", back));
    g_assert_cmpmem(uuid, 16, back, 16);
}

static void
test_uuid_bad(void)
{
    uint8_t uuid[16] = { 0 }, zero[16] = { 0 };

    g_assert_false(xm_uuid_parse("", uuid));
    g_assert_false(xm_uuid_parse("4f5e1c2a-9b3d-4e6f-8a7b-0c1d2e3f4a5", uuid));
    g_assert_false(xm_uuid_parse("4f5e1c2a+9b3d-4e6f-8a7b-0c1d2e3f4a5b", uuid));
    g_assert_false(xm_uuid_parse("gf5e1c2a-9b3d-4e6f-8a7b-0c1d2e3f4a5b", uuid));
    g_assert_false(xm_uuid_parse(NULL, uuid));
    /* A failed parse leaves the output alone. */
    g_assert_cmpmem(uuid, 16, zero, 16);
}

static void
test_uuid_generate(void)
{
    uint8_t a[16], b[16];

    xm_uuid_generate(a);
    xm_uuid_generate(b);
    g_assert_true(memcmp(a, b, 16) != 0);
    g_assert_cmpint(a[6] >> 4, ==, 4);          /* version 4 */
    g_assert_cmpint(a[8] & 0xc0, ==, 0x80);     /* RFC 4122 variant */
}

static void
test_missing_uuid_generated(void)
{
    const char *xml = "<domain type='xen'><name>n</name><memory>1024</memory>"
                      "<os><type>xen</type></os></domain>";
    g_autoptr(GError) err = NULL;
    g_autoptr(XmDomainDef) a = xm_domain_def_parse_xml(xml, &err);
    g_autoptr(XmDomainDef) b = xm_domain_def_parse_xml(xml, &err);
    uint8_t zero[16] = { 0 };

    g_assert_no_error(err);
    g_assert_true(memcmp(a->uuid, zero, 16) != 0);
    g_assert_true(memcmp(a->uuid, b->uuid, 16) != 0);
    /* Defaults filled in for what the document left out. */
    g_assert_cmpuint(a->current_memory_kib, ==, 1024);
    g_assert_cmpuint(a->vcpus, ==, 1);
    g_assert_cmpuint(a->max_vcpus, ==, 1);
    g_assert_cmpint(a->on_reboot, ==, XM_LIFECYCLE_RESTART);
    g_assert_cmpint(a->on_poweroff, ==, XM_LIFECYCLE_DESTROY);
}

static void
test_copy_equal(void)
{
    const char *cases[] = { "hvm-basic", "other-metadata-preserved",
                            "disks-file-block-qcow2-readonly-shareable",
                            "interfaces-bridge-ethernet-mac-script-model" };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(XmDomainDef) def = load(cases[i]);
        g_autoptr(XmDomainDef) copy = xm_domain_def_copy(def);

        g_assert_true(xm_domain_def_equal(def, copy));
        /* Deep: changing the copy leaves the original alone. */
        if (copy->ndisks) {
            copy->disks[0].target[0] = 'q';
            g_assert_false(xm_domain_def_equal(def, copy));
        }
    }
}

static void
test_passwd_needs_secure(void)
{
    g_autoptr(XmDomainDef) def = load("hvm-basic");
    g_autofree char *plain = xm_domain_def_format_xml(def, -1, 0);
    g_autofree char *secure = xm_domain_def_format_xml(def, -1, XM_DOMAIN_XML_SECURE);

    g_assert_null(strstr(plain, "passwd"));
    g_assert_nonnull(strstr(secure, "passwd='s3cr&lt;et&gt;'"));
}

static void
test_live_id_and_port(void)
{
    g_autoptr(XmDomainDef) def = load("hvm-basic");
    g_autofree char *live = NULL;
    g_autofree char *inactive = NULL;
    g_autoptr(XmDomainDef) back = NULL;
    g_autoptr(GError) err = NULL;

    def->vnc->port = 5907;   /* what the running domain got */
    live = xm_domain_def_format_xml(def, 12, 0);
    inactive = xm_domain_def_format_xml(def, 12, XM_DOMAIN_XML_INACTIVE);
    g_assert_nonnull(strstr(live, "<domain type='xen' id='12'>"));
    g_assert_nonnull(strstr(live, "port='5907' autoport='yes'"));
    g_assert_nonnull(strstr(inactive, "<domain type='xen'>"));
    g_assert_nonnull(strstr(inactive, "port='-1' autoport='yes'"));
    /* Live XML is accepted back (virsh dumpxml | virsh define), and the
     * port an autoport display happened to get is not part of the
     * definition. */
    back = xm_domain_def_parse_xml(live, &err);
    g_assert_no_error(err);
    g_assert_true(back->vnc->autoport);
    g_assert_cmpint(back->vnc->port, ==, -1);
}

static void
test_to_libxl(void)
{
    g_autoptr(XmDomainDef) def = load("hvm-basic");
    g_autoptr(GError) err = NULL;
    libxl_domain_config cfg;

    libxl_domain_config_init(&cfg);
    g_assert_true(xm_domain_def_to_libxl(def, &cfg, NULL, &err));
    g_assert_no_error(err);
    g_assert_cmpint(cfg.c_info.type, ==, LIBXL_DOMAIN_TYPE_HVM);
    g_assert_cmpstr(cfg.c_info.name, ==, "hvm-basic");
    g_assert_cmpmem(libxl_uuid_bytearray(&cfg.c_info.uuid), 16, def->uuid, 16);
    g_assert_cmpuint(cfg.b_info.max_memkb, ==, 2097152);
    g_assert_cmpstr(cfg.b_info.u.hvm.boot, ==, "dcn");
    g_assert_cmpint(cfg.num_disks, ==, 1);
    g_assert_cmpint(cfg.disks[0].backend, ==, LIBXL_DISK_BACKEND_QDISK);
    g_assert_cmpint(cfg.num_nics, ==, 1);
    g_assert_cmpint(cfg.nics[0].nictype, ==, LIBXL_NIC_TYPE_VIF_IOEMU);
    g_assert_cmpint(cfg.on_crash, ==, LIBXL_ACTION_ON_SHUTDOWN_RESTART);
    libxl_domain_config_dispose(&cfg);
}

static void
test_equal_detects_difference(void)
{
    g_autoptr(XmDomainDef) a = load("sim-metadata");
    g_autoptr(XmDomainDef) b = load("sim-metadata");

    g_assert_true(xm_domain_def_equal(a, b));
    b->sim.heartbeat_ms++;
    g_assert_false(xm_domain_def_equal(a, b));
}

/*
 * The entity and the external DTD name a FIFO with no writer: if libxml2
 * ever opened it, the parse would block and the alarm would kill the test.
 */
static void
test_no_external_loads(void)
{
    g_autofree char *dir = g_dir_make_tmp("xenmig-domain-XXXXXX", NULL);
    g_autofree char *fifo = g_build_filename(dir, "fifo", NULL);
    const char *templates[] = {
        "<!DOCTYPE domain [<!ENTITY e SYSTEM 'file://@FIFO@'>]>\n"
        "<domain type='xen'><name>&e;</name><memory>1024</memory>"
        "<os><type>xen</type></os></domain>",
        "<!DOCTYPE domain SYSTEM 'file://@FIFO@'>\n"
        "<domain type='xen'><name>n</name><memory>1024</memory>"
        "<os><type>xen</type></os></domain>",
        "<!DOCTYPE domain [<!ENTITY % p SYSTEM 'file://@FIFO@'> %p;]>\n"
        "<domain type='xen'><name>n</name><memory>1024</memory>"
        "<os><type>xen</type></os></domain>",
    };

    g_assert_nonnull(dir);
    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    alarm(20);
    for (size_t i = 0; i < G_N_ELEMENTS(templates); i++) {
        g_autoptr(GError) err = NULL;
        g_auto(GStrv) parts = g_strsplit(templates[i], "@FIFO@", -1);
        g_autofree char *xml = g_strjoinv(fifo, parts);
        g_autoptr(XmDomainDef) def = xm_domain_def_parse_xml(xml, &err);

        g_assert_null(def);
        g_assert_error(err, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED);
    }
    alarm(0);
    g_unlink(fifo);
    g_rmdir(dir);
}

static void
test_entity_not_expanded(void)
{
    /* Character references are fine; named entities other than the five
     * predefined ones do not exist without a DTD. */
    const char *xml = "<domain type='xen'><name>a&amp;b&#x41;</name>"
                      "<memory>1024</memory><os><type>xen</type></os></domain>";
    g_autoptr(GError) err = NULL;
    g_autoptr(XmDomainDef) def = xm_domain_def_parse_xml(xml, &err);

    g_assert_no_error(err);
    g_assert_cmpstr(def->name, ==, "a&bA");
}

static void
test_from_libxl(void)
{
    g_autoptr(XmDomainDef) def = load("hvm-basic");
    g_autoptr(XmDomainDef) back = NULL;
    g_autoptr(GError) err = NULL;
    libxl_domain_config cfg;

    libxl_domain_config_init(&cfg);
    g_assert_true(xm_domain_def_to_libxl(def, &cfg, NULL, &err));
    back = xm_domain_def_from_libxl(&cfg, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(back->name, ==, "hvm-basic");
    g_assert_cmpint(back->os_type, ==, XM_OS_HVM);
    g_assert_cmpstr(back->boot_order, ==, "dcn");
    g_assert_true(back->hap_set);
    g_assert_false(back->hap);
    g_assert_nonnull(back->vnc);
    g_assert_true(back->vnc->autoport);
    g_assert_cmpuint(back->ndisks, ==, 1);
    g_assert_cmpstr(back->disks[0].driver_name, ==, "qemu");
    g_assert_cmpuint(back->nnets, ==, 1);
    g_assert_cmpmem(back->nets[0].mac, 6, def->nets[0].mac, 6);
    /* libxl has no place for these. */
    g_assert_null(back->metadata_xml);

    /* A setting the model cannot express is refused, not dropped. */
    g_clear_pointer(&back, xm_domain_def_free);
    cfg.on_crash = LIBXL_ACTION_ON_SHUTDOWN_SOFT_RESET;
    back = xm_domain_def_from_libxl(&cfg, &err);
    g_assert_null(back);
    g_assert_error(err, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED);
    libxl_domain_config_dispose(&cfg);
}

static void
test_assign_macs(void)
{
    g_autoptr(XmDomainDef) def = load("interfaces-bridge-ethernet-mac-script-model");
    uint8_t first[6], second[6];

    g_assert_cmpuint(def->nnets, ==, 3);
    g_assert_false(def->nets[2].has_mac);
    memcpy(first, def->nets[0].mac, 6);
    memcpy(second, def->nets[1].mac, 6);

    xm_domain_def_assign_macs(def);
    g_assert_true(def->nets[2].has_mac);
    g_assert_cmpmem(def->nets[2].mac, 3, ((uint8_t[]){ 0x00, 0x16, 0x3e }), 3);
    g_assert_cmpint(def->nets[2].mac[3] & 0x80, ==, 0);
    g_assert_true(memcmp(def->nets[2].mac, first, 6) != 0);
    g_assert_true(memcmp(def->nets[2].mac, second, 6) != 0);
    /* Existing addresses are kept. */
    g_assert_cmpmem(def->nets[0].mac, 6, first, 6);
    g_assert_cmpmem(def->nets[1].mac, 6, second, 6);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    srcdir = argc > 1 ? argv[1] : g_getenv("XENMIG_DOMAIN_TESTDIR");
    g_assert_nonnull(srcdir);

    g_test_add_func("/domain/uuid/roundtrip", test_uuid_roundtrip);
    g_test_add_func("/domain/uuid/bad", test_uuid_bad);
    g_test_add_func("/domain/uuid/generate", test_uuid_generate);
    g_test_add_func("/domain/parse/missing-uuid-generated", test_missing_uuid_generated);
    g_test_add_func("/domain/copy/equal", test_copy_equal);
    g_test_add_func("/domain/format/passwd-needs-secure", test_passwd_needs_secure);
    g_test_add_func("/domain/format/live-id-and-port", test_live_id_and_port);
    g_test_add_func("/domain/libxl/hvm", test_to_libxl);
    g_test_add_func("/domain/equal/detects-difference", test_equal_detects_difference);
    g_test_add_func("/domain/parse/no-external-loads", test_no_external_loads);
    g_test_add_func("/domain/parse/predefined-entities", test_entity_not_expanded);
    g_test_add_func("/domain/assign-macs", test_assign_macs);
    g_test_add_func("/domain/libxl/from-libxl", test_from_libxl);
    return g_test_run();
}
