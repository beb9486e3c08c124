/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The domain model's life cycle: free, deep copy, equality, UUIDs, and the
 * name tables that the parser and the formatter share.
 */
#include "config.h"

#include <string.h>

#include "domain/domain-private.h"
#include "util/util.h"

/* The first entry for a value is the one the formatter writes; later
 * entries are accepted aliases. */
const XmEnumName xm_os_type_names[] = {
    { XM_OS_PV, "xen" },
    { XM_OS_PV, "linux" },
    { XM_OS_PVH, "xenpvh" },
    { XM_OS_HVM, "hvm" },
    { 0, NULL },
};

const XmEnumName xm_lifecycle_names[] = {
    { XM_LIFECYCLE_DESTROY, "destroy" },
    { XM_LIFECYCLE_RESTART, "restart" },
    { XM_LIFECYCLE_PRESERVE, "preserve" },
    { XM_LIFECYCLE_RENAME_RESTART, "rename-restart" },
    { XM_LIFECYCLE_COREDUMP_DESTROY, "coredump-destroy" },
    { XM_LIFECYCLE_COREDUMP_RESTART, "coredump-restart" },
    { 0, NULL },
};

const XmEnumName xm_disk_type_names[] = {
    { XM_DISK_FILE, "file" },
    { XM_DISK_BLOCK, "block" },
    { 0, NULL },
};

const XmEnumName xm_disk_format_names[] = {
    { XM_DISK_FORMAT_RAW, "raw" },
    { XM_DISK_FORMAT_QCOW2, "qcow2" },
    { 0, NULL },
};

const XmEnumName xm_disk_bus_names[] = {
    { XM_DISK_BUS_XEN, "xen" },
    { XM_DISK_BUS_IDE, "ide" },
    { XM_DISK_BUS_SCSI, "scsi" },
    { 0, NULL },
};

const XmEnumName xm_disk_device_names[] = {
    { XM_DISK_DEVICE_DISK, "disk" },
    { XM_DISK_DEVICE_CDROM, "cdrom" },
    { 0, NULL },
};

const XmEnumName xm_net_type_names[] = {
    { XM_NET_BRIDGE, "bridge" },
    { XM_NET_ETHERNET, "ethernet" },
    { 0, NULL },
};

const XmEnumName xm_chr_kind_names[] = {
    { XM_CHR_CONSOLE, "console" },
    { XM_CHR_SERIAL, "serial" },
    { 0, NULL },
};

int
xm_enum_from_name(const XmEnumName *table, const char *name)
{
    if (!name)
        return -1;
    for (; table->name; table++) {
        if (strcmp(table->name, name) == 0)
            return table->value;
    }
    return -1;
}

const char *
xm_enum_to_name(const XmEnumName *table, int value)
{
    for (; table->name; table++) {
        if (table->value == value)
            return table->name;
    }
    return NULL;
}

static const struct {
    char dev;
    const char *name;
} boot_devs[] = {
    { 'c', "hd" },
    { 'd', "cdrom" },
    { 'n', "network" },
    { 'a', "fd" },
};

char
xm_boot_dev_from_name(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(boot_devs); i++) {
        if (strcmp(boot_devs[i].name, name) == 0)
            return boot_devs[i].dev;
    }
    return 0;
}

const char *
xm_boot_dev_to_name(char dev)
{
    for (size_t i = 0; i < G_N_ELEMENTS(boot_devs); i++) {
        if (boot_devs[i].dev == dev)
            return boot_devs[i].name;
    }
    return NULL;
}

void
xm_disk_def_clear(XmDiskDef *disk)
{
    g_clear_pointer(&disk->driver_name, g_free);
    g_clear_pointer(&disk->source, g_free);
    g_clear_pointer(&disk->target, g_free);
}

void
xm_net_def_clear(XmNetDef *net)
{
    g_clear_pointer(&net->bridge, g_free);
    g_clear_pointer(&net->script, g_free);
    g_clear_pointer(&net->model, g_free);
    g_clear_pointer(&net->ifname, g_free);
}

