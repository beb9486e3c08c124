/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Domain entry points that do not start or stop anything: lookups, lists,
 * define/undefine, information, XML, memory, vCPUs, autostart. */
#define G_LOG_DOMAIN "xenmig-driver"
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "driver.h"


static virDomainPtr
get_domain(virConnectPtr conn, XmDomObj *dom)
{
    return virGetDomain(conn, dom->name, dom->uuid, g_atomic_int_get(&dom->domid));
}

virDomainPtr
xmDomainLookupByID(virConnectPtr conn, int id)
{
    XmDomObj *dom = xm_dom_find_id(id);
    virDomainPtr ret;

    if (!dom)
        return NULL;
    ret = get_domain(conn, dom);
    xm_dom_release(dom);
    return ret;
}

virDomainPtr
xmDomainLookupByUUID(virConnectPtr conn, const unsigned char *uuid)
{
    XmDomObj *dom = xm_dom_find_uuid(uuid);
    virDomainPtr ret;

    if (!dom)
        return NULL;
    ret = get_domain(conn, dom);
    xm_dom_release(dom);
    return ret;
}

virDomainPtr
xmDomainLookupByName(virConnectPtr conn, const char *name)
{
    XmDomObj *dom = xm_dom_find_name(name);
    virDomainPtr ret;

    if (!dom)
        return NULL;
    ret = get_domain(conn, dom);
    xm_dom_release(dom);
    return ret;
}

int
xmConnectNumOfDomains(virConnectPtr conn)
{
    g_autoptr(GPtrArray) doms = xm_dom_list();
    int n = 0;

    for (guint i = 0; i < doms->len; i++)
        n += xm_dom_is_active(g_ptr_array_index(doms, i));
    return n;
}

int
xmConnectListDomains(virConnectPtr conn, int *ids, int maxids)
{
    g_autoptr(GPtrArray) doms = xm_dom_list();
    int n = 0;

    for (guint i = 0; i < doms->len && n < maxids; i++) {
        int id = g_atomic_int_get(&((XmDomObj *)g_ptr_array_index(doms, i))->domid);
        if (id >= 0)
            ids[n++] = id;
    }
    return n;
}

int
xmConnectNumOfDefinedDomains(virConnectPtr conn)
{
    g_autoptr(GPtrArray) doms = xm_dom_list();
    int n = 0;

    for (guint i = 0; i < doms->len; i++) {
        XmDomObj *dom = g_ptr_array_index(doms, i);
        g_mutex_lock(&dom->lock);
        n += dom->persistent && !xm_dom_is_active(dom);
        g_mutex_unlock(&dom->lock);
    }
    return n;
}

int
xmConnectListDefinedDomains(virConnectPtr conn, char **const names, int maxnames)
{
    g_autoptr(GPtrArray) doms = xm_dom_list();
    int n = 0;

    for (guint i = 0; i < doms->len && n < maxnames; i++) {
        XmDomObj *dom = g_ptr_array_index(doms, i);
        g_mutex_lock(&dom->lock);
        if (dom->persistent && !xm_dom_is_active(dom))
            names[n++] = g_strdup(dom->name);
        g_mutex_unlock(&dom->lock);
    }
    return n;
}

/* Does @dom (locked) pass the virConnectListAllDomains @flags filter? Each
 * pair of opposite flags filters only when exactly one of them is set. */
