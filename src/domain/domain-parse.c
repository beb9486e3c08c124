/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvirt domain XML -> XmDomainDef.
 *
 * The parser is strict on purpose: every element and attribute it meets
 * must be one it understands, otherwise it refuses the document naming what
 * it did not understand. A definition that is silently half-applied is
 * worse than a clear refusal, and it keeps `virsh dumpxml` honest: what we
 * print back is exactly what we act on. docs/domain-xml.rst lists the
 * subset.
 *
 * The input is untrusted (any libvirt client can send it), so the document
 * is read with no network access, no entity substitution and no DTD at all:
 * a DOCTYPE is refused before its declarations are processed.
 */
#define G_LOG_DOMAIN "xenmig-domain"
#include "config.h"

#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "domain/domain-private.h"
#include "domain/domain-xml-util.h"
#include "util/util.h"

typedef struct {
    XmDomainDef *def;
    gboolean have_current_memory;
    gboolean saw_os_type;
    gboolean saw_metadata;
    guint nboot;
} ParseState;

/* ---- memory and vcpus ---------------------------------------------- */

/*
 * Scales "<value> unit" to KiB, rounding up like libvirt does. Units are
 * libvirt's: b/bytes, k/KiB/M/MiB/... (powers of 1024), KB/MB/... (powers
 * of 1000), case-insensitive; no unit means KiB.
 */
static gboolean
scale_to_kib(const char *value, const char *unit, guint64 *kib, GError **error)
{
    guint64 n, scale = 1024;

    if (!xm_xml_parse_uint(value, G_MAXUINT64, &n)) {
        g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                    _("invalid memory size '%s': expected a non-negative integer"),
                    value);
        return FALSE;
    }
    if (unit && *unit) {
        static const char prefixes[] = "kmgtpe";
        const char *p;
        gboolean si;

        if (g_ascii_strcasecmp(unit, "b") == 0 ||
            g_ascii_strcasecmp(unit, "bytes") == 0) {
            scale = 1;
        } else if ((p = strchr(prefixes, g_ascii_tolower(unit[0]))) &&
                   (unit[1] == '\0' || g_ascii_strcasecmp(unit + 1, "iB") == 0 ||
                    g_ascii_strcasecmp(unit + 1, "B") == 0)) {
            si = g_ascii_strcasecmp(unit + 1, "B") == 0;
            scale = 1;
            for (const char *q = prefixes; q <= p; q++) {
                if (scale > G_MAXUINT64 / 1024)
                    goto overflow;
                scale *= si ? 1000 : 1024;
            }
        } else {
            g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                        _("unknown memory unit '%s'"), unit);
            return FALSE;
        }
    }
    if (n > G_MAXUINT64 / scale)
        goto overflow;
    n *= scale;
    *kib = n / 1024 + (n % 1024 ? 1 : 0);
    /* libxl keeps memory in KiB in a uint64 but Xen counts pages in
     * 32-bit-safe units on some paths; 16 TiB is far beyond any guest. */
    if (*kib > (G_GUINT64_CONSTANT(16) << 30))
        goto overflow;
    return TRUE;

overflow:
    g_set_error(error, XM_ERROR, XM_ERR_OVERFLOW,
                _("memory size '%s %s' is too large"), value, unit ? unit : "KiB");
    return FALSE;
}

static gboolean
parse_memory(xmlNodePtr node, guint64 *kib, gboolean *seen, GError **error)
{
    g_autofree char *text = NULL;
    g_autofree char *unit = NULL;

    if (*seen)
        return xm_xml_duplicate_element(node, error);
    if (!xm_xml_check_attrs(node, ATTRS("unit"), error) ||
        !(text = xm_xml_get_text(node, error)))
        return FALSE;
    unit = xm_xml_get_attr(node, "unit");
    if (!scale_to_kib(g_strstrip(text), unit, kib, error))
        return FALSE;
    if (*kib == 0) {
        g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                    _("<%s> must be greater than zero"), (const char *)node->name);
        return FALSE;
    }
    *seen = TRUE;
    return TRUE;
}

