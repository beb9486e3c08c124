/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * <devices> of the domain XML -> XmDomainDef, and the checks that need the
 * whole document (OS type against devices, memory against currentMemory).
 * Same strictness as domain-parse.c: what is not understood is refused.
 */
#define G_LOG_DOMAIN "xenmig-domain"
#include "config.h"

#include <string.h>

#include "domain/domain-private.h"
#include "domain/domain-xml-util.h"
#include "util/util.h"

static gboolean
too_many(const char *what, GError **error)
{
    g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                _("too many <%s> devices (at most %d)"), what, XM_DOMAIN_MAX_DEVICES);
    return FALSE;
}

/* A child element that may appear once, with no children of its own. */
static gboolean
leaf_once(xmlNodePtr node, gboolean *seen, const char *const *allowed,
          GError **error)
{
    if (*seen)
        return xm_xml_duplicate_element(node, error);
    *seen = TRUE;
    return xm_xml_check_attrs(node, allowed, error) &&
           xm_xml_check_no_children(node, error);
}

/* Required attribute: XM_ERR_XML_DETAIL when missing or empty. */
static char *
need_attr(xmlNodePtr node, const char *name, GError **error)
{
    char *v = xm_xml_get_attr(node, name);

    if (!v || !*v) {
        g_free(v);
        g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                    _("missing attribute '%s' of <%s>"), name,
                    (const char *)node->name);
        return NULL;
    }
    return v;
}

/* ---- disks ------------------------------------------------------------- */

/* Target names Xen understands: xvdX, hdX, sdX with X a run of letters,
 * optionally followed by a partition number. */
static gboolean
target_bus(const char *dev, XmDiskBus *bus)
{
    static const struct { const char *prefix; XmDiskBus bus; } prefixes[] = {
        { "xvd", XM_DISK_BUS_XEN }, { "hd", XM_DISK_BUS_IDE }, { "sd", XM_DISK_BUS_SCSI },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(prefixes); i++) {
        const char *p;

        if (!g_str_has_prefix(dev, prefixes[i].prefix))
            continue;
        p = dev + strlen(prefixes[i].prefix);
        if (!g_ascii_islower(*p))
            return FALSE;
        while (g_ascii_islower(*p))
            p++;
        while (g_ascii_isdigit(*p))
            p++;
        if (*p || p - dev > 16)
            return FALSE;
        *bus = prefixes[i].bus;
        return TRUE;
    }
    return FALSE;
}

static gboolean
parse_disk_driver(XmDiskDef *disk, xmlNodePtr node, GError **error)
{
    g_autofree char *name = xm_xml_get_attr(node, "name");
    g_autofree char *type = xm_xml_get_attr(node, "type");
    static const char *const drivers[] = { "qemu", "phy", "file", "tap", "tap2", NULL };
    int fmt;

    if (name && !g_strv_contains(drivers, name)) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported disk driver name '%s'"), name);
        return FALSE;
    }
    fmt = type ? xm_enum_from_name(xm_disk_format_names, type) : XM_DISK_FORMAT_RAW;
    if (fmt < 0) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported disk format '%s'"), type);
        return FALSE;
    }
    /* blkback ('phy') and the plain-file path only move raw bytes. */
    if (name && (strcmp(name, "phy") == 0 || strcmp(name, "file") == 0) &&
        fmt != XM_DISK_FORMAT_RAW) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("disk driver '%s' supports only type 'raw'"), name);
        return FALSE;
    }
    disk->driver_name = g_steal_pointer(&name);
    disk->format = fmt;
    return TRUE;
}

/* libvirt assigns <address type='drive' .../> to every IDE and SCSI disk;
 * Xen places disks by target name, so the address carries no meaning here
 * and is checked for form only. */
static gboolean
parse_disk_address(xmlNodePtr node, GError **error)
{
    static const char *const fields[] = { "controller", "bus", "target", "unit" };
    g_autofree char *type = NULL;

    if (!xm_xml_check_attrs(node, ATTRS("type", "controller", "bus", "target", "unit"),
                            error) ||
        !xm_xml_check_no_children(node, error))
        return FALSE;
    type = xm_xml_get_attr(node, "type");
    if (!type || strcmp(type, "drive") != 0) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported disk address type '%s'"), type ? type : "");
        return FALSE;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
        g_autofree char *v = xm_xml_get_attr(node, fields[i]);
        guint64 n;

        if (v && !xm_xml_parse_uint(v, 65535, &n))
            return xm_xml_bad_value("<address> field", v, error);
    }
    return TRUE;
}