static gboolean
list_filter(XmDomObj *dom, unsigned int flags)
{
#define PAIR(a, b, cond) \
    if ((flags & (a)) && !(flags & (b)) && !(cond)) return FALSE; \
    if ((flags & (b)) && !(flags & (a)) && (cond)) return FALSE;
    gboolean active = xm_dom_is_active(dom);

    PAIR(VIR_CONNECT_LIST_DOMAINS_ACTIVE, VIR_CONNECT_LIST_DOMAINS_INACTIVE, active);
    PAIR(VIR_CONNECT_LIST_DOMAINS_PERSISTENT, VIR_CONNECT_LIST_DOMAINS_TRANSIENT,
         dom->persistent);
    PAIR(VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE, VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE,
         xm_dom_has_managed_save(dom));
    PAIR(VIR_CONNECT_LIST_DOMAINS_AUTOSTART, VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART,
         dom->autostart);
    /* this driver has no snapshots or checkpoints */
    PAIR(VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT, VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT,
         FALSE);
    PAIR(VIR_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT, VIR_CONNECT_LIST_DOMAINS_NO_CHECKPOINT,
         FALSE);
#undef PAIR
    if (flags & (VIR_CONNECT_LIST_DOMAINS_RUNNING | VIR_CONNECT_LIST_DOMAINS_PAUSED |
                 VIR_CONNECT_LIST_DOMAINS_SHUTOFF | VIR_CONNECT_LIST_DOMAINS_OTHER)) {
        XmDomainState st = active ? dom->state : XM_DOMSTATE_SHUTOFF;
        gboolean ok =
            ((flags & VIR_CONNECT_LIST_DOMAINS_RUNNING) && st == XM_DOMSTATE_RUNNING) ||
            ((flags & VIR_CONNECT_LIST_DOMAINS_PAUSED) && st == XM_DOMSTATE_PAUSED) ||
            ((flags & VIR_CONNECT_LIST_DOMAINS_SHUTOFF) && st == XM_DOMSTATE_SHUTOFF) ||
            ((flags & VIR_CONNECT_LIST_DOMAINS_OTHER) &&
             st != XM_DOMSTATE_RUNNING && st != XM_DOMSTATE_PAUSED &&
             st != XM_DOMSTATE_SHUTOFF);
        if (!ok)
            return FALSE;
    }
    return TRUE;
}

int
xmConnectListAllDomains(virConnectPtr conn, virDomainPtr **domains,
                        unsigned int flags)
{
    g_autoptr(GPtrArray) doms = NULL;
    g_autoptr(GPtrArray) out = NULL;

    XM_CHECK_FLAGS(VIR_CONNECT_LIST_DOMAINS_ACTIVE | VIR_CONNECT_LIST_DOMAINS_INACTIVE |
                   VIR_CONNECT_LIST_DOMAINS_PERSISTENT | VIR_CONNECT_LIST_DOMAINS_TRANSIENT |
                   VIR_CONNECT_LIST_DOMAINS_RUNNING | VIR_CONNECT_LIST_DOMAINS_PAUSED |
                   VIR_CONNECT_LIST_DOMAINS_SHUTOFF | VIR_CONNECT_LIST_DOMAINS_OTHER |
                   VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE |
                   VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE |
                   VIR_CONNECT_LIST_DOMAINS_AUTOSTART | VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART |
                   VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT |
                   VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT |
                   VIR_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT |
                   VIR_CONNECT_LIST_DOMAINS_NO_CHECKPOINT, -1);

    doms = xm_dom_list();
    out = g_ptr_array_new();
    for (guint i = 0; i < doms->len; i++) {
        XmDomObj *dom = g_ptr_array_index(doms, i);
        g_mutex_lock(&dom->lock);
        if (!g_atomic_int_get(&dom->removed) && list_filter(dom, flags)) {
            if (domains) {
                virDomainPtr vd = get_domain(conn, dom);
                if (!vd) {
                    g_mutex_unlock(&dom->lock);
                    for (guint j = 0; j < out->len; j++)
                        virDomainFree(g_ptr_array_index(out, j));
                    return -1;
                }
                g_ptr_array_add(out, vd);
            } else {
                g_ptr_array_add(out, dom);
            }
        }
        g_mutex_unlock(&dom->lock);
    }
    if (domains) {
        int n = out->len;
        g_ptr_array_add(out, NULL);
        *domains = (virDomainPtr *)g_ptr_array_free(g_steal_pointer(&out), FALSE);
        return n;
    }
    return out->len;
}

virDomainPtr
xmDomainDefineXMLFlags(virConnectPtr conn, const char *xml, unsigned int flags)
{
    g_autoptr(GError) err = NULL;
    XmDomainDef *def;
    XmDomObj *dom;
    gboolean added = FALSE, was_persistent;
    virDomainPtr ret = NULL;

    /* The parser checks strictly whether or not VALIDATE is given. */
    XM_CHECK_FLAGS(VIR_DOMAIN_DEFINE_VALIDATE, NULL);
    if (!(def = xm_domain_def_parse_xml(xml, &err))) {
        XM_REPORT_GERROR(err);
        return NULL;
    }
    if (!(dom = xm_dom_add(def, FALSE, &added)))
        return NULL;
    was_persistent = !added && dom->persistent;
    if (!xm_dom_save_config(dom, xm_dom_persistent_def(dom), &err)) {
        XM_REPORT_GERROR(err);
        if (added)
            xm_dom_remove(dom);
        xm_dom_release(dom);
        return NULL;
    }
    dom->persistent = TRUE;
    xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_DEFINED,
                       was_persistent ? VIR_DOMAIN_EVENT_DEFINED_UPDATED
                                      : VIR_DOMAIN_EVENT_DEFINED_ADDED);
    ret = get_domain(conn, dom);
    xm_dom_release(dom);
    return ret;
}

