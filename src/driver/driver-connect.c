/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Connection- and node-level entry points. */
#define G_LOG_DOMAIN "xenmig-driver"
#include "config.h"

#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "driver.h"

int
xmConnectURIProbe(char **uri)
{
    if (!xm_driver)
        return 0;
    *uri = g_strdup("xen:///system");
    return 1;
}

int
xmConnectOpen(virConnectPtr conn, virConnectAuthPtr auth, void *conf,
              unsigned int flags)
{
    g_autofree char *uristr = NULL;
    g_autoptr(GUri) uri = NULL;
    const char *path;

    XM_CHECK_FLAGS(VIR_CONNECT_RO, XM_VIR_DRV_OPEN_ERROR);

    /* The scheme is "xen" (libvirt filters on uriSchemes) but the state
     * driver may have declined on a host without Xen. */
    if (!xm_driver) {
        XM_REPORT(VIR_ERR_INTERNAL_ERROR, "%s",
                  _("the xenmig state driver is not active"));
        return XM_VIR_DRV_OPEN_ERROR;
    }
    uristr = virConnectGetURI(conn);
    if (!uristr)
        return XM_VIR_DRV_OPEN_ERROR;
    uri = g_uri_parse(uristr, G_URI_FLAGS_NONE, NULL);
    path = uri ? g_uri_get_path(uri) : "";
    /* There is no per-user Xen: only /system, like libvirt's libxl driver. */
    if (*path && !g_str_equal(path, "/") && !g_str_equal(path, "/system")) {
        XM_REPORT(VIR_ERR_INTERNAL_ERROR,
                  _("unexpected Xen URI path '%s', try xen:///system"), path);
        return XM_VIR_DRV_OPEN_ERROR;
    }
    if (virConnectOpenEnsureACL(conn) < 0)
        return XM_VIR_DRV_OPEN_ERROR;
    return XM_VIR_DRV_OPEN_SUCCESS;
}

int
xmConnectClose(virConnectPtr conn)
{
    /* Callbacks of this connection go away with it. */
    return 0;
}

const char *
xmConnectGetType(virConnectPtr conn)
{
    return "Xen";
}

int
xmConnectGetVersion(virConnectPtr conn, unsigned long *version)
{
    g_autoptr(GError) err = NULL;
    unsigned long v = 0;

    if (!xm_ops()->version(xm_driver->backend, &v, &err)) {
        XM_REPORT_GERROR(err);
        return -1;
    }
    *version = v;
    return 0;
}

char *
xmConnectGetHostname(virConnectPtr conn)
{
    char buf[256];
    const XmDriverConfig *cfg = xm_driver->cfg;

    if (g_str_equal(cfg->backend, "sim") && cfg->sim_host_name)
        return g_strdup(cfg->sim_host_name);
    if (gethostname(buf, sizeof(buf)) < 0) {
        XM_REPORT(VIR_ERR_SYSTEM_ERROR, _("cannot get the host name: %s"),
                  g_strerror(errno));
        return NULL;
    }
    buf[sizeof(buf) - 1] = '\0';
    return g_strdup(buf);
}

int
xmConnectGetMaxVcpus(virConnectPtr conn, const char *type)
{
    g_autoptr(GError) err = NULL;
    int n;

    if (type && g_ascii_strcasecmp(type, "xen") != 0) {
        XM_REPORT(VIR_ERR_INVALID_ARG, _("unknown type '%s'"), type);
        return -1;
    }
    n = xm_ops()->max_vcpus(xm_driver->backend, &err);
    if (n < 0)
        XM_REPORT_GERROR(err);
    return n;
}

int
xmNodeGetInfo(virConnectPtr conn, virNodeInfoPtr info)
{
    g_autoptr(GError) err = NULL;
    XmNodeInfo ni = { 0 };

    if (!xm_ops()->node_info(xm_driver->backend, &ni, &err)) {
        XM_REPORT_GERROR(err);
        return -1;
    }
    memset(info, 0, sizeof(*info));
    g_strlcpy(info->model, ni.model, sizeof(info->model));
    info->memory = ni.memory_kib;
    info->cpus = ni.cpus;
    info->mhz = ni.mhz;
    info->nodes = ni.nodes ? ni.nodes : 1;
    info->sockets = ni.sockets ? ni.sockets : 1;
    info->cores = ni.cores ? ni.cores : ni.cpus;
    info->threads = ni.threads ? ni.threads : 1;
    return 0;
}

int
xmNodeGetCPUMap(virConnectPtr conn, unsigned char **cpumap, unsigned int *online,
                unsigned int flags)
{
    g_autoptr(GError) err = NULL;
    XmNodeInfo ni = { 0 };

    XM_CHECK_FLAGS(0, -1);
    if (!xm_ops()->node_info(xm_driver->backend, &ni, &err)) {
        XM_REPORT_GERROR(err);
        return -1;
    }
    /* The backends do not take CPUs offline: all of them are online. */
    if (cpumap) {
        unsigned char *map = g_new0(unsigned char, VIR_CPU_MAPLEN(ni.cpus));
        for (guint i = 0; i < ni.cpus; i++)
            VIR_USE_CPU(map, i);
        *cpumap = map;
    }
    if (online)
        *online = ni.cpus;
    return ni.cpus;
}

unsigned long long
xmNodeGetFreeMemory(virConnectPtr conn)
{
    g_autoptr(GError) err = NULL;
    guint64 kib = 0;

    if (!xm_ops()->free_memory(xm_driver->backend, &kib, &err)) {
        XM_REPORT_GERROR(err);
        return 0;
    }
    return kib * 1024;
}