void
xm_chr_def_clear(XmChrDef *chr)
{
    g_clear_pointer(&chr->type, g_free);
    g_clear_pointer(&chr->target_type, g_free);
}

void
xm_input_def_clear(XmInputDef *input)
{
    g_clear_pointer(&input->type, g_free);
    g_clear_pointer(&input->bus, g_free);
}

void
xm_vnc_def_free(XmVncDef *vnc)
{
    if (!vnc)
        return;
    g_free(vnc->listen);
    g_free(vnc->keymap);
    if (vnc->passwd)
        explicit_bzero(vnc->passwd, strlen(vnc->passwd));
    g_free(vnc->passwd);
    g_free(vnc);
}

void
xm_domain_def_free(XmDomainDef *def)
{
    if (!def)
        return;

    g_free(def->name);
    g_free(def->title);
    g_free(def->description);
    g_free(def->os_arch);
    g_free(def->kernel);
    g_free(def->initrd);
    g_free(def->cmdline);
    g_free(def->bootloader);
    g_free(def->bootloader_args);
    g_free(def->loader);
    g_free(def->clock_offset);
    for (size_t i = 0; i < def->ndisks; i++)
        xm_disk_def_clear(&def->disks[i]);
    g_free(def->disks);
    for (size_t i = 0; i < def->nnets; i++)
        xm_net_def_clear(&def->nets[i]);
    g_free(def->nets);
    for (size_t i = 0; i < def->nchrs; i++)
        xm_chr_def_clear(&def->chrs[i]);
    g_free(def->chrs);
    xm_vnc_def_free(def->vnc);
    for (size_t i = 0; i < def->ninputs; i++)
        xm_input_def_clear(&def->inputs[i]);
    g_free(def->inputs);
    g_free(def->metadata_xml);
    g_free(def->emulator);
    g_free(def->video_model);
    g_free(def);
}

XmDomainDef *
xm_domain_def_copy(const XmDomainDef *def)
{
    XmDomainDef *copy = g_new0(XmDomainDef, 1);

    /* Start from a shallow copy for the scalars, then replace every
     * pointer with a copy of its own. */
    *copy = *def;
    copy->name = g_strdup(def->name);
    copy->title = g_strdup(def->title);
    copy->description = g_strdup(def->description);
    copy->os_arch = g_strdup(def->os_arch);
    copy->kernel = g_strdup(def->kernel);
    copy->initrd = g_strdup(def->initrd);
    copy->cmdline = g_strdup(def->cmdline);
    copy->bootloader = g_strdup(def->bootloader);
    copy->bootloader_args = g_strdup(def->bootloader_args);
    copy->loader = g_strdup(def->loader);
    copy->clock_offset = g_strdup(def->clock_offset);
    copy->metadata_xml = g_strdup(def->metadata_xml);
    copy->emulator = g_strdup(def->emulator);
    copy->video_model = g_strdup(def->video_model);

    copy->disks = def->ndisks ? g_new0(XmDiskDef, def->ndisks) : NULL;
    for (size_t i = 0; i < def->ndisks; i++) {
        copy->disks[i] = def->disks[i];
        copy->disks[i].driver_name = g_strdup(def->disks[i].driver_name);
        copy->disks[i].source = g_strdup(def->disks[i].source);
        copy->disks[i].target = g_strdup(def->disks[i].target);
    }
    copy->nets = def->nnets ? g_new0(XmNetDef, def->nnets) : NULL;
    for (size_t i = 0; i < def->nnets; i++) {
        copy->nets[i] = def->nets[i];
        copy->nets[i].bridge = g_strdup(def->nets[i].bridge);
        copy->nets[i].script = g_strdup(def->nets[i].script);
        copy->nets[i].model = g_strdup(def->nets[i].model);
        copy->nets[i].ifname = g_strdup(def->nets[i].ifname);
    }
    copy->chrs = def->nchrs ? g_new0(XmChrDef, def->nchrs) : NULL;
    for (size_t i = 0; i < def->nchrs; i++) {
        copy->chrs[i] = def->chrs[i];
        copy->chrs[i].type = g_strdup(def->chrs[i].type);
        copy->chrs[i].target_type = g_strdup(def->chrs[i].target_type);
    }
    if (def->vnc) {
        copy->vnc = g_new0(XmVncDef, 1);
        *copy->vnc = *def->vnc;
        copy->vnc->listen = g_strdup(def->vnc->listen);
        copy->vnc->keymap = g_strdup(def->vnc->keymap);
        copy->vnc->passwd = g_strdup(def->vnc->passwd);
    }
    copy->inputs = def->ninputs ? g_new0(XmInputDef, def->ninputs) : NULL;
    for (size_t i = 0; i < def->ninputs; i++) {
        copy->inputs[i].type = g_strdup(def->inputs[i].type);
        copy->inputs[i].bus = g_strdup(def->inputs[i].bus);
    }
    return copy;
}