static gboolean
parse_vcpu(ParseState *st, xmlNodePtr node, GError **error)
{
    g_autofree char *text = NULL;
    g_autofree char *current = NULL;
    g_autofree char *placement = NULL;
    guint64 max, cur;

    if (st->def->max_vcpus)
        return xm_xml_duplicate_element(node, error);
    if (!xm_xml_check_attrs(node, ATTRS("current", "placement"), error) ||
        !(text = xm_xml_get_text(node, error)))
        return FALSE;
    /* placement='static' is what libvirt writes by default; 'auto' needs
     * NUMA placement that we do not do. */
    placement = xm_xml_get_attr(node, "placement");
    if (placement && strcmp(placement, "static") != 0) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported vcpu placement '%s'"), placement);
        return FALSE;
    }
    if (!xm_xml_parse_uint(g_strstrip(text), XM_DOMAIN_MAX_VCPUS, &max) || max == 0)
        return xm_xml_bad_value("<vcpu>", text, error);
    cur = max;
    current = xm_xml_get_attr(node, "current");
    if (current && (!xm_xml_parse_uint(current, max, &cur) || cur == 0))
        return xm_xml_bad_value("<vcpu current=''>", current, error);
    st->def->max_vcpus = max;
    st->def->vcpus = cur;
    return TRUE;
}

/* ---- os, features, clock, lifecycle ------------------------------------ */

static gboolean
parse_os_type(ParseState *st, xmlNodePtr node, GError **error)
{
    g_autofree char *text = NULL;
    g_autofree char *arch = NULL;
    g_autofree char *machine = NULL;
    int type;
    static const char *const machines[] = {
        [XM_OS_PV] = "xenpv", [XM_OS_PVH] = "xenpvh", [XM_OS_HVM] = "xenfv",
    };

    if (st->saw_os_type)
        return xm_xml_duplicate_element(node, error);
    if (!xm_xml_check_attrs(node, ATTRS("arch", "machine"), error) ||
        !(text = xm_xml_get_text(node, error)))
        return FALSE;
    type = xm_enum_from_name(xm_os_type_names, g_strstrip(text));
    if (type < 0) {
        g_set_error(error, XM_ERROR, XM_ERR_OS_TYPE,
                    _("unsupported OS type '%s' (expected xen, linux, xenpvh or hvm)"),
                    text);
        return FALSE;
    }
    arch = xm_xml_get_attr(node, "arch");
    if (arch && strcmp(arch, "x86_64") != 0 && strcmp(arch, "i686") != 0) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported architecture '%s'"), arch);
        return FALSE;
    }
    /* The machine is implied by the OS type; accept the one libvirt
     * writes for it so that its own output parses. */
    machine = xm_xml_get_attr(node, "machine");
    if (machine && strcmp(machine, machines[type]) != 0) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported machine '%s' for OS type '%s'"), machine, text);
        return FALSE;
    }
    st->def->os_type = type;
    st->def->os_arch = arch ? g_steal_pointer(&arch) : g_strdup("x86_64");
    st->saw_os_type = TRUE;
    return TRUE;
}

static gboolean
parse_boot(ParseState *st, xmlNodePtr node, GError **error)
{
    g_autofree char *dev = NULL;
    char c;

    if (!xm_xml_check_attrs(node, ATTRS("dev"), error) || !xm_xml_check_no_children(node, error))
        return FALSE;
    dev = xm_xml_get_attr(node, "dev");
    if (!dev || !(c = xm_boot_dev_from_name(dev)))
        return xm_xml_bad_value("<boot dev=''>", dev, error);
    if (strchr(st->def->boot_order, c)) {
        g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                    _("boot device '%s' is listed more than once"), dev);
        return FALSE;
    }
    if (st->nboot >= sizeof(st->def->boot_order) - 1) {
        g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                    _("too many <boot> elements"));
        return FALSE;
    }
    st->def->boot_order[st->nboot++] = c;
    return TRUE;
}