virDomainPtr
xmDomainDefineXML(virConnectPtr conn, const char *xml)
{
    return xmDomainDefineXMLFlags(conn, xml, 0);
}

int
xmDomainUndefineFlags(virDomainPtr vdom, unsigned int flags)
{
    g_autoptr(GError) err = NULL;
    XmDomObj *dom;
    int ret = -1;

    /* No NVRAM or TPM state exists for this driver's guests: the NVRAM
     * flags are accepted and change nothing (libvirt's libxl driver refuses
     * them, which breaks clients such as nova that pass NVRAM for any
     * guest with firmware); contradictory ones are refused as qemu does. */
    XM_CHECK_FLAGS(VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_NVRAM |
                   VIR_DOMAIN_UNDEFINE_KEEP_NVRAM, -1);
    if ((flags & VIR_DOMAIN_UNDEFINE_NVRAM) && (flags & VIR_DOMAIN_UNDEFINE_KEEP_NVRAM)) {
        XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s",
                  _("cannot both keep and delete nvram"));
        return -1;
    }
    if (!(dom = xm_dom_from_virdom(vdom)))
        return -1;
    if (!xm_dom_check_not_dom0(dom))
        goto out;
    if (!dom->persistent) {
        XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s",
                  _("cannot undefine transient domain"));
        goto out;
    }
    if (xm_dom_has_managed_save(dom)) {
        g_autofree char *path = xm_dom_managed_save_path(dom);
        if (!(flags & VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)) {
            XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s",
                      _("Refusing to undefine while domain managed save image exists"));
            goto out;
        }
        if (unlink(path) < 0) {
            XM_REPORT(VIR_ERR_SYSTEM_ERROR, _("Failed to remove domain managed save image '%s': %s"),
                      path, g_strerror(errno));
            goto out;
        }
    }
    if (!xm_dom_delete_config(dom, &err)) {
        XM_REPORT_GERROR(err);
        goto out;
    }
    dom->persistent = FALSE;
    dom->autostart = FALSE;
    xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_UNDEFINED,
                       VIR_DOMAIN_EVENT_UNDEFINED_REMOVED);
    if (xm_dom_is_active(dom)) {
        /* it runs on as a transient domain */
        g_clear_pointer(&dom->newdef, xm_domain_def_free);
        xm_dom_save_status(dom, NULL);
    } else {
        xm_dom_remove(dom);
    }
    ret = 0;
 out:
    xm_dom_release(dom);
    return ret;
}

int
xmDomainUndefine(virDomainPtr vdom)
{
    return xmDomainUndefineFlags(vdom, 0);
}

int
xmDomainGetInfo(virDomainPtr vdom, virDomainInfoPtr info)
{
    XmDomObj *dom = xm_dom_from_virdom(vdom);
    XmDomainInfo bi = { 0 };
    g_autoptr(GError) err = NULL;

    if (!dom)
        return -1;
    memset(info, 0, sizeof(*info));
    info->maxMem = dom->def->max_memory_kib;
    info->memory = dom->def->current_memory_kib;
    info->nrVirtCpu = dom->def->vcpus;
    if (xm_dom_is_active(dom)) {
        if (!xm_ops()->info(xm_driver->backend, g_atomic_int_get(&dom->domid), &bi, &err)) {
            XM_REPORT_GERROR(err);
            xm_dom_release(dom);
            return -1;
        }
        info->memory = bi.memory_kib;
        info->cpuTime = bi.cpu_time_ns;
        info->nrVirtCpu = bi.vcpus ? bi.vcpus : dom->def->vcpus;
        info->state = dom->state;
    } else {
        info->state = VIR_DOMAIN_SHUTOFF;
    }
    xm_dom_release(dom);
    return 0;
}

int
xmDomainGetState(virDomainPtr vdom, int *state, int *reason, unsigned int flags)
{
    XmDomObj *dom;

    XM_CHECK_FLAGS(0, -1);
    if (!(dom = xm_dom_from_virdom(vdom)))
        return -1;
    *state = dom->state;
    if (reason)
        *reason = dom->reason;
    xm_dom_release(dom);
    return 0;
}

