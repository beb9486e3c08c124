/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * XmDomainDef -> libxl_domain_config.
 *
 * The choices follow what libvirt's own libxl driver does for the same XML
 * (so a guest behaves the same when moved from it to xenmig) unless noted.
 * No libxl_ctx is needed: the conversion only fills structures, and
 * libxl_domain_config_to_json() accepts a NULL context (it then uses no
 * garbage collector and allocates with malloc), which is what lets the
 * golden tests run on machines without Xen.
 *
 * Every string handed to libxl is allocated with g_strdup(): GLib's
 * allocator is the system malloc(), and libxl's dispose functions free().
 */
#define G_LOG_DOMAIN "xenmig-domain"
#include "config.h"

#include <string.h>

#include <libxl.h>
#include <libxl_utils.h>

#include "domain/domain-private.h"
#include "util/util.h"

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(libxl_domain_config, libxl_domain_config_dispose)

static libxl_action_on_shutdown
lifecycle_to_libxl(XmLifecycleAction action)
{
    switch (action) {
    case XM_LIFECYCLE_DESTROY:
        return LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
    case XM_LIFECYCLE_RESTART:
        return LIBXL_ACTION_ON_SHUTDOWN_RESTART;
    case XM_LIFECYCLE_PRESERVE:
        return LIBXL_ACTION_ON_SHUTDOWN_PRESERVE;
    case XM_LIFECYCLE_RENAME_RESTART:
        return LIBXL_ACTION_ON_SHUTDOWN_RESTART_RENAME;
    case XM_LIFECYCLE_COREDUMP_DESTROY:
        return LIBXL_ACTION_ON_SHUTDOWN_COREDUMP_DESTROY;
    case XM_LIFECYCLE_COREDUMP_RESTART:
        return LIBXL_ACTION_ON_SHUTDOWN_COREDUMP_RESTART;
    }
    return LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
}

/* A NULL-terminated, malloc()ed libxl_string_list of the whitespace-
 * separated words of @str. */
static libxl_string_list
split_args(const char *str)
{
    g_auto(GStrv) words = g_strsplit_set(str, " \t\n", -1);
    guint n = 0;
    char **list = g_new0(char *, g_strv_length(words) + 1);

    for (guint i = 0; words[i]; i++) {
        if (*words[i])
            list[n++] = g_strdup(words[i]);
    }
    return list;
}

