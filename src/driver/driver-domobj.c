/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Domain objects: the list, lookups, and their files on disk --
 * config_dir/<name>.xml (persistent definition, as libvirt keeps it),
 * autostart_dir/<name>.xml (a symlink to it), state_dir/<name>.xml (the live
 * definition of a running domain, with its domid, so that a restarted
 * libvirtd finds it again) and save_dir/<name>.save (managed save image).
 */
#define G_LOG_DOMAIN "xenmig-driver"
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "driver.h"


static void
job_clear(XmJob *job)
{
    g_mutex_clear(&job->lock);
}

XmDomObj *
xm_dom_ref(XmDomObj *dom)
{
    g_atomic_int_inc(&dom->refs);
    return dom;
}

void
xm_dom_unref(XmDomObj *dom)
{
    if (!dom || !g_atomic_int_dec_and_test(&dom->refs))
        return;
    g_free(dom->name);
    xm_domain_def_free(dom->def);
    xm_domain_def_free(dom->newdef);
    g_mutex_clear(&dom->lock);
    job_clear(&dom->job);
    g_free(dom);
}

static XmDomObj *
dom_new(XmDomainDef *def)
{
    XmDomObj *dom = g_new0(XmDomObj, 1);

    dom->refs = 1;
    dom->domid = -1;
    dom->name = g_strdup(def->name);
    memcpy(dom->uuid, def->uuid, 16);
    dom->def = def;
    dom->state = XM_DOMSTATE_SHUTOFF;
    dom->reason = VIR_DOMAIN_SHUTOFF_UNKNOWN;
    g_mutex_init(&dom->lock);
    g_mutex_init(&dom->job.lock);
    return dom;
}

gboolean
xm_dom_is_active(XmDomObj *dom)
{
    return g_atomic_int_get(&dom->domid) >= 0;
}

void
xm_dom_set_domid(XmDomObj *dom, int domid)
{
    int old = g_atomic_int_get(&dom->domid);

    g_atomic_int_set(&dom->domid, domid);
    if (old < 0 && domid >= 0) {
        if (g_atomic_int_add(&xm_driver->nactive, 1) == 0 && xm_driver->inhibit)
            xm_driver->inhibit(true, xm_driver->inhibit_opaque);
    } else if (old >= 0 && domid < 0) {
        if (g_atomic_int_dec_and_test(&xm_driver->nactive) && xm_driver->inhibit)
            xm_driver->inhibit(false, xm_driver->inhibit_opaque);
    }
}

const XmDomainDef *
xm_dom_persistent_def(XmDomObj *dom)
{
    return dom->newdef ? dom->newdef : dom->def;
}

void
xm_dom_release(XmDomObj *dom)
{
    if (!dom)
        return;
    g_mutex_unlock(&dom->lock);
    xm_dom_unref(dom);
}

/* Caller holds the driver lock. */
static XmDomObj *
find_locked(const uint8_t *uuid, const char *name, int id)
{
    for (guint i = 0; i < xm_driver->doms->len; i++) {
        XmDomObj *d = g_ptr_array_index(xm_driver->doms, i);
        if (g_atomic_int_get(&d->removed))
            continue;
        if (uuid && memcmp(d->uuid, uuid, 16) == 0)
            return d;
        if (name && g_str_equal(d->name, name))
            return d;
        if (id >= 0 && g_atomic_int_get(&d->domid) == id)
            return d;
    }
    return NULL;
}

/* Referenced and locked; NULL when gone by the time the lock was taken. */
static XmDomObj *
find_and_lock(const uint8_t *uuid, const char *name, int id)
{
    XmDomObj *dom;

    g_mutex_lock(&xm_driver->lock);
    dom = find_locked(uuid, name, id);
    if (dom)
        xm_dom_ref(dom);
    g_mutex_unlock(&xm_driver->lock);
    if (!dom)
        return NULL;
    g_mutex_lock(&dom->lock);
    if (g_atomic_int_get(&dom->removed)) {
        xm_dom_release(dom);
        return NULL;
    }
    return dom;
}

XmDomObj *
xm_dom_find_uuid(const uint8_t *uuid)
{
    XmDomObj *dom = find_and_lock(uuid, NULL, -1);

    if (!dom) {
        char str[37];
        xm_uuid_format(uuid, str);
        xm_report(VIR_ERR_NO_DOMAIN, __func__,
                  _("no domain with matching uuid '%s'"), str);
    }
    return dom;
}

XmDomObj *
xm_dom_find_name(const char *name)
{
    XmDomObj *dom = find_and_lock(NULL, name, -1);

    if (!dom)
        xm_report(VIR_ERR_NO_DOMAIN, __func__,
                  _("no domain with matching name '%s'"), name);
    return dom;
}