static gboolean
parse_disk(XmDomainDef *def, xmlNodePtr node, GError **error)
{
    XmDiskDef disk = { 0 };
    g_autofree char *type = NULL;
    g_autofree char *device = NULL;
    gboolean seen_driver = FALSE, seen_source = FALSE, seen_target = FALSE;
    gboolean seen_ro = FALSE, seen_share = FALSE, seen_addr = FALSE;
    gboolean seen_backing = FALSE, bus_given = FALSE;
    int v;

    if (def->ndisks >= XM_DOMAIN_MAX_DEVICES)
        return too_many("disk", error);
    if (!xm_xml_check_attrs(node, ATTRS("type", "device"), error))
        return FALSE;
    type = xm_xml_get_attr(node, "type");
    v = type ? xm_enum_from_name(xm_disk_type_names, type) : XM_DISK_FILE;
    if (v < 0) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported disk type '%s'"), type);
        return FALSE;
    }
    disk.type = v;
    device = xm_xml_get_attr(node, "device");
    v = device ? xm_enum_from_name(xm_disk_device_names, device) : XM_DISK_DEVICE_DISK;
    if (v < 0) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported disk device '%s'"), device);
        return FALSE;
    }
    disk.device = v;

    FOR_EACH_ELEMENT(child, node) {
        gboolean ok;

        if (xm_xml_is_element(child, "driver")) {
            ok = leaf_once(child, &seen_driver, ATTRS("name", "type"), error) &&
                 parse_disk_driver(&disk, child, error);
        } else if (xm_xml_is_element(child, "source")) {
            const char *attr = disk.type == XM_DISK_FILE ? "file" : "dev";

            ok = leaf_once(child, &seen_source, ATTRS(attr), error);
            if (ok && !(disk.source = need_attr(child, attr, error)))
                ok = FALSE;
        } else if (xm_xml_is_element(child, "target")) {
            g_autofree char *bus = NULL;

            ok = leaf_once(child, &seen_target, ATTRS("dev", "bus"), error);
            if (ok && !(disk.target = need_attr(child, "dev", error)))
                ok = FALSE;
            if (ok && (bus = xm_xml_get_attr(child, "bus"))) {
                v = xm_enum_from_name(xm_disk_bus_names, bus);
                if (v < 0) {
                    g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                                _("unsupported disk bus '%s'"), bus);
                    ok = FALSE;
                } else {
                    disk.bus = v;
                    bus_given = TRUE;
                }
            }
        } else if (xm_xml_is_element(child, "readonly")) {
            ok = leaf_once(child, &seen_ro, NO_ATTRS, error);
            disk.readonly = true;
        } else if (xm_xml_is_element(child, "shareable")) {
            ok = leaf_once(child, &seen_share, NO_ATTRS, error);
            disk.shareable = true;
        } else if (xm_xml_is_element(child, "address")) {
            ok = leaf_once(child, &seen_addr, ATTRS("type", "controller", "bus",
                                                    "target", "unit"), error) &&
                 parse_disk_address(child, error);
        } else if (xm_xml_is_element(child, "backingStore")) {
            /* libvirt writes an empty <backingStore/> for "no backing
             * chain"; anything inside it would describe a chain. */
            ok = leaf_once(child, &seen_backing, NO_ATTRS, error);
        } else {
            ok = xm_xml_unsupported_element(child, error);
        }
        if (!ok)
            goto fail;
    }

    if (!disk.target) {
        g_set_error(error, XM_ERROR, XM_ERR_NO_TARGET, _("disk has no <target dev=''>"));
        goto fail;
    }
    {
        XmDiskBus implied;

        if (!target_bus(disk.target, &implied)) {
            xm_xml_bad_value("<target dev=''>", disk.target, error);
            goto fail;
        }
        if (!bus_given)
            disk.bus = implied;
    }
    if (!disk.source && disk.device != XM_DISK_DEVICE_CDROM) {
        g_set_error(error, XM_ERROR, XM_ERR_NO_SOURCE,
                    _("disk '%s' has no <source>"), disk.target);
        goto fail;
    }
    for (size_t i = 0; i < def->ndisks; i++) {
        if (strcmp(def->disks[i].target, disk.target) == 0) {
            g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                        _("duplicate disk target '%s'"), disk.target);
            goto fail;
        }
    }
    def->disks = g_renew(XmDiskDef, def->disks, def->ndisks + 1);
    def->disks[def->ndisks++] = disk;
    return TRUE;