static gboolean
str_eq(const char *a, const char *b)
{
    return g_strcmp0(a, b) == 0;
}

static gboolean
disk_equal(const XmDiskDef *a, const XmDiskDef *b)
{
    return a->type == b->type && a->device == b->device &&
           a->format == b->format && a->bus == b->bus &&
           a->readonly == b->readonly && a->shareable == b->shareable &&
           str_eq(a->driver_name, b->driver_name) &&
           str_eq(a->source, b->source) && str_eq(a->target, b->target);
}

static gboolean
net_equal(const XmNetDef *a, const XmNetDef *b)
{
    return a->type == b->type && a->has_mac == b->has_mac &&
           (!a->has_mac || memcmp(a->mac, b->mac, sizeof(a->mac)) == 0) &&
           str_eq(a->bridge, b->bridge) && str_eq(a->script, b->script) &&
           str_eq(a->model, b->model) && str_eq(a->ifname, b->ifname);
}

static gboolean
chr_equal(const XmChrDef *a, const XmChrDef *b)
{
    return a->kind == b->kind && a->port == b->port &&
           str_eq(a->type, b->type) && str_eq(a->target_type, b->target_type);
}

static gboolean
vnc_equal(const XmVncDef *a, const XmVncDef *b)
{
    if (!a || !b)
        return a == b;
    return a->autoport == b->autoport && a->port == b->port &&
           str_eq(a->listen, b->listen) && str_eq(a->keymap, b->keymap) &&
           str_eq(a->passwd, b->passwd);
}