static gboolean
make_build_info(const XmDomainDef *def, libxl_domain_build_info *b, libxl_ctx *ctx,
                GError **error)
{
    libxl_domain_type type = def->os_type == XM_OS_HVM ? LIBXL_DOMAIN_TYPE_HVM :
                             def->os_type == XM_OS_PVH ? LIBXL_DOMAIN_TYPE_PVH :
                             LIBXL_DOMAIN_TYPE_PV;

    libxl_domain_build_info_init_type(b, type);

    b->max_vcpus = def->max_vcpus;
    /* libxl_bitmap_alloc() dereferences its ctx; the bitmap is just a
     * malloc()ed byte array that libxl_bitmap_dispose() free()s. */
    b->avail_vcpus.size = (def->max_vcpus + 7) / 8;
    b->avail_vcpus.map = g_malloc0(b->avail_vcpus.size);
    for (guint i = 0; i < def->vcpus; i++)
        libxl_bitmap_set(&b->avail_vcpus, i);

    b->max_memkb = def->max_memory_kib;
    b->target_memkb = def->current_memory_kib;

    if (def->clock_offset && strcmp(def->clock_offset, "localtime") == 0)
        libxl_defbool_set(&b->localtime, true);

    /* Direct kernel boot works for all three types (LIBXL_HAVE_BUILDINFO_KERNEL). */
    b->kernel = g_strdup(def->kernel);
    b->ramdisk = g_strdup(def->initrd);
    b->cmdline = g_strdup(def->cmdline);

    if (def->emulator) {
        b->device_model = g_strdup(def->emulator);
        b->device_model_version = LIBXL_DEVICE_MODEL_VERSION_QEMU_XEN;
    }

    if (type != LIBXL_DOMAIN_TYPE_HVM) {
        b->bootloader = g_strdup(def->bootloader);
        if (def->bootloader_args)
            b->bootloader_args = split_args(def->bootloader_args);
        /* A PV guest with neither a kernel nor a bootloader boots through
         * pygrub, as with libvirt's libxl driver. */
        if (type == LIBXL_DOMAIN_TYPE_PV && !def->kernel && !def->bootloader)
            b->bootloader = g_strdup("pygrub");
        if (type == LIBXL_DOMAIN_TYPE_PVH && def->acpi)
            libxl_defbool_set(&b->acpi, true);
        return TRUE;
    }

    /* HVM: features absent from the XML are off, except HAP (decided by
     * c_info.hap, default on). */
    libxl_defbool_set(&b->u.hvm.pae, def->pae);
    libxl_defbool_set(&b->apic, def->apic);
    libxl_defbool_set(&b->acpi, def->acpi);
    libxl_defbool_set(&b->u.hvm.viridian, def->viridian);
    if (def->loader)
        b->u.hvm.firmware = g_strdup(def->loader);
    if (def->boot_order[0])
        b->u.hvm.boot = g_strdup(def->boot_order);

    /* libxl enables a VNC server for HVM guests unless told otherwise. */
    if (def->vnc) {
        libxl_defbool_set(&b->u.hvm.vnc.enable, true);
        libxl_defbool_set(&b->u.hvm.nographic, false);
        b->u.hvm.vnc.listen = g_strdup(def->vnc->listen);
        b->u.hvm.vnc.passwd = g_strdup(def->vnc->passwd);
        b->u.hvm.keymap = g_strdup(def->vnc->keymap);
        if (def->vnc->autoport || def->vnc->port < 5900) {
            libxl_defbool_set(&b->u.hvm.vnc.findunused, true);
        } else {
            libxl_defbool_set(&b->u.hvm.vnc.findunused, false);
            b->u.hvm.vnc.display = def->vnc->port - 5900;
        }
    } else {
        libxl_defbool_set(&b->u.hvm.vnc.enable, false);
        libxl_defbool_set(&b->u.hvm.nographic, true);
    }
    libxl_defbool_set(&b->u.hvm.sdl.enable, false);

    /* As libvirt: the card named by <video>; with neither video nor
     * graphics, no card at all. */
    if (def->video_model) {
        b->u.hvm.vga.kind = strcmp(def->video_model, "cirrus") == 0 ?
                            LIBXL_VGA_INTERFACE_TYPE_CIRRUS :
                            LIBXL_VGA_INTERFACE_TYPE_STD;
        if (def->video_vram_kib)
            b->video_memkb = def->video_vram_kib;
    } else if (!def->vnc) {
        b->u.hvm.vga.kind = LIBXL_VGA_INTERFACE_TYPE_NONE;
    }

    {
        guint nserial = 0, nusb = 0;

        for (size_t i = 0; i < def->nchrs; i++)
            nserial += def->chrs[i].kind == XM_CHR_SERIAL;
        if (nserial) {
            b->u.hvm.serial_list = g_new0(char *, nserial + 1);
            for (guint i = 0; i < nserial; i++)
                b->u.hvm.serial_list[i] = g_strdup("pty");
        }
        for (size_t i = 0; i < def->ninputs; i++)
            nusb += strcmp(def->inputs[i].bus, "usb") == 0;
        if (nusb) {
            guint n = 0;

            libxl_defbool_set(&b->u.hvm.usb, true);
            b->u.hvm.usbdevice_list = g_new0(char *, nusb + 1);
            for (size_t i = 0; i < def->ninputs; i++) {
                if (strcmp(def->inputs[i].bus, "usb") == 0)
                    b->u.hvm.usbdevice_list[n++] = g_strdup(def->inputs[i].type);
            }
        }
    }
    return TRUE;
}

static gboolean
make_disk(const XmDiskDef *disk, libxl_device_disk *x, GError **error)
{
    libxl_device_disk_init(x);
    x->pdev_path = g_strdup(disk->source);
    x->vdev = g_strdup(disk->target);
    x->format = disk->format == XM_DISK_FORMAT_QCOW2 ? LIBXL_DISK_FORMAT_QCOW2 :
                LIBXL_DISK_FORMAT_RAW;

    if (disk->format == XM_DISK_FORMAT_QCOW2 ||
        g_strcmp0(disk->driver_name, "qemu") == 0 ||
        g_strcmp0(disk->driver_name, "file") == 0)
        x->backend = LIBXL_DISK_BACKEND_QDISK;
    else if (g_strcmp0(disk->driver_name, "phy") == 0 ||
             (!disk->driver_name && disk->type == XM_DISK_BLOCK))
        x->backend = LIBXL_DISK_BACKEND_PHY;
    else if (disk->driver_name)   /* tap, tap2 with raw */
        x->backend = LIBXL_DISK_BACKEND_TAP;
    else
        x->backend = LIBXL_DISK_BACKEND_UNKNOWN;

    x->removable = 1;
    x->is_cdrom = disk->device == XM_DISK_DEVICE_CDROM;
    x->readwrite = !disk->readonly && !x->is_cdrom;
    /* libxl needs the 'empty' format for a CD-ROM drive with no medium. */
    if (x->is_cdrom && !disk->source)
        x->format = LIBXL_DISK_FORMAT_EMPTY;
    return TRUE;
}