XmDomObj *
xm_dom_find_id(int id)
{
    XmDomObj *dom = id >= 0 ? find_and_lock(NULL, NULL, id) : NULL;

    if (!dom)
        xm_report(VIR_ERR_NO_DOMAIN, __func__,
                  _("no domain with matching id '%d'"), id);
    return dom;
}

XmDomObj *
xm_dom_from_virdom(virDomainPtr vdom)
{
    unsigned char uuid[VIR_UUID_BUFLEN];
    const char *name = virDomainGetName(vdom);
    XmDomObj *dom;

    if (virDomainGetUUID(vdom, uuid) < 0)
        return NULL;
    dom = find_and_lock(uuid, NULL, -1);
    if (!dom) {
        char str[37];
        xm_uuid_format(uuid, str);
        xm_report(VIR_ERR_NO_DOMAIN, __func__,
                  _("no domain with matching uuid '%s' (%s)"), str,
                  name ? name : "");
    }
    return dom;
}

XmDomObj *
xm_dom_get_unlocked(virDomainPtr vdom)
{
    unsigned char uuid[VIR_UUID_BUFLEN];
    XmDomObj *dom;

    if (virDomainGetUUID(vdom, uuid) < 0)
        return NULL;
    g_mutex_lock(&xm_driver->lock);
    dom = find_locked(uuid, NULL, -1);
    if (dom)
        xm_dom_ref(dom);
    g_mutex_unlock(&xm_driver->lock);
    if (!dom) {
        char str[37];
        xm_uuid_format(uuid, str);
        xm_report(VIR_ERR_NO_DOMAIN, __func__,
                  _("no domain with matching uuid '%s'"), str);
    }
    return dom;
}

XmDomObj *
xm_dom_add(XmDomainDef *def, gboolean live, gboolean *added)
{
    g_autoptr(XmDomainDef) owned = def;
    XmDomObj *dom;
    char uuidstr[37];

    g_mutex_lock(&xm_driver->lock);
    dom = find_locked(def->uuid, NULL, -1);
    if (dom) {
        if (!g_str_equal(dom->name, def->name)) {
            xm_uuid_format(dom->uuid, uuidstr);
            g_mutex_unlock(&xm_driver->lock);
            xm_report(VIR_ERR_OPERATION_FAILED, __func__,
                      _("domain '%s' is already defined with uuid %s"),
                      dom->name, uuidstr);
            return NULL;
        }
        xm_dom_ref(dom);
        g_mutex_unlock(&xm_driver->lock);
        g_mutex_lock(&dom->lock);
        if (g_atomic_int_get(&dom->removed)) {
            /* undefined meanwhile: start over */
            xm_dom_release(dom);
            return xm_dom_add(g_steal_pointer(&owned), live, added);
        }
        if (!xm_dom_check_not_dom0(dom)) {
            xm_dom_release(dom);
            return NULL;
        }
        if (live && xm_dom_is_active(dom)) {
            xm_dom_release(dom);
            xm_report(VIR_ERR_OPERATION_INVALID, __func__,
                      _("domain '%s' is already active"), def->name);
            return NULL;
        }
        if (xm_dom_is_active(dom) && !live) {
            /* a new persistent definition for a running domain */
            xm_domain_def_free(dom->newdef);
            dom->newdef = g_steal_pointer(&owned);
        } else if (live && dom->persistent) {
            /* started from other XML: the persistent definition stays */
            xm_domain_def_free(dom->newdef);
            dom->newdef = dom->def;
            dom->def = g_steal_pointer(&owned);
        } else {
            xm_domain_def_free(dom->def);
            dom->def = g_steal_pointer(&owned);
            g_clear_pointer(&dom->newdef, xm_domain_def_free);
        }
        *added = FALSE;
        return dom;
    }
    dom = find_locked(NULL, def->name, -1);
    if (dom) {
        xm_uuid_format(dom->uuid, uuidstr);
        g_mutex_unlock(&xm_driver->lock);
        xm_report(VIR_ERR_OPERATION_FAILED, __func__,
                  _("domain '%s' already exists with uuid %s"),
                  def->name, uuidstr);
        return NULL;
    }
    dom = dom_new(g_steal_pointer(&owned));
    g_ptr_array_add(xm_driver->doms, xm_dom_ref(dom));
    g_mutex_lock(&dom->lock);
    g_mutex_unlock(&xm_driver->lock);
    *added = TRUE;
    return dom;
}