fail:
    xm_disk_def_clear(&disk);
    return FALSE;
}

/* ---- interfaces -------------------------------------------------------- */

static gboolean
parse_mac(const char *str, uint8_t mac[6])
{
    uint8_t tmp[6];

    if (strlen(str) != 17)
        return FALSE;
    for (int i = 0; i < 6; i++) {
        int hi = g_ascii_xdigit_value(str[i * 3]);
        int lo = g_ascii_xdigit_value(str[i * 3 + 1]);

        if (hi < 0 || lo < 0 || (i < 5 && str[i * 3 + 2] != ':'))
            return FALSE;
        tmp[i] = (uint8_t)(hi << 4 | lo);
    }
    /* A guest NIC needs a unicast address. */
    if (tmp[0] & 1)
        return FALSE;
    memcpy(mac, tmp, 6);
    return TRUE;
}

/* Model names end up on a device-model command line: keep them to a
 * conservative alphabet. */
static gboolean
valid_model(const char *model)
{
    if (!*model || strlen(model) > 32)
        return FALSE;
    for (const char *p = model; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_')
            return FALSE;
    }
    return TRUE;
}

static gboolean
parse_interface(XmDomainDef *def, xmlNodePtr node, GError **error)
{
    XmNetDef net = { 0 };
    g_autofree char *type = NULL;
    gboolean seen_mac = FALSE, seen_source = FALSE, seen_script = FALSE;
    gboolean seen_model = FALSE, seen_target = FALSE;
    int v;

    if (def->nnets >= XM_DOMAIN_MAX_DEVICES)
        return too_many("interface", error);
    if (!xm_xml_check_attrs(node, ATTRS("type"), error))
        return FALSE;
    type = xm_xml_get_attr(node, "type");
    v = xm_enum_from_name(xm_net_type_names, type);
    if (v < 0) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported interface type '%s'"), type ? type : "");
        return FALSE;
    }
    net.type = v;

    FOR_EACH_ELEMENT(child, node) {
        gboolean ok;

        if (xm_xml_is_element(child, "mac")) {
            g_autofree char *addr = NULL;

            ok = leaf_once(child, &seen_mac, ATTRS("address"), error) &&
                 (addr = need_attr(child, "address", error));
            if (ok && !parse_mac(addr, net.mac)) {
                g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                            _("invalid MAC address '%s'"), addr);
                ok = FALSE;
            }
            net.has_mac = ok;
        } else if (xm_xml_is_element(child, "source") && net.type == XM_NET_BRIDGE) {
            ok = leaf_once(child, &seen_source, ATTRS("bridge"), error) &&
                 (net.bridge = need_attr(child, "bridge", error));
        } else if (xm_xml_is_element(child, "script")) {
            ok = leaf_once(child, &seen_script, ATTRS("path"), error) &&
                 (net.script = need_attr(child, "path", error));
        } else if (xm_xml_is_element(child, "model")) {
            ok = leaf_once(child, &seen_model, ATTRS("type"), error) &&
                 (net.model = need_attr(child, "type", error));
            if (ok && !valid_model(net.model))
                ok = xm_xml_bad_value("<model type=''>", net.model, error);
        } else if (xm_xml_is_element(child, "target")) {
            ok = leaf_once(child, &seen_target, ATTRS("dev"), error) &&
                 (net.ifname = need_attr(child, "dev", error));
        } else {
            ok = xm_xml_unsupported_element(child, error);
        }
        if (!ok)
            goto fail;
    }
    if (net.type == XM_NET_BRIDGE && !net.bridge) {
        g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                    _("bridge interface has no <source bridge=''>"));
        goto fail;
    }
    def->nets = g_renew(XmNetDef, def->nets, def->nnets + 1);
    def->nets[def->nnets++] = net;
    return TRUE;