static gboolean
parse_loader(ParseState *st, xmlNodePtr node, GError **error)
{
    g_autofree char *type = xm_xml_get_attr(node, "type");

    /* type='rom' is the only kind of HVM firmware Xen loads this way. */
    if (type && strcmp(type, "rom") != 0) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported loader type '%s'"), type);
        return FALSE;
    }
    return xm_xml_set_text_once(node, &st->def->loader, ATTRS("type"), error);
}

static gboolean
parse_os(ParseState *st, xmlNodePtr node, GError **error)
{
    XmDomainDef *def = st->def;

    if (st->saw_os_type)
        return xm_xml_duplicate_element(node, error);
    if (!xm_xml_check_attrs(node, NO_ATTRS, error))
        return FALSE;
    FOR_EACH_ELEMENT(child, node) {
        gboolean ok;

        if (xm_xml_is_element(child, "type"))
            ok = parse_os_type(st, child, error);
        else if (xm_xml_is_element(child, "kernel"))
            ok = xm_xml_set_text_once(child, &def->kernel, NO_ATTRS, error);
        else if (xm_xml_is_element(child, "initrd"))
            ok = xm_xml_set_text_once(child, &def->initrd, NO_ATTRS, error);
        else if (xm_xml_is_element(child, "cmdline"))
            ok = xm_xml_set_text_once(child, &def->cmdline, NO_ATTRS, error);
        else if (xm_xml_is_element(child, "loader"))
            ok = parse_loader(st, child, error);
        else if (xm_xml_is_element(child, "boot"))
            ok = parse_boot(st, child, error);
        else
            ok = xm_xml_unsupported_element(child, error);
        if (!ok)
            return FALSE;
    }
    if (!st->saw_os_type) {
        g_set_error(error, XM_ERROR, XM_ERR_OS_TYPE,
                    _("<os> has no <type>"));
        return FALSE;
    }
    return TRUE;
}

static gboolean
parse_feature_flag(xmlNodePtr node, bool *flag, GError **error)
{
    if (*flag)
        return xm_xml_duplicate_element(node, error);
    if (!xm_xml_check_attrs(node, NO_ATTRS, error) || !xm_xml_check_no_children(node, error))
        return FALSE;
    *flag = true;
    return TRUE;
}

static gboolean
parse_features(ParseState *st, xmlNodePtr node, GError **error)
{
    XmDomainDef *def = st->def;

    if (!xm_xml_check_attrs(node, NO_ATTRS, error))
        return FALSE;
    FOR_EACH_ELEMENT(child, node) {
        gboolean ok;

        if (xm_xml_is_element(child, "acpi")) {
            ok = parse_feature_flag(child, &def->acpi, error);
        } else if (xm_xml_is_element(child, "apic")) {
            ok = parse_feature_flag(child, &def->apic, error);
        } else if (xm_xml_is_element(child, "pae")) {
            ok = parse_feature_flag(child, &def->pae, error);
        } else if (xm_xml_is_element(child, "viridian")) {
            ok = parse_feature_flag(child, &def->viridian, error);
        } else if (xm_xml_is_element(child, "hap")) {
            g_autofree char *state = xm_xml_get_attr(child, "state");

            if (def->hap_set)
                return xm_xml_duplicate_element(child, error);
            if (!xm_xml_check_attrs(child, ATTRS("state"), error) ||
                !xm_xml_check_no_children(child, error))
                return FALSE;
            if (state && strcmp(state, "on") != 0 && strcmp(state, "off") != 0)
                return xm_xml_bad_value("<hap state=''>", state, error);
            def->hap_set = true;
            def->hap = !state || strcmp(state, "on") == 0;
            ok = TRUE;
        } else {
            ok = xm_xml_unsupported_element(child, error);
        }
        if (!ok)
            return FALSE;
    }
    return TRUE;
}