void
xm_dom_remove(XmDomObj *dom)
{
    /* Lock order is driver then domain: mark it first so that lookups skip
     * it, then take the driver lock without holding the domain's. */
    g_atomic_int_set(&dom->removed, 1);
    xm_dom_ref(dom);
    g_mutex_unlock(&dom->lock);
    g_mutex_lock(&xm_driver->lock);
    /* the array's free function drops the list's reference */
    g_ptr_array_remove(xm_driver->doms, dom);
    g_mutex_unlock(&xm_driver->lock);
    g_mutex_lock(&dom->lock);
    xm_dom_unref(dom);
}

GPtrArray *
xm_dom_list(void)
{
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)xm_dom_unref);

    g_mutex_lock(&xm_driver->lock);
    for (guint i = 0; i < xm_driver->doms->len; i++) {
        XmDomObj *d = g_ptr_array_index(xm_driver->doms, i);
        if (!g_atomic_int_get(&d->removed))
            g_ptr_array_add(out, xm_dom_ref(d));
    }
    g_mutex_unlock(&xm_driver->lock);
    return out;
}

/* ---- files ---- */

static char *
config_path(const char *name)
{
    g_autofree char *file = g_strconcat(name, ".xml", NULL);
    return g_build_filename(xm_driver->cfg->config_dir, file, NULL);
}

static char *
autostart_path(const char *name)
{
    g_autofree char *file = g_strconcat(name, ".xml", NULL);
    return g_build_filename(xm_driver->cfg->autostart_dir, file, NULL);
}

static char *
status_path(const char *name)
{
    g_autofree char *file = g_strconcat(name, ".xml", NULL);
    return g_build_filename(xm_driver->cfg->state_dir, file, NULL);
}

char *
xm_dom_managed_save_path(XmDomObj *dom)
{
    g_autofree char *file = g_strconcat(dom->name, ".save", NULL);
    return g_build_filename(xm_driver->cfg->save_dir, file, NULL);
}

/* Present while a save holds the guest suspended: a libvirtd that dies
 * meanwhile leaves the guest suspended, and the next one resumes it (as
 * libvirt does for an interrupted save job). */
char *
xm_dom_save_marker_path(const char *name)
{
    g_autofree char *file = g_strconcat(name, ".saving", NULL);
    return g_build_filename(xm_driver->cfg->state_dir, file, NULL);
}

gboolean
xm_dom_has_managed_save(XmDomObj *dom)
{
    g_autofree char *path = xm_dom_managed_save_path(dom);
    return g_file_test(path, G_FILE_TEST_IS_REGULAR);
}

static gboolean
write_file(const char *path, const char *text, GError **error)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_path_get_dirname(path);

    if (g_mkdir_with_parents(dir, 0755) < 0)
        return xm_set_error_errno(error, errno, XM_ERR_WRITE_FAILED,
                                  _("cannot create directory '%s'"), dir);
    if (!g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT,
                                  0600, &err)) {
        g_set_error(error, XM_ERROR, XM_ERR_WRITE_FAILED,
                    _("cannot write '%s': %s"), path, err->message);
        return FALSE;
    }
    return TRUE;
}

gboolean
xm_dom_save_config(XmDomObj *dom, const XmDomainDef *def, GError **error)
{
    g_autofree char *path = config_path(dom->name);
    g_autofree char *xml = xm_domain_def_format_xml(def, -1,
                                                    XM_DOMAIN_XML_SECURE |
                                                    XM_DOMAIN_XML_INACTIVE);
    return write_file(path, xml, error);
}

gboolean
xm_dom_delete_config(XmDomObj *dom, GError **error)
{
    g_autofree char *path = config_path(dom->name);
    g_autofree char *link = autostart_path(dom->name);

    if (g_unlink(link) < 0 && errno != ENOENT)
        return xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                                  _("cannot remove autostart link '%s'"), link);
    if (g_unlink(path) < 0 && errno != ENOENT)
        return xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                                  _("cannot remove config '%s'"), path);
    return TRUE;
}

gboolean
xm_dom_set_autostart_link(XmDomObj *dom, gboolean on, GError **error)
{
    g_autofree char *path = config_path(dom->name);
    g_autofree char *link = autostart_path(dom->name);

    if (!on) {
        if (g_unlink(link) < 0 && errno != ENOENT)
            return xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                                      _("cannot remove autostart link '%s'"), link);
        return TRUE;
    }
    if (g_mkdir_with_parents(xm_driver->cfg->autostart_dir, 0755) < 0)
        return xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                                  _("cannot create autostart directory '%s'"),
                                  xm_driver->cfg->autostart_dir);
    if (symlink(path, link) < 0 && errno != EEXIST)
        return xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                                  _("cannot create autostart link '%s' to '%s'"),
                                  link, path);
    return TRUE;
}