fail:
    xm_net_def_clear(&net);
    return FALSE;
}

/* ---- consoles and serial ports ------------------------------------------ */

static gboolean
parse_chr(XmDomainDef *def, xmlNodePtr node, XmChrKind kind, GError **error)
{
    XmChrDef chr = { .kind = kind };
    g_autofree char *type = NULL;
    gboolean seen_source = FALSE, seen_target = FALSE, port_given = FALSE;

    if (def->nchrs >= XM_DOMAIN_MAX_DEVICES)
        return too_many((const char *)node->name, error);
    /* tty='' is the pty a running domain got; live state, not definition. */
    if (!xm_xml_check_attrs(node, ATTRS("type", "tty"), error))
        return FALSE;
    type = xm_xml_get_attr(node, "type");
    if (!type || strcmp(type, "pty") != 0) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported %s type '%s'"), (const char *)node->name,
                    type ? type : "");
        return FALSE;
    }
    chr.type = g_steal_pointer(&type);

    FOR_EACH_ELEMENT(child, node) {
        gboolean ok;

        if (xm_xml_is_element(child, "source")) {
            /* Likewise live state: the pty path of a running domain. */
            ok = leaf_once(child, &seen_source, ATTRS("path"), error);
        } else if (xm_xml_is_element(child, "target")) {
            g_autofree char *port = NULL;
            guint64 n;

            ok = leaf_once(child, &seen_target, ATTRS("type", "port"), error);
            if (ok)
                chr.target_type = xm_xml_get_attr(child, "type");
            port = xm_xml_get_attr(child, "port");
            if (ok && port) {
                if (!xm_xml_parse_uint(port, 255, &n))
                    ok = xm_xml_bad_value("<target port=''>", port, error);
                else
                    chr.port = n;
                port_given = TRUE;
            }
        } else {
            ok = xm_xml_unsupported_element(child, error);
        }
        if (!ok)
            goto fail;
    }
    if (chr.target_type) {
        static const char *const console_targets[] = { "xen", "serial", NULL };
        static const char *const serial_targets[] = { "isa-serial", NULL };

        if (!g_strv_contains(kind == XM_CHR_CONSOLE ? console_targets : serial_targets,
                             chr.target_type)) {
            g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                        _("unsupported %s target type '%s'"),
                        (const char *)node->name, chr.target_type);
            goto fail;
        }
    }
    if (!port_given && kind == XM_CHR_SERIAL) {
        /* Serial ports without a port number take the next free one. */
        for (size_t i = 0; i < def->nchrs; i++) {
            if (def->chrs[i].kind == XM_CHR_SERIAL && def->chrs[i].port >= chr.port)
                chr.port = def->chrs[i].port + 1;
        }
    }
    for (size_t i = 0; i < def->nchrs; i++) {
        if (def->chrs[i].kind == kind && def->chrs[i].port == chr.port) {
            g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                        _("duplicate %s port %d"), (const char *)node->name, chr.port);
            goto fail;
        }
    }
    def->chrs = g_renew(XmChrDef, def->chrs, def->nchrs + 1);
    def->chrs[def->nchrs++] = chr;
    return TRUE;

fail:
    xm_chr_def_clear(&chr);
    return FALSE;
}

/* ---- graphics and input ------------------------------------------------- */