static gboolean
parse_clock(ParseState *st, xmlNodePtr node, GError **error)
{
    g_autofree char *offset = NULL;
    g_autofree char *adjustment = NULL;

    if (st->def->clock_offset)
        return xm_xml_duplicate_element(node, error);
    if (!xm_xml_check_attrs(node, ATTRS("offset", "adjustment"), error) ||
        !xm_xml_check_no_children(node, error))
        return FALSE;
    offset = xm_xml_get_attr(node, "offset");
    if (!offset)
        offset = g_strdup("utc");
    if (strcmp(offset, "utc") != 0 && strcmp(offset, "localtime") != 0) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported clock offset '%s'"), offset);
        return FALSE;
    }
    /* adjustment='reset' is the default meaning of utc/localtime. */
    adjustment = xm_xml_get_attr(node, "adjustment");
    if (adjustment && strcmp(adjustment, "reset") != 0) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported clock adjustment '%s'"), adjustment);
        return FALSE;
    }
    st->def->clock_offset = g_steal_pointer(&offset);
    return TRUE;
}

static gboolean
parse_lifecycle(xmlNodePtr node, XmLifecycleAction *action, gboolean *seen,
                GError **error)
{
    g_autofree char *text = NULL;
    int value;

    if (*seen)
        return xm_xml_duplicate_element(node, error);
    if (!xm_xml_check_attrs(node, NO_ATTRS, error) || !(text = xm_xml_get_text(node, error)))
        return FALSE;
    value = xm_enum_from_name(xm_lifecycle_names, g_strstrip(text));
    if (value < 0) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported action '%s' in <%s>"), text,
                    (const char *)node->name);
        return FALSE;
    }
    *action = value;
    *seen = TRUE;
    return TRUE;
}

/* ---- resource, metadata ------------------------------------------------ */

/* libvirt writes <resource><partition>/machine</partition></resource> into
 * every definition; it names the default cgroup partition, which means
 * nothing to Xen. Any other partition would be a promise we cannot keep. */