char *
xmDomainGetXMLDesc(virDomainPtr vdom, unsigned int flags)
{
    XmDomObj *dom;
    unsigned int xflags = 0;
    char *ret;

    XM_CHECK_FLAGS(VIR_DOMAIN_XML_SECURE | VIR_DOMAIN_XML_INACTIVE |
                   VIR_DOMAIN_XML_MIGRATABLE, NULL);
    if (!(dom = xm_dom_from_virdom(vdom)))
        return NULL;
    if (flags & VIR_DOMAIN_XML_SECURE)
        xflags |= XM_DOMAIN_XML_SECURE;
    /* MIGRATABLE: what another host can start, i.e. no live-only details */
    if (flags & (VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_MIGRATABLE))
        xflags |= XM_DOMAIN_XML_INACTIVE;
    if ((flags & VIR_DOMAIN_XML_INACTIVE) && dom->newdef)
        ret = xm_domain_def_format_xml(dom->newdef, -1, xflags);
    else
        ret = xm_domain_def_format_xml(dom->def,
                                       (xflags & XM_DOMAIN_XML_INACTIVE)
                                           ? -1 : g_atomic_int_get(&dom->domid),
                                       xflags);
    xm_dom_release(dom);
    return ret;
}

char *
xmDomainGetOSType(virDomainPtr vdom)
{
    XmDomObj *dom = xm_dom_from_virdom(vdom);
    const char *t;

    if (!dom)
        return NULL;
    switch (dom->def->os_type) {
    case XM_OS_HVM:
        t = "hvm";
        break;
    case XM_OS_PVH:
        t = "xenpvh";
        break;
    default:
        t = "xen";
        break;
    }
    xm_dom_release(dom);
    return g_strdup(t);
}

unsigned long long
xmDomainGetMaxMemory(virDomainPtr vdom)
{
    XmDomObj *dom = xm_dom_from_virdom(vdom);
    unsigned long long ret;

    if (!dom)
        return 0;
    ret = dom->def->max_memory_kib;
    xm_dom_release(dom);
    return ret;
}

/* Resolves VIR_DOMAIN_AFFECT_CURRENT and checks what @flags asks for.
 * Returns the persistent definition to change (NULL if none) in @pdef. */
static gboolean
affect_resolve(XmDomObj *dom, unsigned int *flags, XmDomainDef **pdef)
{
    gboolean active = xm_dom_is_active(dom);

    if (!(*flags & (VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG)))
        *flags |= active ? VIR_DOMAIN_AFFECT_LIVE : VIR_DOMAIN_AFFECT_CONFIG;
    if ((*flags & VIR_DOMAIN_AFFECT_LIVE) && !active) {
        XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s", _("domain is not running"));
        return FALSE;
    }
    /* A running persistent domain's config is what it booted from until
     * changed: keep it apart before a live change touches def. */
    if (active && dom->persistent && !dom->newdef)
        dom->newdef = xm_domain_def_copy(dom->def);
    *pdef = NULL;
    if (*flags & VIR_DOMAIN_AFFECT_CONFIG) {
        /* Domain-0's configuration is the host's, not ours */
        if (!xm_dom_check_not_dom0(dom))
            return FALSE;
        if (!dom->persistent) {
            XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s",
                      _("transient domains do not have any persistent config"));
            return FALSE;
        }
        if (active && !dom->newdef)
            dom->newdef = xm_domain_def_copy(dom->def);
        *pdef = active ? dom->newdef : dom->def;
    }
    return TRUE;
}

/* A getter reads one definition: it may not be asked for both. */
static gboolean
affect_single(unsigned int flags)
{
    if ((flags & VIR_DOMAIN_AFFECT_LIVE) && (flags & VIR_DOMAIN_AFFECT_CONFIG)) {
        XM_REPORT(VIR_ERR_INVALID_ARG, "%s",
                  _("flags 'affect live' and 'affect config' are mutually exclusive"));
        return FALSE;
    }
    return TRUE;
}