static void
make_nic(const XmDomainDef *def, const XmNetDef *net, libxl_device_nic *x)
{
    libxl_device_nic_init(x);
    if (net->has_mac)
        memcpy(x->mac, net->mac, 6);
    if (net->type == XM_NET_BRIDGE)
        x->bridge = g_strdup(net->bridge);
    x->script = g_strdup(net->script);
    x->model = g_strdup(net->model);
    x->ifname = g_strdup(net->ifname);
    /* An HVM guest gets an emulated NIC next to the PV one unless the model
     * says netfront; PV and PVH guests only have netfront. */
    if (def->os_type == XM_OS_HVM && g_strcmp0(net->model, "netfront") != 0)
        x->nictype = LIBXL_NIC_TYPE_VIF_IOEMU;
    else
        x->nictype = LIBXL_NIC_TYPE_VIF;
}

static void
make_vfb(const XmVncDef *vnc, libxl_device_vfb *x)
{
    libxl_device_vfb_init(x);
    libxl_defbool_set(&x->vnc.enable, true);
    libxl_defbool_set(&x->sdl.enable, false);
    x->vnc.listen = g_strdup(vnc->listen);
    x->vnc.passwd = g_strdup(vnc->passwd);
    x->keymap = g_strdup(vnc->keymap);
    if (vnc->autoport || vnc->port < 5900) {
        libxl_defbool_set(&x->vnc.findunused, true);
    } else {
        libxl_defbool_set(&x->vnc.findunused, false);
        x->vnc.display = vnc->port - 5900;
    }
}

static gboolean
make_config(const XmDomainDef *def, libxl_domain_config *cfg, libxl_ctx *ctx,
            GError **error)
{
    libxl_domain_create_info *c = &cfg->c_info;

    libxl_domain_create_info_init(c);
    c->type = def->os_type == XM_OS_HVM ? LIBXL_DOMAIN_TYPE_HVM :
              def->os_type == XM_OS_PVH ? LIBXL_DOMAIN_TYPE_PVH :
              LIBXL_DOMAIN_TYPE_PV;
    c->name = g_strdup(def->name);
    memcpy(libxl_uuid_bytearray(&c->uuid), def->uuid, 16);
    if (def->hap_set && def->os_type != XM_OS_PV)
        libxl_defbool_set(&c->hap, def->hap);

    if (!make_build_info(def, &cfg->b_info, ctx, error))
        return FALSE;

    if (def->ndisks) {
        cfg->disks = g_new0(libxl_device_disk, def->ndisks);
        for (size_t i = 0; i < def->ndisks; i++) {
            cfg->num_disks++;
            if (!make_disk(&def->disks[i], &cfg->disks[i], error))
                return FALSE;
        }
    }
    if (def->nnets) {
        cfg->nics = g_new0(libxl_device_nic, def->nnets);
        for (size_t i = 0; i < def->nnets; i++) {
            cfg->num_nics++;
            make_nic(def, &def->nets[i], &cfg->nics[i]);
        }
    }
    /* PV and PVH guests show VNC through a PV framebuffer and keyboard;
     * HVM guests through the device model (b_info.u.hvm.vnc). */
    if (def->vnc && def->os_type != XM_OS_HVM) {
        cfg->vfbs = g_new0(libxl_device_vfb, 1);
        cfg->num_vfbs = 1;
        make_vfb(def->vnc, &cfg->vfbs[0]);
        cfg->vkbs = g_new0(libxl_device_vkb, 1);
        cfg->num_vkbs = 1;
        libxl_device_vkb_init(&cfg->vkbs[0]);
    }

    cfg->on_poweroff = lifecycle_to_libxl(def->on_poweroff);
    cfg->on_reboot = lifecycle_to_libxl(def->on_reboot);
    cfg->on_crash = lifecycle_to_libxl(def->on_crash);
    return TRUE;
}

gboolean
xm_domain_def_to_libxl(const XmDomainDef *def, void *d_config, void *ctx,
                       GError **error)
{
    libxl_domain_config *out = d_config;

    g_return_val_if_fail(def != NULL, FALSE);
    g_return_val_if_fail(d_config != NULL, FALSE);

    /* Declared only here: the cleanup must never see it uninitialized. */
    g_auto(libxl_domain_config) cfg;
    libxl_domain_config_init(&cfg);
    if (!make_config(def, &cfg, ctx, error))
        return FALSE;
    /* The caller's config was only init()ed; release whatever that may
     * hold, then move ours in without copying. */
    libxl_domain_config_dispose(out);
    *out = cfg;
    libxl_domain_config_init(&cfg);
    return TRUE;
}

char *
xm_domain_def_to_libxl_json(const XmDomainDef *def, GError **error)
{
    char *json;
    char *ret;

    g_return_val_if_fail(def != NULL, NULL);

    g_auto(libxl_domain_config) cfg;
    libxl_domain_config_init(&cfg);
    if (!make_config(def, &cfg, NULL, error))
        return NULL;
    if (!(json = libxl_domain_config_to_json(NULL, &cfg))) {
        g_set_error(error, XM_ERROR, XM_ERR_INTERNAL_ERROR,
                    _("libxl_domain_config_to_json failed for domain '%s'"),
                    def->name);
        return NULL;
    }
    ret = g_strdup(json);
    free(json);
    return ret;
}