static gboolean
parse_resource(xmlNodePtr node, GError **error)
{
    if (!xm_xml_check_attrs(node, NO_ATTRS, error))
        return FALSE;
    FOR_EACH_ELEMENT(child, node) {
        g_autofree char *text = NULL;

        if (!xm_xml_is_element(child, "partition"))
            return xm_xml_unsupported_element(child, error);
        if (!xm_xml_check_attrs(child, NO_ATTRS, error) || !(text = xm_xml_get_text(child, error)))
            return FALSE;
        if (strcmp(g_strstrip(text), "/machine") != 0) {
            g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                        _("unsupported resource partition '%s'"), text);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
parse_sim_attr(xmlNodePtr node, const char *name, guint64 max, guint64 *out,
               GError **error)
{
    g_autofree char *v = xm_xml_get_attr(node, name);

    *out = 0;
    if (v && !xm_xml_parse_uint(v, max, out)) {
        g_autofree char *what = g_strdup_printf("<xenmig:sim %s=''>", name);

        return xm_xml_bad_value(what, v, error);
    }
    return TRUE;
}

/*
 * <xenmig:sim xmlns:xenmig="https://xenmig.org/xmlns/sim/1"
 *             ram-dirty-mib-s='64' disk-write-mib-s='4' heartbeat-ms='100'/>
 *
 * Attribute form: the element is one flat record, and attributes cannot be
 * repeated, which keeps it unambiguous. Every attribute is optional and
 * defaults to 0 (no RAM dirtying, no disk writes, no heartbeat).
 */
static gboolean
parse_sim(ParseState *st, xmlNodePtr node, GError **error)
{
    XmSimDef sim = { .present = true };
    guint64 hb;

    if (st->def->sim.present)
        return xm_xml_duplicate_element(node, error);
    if (!xm_xml_check_attrs(node, ATTRS("ram-dirty-mib-s", "disk-write-mib-s",
                                 "heartbeat-ms"), error) ||
        !xm_xml_check_no_children(node, error))
        return FALSE;
    if (!parse_sim_attr(node, "ram-dirty-mib-s", 1 << 20, &sim.ram_dirty_mib_s, error) ||
        !parse_sim_attr(node, "disk-write-mib-s", 1 << 20, &sim.disk_write_mib_s, error) ||
        !parse_sim_attr(node, "heartbeat-ms", 24 * 3600 * 1000, &hb, error))
        return FALSE;
    sim.heartbeat_ms = hb;
    st->def->sim = sim;
    return TRUE;
}

/* libxml2 writes namespace URIs without escaping them, so a URI holding
 * markup or control characters would not read back the same (or at all).
 * Real namespace URIs never contain them. */
static gboolean
namespaces_serializable(xmlNodePtr node)
{
    for (; node; node = node->next) {
        if (node->type != XML_ELEMENT_NODE)
            continue;
        for (xmlNsPtr ns = node->nsDef; ns; ns = ns->next) {
            for (const xmlChar *c = ns->href; c && *c; c++) {
                if (*c < 0x20 || *c == 0x7f || strchr("<>&\"'", *c))
                    return FALSE;
            }
        }
        if (!namespaces_serializable(node->children))
            return FALSE;
    }
    return TRUE;
}

/* Serializes @node on its own: a copy in a fresh document carries the
 * namespace declarations it inherited, so the text stands alone. */
static char *
dump_standalone(xmlNodePtr node)
{
    xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
    xmlNodePtr copy = xmlDocCopyNode(node, doc, 1);
    xmlBufferPtr buf = xmlBufferCreate();
    char *ret = NULL;

    if (doc && copy && buf) {
        xmlDocSetRootElement(doc, copy);
        if (namespaces_serializable(copy) && xmlNodeDump(buf, doc, copy, 0, 0) >= 0)
            ret = g_strdup((const char *)xmlBufferContent(buf));
    }
    if (buf)
        xmlBufferFree(buf);
    if (doc)
        xmlFreeDoc(doc);
    return ret;
}

static gboolean
parse_metadata(ParseState *st, xmlNodePtr node, GError **error)
{
    g_autoptr(GString) rest = NULL;

    if (st->saw_metadata)
        return xm_xml_duplicate_element(node, error);
    st->saw_metadata = TRUE;
    if (!xm_xml_check_attrs(node, NO_ATTRS, error))
        return FALSE;
    FOR_EACH_ELEMENT(child, node) {
        g_autofree char *text = NULL;

        if (child->ns && child->ns->href &&
            strcmp((const char *)child->ns->href, XM_SIM_NS_HREF) == 0) {
            if (strcmp((const char *)child->name, "sim") != 0)
                return xm_xml_unsupported_element(child, error);
            if (!parse_sim(st, child, error))
                return FALSE;
            continue;
        }
        if (!(text = dump_standalone(child))) {
            g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                        _("metadata element <%s> cannot be kept verbatim "
                          "(invalid namespace URI?)"),
                        (const char *)child->name);
            return FALSE;
        }
        if (!rest)
            rest = g_string_new(NULL);
        else
            g_string_append(rest, "\n    ");
        g_string_append(rest, text);
    }
    if (rest)
        st->def->metadata_xml = g_string_free(g_steal_pointer(&rest), FALSE);
    return TRUE;
}

/* ---- the document ------------------------------------------------------ */

static gboolean
parse_domain_children(ParseState *st, xmlNodePtr root, GError **error)
{
    XmDomainDef *def = st->def;
    gboolean seen_uuid = FALSE, seen_mem = FALSE, seen_poweroff = FALSE;
    gboolean seen_reboot = FALSE, seen_crash = FALSE, seen_devices = FALSE;
    gboolean seen_features = FALSE, seen_resource = FALSE;

    FOR_EACH_ELEMENT(child, root) {
        gboolean ok;

        if (xm_xml_is_element(child, "name")) {
            ok = xm_xml_set_text_once(child, &def->name, NO_ATTRS, error);
        } else if (xm_xml_is_element(child, "uuid")) {
            g_autofree char *text = NULL;

            if (seen_uuid)
                return xm_xml_duplicate_element(child, error);
            if (!xm_xml_check_attrs(child, NO_ATTRS, error) || !(text = xm_xml_get_text(child, error)))
                return FALSE;
            if (!xm_uuid_parse(g_strstrip(text), def->uuid))
                return xm_xml_bad_value("<uuid>", text, error);
            ok = seen_uuid = TRUE;
        } else if (xm_xml_is_element(child, "title")) {
            ok = xm_xml_set_text_once(child, &def->title, NO_ATTRS, error);
            if (ok && strpbrk(def->title, "\r\n")) {
                g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                            _("<title> must be a single line"));
                return FALSE;
            }
        } else if (xm_xml_is_element(child, "description")) {
            ok = xm_xml_set_text_once(child, &def->description, NO_ATTRS, error);
        } else if (xm_xml_is_element(child, "metadata")) {
            ok = parse_metadata(st, child, error);
        } else if (xm_xml_is_element(child, "memory")) {
            ok = parse_memory(child, &def->max_memory_kib, &seen_mem, error);
        } else if (xm_xml_is_element(child, "currentMemory")) {
            ok = parse_memory(child, &def->current_memory_kib,
                              &st->have_current_memory, error);
        } else if (xm_xml_is_element(child, "vcpu")) {
            ok = parse_vcpu(st, child, error);
        } else if (xm_xml_is_element(child, "os")) {
            ok = parse_os(st, child, error);
        } else if (xm_xml_is_element(child, "bootloader")) {
            ok = xm_xml_set_text_once(child, &def->bootloader, NO_ATTRS, error);
        } else if (xm_xml_is_element(child, "bootloader_args")) {
            ok = xm_xml_set_text_once(child, &def->bootloader_args, NO_ATTRS, error);
        } else if (xm_xml_is_element(child, "features")) {
            if (seen_features)
                return xm_xml_duplicate_element(child, error);
            ok = seen_features = parse_features(st, child, error);
        } else if (xm_xml_is_element(child, "clock")) {
            ok = parse_clock(st, child, error);
        } else if (xm_xml_is_element(child, "on_poweroff")) {
            ok = parse_lifecycle(child, &def->on_poweroff, &seen_poweroff, error);
        } else if (xm_xml_is_element(child, "on_reboot")) {
            ok = parse_lifecycle(child, &def->on_reboot, &seen_reboot, error);
        } else if (xm_xml_is_element(child, "on_crash")) {
            ok = parse_lifecycle(child, &def->on_crash, &seen_crash, error);
        } else if (xm_xml_is_element(child, "resource")) {
            if (seen_resource)
                return xm_xml_duplicate_element(child, error);
            ok = seen_resource = parse_resource(child, error);
        } else if (xm_xml_is_element(child, "devices")) {
            if (seen_devices)
                return xm_xml_duplicate_element(child, error);
            ok = seen_devices = xm_domain_parse_devices(def, child, error);
        } else {
            ok = xm_xml_unsupported_element(child, error);
        }
        if (!ok)
            return FALSE;
    }

    if (!def->name) {
        g_set_error(error, XM_ERROR, XM_ERR_NO_NAME, _("missing domain <name>"));
        return FALSE;
    }
    if (!seen_mem) {
        g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL, _("missing <memory>"));
        return FALSE;
    }
    if (!st->saw_os_type) {
        g_set_error(error, XM_ERROR, XM_ERR_OS_TYPE, _("missing <os><type>"));
        return FALSE;
    }
    if (!seen_uuid)
        xm_uuid_generate(def->uuid);
    if (!seen_reboot)
        def->on_reboot = XM_LIFECYCLE_RESTART;
    return TRUE;
}