int
xmDomainSetMemoryFlags(virDomainPtr vdom, unsigned long memory, unsigned int flags)
{
    g_autoptr(GError) err = NULL;
    XmDomainDef *pdef = NULL;
    XmDomObj *dom;
    int ret = -1;

    XM_CHECK_FLAGS(VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG |
                   VIR_DOMAIN_MEM_MAXIMUM, -1);
    if (!(dom = xm_dom_from_virdom(vdom)))
        return -1;
    if (!affect_resolve(dom, &flags, &pdef))
        goto out;

    if (flags & VIR_DOMAIN_MEM_MAXIMUM) {
        if (flags & VIR_DOMAIN_AFFECT_LIVE) {
            XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s",
                      _("cannot resize the maximum memory on an active domain"));
            goto out;
        }
        pdef->max_memory_kib = memory;
        if (pdef->current_memory_kib > memory)
            pdef->current_memory_kib = memory;
    } else {
        const XmDomainDef *ref = pdef ? pdef : dom->def;
        if (memory > ref->max_memory_kib ||
            ((flags & VIR_DOMAIN_AFFECT_LIVE) && memory > dom->def->max_memory_kib)) {
            XM_REPORT(VIR_ERR_INVALID_ARG, "%s",
                      _("cannot set memory higher than max memory"));
            goto out;
        }
        if (flags & VIR_DOMAIN_AFFECT_LIVE) {
            if (!xm_ops()->set_memory(xm_driver->backend, g_atomic_int_get(&dom->domid),
                                      memory, &err)) {
                XM_REPORT_GERROR(err);
                goto out;
            }
            dom->def->current_memory_kib = memory;
            xm_dom_save_status(dom, NULL);
        }
        if (pdef)
            pdef->current_memory_kib = memory;
    }
    if (pdef && !xm_dom_save_config(dom, pdef, &err)) {
        XM_REPORT_GERROR(err);
        goto out;
    }
    ret = 0;
 out:
    xm_dom_release(dom);
    return ret;
}

int
xmDomainSetMemory(virDomainPtr vdom, unsigned long memory)
{
    return xmDomainSetMemoryFlags(vdom, memory, VIR_DOMAIN_AFFECT_LIVE);
}

int
xmDomainSetMaxMemory(virDomainPtr vdom, unsigned long memory)
{
    return xmDomainSetMemoryFlags(vdom, memory, VIR_DOMAIN_MEM_MAXIMUM);
}

int
xmDomainGetVcpusFlags(virDomainPtr vdom, unsigned int flags)
{
    XmDomainDef *pdef = NULL;
    XmDomObj *dom;
    int ret = -1;

    XM_CHECK_FLAGS(VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG |
                   VIR_DOMAIN_VCPU_MAXIMUM, -1);
    if (!affect_single(flags))
        return -1;
    if (!(dom = xm_dom_from_virdom(vdom)))
        return -1;
    if (affect_resolve(dom, &flags, &pdef)) {
        const XmDomainDef *def = pdef ? pdef : dom->def;
        ret = (flags & VIR_DOMAIN_VCPU_MAXIMUM) ? def->max_vcpus : def->vcpus;
    }
    xm_dom_release(dom);
    return ret;
}

int
xmDomainGetMaxVcpus(virDomainPtr vdom)
{
    return xmDomainGetVcpusFlags(vdom, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_VCPU_MAXIMUM);
}

int
xmDomainIsActive(virDomainPtr vdom)
{
    XmDomObj *dom = xm_dom_from_virdom(vdom);
    int ret;

    if (!dom)
        return -1;
    ret = xm_dom_is_active(dom);
    xm_dom_release(dom);
    return ret;
}

int
xmDomainIsPersistent(virDomainPtr vdom)
{
    XmDomObj *dom = xm_dom_from_virdom(vdom);
    int ret;

    if (!dom)
        return -1;
    ret = dom->persistent;
    xm_dom_release(dom);
    return ret;
}

int
xmDomainIsUpdated(virDomainPtr vdom)
{
    XmDomObj *dom = xm_dom_from_virdom(vdom);
    int ret;

    if (!dom)
        return -1;
    ret = 0;
    if (dom->newdef) {
        /* updated: the next boot would differ from what runs now */
        g_autofree char *live = xm_domain_def_format_xml(dom->def, -1,
            XM_DOMAIN_XML_SECURE | XM_DOMAIN_XML_INACTIVE);
        g_autofree char *next = xm_domain_def_format_xml(dom->newdef, -1,
            XM_DOMAIN_XML_SECURE | XM_DOMAIN_XML_INACTIVE);
        ret = !g_str_equal(live, next);
    }
    xm_dom_release(dom);
    return ret;
}