gboolean
xm_domain_def_equal(const XmDomainDef *a, const XmDomainDef *b)
{
    if (!str_eq(a->name, b->name) || memcmp(a->uuid, b->uuid, 16) != 0 ||
        !str_eq(a->title, b->title) || !str_eq(a->description, b->description))
        return FALSE;
    if (a->max_memory_kib != b->max_memory_kib ||
        a->current_memory_kib != b->current_memory_kib ||
        a->vcpus != b->vcpus || a->max_vcpus != b->max_vcpus)
        return FALSE;
    if (a->os_type != b->os_type || !str_eq(a->os_arch, b->os_arch) ||
        !str_eq(a->kernel, b->kernel) || !str_eq(a->initrd, b->initrd) ||
        !str_eq(a->cmdline, b->cmdline) || !str_eq(a->bootloader, b->bootloader) ||
        !str_eq(a->bootloader_args, b->bootloader_args) ||
        !str_eq(a->loader, b->loader) || strcmp(a->boot_order, b->boot_order) != 0)
        return FALSE;
    if (a->acpi != b->acpi || a->apic != b->apic || a->pae != b->pae ||
        a->viridian != b->viridian || a->hap_set != b->hap_set ||
        (a->hap_set && a->hap != b->hap))
        return FALSE;
    if (!str_eq(a->clock_offset, b->clock_offset) ||
        a->on_poweroff != b->on_poweroff || a->on_reboot != b->on_reboot ||
        a->on_crash != b->on_crash)
        return FALSE;
    if (a->ndisks != b->ndisks || a->nnets != b->nnets ||
        a->nchrs != b->nchrs || a->ninputs != b->ninputs)
        return FALSE;
    for (size_t i = 0; i < a->ndisks; i++) {
        if (!disk_equal(&a->disks[i], &b->disks[i]))
            return FALSE;
    }
    for (size_t i = 0; i < a->nnets; i++) {
        if (!net_equal(&a->nets[i], &b->nets[i]))
            return FALSE;
    }
    for (size_t i = 0; i < a->nchrs; i++) {
        if (!chr_equal(&a->chrs[i], &b->chrs[i]))
            return FALSE;
    }
    for (size_t i = 0; i < a->ninputs; i++) {
        if (!str_eq(a->inputs[i].type, b->inputs[i].type) ||
            !str_eq(a->inputs[i].bus, b->inputs[i].bus))
            return FALSE;
    }
    if (!vnc_equal(a->vnc, b->vnc))
        return FALSE;
    if (a->sim.present != b->sim.present ||
        (a->sim.present &&
         (a->sim.ram_dirty_mib_s != b->sim.ram_dirty_mib_s ||
          a->sim.disk_write_mib_s != b->sim.disk_write_mib_s ||
          a->sim.heartbeat_ms != b->sim.heartbeat_ms)))
        return FALSE;
    return str_eq(a->metadata_xml, b->metadata_xml) &&
           str_eq(a->emulator, b->emulator) &&
           str_eq(a->video_model, b->video_model) &&
           a->video_vram_kib == b->video_vram_kib;
}

static gboolean
mac_in_use(const XmDomainDef *def, const uint8_t mac[6])
{
    for (size_t i = 0; i < def->nnets; i++) {
        if (def->nets[i].has_mac && memcmp(def->nets[i].mac, mac, 6) == 0)
            return TRUE;
    }
    return FALSE;
}

void
xm_domain_def_assign_macs(XmDomainDef *def)
{
    for (size_t i = 0; i < def->nnets; i++) {
        XmNetDef *net = &def->nets[i];
        uint8_t mac[6] = { 0x00, 0x16, 0x3e };

        if (net->has_mac)
            continue;
        do {
            guint32 r = g_random_int();

            /* 00:16:3e is Xen's OUI; the top bit of the fourth byte is
             * left clear as xl does, keeping clear of its own range. */
            mac[3] = (r >> 16) & 0x7f;
            mac[4] = (r >> 8) & 0xff;
            mac[5] = r & 0xff;
        } while (mac_in_use(def, mac));
        memcpy(net->mac, mac, 6);
        net->has_mac = true;
    }
}

void
xm_uuid_format(const uint8_t uuid[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[uuid[i] >> 4];
        out[o++] = hex[uuid[i] & 0xf];
    }
    out[o] = '\0';
}

gboolean
xm_uuid_parse(const char *str, uint8_t uuid[16])
{
    uint8_t tmp[16];
    size_t len;
    gboolean dashed;

    if (!str)
        return FALSE;
    len = strlen(str);
    if (len == 36)
        dashed = TRUE;
    else if (len == 32)
        dashed = FALSE;
    else
        return FALSE;

    for (size_t i = 0, pos = 0; i < 16; i++) {
        int hi, lo;

        if (dashed && (i == 4 || i == 6 || i == 8 || i == 10)) {
            if (str[pos] != '-')
                return FALSE;
            pos++;
        }
        hi = g_ascii_xdigit_value(str[pos]);
        lo = g_ascii_xdigit_value(str[pos + 1]);
        if (hi < 0 || lo < 0)
            return FALSE;
        tmp[i] = (uint8_t)(hi << 4 | lo);
        pos += 2;
    }
    memcpy(uuid, tmp, 16);
    return TRUE;
}

void
xm_uuid_generate(uint8_t uuid[16])
{
    g_autofree char *str = g_uuid_string_random();
    gboolean ok = xm_uuid_parse(str, uuid);

    g_assert(ok);
}