static gboolean
parse_graphics(XmDomainDef *def, xmlNodePtr node, GError **error)
{
    g_autoptr(XmVncDef) vnc = NULL;
    g_autofree char *type = NULL;
    g_autofree char *port = NULL;
    g_autofree char *autoport = NULL;
    gboolean seen_listen = FALSE;

    if (!xm_xml_check_attrs(node, ATTRS("type", "port", "autoport", "listen",
                                        "keymap", "passwd"), error))
        return FALSE;
    type = xm_xml_get_attr(node, "type");
    if (!type || strcmp(type, "vnc") != 0) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported graphics type '%s'"), type ? type : "");
        return FALSE;
    }
    if (def->vnc) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("only one <graphics> device is supported"));
        return FALSE;
    }
    vnc = g_new0(XmVncDef, 1);
    vnc->listen = xm_xml_get_attr(node, "listen");
    vnc->keymap = xm_xml_get_attr(node, "keymap");
    vnc->passwd = xm_xml_get_attr(node, "passwd");
    if (vnc->keymap && !valid_model(vnc->keymap))
        return xm_xml_bad_value("<graphics keymap=''>", vnc->keymap, error);

    autoport = xm_xml_get_attr(node, "autoport");
    if (autoport && strcmp(autoport, "yes") != 0 && strcmp(autoport, "no") != 0)
        return xm_xml_bad_value("<graphics autoport=''>", autoport, error);
    port = xm_xml_get_attr(node, "port");
    vnc->port = -1;
    if (port && strcmp(port, "-1") != 0) {
        guint64 n;

        /* libxl addresses VNC servers by display number, port - 5900. */
        if (!xm_xml_parse_uint(port, 65535, &n) || n < 5900)
            return xm_xml_bad_value("<graphics port=''> (expected -1 or 5900-65535)",
                                    port, error);
        vnc->port = n;
    }
    vnc->autoport = autoport ? strcmp(autoport, "yes") == 0 : vnc->port < 0;
    /* With autoport the number in the document is the one a running
     * domain happened to get; the definition does not fix one. */
    if (vnc->autoport)
        vnc->port = -1;
    if (!vnc->autoport && vnc->port < 0) {
        g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                    _("VNC graphics with autoport='no' needs a port"));
        return FALSE;
    }

    FOR_EACH_ELEMENT(child, node) {
        g_autofree char *ltype = NULL;
        g_autofree char *address = NULL;

        if (!xm_xml_is_element(child, "listen"))
            return xm_xml_unsupported_element(child, error);
        if (!leaf_once(child, &seen_listen, ATTRS("type", "address"), error))
            return FALSE;
        ltype = xm_xml_get_attr(child, "type");
        if (!ltype || strcmp(ltype, "address") != 0) {
            g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                        _("unsupported graphics listen type '%s'"), ltype ? ltype : "");
            return FALSE;
        }
        address = xm_xml_get_attr(child, "address");
        if (address && vnc->listen && strcmp(address, vnc->listen) != 0) {
            g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                        _("graphics listen attribute '%s' and <listen address='%s'> differ"),
                        vnc->listen, address);
            return FALSE;
        }
        if (address && !vnc->listen)
            vnc->listen = g_steal_pointer(&address);
    }
    def->vnc = g_steal_pointer(&vnc);
    return TRUE;
}

static gboolean
parse_input(XmDomainDef *def, xmlNodePtr node, GError **error)
{
    static const char *const types[] = { "mouse", "tablet", "keyboard", NULL };
    static const char *const buses[] = { "usb", "ps2", "xen", NULL };
    g_autofree char *type = NULL;
    g_autofree char *bus = NULL;

    if (def->ninputs >= XM_DOMAIN_MAX_DEVICES)
        return too_many("input", error);
    if (!xm_xml_check_attrs(node, ATTRS("type", "bus"), error) ||
        !xm_xml_check_no_children(node, error))
        return FALSE;
    type = xm_xml_get_attr(node, "type");
    if (!type || !g_strv_contains(types, type)) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported input type '%s'"), type ? type : "");
        return FALSE;
    }
    bus = xm_xml_get_attr(node, "bus");
    if (bus && !g_strv_contains(buses, bus)) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported input bus '%s'"), bus);
        return FALSE;
    }
    def->inputs = g_renew(XmInputDef, def->inputs, def->ninputs + 1);
    def->inputs[def->ninputs].type = g_steal_pointer(&type);
    def->inputs[def->ninputs].bus = g_steal_pointer(&bus);  /* default in validate */
    def->ninputs++;
    return TRUE;
}

/* <video><model type='' [vram=''] [heads='1'] [primary='yes']/></video>:
 * libvirt adds one to every domain with graphics, so its XML carries it.
 * One head, one card: that is all Xen's device model offers. */