int
xmDomainGetAutostart(virDomainPtr vdom, int *autostart)
{
    XmDomObj *dom = xm_dom_from_virdom(vdom);

    if (!dom)
        return -1;
    *autostart = dom->autostart;
    xm_dom_release(dom);
    return 0;
}

int
xmDomainSetAutostart(virDomainPtr vdom, int autostart)
{
    g_autoptr(GError) err = NULL;
    XmDomObj *dom = xm_dom_from_virdom(vdom);
    int ret = -1;

    if (!dom)
        return -1;
    if (!xm_dom_check_not_dom0(dom))
        goto out;
    if (!dom->persistent) {
        XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s",
                  _("cannot set autostart for transient domain"));
        goto out;
    }
    if (!xm_dom_set_autostart_link(dom, autostart != 0, &err)) {
        XM_REPORT_GERROR(err);
        goto out;
    }
    dom->autostart = autostart != 0;
    ret = 0;
 out:
    xm_dom_release(dom);
    return ret;
}

/* <title> and <description>; the <metadata> elements are kept verbatim by
 * the domain model and not editable one by one. */
static char **
metadata_field(XmDomainDef *def, int type)
{
    return type == VIR_DOMAIN_METADATA_TITLE ? &def->title : &def->description;
}

static gboolean
metadata_type_ok(int type)
{
    if (type == VIR_DOMAIN_METADATA_ELEMENT) {
        XM_REPORT(VIR_ERR_ARGUMENT_UNSUPPORTED, "%s",
                  _("metadata elements cannot be read or set one by one with this driver; edit the domain XML"));
        return FALSE;
    }
    if (type != VIR_DOMAIN_METADATA_TITLE && type != VIR_DOMAIN_METADATA_DESCRIPTION) {
        XM_REPORT(VIR_ERR_INVALID_ARG, _("unknown metadata type '%d'"), type);
        return FALSE;
    }
    return TRUE;
}

/* An empty or NULL @metadata removes the field. */
static void
metadata_store(XmDomainDef *def, int type, const char *metadata)
{
    char **field = metadata_field(def, type);

    g_free(*field);
    *field = metadata && *metadata ? g_strdup(metadata) : NULL;
}

char *
xmDomainGetMetadata(virDomainPtr vdom, int type, const char *uri, unsigned int flags)
{
    XmDomainDef *pdef = NULL;
    XmDomObj *dom;
    char *ret = NULL;

    XM_CHECK_FLAGS(VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG, NULL);
    if (!affect_single(flags))
        return NULL;
    if (!metadata_type_ok(type))
        return NULL;
    if (!(dom = xm_dom_from_virdom(vdom)))
        return NULL;
    if (affect_resolve(dom, &flags, &pdef)) {
        char *value = *metadata_field(pdef ? pdef : dom->def, type);
        if (value)
            ret = g_strdup(value);
        else
            XM_REPORT(VIR_ERR_NO_DOMAIN_METADATA, "%s",
                      _("Requested metadata element is not present"));
    }
    xm_dom_release(dom);
    return ret;
}

int
xmDomainSetMetadata(virDomainPtr vdom, int type, const char *metadata,
                    const char *key, const char *uri, unsigned int flags)
{
    g_autoptr(GError) err = NULL;
    XmDomainDef *pdef = NULL;
    XmDomObj *dom;
    int ret = -1;

    XM_CHECK_FLAGS(VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG, -1);
    if (!metadata_type_ok(type))
        return -1;
    if (type == VIR_DOMAIN_METADATA_TITLE && metadata && strchr(metadata, '\n')) {
        XM_REPORT(VIR_ERR_INVALID_ARG, "%s", _("title can't contain newlines"));
        return -1;
    }
    if (!(dom = xm_dom_from_virdom(vdom)))
        return -1;
    if (!affect_resolve(dom, &flags, &pdef))
        goto out;
    if (flags & VIR_DOMAIN_AFFECT_LIVE) {
        metadata_store(dom->def, type, metadata);
        xm_dom_save_status(dom, NULL);
    }
    if (pdef) {
        metadata_store(pdef, type, metadata);
        if (!xm_dom_save_config(dom, pdef, &err)) {
            XM_REPORT_GERROR(err);
            goto out;
        }
    }
    ret = 0;
 out:
    xm_dom_release(dom);
    return ret;
}
