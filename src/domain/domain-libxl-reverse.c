/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libxl_domain_config -> XmDomainDef, the inverse of domain-libxl.c.
 *
 * It recovers everything domain-libxl.c writes, so that model -> libxl ->
 * model -> libxl gives the same libxl configuration (the golden tests
 * check that). What libxl does not carry (title, description, metadata,
 * console target types, PS/2 inputs) is absent from the result. Settings
 * that the model cannot express are refused rather than dropped.
 */
#define G_LOG_DOMAIN "xenmig-domain"
#include "config.h"

#include <string.h>

#include <libxl.h>
#include <libxl_utils.h>

#include "domain/domain-private.h"
#include "domain/domain-xml-util.h"
#include "util/util.h"

static gboolean
unsupported(const char *what, GError **error)
{
    g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                _("libxl configuration has unsupported %s"), what);
    return FALSE;
}

static gboolean
lifecycle_from_libxl(libxl_action_on_shutdown a, XmLifecycleAction *out,
                     GError **error)
{
    switch (a) {
    case LIBXL_ACTION_ON_SHUTDOWN_DESTROY:
        *out = XM_LIFECYCLE_DESTROY;
        return TRUE;
    case LIBXL_ACTION_ON_SHUTDOWN_RESTART:
        *out = XM_LIFECYCLE_RESTART;
        return TRUE;
    case LIBXL_ACTION_ON_SHUTDOWN_RESTART_RENAME:
        *out = XM_LIFECYCLE_RENAME_RESTART;
        return TRUE;
    case LIBXL_ACTION_ON_SHUTDOWN_PRESERVE:
        *out = XM_LIFECYCLE_PRESERVE;
        return TRUE;
    case LIBXL_ACTION_ON_SHUTDOWN_COREDUMP_DESTROY:
        *out = XM_LIFECYCLE_COREDUMP_DESTROY;
        return TRUE;
    case LIBXL_ACTION_ON_SHUTDOWN_COREDUMP_RESTART:
        *out = XM_LIFECYCLE_COREDUMP_RESTART;
        return TRUE;
    case LIBXL_ACTION_ON_SHUTDOWN_SOFT_RESET:
    default:
        return unsupported("shutdown action", error);
    }
}

static bool
defbool_on(libxl_defbool b)
{
    return !libxl_defbool_is_default(b) && libxl_defbool_val(b);
}

static XmVncDef *
vnc_from_libxl(libxl_defbool findunused, int display, const char *listen,
               const char *passwd, const char *keymap)
{
    XmVncDef *vnc = g_new0(XmVncDef, 1);

    vnc->autoport = libxl_defbool_is_default(findunused) || libxl_defbool_val(findunused);
    vnc->port = vnc->autoport ? -1 : 5900 + display;
    vnc->listen = g_strdup(listen);
    vnc->passwd = g_strdup(passwd);
    vnc->keymap = g_strdup(keymap);
    return vnc;
}

static gboolean
disk_from_libxl(const libxl_device_disk *x, XmDiskDef *disk, GError **error)
{
    XmDiskBus bus;

    if (!x->vdev)
        return unsupported("disk without a virtual device name", error);
    disk->target = g_strdup(x->vdev);
    disk->source = g_strdup(x->pdev_path);
    disk->device = x->is_cdrom ? XM_DISK_DEVICE_CDROM : XM_DISK_DEVICE_DISK;
    disk->readonly = !x->readwrite;

    switch (x->format) {
    case LIBXL_DISK_FORMAT_RAW:
    case LIBXL_DISK_FORMAT_EMPTY:
    case LIBXL_DISK_FORMAT_UNKNOWN:
        disk->format = XM_DISK_FORMAT_RAW;
        break;
    case LIBXL_DISK_FORMAT_QCOW2:
        disk->format = XM_DISK_FORMAT_QCOW2;
        break;
    default:
        return unsupported("disk format", error);
    }
    switch (x->backend) {
    case LIBXL_DISK_BACKEND_QDISK:
        disk->driver_name = g_strdup("qemu");
        break;
    case LIBXL_DISK_BACKEND_PHY:
        disk->driver_name = g_strdup("phy");
        break;
    case LIBXL_DISK_BACKEND_TAP:
        disk->driver_name = g_strdup("tap");
        break;
    case LIBXL_DISK_BACKEND_UNKNOWN:
        break;
    default:
        return unsupported("disk backend", error);
    }
    if (x->backend == LIBXL_DISK_BACKEND_PHY && disk->format != XM_DISK_FORMAT_RAW)
        return unsupported("qcow2 disk on the phy backend", error);
    disk->type = x->pdev_path && g_str_has_prefix(x->pdev_path, "/dev/") ?
                 XM_DISK_BLOCK : XM_DISK_FILE;
    /* The same naming rules as the XML parser: xvd*, hd*, sd*. */
    if (g_str_has_prefix(x->vdev, "xvd"))
        bus = XM_DISK_BUS_XEN;
    else if (g_str_has_prefix(x->vdev, "hd"))
        bus = XM_DISK_BUS_IDE;
    else if (g_str_has_prefix(x->vdev, "sd"))
        bus = XM_DISK_BUS_SCSI;
    else
        return unsupported("disk virtual device name", error);
    disk->bus = bus;
    return TRUE;
}