/*
 * The status file is the live domain XML behind one XML comment holding
 * what the XML cannot say: "<!-- xenmig-status domid=N state=S reason=R -->".
 */
#define STATUS_MAGIC "<!-- xenmig-status "

gboolean
xm_dom_save_status(XmDomObj *dom, GError **error)
{
    if (xm_dom_is_dom0(dom))
        return TRUE;    /* found again from the hypervisor at every start */

    g_autofree char *path = status_path(dom->name);
    g_autofree char *xml = xm_domain_def_format_xml(dom->def,
                                                    g_atomic_int_get(&dom->domid),
                                                    XM_DOMAIN_XML_SECURE);
    g_autofree char *text = g_strdup_printf(STATUS_MAGIC "domid=%d state=%d reason=%d persistent=%d -->\n%s",
                                            g_atomic_int_get(&dom->domid),
                                            dom->state, dom->reason,
                                            dom->persistent, xml);
    return write_file(path, text, error);
}

void
xm_dom_delete_status(XmDomObj *dom)
{
    g_autofree char *path = status_path(dom->name);

    if (g_unlink(path) < 0 && errno != ENOENT)
        g_debug("cannot remove %s: %s", path, g_strerror(errno));
}

static gboolean
domid_in(int domid, const int *domids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (domids[i] == domid)
            return TRUE;
    return FALSE;
}

/* Running domains first: state_dir holds one status file per domain that
 * was running when libvirtd last stopped. */
static void
load_status_files(const int *alive, size_t nalive)
{
    const char *dir = xm_driver->cfg->state_dir;
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *ent;

    while (d && (ent = g_dir_read_name(d))) {
        g_autofree char *path = NULL;
        g_autofree char *text = NULL;
        g_autoptr(GError) err = NULL;
        int domid = -1, state = 0, reason = 0, persistent = 0;
        XmDomainDef *def;
        XmDomainInfo info;
        XmDomObj *dom;
        gboolean added;
        const char *xml;

        if (!g_str_has_suffix(ent, ".xml"))
            continue;
        path = g_build_filename(dir, ent, NULL);
        if (!g_file_get_contents(path, &text, NULL, NULL) ||
            !g_str_has_prefix(text, STATUS_MAGIC) ||
            sscanf(text + strlen(STATUS_MAGIC), "domid=%d state=%d reason=%d persistent=%d",
                   &domid, &state, &reason, &persistent) != 4 ||
            !(xml = strstr(text, "-->\n"))) {
            g_warning("ignoring malformed status file %s", path);
            continue;
        }
        def = xm_domain_def_parse_xml(xml + 4, &err);
        if (!def) {
            g_warning("ignoring status file %s: %s", path, err->message);
            continue;
        }
        if (!domid_in(domid, alive, nalive) ||
            !xm_ops()->info(xm_driver->backend, domid, &info, NULL) ||
            memcmp(info.uuid, def->uuid, 16) != 0) {
            /* it stopped while libvirtd was away */
            g_autofree char *marker = xm_dom_save_marker_path(def->name);
            g_debug("domain %s (domid %d) is gone", def->name, domid);
            xm_domain_def_free(def);
            g_unlink(path);
            g_unlink(marker);
            continue;
        }
        dom = xm_dom_add(def, TRUE, &added);
        if (!dom)
            continue;
        xm_dom_set_domid(dom, domid);
        dom->state = info.state == XM_DOMSTATE_PAUSED ? XM_DOMSTATE_PAUSED
                                                      : XM_DOMSTATE_RUNNING;
        dom->reason = dom->state == (XmDomainState)state ? reason : 0;
        dom->persistent = FALSE; /* set by the config file, if any */
        {
            g_autofree char *marker = xm_dom_save_marker_path(dom->name);
            if (g_file_test(marker, G_FILE_TEST_EXISTS)) {
                /* a save was cut short with libvirtd: resume the guest it
                 * left suspended, as the save's own failure path does */
                if (dom->state == XM_DOMSTATE_PAUSED &&
                    xm_ops()->resume(xm_driver->backend, domid, &err)) {
                    dom->state = XM_DOMSTATE_RUNNING;
                    dom->reason = VIR_DOMAIN_RUNNING_SAVE_CANCELED;
                    xm_dom_save_status(dom, NULL);
                } else if (err) {
                    g_warning("cannot resume domain %s after an interrupted save: %s",
                              dom->name, err->message);
                }
                g_unlink(marker);
            }
        }
        g_debug("reconnected to %s (domid %d)", dom->name, domid);
        xm_dom_release(dom);
    }
}