static gboolean
parse_video(XmDomainDef *def, xmlNodePtr node, GError **error)
{
    static const char *const models[] = { "cirrus", "vga", "xen", NULL };
    xmlNodePtr model = NULL;
    g_autofree char *type = NULL;
    g_autofree char *vram = NULL;
    g_autofree char *heads = NULL;
    g_autofree char *primary = NULL;
    guint64 kib = 0;

    if (def->video_model) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("only one <video> device is supported"));
        return FALSE;
    }
    if (!xm_xml_check_attrs(node, NO_ATTRS, error))
        return FALSE;
    FOR_EACH_ELEMENT(child, node) {
        gboolean seen = model != NULL;

        if (!xm_xml_is_element(child, "model"))
            return xm_xml_unsupported_element(child, error);
        if (!leaf_once(child, &seen, ATTRS("type", "vram", "heads", "primary"), error))
            return FALSE;
        model = child;
    }
    if (!model) {
        g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL, _("<video> has no <model>"));
        return FALSE;
    }
    type = xm_xml_get_attr(model, "type");
    if (!type || !g_strv_contains(models, type)) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported video model '%s'"), type ? type : "");
        return FALSE;
    }
    heads = xm_xml_get_attr(model, "heads");
    if (heads && strcmp(heads, "1") != 0) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported number of video heads '%s'"), heads);
        return FALSE;
    }
    primary = xm_xml_get_attr(model, "primary");
    if (primary && strcmp(primary, "yes") != 0)
        return xm_xml_bad_value("<model primary=''>", primary, error);
    vram = xm_xml_get_attr(model, "vram");
    if (vram && (!xm_xml_parse_uint(vram, 1024 * 1024, &kib) || kib == 0))
        return xm_xml_bad_value("<model vram=''>", vram, error);
    def->video_model = g_steal_pointer(&type);
    def->video_vram_kib = kib;
    return TRUE;
}

/* libvirt adds <memballoon model='xen'/> and <controller type='xenbus'/> to
 * every Xen domain it prints. Both describe what Xen always provides, so
 * they are accepted in exactly that form and not stored. */
static gboolean
parse_implicit_device(xmlNodePtr node, GError **error)
{
    if (xm_xml_is_element(node, "memballoon")) {
        g_autofree char *model = xm_xml_get_attr(node, "model");

        if (!xm_xml_check_attrs(node, ATTRS("model"), error) ||
            !xm_xml_check_no_children(node, error))
            return FALSE;
        if (!model || strcmp(model, "xen") != 0) {
            g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                        _("unsupported memballoon model '%s'"), model ? model : "");
            return FALSE;
        }
        return TRUE;
    } else {
        g_autofree char *type = xm_xml_get_attr(node, "type");
        g_autofree char *index = xm_xml_get_attr(node, "index");

        if (!xm_xml_check_attrs(node, ATTRS("type", "index"), error) ||
            !xm_xml_check_no_children(node, error))
            return FALSE;
        if (!type || strcmp(type, "xenbus") != 0) {
            g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                        _("unsupported controller type '%s'"), type ? type : "");
            return FALSE;
        }
        if (index && strcmp(index, "0") != 0)
            return xm_xml_bad_value("<controller index=''>", index, error);
        return TRUE;
    }
}

gboolean
xm_domain_parse_devices(XmDomainDef *def, xmlNodePtr node, GError **error)
{
    if (!xm_xml_check_attrs(node, NO_ATTRS, error))
        return FALSE;
    FOR_EACH_ELEMENT(child, node) {
        gboolean ok;

        if (xm_xml_is_element(child, "disk"))
            ok = parse_disk(def, child, error);
        else if (xm_xml_is_element(child, "interface"))
            ok = parse_interface(def, child, error);
        else if (xm_xml_is_element(child, "console"))
            ok = parse_chr(def, child, XM_CHR_CONSOLE, error);
        else if (xm_xml_is_element(child, "serial"))
            ok = parse_chr(def, child, XM_CHR_SERIAL, error);
        else if (xm_xml_is_element(child, "graphics"))
            ok = parse_graphics(def, child, error);
        else if (xm_xml_is_element(child, "input"))
            ok = parse_input(def, child, error);
        else if (xm_xml_is_element(child, "video"))
            ok = parse_video(def, child, error);
        else if (xm_xml_is_element(child, "emulator"))
            ok = xm_xml_set_text_once(child, &def->emulator, NO_ATTRS, error);
        else if (xm_xml_is_element(child, "memballoon") ||
                 xm_xml_is_element(child, "controller"))
            ok = parse_implicit_device(child, error);
        else
            ok = xm_xml_unsupported_element(child, error);
        if (!ok)
            return FALSE;
    }
    return TRUE;
}