static void
nic_from_libxl(const libxl_device_nic *x, XmNetDef *net)
{
    static const uint8_t zero[6];

    net->type = x->bridge ? XM_NET_BRIDGE : XM_NET_ETHERNET;
    net->has_mac = memcmp(x->mac, zero, 6) != 0;
    if (net->has_mac)
        memcpy(net->mac, x->mac, 6);
    net->bridge = g_strdup(x->bridge);
    net->script = g_strdup(x->script);
    net->model = g_strdup(x->model);
    net->ifname = g_strdup(x->ifname);
}

static void
add_chr(XmDomainDef *def, XmChrKind kind, const char *target_type, int port)
{
    def->chrs = g_renew(XmChrDef, def->chrs, def->nchrs + 1);
    def->chrs[def->nchrs++] = (XmChrDef){
        .kind = kind, .type = g_strdup("pty"),
        .target_type = g_strdup(target_type), .port = port,
    };
}

static gboolean
hvm_from_libxl(const libxl_domain_build_info *b, XmDomainDef *def, GError **error)
{
    def->pae = defbool_on(b->u.hvm.pae);
    def->apic = defbool_on(b->apic) || defbool_on(b->u.hvm.apic);
    def->acpi = defbool_on(b->acpi) || defbool_on(b->u.hvm.acpi);
    def->viridian = defbool_on(b->u.hvm.viridian);
    def->loader = g_strdup(b->u.hvm.firmware);
    if (b->u.hvm.boot) {
        const char *p = b->u.hvm.boot;

        if (strlen(p) >= sizeof(def->boot_order) || strspn(p, "cdna") != strlen(p))
            return unsupported("HVM boot order", error);
        strcpy(def->boot_order, p);
    }
    if (defbool_on(b->u.hvm.vnc.enable))
        def->vnc = vnc_from_libxl(b->u.hvm.vnc.findunused, b->u.hvm.vnc.display,
                                  b->u.hvm.vnc.listen, b->u.hvm.vnc.passwd,
                                  b->u.hvm.keymap);
    switch (b->u.hvm.vga.kind) {
    case LIBXL_VGA_INTERFACE_TYPE_CIRRUS:
        def->video_model = g_strdup("cirrus");
        break;
    case LIBXL_VGA_INTERFACE_TYPE_STD:
        def->video_model = g_strdup("vga");
        break;
    case LIBXL_VGA_INTERFACE_TYPE_UNKNOWN:
    case LIBXL_VGA_INTERFACE_TYPE_NONE:
        break;
    default:
        return unsupported("video card", error);
    }
    if (def->video_model && b->video_memkb != LIBXL_MEMKB_DEFAULT)
        def->video_vram_kib = b->video_memkb;
    if (b->u.hvm.serial && b->u.hvm.serial_list)
        return unsupported("serial and serial_list together", error);
    if (b->u.hvm.serial) {
        if (strcmp(b->u.hvm.serial, "pty") != 0)
            return unsupported("serial device", error);
        add_chr(def, XM_CHR_SERIAL, NULL, 0);
    }
    for (int i = 0; b->u.hvm.serial_list && b->u.hvm.serial_list[i]; i++) {
        if (strcmp(b->u.hvm.serial_list[i], "pty") != 0)
            return unsupported("serial device", error);
        add_chr(def, XM_CHR_SERIAL, NULL, i);
    }
    for (int i = 0; b->u.hvm.usbdevice_list && b->u.hvm.usbdevice_list[i]; i++) {
        const char *t = b->u.hvm.usbdevice_list[i];

        if (strcmp(t, "tablet") != 0 && strcmp(t, "mouse") != 0 &&
            strcmp(t, "keyboard") != 0)
            return unsupported("USB device", error);
        def->inputs = g_renew(XmInputDef, def->inputs, def->ninputs + 1);
        def->inputs[def->ninputs].type = g_strdup(t);
        def->inputs[def->ninputs].bus = g_strdup("usb");
        def->ninputs++;
    }
    return TRUE;
}

