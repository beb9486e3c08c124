/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * XmDomainDef -> libvirt domain XML.
 *
 * Written with xmlTextWriter so that every value is escaped by libxml2;
 * only <metadata> children are written raw, because they are XML that
 * domain-parse.c serialized from a parsed tree. The output parses back into
 * an equal model, and formatting that model again gives the same bytes.
 */
#define G_LOG_DOMAIN "xenmig-domain"
#include "config.h"

#include <string.h>

#include <libxml/xmlwriter.h>

#include "domain/domain-private.h"
#include "util/util.h"

/* xmlTextWriter calls return -1 on failure (only on allocation failure
 * with a memory buffer). They are chained with `ok &=`-style checks via
 * this macro so that formatting stays readable. */
#define W(call) do { if ((call) < 0) goto fail; } while (0)

static int
text_element(xmlTextWriterPtr w, const char *name, const char *text)
{
    if (!text)
        return 0;
    return xmlTextWriterWriteElement(w, (const xmlChar *)name, (const xmlChar *)text);
}

static int
attr(xmlTextWriterPtr w, const char *name, const char *value)
{
    if (!value)
        return 0;
    return xmlTextWriterWriteAttribute(w, (const xmlChar *)name, (const xmlChar *)value);
}

static int
attr_printf(xmlTextWriterPtr w, const char *name, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static int
attr_printf(xmlTextWriterPtr w, const char *name, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *v = NULL;

    va_start(ap, fmt);
    v = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return attr(w, name, v);
}

static int
start(xmlTextWriterPtr w, const char *name)
{
    return xmlTextWriterStartElement(w, (const xmlChar *)name);
}

static int
end(xmlTextWriterPtr w)
{
    return xmlTextWriterEndElement(w);
}

static int
empty_element(xmlTextWriterPtr w, const char *name)
{
    if (start(w, name) < 0)
        return -1;
    return end(w);
}

static gboolean
format_metadata(xmlTextWriterPtr w, const XmDomainDef *def)
{
    if (!def->sim.present && !def->metadata_xml)
        return TRUE;
    W(start(w, "metadata"));
    if (def->sim.present) {
        W(xmlTextWriterStartElementNS(w, (const xmlChar *)XM_SIM_NS_PREFIX,
                                      (const xmlChar *)"sim",
                                      (const xmlChar *)XM_SIM_NS_HREF));
        W(attr_printf(w, "ram-dirty-mib-s", "%" G_GUINT64_FORMAT,
                      def->sim.ram_dirty_mib_s));
        W(attr_printf(w, "disk-write-mib-s", "%" G_GUINT64_FORMAT,
                      def->sim.disk_write_mib_s));
        W(attr_printf(w, "heartbeat-ms", "%u", def->sim.heartbeat_ms));
        W(end(w));
    }
    if (def->metadata_xml) {
        /* Raw on purpose: it is already XML, kept byte for byte. The
         * surrounding newlines are whitespace the parser ignores. */
        /* The writer has ended the line after <xenmig:sim/>, but not after
         * the start tag <metadata>. */
        W(xmlTextWriterWriteRaw(w, (const xmlChar *)(def->sim.present ? "    " :
                                                                         "\n    ")));
        W(xmlTextWriterWriteRaw(w, (const xmlChar *)def->metadata_xml));
        W(xmlTextWriterWriteRaw(w, (const xmlChar *)"\n  "));
    }
    W(xmlTextWriterFullEndElement(w));
    return TRUE;
fail:
    return FALSE;
}

static gboolean
format_os(xmlTextWriterPtr w, const XmDomainDef *def)
{
    static const char *const machines[] = {
        [XM_OS_PV] = "xenpv", [XM_OS_PVH] = "xenpvh", [XM_OS_HVM] = "xenfv",
    };

    if (def->bootloader)
        W(text_element(w, "bootloader", def->bootloader));
    if (def->bootloader_args)
        W(text_element(w, "bootloader_args", def->bootloader_args));
    W(start(w, "os"));
    W(start(w, "type"));
    W(attr(w, "arch", def->os_arch));
    W(attr(w, "machine", machines[def->os_type]));
    W(xmlTextWriterWriteString(w, (const xmlChar *)xm_enum_to_name(xm_os_type_names,
                                                                   def->os_type)));
    W(end(w));
    if (def->loader) {
        W(start(w, "loader"));
        W(attr(w, "type", "rom"));
        W(xmlTextWriterWriteString(w, (const xmlChar *)def->loader));
        W(end(w));
    }
    W(text_element(w, "kernel", def->kernel));
    W(text_element(w, "initrd", def->initrd));
    W(text_element(w, "cmdline", def->cmdline));
    for (const char *b = def->boot_order; *b; b++) {
        W(start(w, "boot"));
        W(attr(w, "dev", xm_boot_dev_to_name(*b)));
        W(end(w));
    }
    W(end(w));
    return TRUE;
fail:
    return FALSE;
}

static gboolean
format_features(xmlTextWriterPtr w, const XmDomainDef *def)
{
    if (!def->acpi && !def->apic && !def->pae && !def->hap_set && !def->viridian)
        return TRUE;
    W(start(w, "features"));
    if (def->acpi)
        W(empty_element(w, "acpi"));
    if (def->apic)
        W(empty_element(w, "apic"));
    if (def->pae)
        W(empty_element(w, "pae"));
    if (def->hap_set) {
        W(start(w, "hap"));
        W(attr(w, "state", def->hap ? "on" : "off"));
        W(end(w));
    }
    if (def->viridian)
        W(empty_element(w, "viridian"));
    W(end(w));
    return TRUE;
fail:
    return FALSE;
}

static gboolean
format_disk(xmlTextWriterPtr w, const XmDiskDef *disk)
{
    W(start(w, "disk"));
    W(attr(w, "type", xm_enum_to_name(xm_disk_type_names, disk->type)));
    W(attr(w, "device", xm_enum_to_name(xm_disk_device_names, disk->device)));
    W(start(w, "driver"));
    W(attr(w, "name", disk->driver_name));
    W(attr(w, "type", xm_enum_to_name(xm_disk_format_names, disk->format)));
    W(end(w));
    if (disk->source) {
        W(start(w, "source"));
        W(attr(w, disk->type == XM_DISK_FILE ? "file" : "dev", disk->source));
        W(end(w));
    }
    W(start(w, "target"));
    W(attr(w, "dev", disk->target));
    W(attr(w, "bus", xm_enum_to_name(xm_disk_bus_names, disk->bus)));
    W(end(w));
    if (disk->readonly)
        W(empty_element(w, "readonly"));
    if (disk->shareable)
        W(empty_element(w, "shareable"));
    W(end(w));
    return TRUE;
fail:
    return FALSE;
}

static gboolean
format_net(xmlTextWriterPtr w, const XmNetDef *net)
{
    W(start(w, "interface"));
    W(attr(w, "type", xm_enum_to_name(xm_net_type_names, net->type)));
    if (net->has_mac) {
        W(start(w, "mac"));
        W(attr_printf(w, "address", "%02x:%02x:%02x:%02x:%02x:%02x",
                      net->mac[0], net->mac[1], net->mac[2],
                      net->mac[3], net->mac[4], net->mac[5]));
        W(end(w));
    }
    if (net->type == XM_NET_BRIDGE && net->bridge) {
        W(start(w, "source"));
        W(attr(w, "bridge", net->bridge));
        W(end(w));
    }
    if (net->script) {
        W(start(w, "script"));
        W(attr(w, "path", net->script));
        W(end(w));
    }
    if (net->ifname) {
        W(start(w, "target"));
        W(attr(w, "dev", net->ifname));
        W(end(w));
    }
    if (net->model) {
        W(start(w, "model"));
        W(attr(w, "type", net->model));
        W(end(w));
    }
    W(end(w));
    return TRUE;
fail:
    return FALSE;
}

static gboolean
format_chr(xmlTextWriterPtr w, const XmChrDef *chr)
{
    W(start(w, xm_enum_to_name(xm_chr_kind_names, chr->kind)));
    W(attr(w, "type", chr->type));
    W(start(w, "target"));
    W(attr(w, "type", chr->target_type));
    W(attr_printf(w, "port", "%d", chr->port));
    W(end(w));
    W(end(w));
    return TRUE;
fail:
    return FALSE;
}

static gboolean
format_vnc(xmlTextWriterPtr w, const XmVncDef *vnc, gboolean live, unsigned int flags)
{
    /* An autoport's number is only meaningful while the domain runs. */
    int port = vnc->autoport && !live ? -1 : vnc->port;

    W(start(w, "graphics"));
    W(attr(w, "type", "vnc"));
    W(attr_printf(w, "port", "%d", port));
    W(attr(w, "autoport", vnc->autoport ? "yes" : "no"));
    W(attr(w, "listen", vnc->listen));
    W(attr(w, "keymap", vnc->keymap));
    if (flags & XM_DOMAIN_XML_SECURE)
        W(attr(w, "passwd", vnc->passwd));
    if (vnc->listen) {
        W(start(w, "listen"));
        W(attr(w, "type", "address"));
        W(attr(w, "address", vnc->listen));
        W(end(w));
    }
    W(end(w));
    return TRUE;
fail:
    return FALSE;
}

static gboolean
format_devices(xmlTextWriterPtr w, const XmDomainDef *def, gboolean live,
               unsigned int flags)
{
    W(start(w, "devices"));
    W(text_element(w, "emulator", def->emulator));
    for (size_t i = 0; i < def->ndisks; i++) {
        if (!format_disk(w, &def->disks[i]))
            goto fail;
    }
    for (size_t i = 0; i < def->nnets; i++) {
        if (!format_net(w, &def->nets[i]))
            goto fail;
    }
    /* Serial ports first, then consoles, as libvirt prints them. */
    for (int kind = XM_CHR_SERIAL; kind >= XM_CHR_CONSOLE; kind--) {
        for (size_t i = 0; i < def->nchrs; i++) {
            if (def->chrs[i].kind == (XmChrKind)kind && !format_chr(w, &def->chrs[i]))
                goto fail;
        }
    }
    for (size_t i = 0; i < def->ninputs; i++) {
        W(start(w, "input"));
        W(attr(w, "type", def->inputs[i].type));
        W(attr(w, "bus", def->inputs[i].bus));
        W(end(w));
    }
    if (def->vnc && !format_vnc(w, def->vnc, live, flags))
        goto fail;
    if (def->video_model) {
        W(start(w, "video"));
        W(start(w, "model"));
        W(attr(w, "type", def->video_model));
        if (def->video_vram_kib)
            W(attr_printf(w, "vram", "%" G_GUINT64_FORMAT, def->video_vram_kib));
        W(attr(w, "heads", "1"));
        W(attr(w, "primary", "yes"));
        W(end(w));
        W(end(w));
    }
    W(end(w));
    return TRUE;
fail:
    return FALSE;
}

static gboolean
format_domain(xmlTextWriterPtr w, const XmDomainDef *def, int id, unsigned int flags)
{
    gboolean live = id >= 0 && !(flags & XM_DOMAIN_XML_INACTIVE);
    char uuid[37];

    W(start(w, "domain"));
    W(attr(w, "type", "xen"));
    if (live)
        W(attr_printf(w, "id", "%d", id));
    W(text_element(w, "name", def->name));
    xm_uuid_format(def->uuid, uuid);
    W(text_element(w, "uuid", uuid));
    W(text_element(w, "title", def->title));
    W(text_element(w, "description", def->description));
    if (!format_metadata(w, def))
        goto fail;

    W(start(w, "memory"));
    W(attr(w, "unit", "KiB"));
    W(xmlTextWriterWriteFormatString(w, "%" G_GUINT64_FORMAT, def->max_memory_kib));
    W(end(w));
    W(start(w, "currentMemory"));
    W(attr(w, "unit", "KiB"));
    W(xmlTextWriterWriteFormatString(w, "%" G_GUINT64_FORMAT, def->current_memory_kib));
    W(end(w));
    W(start(w, "vcpu"));
    W(attr(w, "placement", "static"));
    if (def->vcpus != def->max_vcpus)
        W(attr_printf(w, "current", "%u", def->vcpus));
    W(xmlTextWriterWriteFormatString(w, "%u", def->max_vcpus));
    W(end(w));

    if (!format_os(w, def) || !format_features(w, def))
        goto fail;
    if (def->clock_offset) {
        W(start(w, "clock"));
        W(attr(w, "offset", def->clock_offset));
        W(end(w));
    }
    W(text_element(w, "on_poweroff", xm_enum_to_name(xm_lifecycle_names, def->on_poweroff)));
    W(text_element(w, "on_reboot", xm_enum_to_name(xm_lifecycle_names, def->on_reboot)));
    W(text_element(w, "on_crash", xm_enum_to_name(xm_lifecycle_names, def->on_crash)));
    if (!format_devices(w, def, live, flags))
        goto fail;
    W(end(w));
    return TRUE;
fail:
    return FALSE;
}

char *
xm_domain_def_format_xml(const XmDomainDef *def, int id, unsigned int flags)
{
    xmlBufferPtr buf;
    xmlTextWriterPtr w;
    gboolean ok;
    char *ret = NULL;

    g_return_val_if_fail(def != NULL, NULL);

    if (!(buf = xmlBufferCreate()))
        g_error("%s: out of memory", G_STRFUNC);
    if (!(w = xmlNewTextWriterMemory(buf, 0))) {
        xmlBufferFree(buf);
        g_error("%s: out of memory", G_STRFUNC);
    }
    ok = xmlTextWriterSetIndent(w, 1) == 0 &&
         xmlTextWriterSetIndentString(w, (const xmlChar *)"  ") == 0 &&
         xmlTextWriterSetQuoteChar(w, '\'') == 0 &&
         format_domain(w, def, id, flags) &&
         xmlTextWriterEndDocument(w) >= 0;
    /* Freeing the writer flushes it into buf. */
    xmlFreeTextWriter(w);
    if (ok)
        ret = g_strdup((const char *)xmlBufferContent(buf));
    xmlBufferFree(buf);
    /* With a memory buffer the writer fails only when allocation fails,
     * which GLib treats as fatal everywhere else too. */
    if (!ret)
        g_error("%s: cannot format domain XML", G_STRFUNC);
    return ret;
}