/* libxml2 calls this at "<!DOCTYPE": domain XML never needs a DTD, and
 * refusing it here means no entity is ever declared, let alone loaded. */
static void
refuse_internal_subset(void *ctx, const xmlChar *name, const xmlChar *external_id,
                       const xmlChar *system_id)
{
    xmlParserCtxtPtr ctxt = ctx;

    ctxt->_private = GINT_TO_POINTER(1);
    xmlStopParser(ctxt);
}

static void
init_libxml_once(void)
{
    static gsize done;

    if (g_once_init_enter(&done)) {
        xmlInitParser();
        g_once_init_leave(&done, 1);
    }
}

XmDomainDef *
xm_domain_def_parse_xml(const char *xml, GError **error)
{
    g_autoptr(XmDomainDef) def = g_new0(XmDomainDef, 1);
    ParseState st = { .def = def };
    xmlParserCtxtPtr ctxt;
    xmlDocPtr doc;
    xmlNodePtr root;
    gboolean ok = FALSE;
    size_t len;

    g_return_val_if_fail(xml != NULL, NULL);
    init_libxml_once();

    len = strlen(xml);
    if (len > G_MAXINT) {
        g_set_error(error, XM_ERROR, XM_ERR_XML_ERROR, _("domain XML is too large"));
        return NULL;
    }
    if (!(ctxt = xmlNewParserCtxt())) {
        g_set_error(error, XM_ERROR, XM_ERR_NO_MEMORY, _("cannot create XML parser"));
        return NULL;
    }
    ctxt->sax->internalSubset = refuse_internal_subset;
    doc = xmlCtxtReadMemory(ctxt, xml, (int)len, "domain.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR |
                            XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
    if (ctxt->_private) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported DOCTYPE declaration in domain XML"));
        goto out;
    }
    if (!doc || !ctxt->wellFormed) {
        const xmlError *err = xmlCtxtGetLastError(ctxt);
        g_autofree char *msg = g_strdup(err && err->message ? err->message :
                                        _("unknown error"));

        g_set_error(error, XM_ERROR, XM_ERR_XML_ERROR,
                    _("malformed domain XML (line %d): %s"),
                    err ? err->line : 0, g_strstrip(msg));
        goto out;
    }
    root = xmlDocGetRootElement(doc);
    if (!root || !xm_xml_is_element(root, "domain")) {
        g_set_error(error, XM_ERROR, XM_ERR_XML_ERROR,
                    _("unexpected root element <%s>, expecting <domain>"),
                    root ? (const char *)root->name : "");
        goto out;
    }
    if (!xm_xml_check_attrs(root, ATTRS("type", "id"), error))
        goto out;
    {
        g_autofree char *type = xm_xml_get_attr(root, "type");
        g_autofree char *id = xm_xml_get_attr(root, "id");
        guint64 ignored;

        if (!type) {
            g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                        _("missing domain type attribute"));
            goto out;
        }
        if (strcmp(type, "xen") != 0) {
            g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                        _("unsupported domain type '%s': only 'xen' is supported"),
                        type);
            goto out;
        }
        /* id='N' is what a running domain's XML carries; it is not part of
         * a definition, so it is checked and dropped. */
        if (id && !xm_xml_parse_uint(id, G_MAXINT32, &ignored) && strcmp(id, "-1") != 0) {
            xm_xml_bad_value("<domain id=''>", id, error);
            goto out;
        }
    }
    if (!parse_domain_children(&st, root, error) ||
        !xm_domain_def_validate(def, st.have_current_memory, error))
        goto out;
    ok = TRUE;

out:
    if (doc)
        xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    if (!ok)
        return NULL;
    g_debug("parsed domain '%s'", def->name);
    return g_steal_pointer(&def);
}