/* ---- whole-document checks ---------------------------------------------- */

static gboolean
os_unsupported(const char *what, GError **error)
{
    g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                _("%s is supported for HVM guests only"), what);
    return FALSE;
}

static gboolean
validate_inputs(XmDomainDef *def, GError **error)
{
    gboolean hvm = def->os_type == XM_OS_HVM;

    for (size_t i = 0; i < def->ninputs; i++) {
        XmInputDef *in = &def->inputs[i];

        if (!in->bus)
            in->bus = g_strdup(strcmp(in->type, "tablet") == 0 ? "usb" :
                               hvm ? "ps2" : "xen");
        if (strcmp(in->type, "tablet") == 0 && strcmp(in->bus, "usb") != 0) {
            g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                        _("input type 'tablet' needs bus 'usb'"));
            return FALSE;
        }
        if (hvm && strcmp(in->bus, "xen") == 0) {
            g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                        _("input bus 'xen' is for PV and PVH guests only"));
            return FALSE;
        }
        if (!hvm && strcmp(in->bus, "xen") != 0) {
            g_autofree char *what = g_strdup_printf(_("input bus '%s'"), in->bus);

            return os_unsupported(what, error);
        }
    }
    return TRUE;
}

gboolean
xm_domain_def_validate(XmDomainDef *def, gboolean have_current_memory,
                       GError **error)
{
    gboolean hvm = def->os_type == XM_OS_HVM;

    /* '/' and "."/".." would escape the config directory; libvirt also
     * refuses a newline, which breaks line-oriented tools (virsh list). */
    if (strchr(def->name, '/') || strchr(def->name, '\n') ||
        strcmp(def->name, ".") == 0 || strcmp(def->name, "..") == 0) {
        g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                    _("invalid domain name '%s'"), def->name);
        return FALSE;
    }
    if (!have_current_memory)
        def->current_memory_kib = def->max_memory_kib;
    if (def->current_memory_kib > def->max_memory_kib) {
        g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                    _("currentMemory (%" G_GUINT64_FORMAT " KiB) is larger than "
                      "memory (%" G_GUINT64_FORMAT " KiB)"),
                    def->current_memory_kib, def->max_memory_kib);
        return FALSE;
    }
    if (!def->max_vcpus)
        def->max_vcpus = def->vcpus = 1;

    if (def->on_poweroff >= XM_LIFECYCLE_COREDUMP_DESTROY ||
        def->on_reboot >= XM_LIFECYCLE_COREDUMP_DESTROY) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("coredump actions are supported in <on_crash> only"));
        return FALSE;
    }
    if (!hvm) {
        if (def->loader)
            return os_unsupported("<loader>", error);
        if (def->boot_order[0])
            return os_unsupported("<boot>", error);
        if (def->viridian)
            return os_unsupported("<viridian>", error);
        for (size_t i = 0; i < def->nnets; i++) {
            /* PV and PVH guests have no emulated NICs. */
            if (def->nets[i].model && strcmp(def->nets[i].model, "netfront") != 0) {
                g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                            _("interface model '%s' is not supported for PV/PVH "
                              "guests (only 'netfront')"), def->nets[i].model);
                return FALSE;
            }
        }
    } else if (def->bootloader || def->bootloader_args) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("<bootloader> is supported for PV and PVH guests only"));
        return FALSE;
    }
    if (def->video_model) {
        /* The minimum sizes are those QEMU needs for each card. */
        guint64 min = strcmp(def->video_model, "vga") == 0 ? 16384 :
                      strcmp(def->video_model, "cirrus") == 0 ? 8192 : 0;

        if ((strcmp(def->video_model, "xen") == 0) == hvm) {
            g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                        _("video model '%s' is not supported for %s guests"),
                        def->video_model, hvm ? "HVM" : "PV/PVH");
            return FALSE;
        }
        if (def->video_vram_kib && def->video_vram_kib < min) {
            g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                        _("video model '%s' needs at least %" G_GUINT64_FORMAT
                          " KiB of vram"), def->video_model, min);
            return FALSE;
        }
    }
    if (def->bootloader_args && !def->bootloader) {
        g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                    _("<bootloader_args> without <bootloader>"));
        return FALSE;
    }
    return validate_inputs(def, error);
}