int
xmNodeGetCellsFreeMemory(virConnectPtr conn, unsigned long long *mems,
                         int start, int max)
{
    g_autoptr(GError) err = NULL;
    guint64 kib = 0;

    /* The backends see one NUMA cell. */
    if (start != 0 || max < 1) {
        XM_REPORT(VIR_ERR_INVALID_ARG,
                  _("start cell %d out of range (0-0)"), start);
        return -1;
    }
    if (!xm_ops()->free_memory(xm_driver->backend, &kib, &err)) {
        XM_REPORT_GERROR(err);
        return -1;
    }
    mems[0] = kib * 1024;
    return 1;
}

int
xmNodeGetSecurityModel(virConnectPtr conn, virSecurityModelPtr secmodel)
{
    /* No security driver: success with an empty model, as libvirt's libxl
     * and qemu drivers answer (clients then skip security labels). */
    memset(secmodel, 0, sizeof(*secmodel));
    return 0;
}

int
xmConnectSupportsFeature(virConnectPtr conn, int feature)
{
    int supported;

    if (virDriverFeatureIsGlobal(feature, &supported))
        return supported;
    switch (feature) {
    case XM_VIR_DRV_FEATURE_MIGRATION_V3:
    case XM_VIR_DRV_FEATURE_MIGRATION_PARAMS:
    case XM_VIR_DRV_FEATURE_MIGRATION_P2P:
    case XM_VIR_DRV_FEATURE_MIGRATE_CHANGE_PROTECTION:
    case XM_VIR_DRV_FEATURE_MIGRATION_OFFLINE:
        /* V3 with typed parameters only (driver-migrate-*.c) */
        return 1;
    case XM_VIR_DRV_FEATURE_MIGRATION_V1:
    case XM_VIR_DRV_FEATURE_MIGRATION_V2:
    case XM_VIR_DRV_FEATURE_MIGRATION_DIRECT:
    case XM_VIR_DRV_FEATURE_XML_MIGRATABLE:
        return 0;
    default:
        return 0;
    }
}

int
xmConnectIsEncrypted(virConnectPtr conn)
{
    return 0;
}

int
xmConnectIsSecure(virConnectPtr conn)
{
    /* Local only: nothing leaves the machine. */
    return 1;
}

int
xmConnectIsAlive(virConnectPtr conn)
{
    return 1;
}

/* The guests libvirt's libxl driver lists: PV, PVH (hardware assisted
 * paging) and HVM (firmware, ACPI, APIC, HAP). */
static void
caps_guest(GString *xml, const char *os_type, const char *arch, int wordsize,
           const char *machine, gboolean hvm)
{
    gboolean pvh = g_str_equal(os_type, "xenpvh");

    g_string_append_printf(xml,
        "  <guest>\n"
        "    <os_type>%s</os_type>\n"
        "    <arch name='%s'>\n"
        "      <wordsize>%d</wordsize>\n"
        "      <emulator>/usr/lib/xen/bin/qemu-system-i386</emulator>\n",
        os_type, arch, wordsize);
    if (hvm)
        g_string_append(xml, "      <loader>/usr/lib/xen/boot/hvmloader</loader>\n");
    g_string_append_printf(xml,
        "      <machine>%s</machine>\n"
        "      <domain type='xen'/>\n"
        "    </arch>\n"
        "    <features>\n", machine);
    if (hvm)
        g_string_append(xml,
            "      <pae/>\n"
            "      <nonpae/>\n"
            "      <acpi default='on' toggle='yes'/>\n"
            "      <apic default='on' toggle='no'/>\n"
            "      <hap default='on' toggle='yes'/>\n");
    else if (pvh)
        g_string_append(xml, "      <hap default='on' toggle='yes'/>\n");
    g_string_append(xml,
        "    </features>\n"
        "  </guest>\n");
}

char *
xmConnectGetCapabilities(virConnectPtr conn)
{
    struct utsname u;
    unsigned char host_uuid[VIR_UUID_BUFLEN];
    GString *xml = g_string_new("<capabilities>\n");
    const char *arch;

    uname(&u);
    arch = u.machine;
    g_string_append(xml, "  <host>\n");
    /* the same host UUID libvirt's other drivers report (nova reads it) */
    if (virGetHostUUID(host_uuid) == 0) {
        char str[37];
        xm_uuid_format(host_uuid, str);
        g_string_append_printf(xml, "    <uuid>%s</uuid>\n", str);
    }
    g_string_append_printf(xml,
        "    <cpu>\n"
        "      <arch>%s</arch>\n"
        "    </cpu>\n"
        "    <power_management/>\n"
        "    <iommu support='no'/>\n"
        "  </host>\n", arch);
    if (g_str_equal(arch, "x86_64")) {
        caps_guest(xml, "xen", "x86_64", 64, "xenpv", FALSE);
        caps_guest(xml, "xen", "i686", 32, "xenpv", FALSE);
        caps_guest(xml, "xenpvh", "x86_64", 64, "xenpvh", FALSE);
        caps_guest(xml, "hvm", "i686", 32, "xenfv", TRUE);
        caps_guest(xml, "hvm", "x86_64", 64, "xenfv", TRUE);
    } else {
        caps_guest(xml, "xen", arch, 64, "xenpv", FALSE);
        caps_guest(xml, "xenpvh", arch, 64, "xenpvh", FALSE);
    }
    g_string_append(xml, "</capabilities>\n");
    return g_string_free(xml, FALSE);
}