void
xm_dom_load_all_configs(void)
{
    const char *dir = xm_driver->cfg->config_dir;
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *ent;

    while (d && (ent = g_dir_read_name(d))) {
        g_autofree char *path = NULL;
        g_autofree char *text = NULL;
        g_autofree char *link = NULL;
        g_autoptr(GError) err = NULL;
        XmDomainDef *def;
        XmDomObj *dom;
        gboolean added;

        if (!g_str_has_suffix(ent, ".xml"))
            continue;
        path = g_build_filename(dir, ent, NULL);
        if (!g_file_get_contents(path, &text, NULL, &err)) {
            g_warning("cannot read %s: %s", path, err->message);
            continue;
        }
        def = xm_domain_def_parse_xml(text, &err);
        if (!def) {
            g_warning("ignoring %s: %s", path, err->message);
            continue;
        }
        if (strlen(ent) != strlen(def->name) + 4 ||
            strncmp(ent, def->name, strlen(def->name)) != 0) {
            g_warning("ignoring %s: it defines domain '%s'", path, def->name);
            xm_domain_def_free(def);
            continue;
        }
        /* Reload must not override a definition we hold already. */
        g_mutex_lock(&xm_driver->lock);
        dom = find_locked(def->uuid, def->name, -1);
        if (dom && dom->persistent) {
            g_mutex_unlock(&xm_driver->lock);
            xm_domain_def_free(def);
            continue;
        }
        g_mutex_unlock(&xm_driver->lock);

        link = autostart_path(def->name);
        dom = xm_dom_add(def, FALSE, &added);
        if (!dom) {
            g_warning("ignoring %s: name or UUID clash", path);
            continue;
        }
        dom->persistent = TRUE;
        dom->autostart = g_file_test(link, G_FILE_TEST_EXISTS);
        if (dom->newdef) {
            /* running: keep newdef only if the config says something else */
            g_autofree char *a = xm_domain_def_format_xml(dom->def, -1,
                XM_DOMAIN_XML_SECURE | XM_DOMAIN_XML_INACTIVE);
            g_autofree char *b = xm_domain_def_format_xml(dom->newdef, -1,
                XM_DOMAIN_XML_SECURE | XM_DOMAIN_XML_INACTIVE);
            if (g_str_equal(a, b))
                g_clear_pointer(&dom->newdef, xm_domain_def_free);
        }
        xm_dom_release(dom);
    }
}

#define DOM0_NAME "Domain-0"

gboolean
xm_dom_is_dom0(XmDomObj *dom)
{
    static const uint8_t zero[16];

    return g_str_equal(dom->name, DOM0_NAME) && memcmp(dom->uuid, zero, 16) == 0;
}

gboolean
xm_dom_check_not_dom0(XmDomObj *dom)
{
    if (!xm_dom_is_dom0(dom))
        return TRUE;
    xm_report(VIR_ERR_OPERATION_INVALID, __func__, "%s",
              _("Domain-0 does not support requested operation"));
    return FALSE;
}

/* On Xen, domid 0 exists whenever the host runs; the sim has none. */
static void
add_dom0(void)
{
    XmDomainInfo info;
    XmDomainDef *def;
    XmDomObj *dom;
    gboolean added;

    if (!xm_ops()->info(xm_driver->backend, 0, &info, NULL))
        return;
    def = g_new0(XmDomainDef, 1);
    def->name = g_strdup(DOM0_NAME);
    def->os_type = XM_OS_PV;
    def->max_memory_kib = MAX(info.max_memory_kib, info.memory_kib);
    def->current_memory_kib = info.memory_kib;
    def->vcpus = def->max_vcpus = MAX(info.vcpus, 1);
    dom = xm_dom_add(def, TRUE, &added);
    if (!dom)
        return;
    /* not counted in nactive: dom0 must not keep libvirtd from idling */
    g_atomic_int_set(&dom->domid, 0);
    dom->state = XM_DOMSTATE_RUNNING;
    dom->reason = VIR_DOMAIN_RUNNING_BOOTED;
    dom->persistent = TRUE;
    xm_dom_release(dom);
}

void
xm_dom_load_all(void)
{
    g_autofree int *alive = NULL;
    size_t nalive = 0;
    g_autoptr(GError) err = NULL;

    if (!xm_ops()->reconnect(xm_driver->backend, &alive, &nalive, &err)) {
        g_warning("cannot reconnect to running domains: %s", err->message);
        nalive = 0;
    }
    add_dom0();
    load_status_files(alive, nalive);
    xm_dom_load_all_configs();
}