XmDomainDef *
xm_domain_def_from_libxl(const void *d_config, GError **error)
{
    const libxl_domain_config *cfg = d_config;
    const libxl_domain_build_info *b;
    g_autoptr(XmDomainDef) def = g_new0(XmDomainDef, 1);

    g_return_val_if_fail(cfg != NULL, NULL);
    b = &cfg->b_info;

    switch (cfg->c_info.type) {
    case LIBXL_DOMAIN_TYPE_PV:
        def->os_type = XM_OS_PV;
        break;
    case LIBXL_DOMAIN_TYPE_PVH:
        def->os_type = XM_OS_PVH;
        break;
    case LIBXL_DOMAIN_TYPE_HVM:
        def->os_type = XM_OS_HVM;
        break;
    default:
        unsupported("domain type", error);
        return NULL;
    }
    if (!cfg->c_info.name || !*cfg->c_info.name) {
        g_set_error(error, XM_ERROR, XM_ERR_NO_NAME, _("libxl configuration has no name"));
        return NULL;
    }
    def->name = g_strdup(cfg->c_info.name);
    memcpy(def->uuid, libxl_uuid_bytearray_const(&cfg->c_info.uuid), 16);
    def->os_arch = g_strdup("x86_64");
    if (def->os_type != XM_OS_PV && !libxl_defbool_is_default(cfg->c_info.hap)) {
        def->hap_set = true;
        def->hap = libxl_defbool_val(cfg->c_info.hap);
    }

    if (b->max_vcpus < 1 || b->max_vcpus > XM_DOMAIN_MAX_VCPUS) {
        unsupported("number of vCPUs", error);
        return NULL;
    }
    def->max_vcpus = b->max_vcpus;
    {
        int avail = b->avail_vcpus.size ? libxl_bitmap_count_set(&b->avail_vcpus) :
                    b->max_vcpus;

        if (avail < 1 || avail > b->max_vcpus) {
            unsupported("set of available vCPUs", error);
            return NULL;
        }
        def->vcpus = avail;
    }
    def->max_memory_kib = b->max_memkb;
    def->current_memory_kib = b->target_memkb ? b->target_memkb : b->max_memkb;
    if (!def->max_memory_kib || b->max_memkb == LIBXL_MEMKB_DEFAULT) {
        unsupported("memory size", error);
        return NULL;
    }
    if (defbool_on(b->localtime))
        def->clock_offset = g_strdup("localtime");
    def->kernel = g_strdup(b->kernel);
    def->initrd = g_strdup(b->ramdisk);
    def->cmdline = g_strdup(b->cmdline);
    def->emulator = g_strdup(b->device_model);

    if (def->os_type == XM_OS_HVM) {
        if (!hvm_from_libxl(b, def, error))
            return NULL;
    } else {
        def->bootloader = g_strdup(b->bootloader);
        if (b->bootloader_args)
            def->bootloader_args = g_strjoinv(" ", b->bootloader_args);
        if (def->os_type == XM_OS_PVH)
            def->acpi = defbool_on(b->acpi);
        if (cfg->num_vfbs > 1)
            {
            unsupported("number of framebuffers", error);
            return NULL;
        }
        if (cfg->num_vfbs == 1) {
            const libxl_device_vfb *v = &cfg->vfbs[0];

            if (!defbool_on(v->vnc.enable))
                {
            unsupported("framebuffer without VNC", error);
            return NULL;
        }
            def->vnc = vnc_from_libxl(v->vnc.findunused, v->vnc.display,
                                      v->vnc.listen, v->vnc.passwd, v->keymap);
        }
        /* The PV console libxl always creates. */
        add_chr(def, XM_CHR_CONSOLE, "xen", 0);
    }

    if (cfg->num_disks < 0 || cfg->num_disks > XM_DOMAIN_MAX_DEVICES ||
        cfg->num_nics < 0 || cfg->num_nics > XM_DOMAIN_MAX_DEVICES)
        {
            unsupported("number of devices", error);
            return NULL;
        }
    def->disks = cfg->num_disks ? g_new0(XmDiskDef, cfg->num_disks) : NULL;
    for (int i = 0; i < cfg->num_disks; i++) {
        def->ndisks++;
        if (!disk_from_libxl(&cfg->disks[i], &def->disks[i], error))
            return NULL;
        for (int j = 0; j < i; j++) {
            if (strcmp(def->disks[j].target, def->disks[i].target) == 0)
                {
            unsupported("duplicate disk device name", error);
            return NULL;
        }
        }
    }
    def->nets = cfg->num_nics ? g_new0(XmNetDef, cfg->num_nics) : NULL;
    for (int i = 0; i < cfg->num_nics; i++) {
        def->nnets++;
        nic_from_libxl(&cfg->nics[i], &def->nets[i]);
    }

    if (!lifecycle_from_libxl(cfg->on_poweroff, &def->on_poweroff, error) ||
        !lifecycle_from_libxl(cfg->on_reboot, &def->on_reboot, error) ||
        !lifecycle_from_libxl(cfg->on_crash, &def->on_crash, error))
        return NULL;

    /* The same consistency rules as a parsed document. */
    if (!xm_domain_def_validate(def, TRUE, error))
        return NULL;
    return g_steal_pointer(&def);
}
