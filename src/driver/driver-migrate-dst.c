/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The destination side of a migration: Prepare makes the incoming domain
 * object (transient, paused for "migration") and the library's endpoints;
 * Finish starts the guest here or, when the source gave up or anything
 * failed, removes everything Prepare made.
 */
#define G_LOG_DOMAIN "xenmig-driver"
#include "config.h"

#include <string.h>

#include "driver-migrate.h"

static void
cookie_out(char *cookie, char **out, int *outlen)
{
    if (out && outlen && cookie) {
        *outlen = strlen(cookie) + 1;
        *out = cookie;
    } else {
        g_free(cookie);
    }
}

/*
 * The definition to run here: the XML from the source (Begin's, or the
 * user's), renamed if asked, then passed through the migrate hook, which
 * may rewrite it but not turn it into another domain.
 */
static XmDomainDef *
incoming_def(const XmMigrateArgs *args)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmDomainDef) def = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *hooked = NULL;
    uint8_t uuid[16];

    if (!args->dest_xml) {
        XM_REPORT(VIR_ERR_INVALID_ARG, "%s",
                  _("the destination XML of the migrating domain is missing"));
        return NULL;
    }
    if (!(def = xm_domain_def_parse_xml(args->dest_xml, &err))) {
        XM_REPORT_GERROR(err);
        return NULL;
    }
    if (args->dest_name && !g_str_equal(def->name, args->dest_name)) {
        g_free(def->name);
        def->name = g_strdup(args->dest_name);
    }
    xml = xm_domain_def_format_xml(def, -1, XM_DOMAIN_XML_SECURE | XM_DOMAIN_XML_INACTIVE);
    if (!xm_migrate_run_hook(def->name, xml, &hooked))
        return NULL;
    if (hooked) {
        g_autoptr(XmDomainDef) alt = xm_domain_def_parse_xml(hooked, &err);
        if (!alt) {
            XM_REPORT(VIR_ERR_HOOK_SCRIPT_FAILED,
                      _("the migrate hook printed an unusable domain XML: %s"),
                      err->message);
            return NULL;
        }
        memcpy(uuid, def->uuid, 16);
        if (memcmp(alt->uuid, uuid, 16) != 0 || !g_str_equal(alt->name, def->name)) {
            XM_REPORT(VIR_ERR_HOOK_SCRIPT_FAILED, "%s",
                      _("the migrate hook may not change the domain's name or UUID"));
            return NULL;
        }
        xm_domain_def_free(def);
        def = g_steal_pointer(&alt);
    }
    return g_steal_pointer(&def);
}

/* Undoes Prepare's domain object: @dom locked, never started here. */
static void
drop_incoming(XmDomObj *dom)
{
    dom->state = XM_DOMSTATE_SHUTOFF;
    dom->reason = VIR_DOMAIN_SHUTOFF_FAILED;
    xm_dom_cleanup_stopped(dom);
}

/*
 * Watches an incoming migration until its Finish: when the library gave
 * up on its own (the source vanished, or domjobabort here) and no Finish
 * follows because the client or the source daemon is gone, the half-made
 * domain must not stay behind.
 */
typedef struct {
    uint8_t uuid[16];
    XmDomObj *dom;
} Reaper;

static gpointer
reaper_thread(gpointer data)
{
    Reaper *r = data;

    for (;;) {
        XmMigrateEntry *e;
        XmMigrationState st;

        g_usleep(G_USEC_PER_SEC);
        g_mutex_lock(&r->dom->lock);
        e = xm_migrate_lookup(r->uuid, XM_MIGRATE_IN);
        if (!e || e->dom != r->dom || !e->job) {
            g_mutex_unlock(&r->dom->lock);
            break;
        }
        st = xm_migration_get_state(e->job);
        if (st == XM_MIGRATION_STATE_FAILED || st == XM_MIGRATION_STATE_CANCELLED) {
            g_message("incoming migration of %s ended without Finish; removing it",
                      r->dom->name);
            /* freeing the job tears its half down (images it created too) */
            xm_migrate_unregister(r->uuid, XM_MIGRATE_IN, FALSE);
            drop_incoming(r->dom);
            g_mutex_unlock(&r->dom->lock);
            break;
        }
        g_mutex_unlock(&r->dom->lock);
    }
    xm_dom_unref(r->dom);
    g_free(r);
    return NULL;
}

static void
reaper_start(XmDomObj *dom)
{
    Reaper *r = g_new0(Reaper, 1);

    memcpy(r->uuid, dom->uuid, 16);
    r->dom = xm_dom_ref(dom);
    g_thread_unref(g_thread_new("xm-mig-reaper", reaper_thread, r));
}

/* Prepare's image_created: each image is on record before it holds data. */
static gboolean
record_image(const char *path, guint64 dev, guint64 ino, gpointer uuid, GError **error)
{
    return xm_migrate_record_image(uuid, path, dev, ino, error);
}

static int
dst_prepare(const XmMigrateArgs *args, const char *cookiein, unsigned int flags,
            char **cookie, char **uri_out)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmDomainDef) def = NULL;
    g_autofree char *c = NULL;
    g_autofree char *uri = NULL;
    XmMigrationParams p;
    XmMigrateEntry *e;
    XmDomObj *dom;
    gboolean added = FALSE;

    if (!(def = incoming_def(args)))
        return -1;
    if (xm_migrate_lookup(def->uuid, XM_MIGRATE_IN)) {
        XM_REPORT(VIR_ERR_OPERATION_INVALID,
                  _("domain '%s' is already being migrated to this host"), def->name);
        return -1;
    }
    if (!xm_migrate_fill_params(&p, flags, args))
        return -1;

    e = g_new0(XmMigrateEntry, 1);
    memcpy(e->uuid, def->uuid, 16);
    e->side = XM_MIGRATE_IN;
    e->flags = flags;
    e->persist_xml = g_strdup(args->persist_xml);

    if (flags & VIR_MIGRATE_OFFLINE) {
        /* only the definition moves, in Finish */
        e->offline_def = g_steal_pointer(&def);
        c = g_strdup("<xenmig-migration offline='yes'/>");
        if (!xm_migrate_register(e)) {
            g_free(e->persist_xml);
            xm_domain_def_free(e->offline_def);
            g_free(e);
            XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s",
                      _("domain is already being migrated to this host"));
            return -1;
        }
        *cookie = g_steal_pointer(&c);
        /* libvirt's client wants a URI even when Perform is skipped */
        if (uri_out)
            *uri_out = g_strdup_printf("tcp://%s", g_get_host_name());
        return 0;
    }

    if (!(dom = xm_dom_add(xm_domain_def_copy(def), TRUE, &added))) {
        g_free(e->persist_xml);
        g_free(e);
        return -1;
    }
    if (added)
        dom->persistent = FALSE;
    dom->state = XM_DOMSTATE_PAUSED;
    dom->reason = VIR_DOMAIN_PAUSED_MIGRATION;

    p.image_created = record_image;
    p.image_created_data = dom->uuid;
    e->job = xm_migration_prepare(xm_driver->backend, dom->def, cookiein, &p,
                                  &c, &uri, &err);
    if (!e->job) {
        /* the failed Prepare removed what it created */
        xm_migrate_record_clear(dom->uuid);
        XM_REPORT_GERROR(err);
        goto fail;
    }
    e->dom = xm_dom_ref(dom);
    e->added = added;
    if (!xm_migrate_register(e)) {
        XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s",
                  _("domain is already being migrated to this host"));
        xm_migration_free(e->job);
        xm_dom_unref(e->dom);
        goto fail;
    }
    reaper_start(dom);
    xm_dom_release(dom);
    *cookie = g_steal_pointer(&c);
    if (uri_out)
        *uri_out = g_steal_pointer(&uri);
    return 0;

 fail:
    g_free(e->persist_xml);
    g_free(e);
    drop_incoming(dom);
    xm_dom_release(dom);
    return -1;
}

int
xmDomainMigratePrepare3Params(virConnectPtr dconn, virTypedParameterPtr params,
                              int nparams, const char *cookiein, int cookieinlen,
                              char **cookieout, int *cookieoutlen, char **uri_out,
                              unsigned int flags)
{
    g_auto(XmMigrateArgs) args = { 0 };
    g_autofree char *cin = NULL;
    char *cookie = NULL;

    XM_CHECK_FLAGS(XM_MIGRATE_FLAGS, -1);
    if (!xm_migrate_args_parse(params, nparams, flags, &args))
        return -1;
    if (cookiein && cookieinlen > 0)
        cin = g_strndup(cookiein, cookieinlen);
    if (!cin) {
        XM_REPORT(VIR_ERR_INVALID_ARG, "%s", _("the migration cookie is missing"));
        return -1;
    }
    if (dst_prepare(&args, cin, flags, &cookie, uri_out) < 0)
        return -1;
    cookie_out(cookie, cookieout, cookieoutlen);
    return 0;
}

/* PERSIST_DEST: @dom (locked, running) also gets a persistent definition. */
static void
persist_incoming(XmDomObj *dom, const char *persist_xml)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmDomainDef) def = NULL;
    gboolean was_persistent = dom->persistent;

    if (persist_xml) {
        def = xm_domain_def_parse_xml(persist_xml, &err);
        if (def && (memcmp(def->uuid, dom->uuid, 16) != 0 ||
                    !g_str_equal(def->name, dom->name))) {
            g_clear_pointer(&def, xm_domain_def_free);
            g_set_error(&err, XM_ERROR, XM_ERR_INVALID_ARG, "%s",
                        _("the persistent XML describes another domain"));
        }
    } else {
        def = xm_domain_def_copy(dom->def);
    }
    if (!def || !xm_dom_save_config(dom, def, &err)) {
        /* the guest runs here already: keep it, say what was not done */
        g_warning("migrated domain %s runs but could not be made persistent: %s",
                  dom->name, err->message);
        return;
    }
    xm_domain_def_free(dom->newdef);
    dom->newdef = g_steal_pointer(&def);
    dom->persistent = TRUE;
    xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_DEFINED,
                       was_persistent ? VIR_DOMAIN_EVENT_DEFINED_UPDATED
                                      : VIR_DOMAIN_EVENT_DEFINED_ADDED);
}

/* Offline: defines the domain here. */
static virDomainPtr
finish_offline(virConnectPtr dconn, XmMigrateEntry *e)
{
    g_autoptr(GError) err = NULL;
    XmDomainDef *def = g_steal_pointer(&e->offline_def);
    uint8_t uuid[16];
    gboolean added = FALSE, was_persistent;
    virDomainPtr ret = NULL;
    XmDomObj *dom;

    memcpy(uuid, e->uuid, 16);
    if (!(dom = xm_dom_add(def, FALSE, &added))) {
        xm_migrate_unregister(uuid, XM_MIGRATE_IN, FALSE);
        return NULL;
    }
    was_persistent = !added && dom->persistent;
    if (!xm_dom_save_config(dom, xm_dom_persistent_def(dom), &err)) {
        XM_REPORT_GERROR(err);
        if (added)
            xm_dom_remove(dom);
        xm_dom_release(dom);
        xm_migrate_unregister(uuid, XM_MIGRATE_IN, FALSE);
        return NULL;
    }
    dom->persistent = TRUE;
    xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_DEFINED,
                       was_persistent ? VIR_DOMAIN_EVENT_DEFINED_UPDATED
                                      : VIR_DOMAIN_EVENT_DEFINED_ADDED);
    ret = virGetDomain(dconn, dom->name, dom->uuid, g_atomic_int_get(&dom->domid));
    xm_dom_release(dom);
    xm_migrate_unregister(uuid, XM_MIGRATE_IN, ret != NULL);
    return ret;
}

static virDomainPtr
dst_finish(virConnectPtr dconn, const XmMigrateArgs *args, const char *cookiein,
           char **cookie, unsigned int flags, gboolean cancelled)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmDomainDef) named = NULL;
    const char *name = args->dest_name;
    XmMigrateEntry *e;
    XmDomObj *dom;
    uint8_t uuid[16];
    virDomainPtr ret = NULL;
    int domid;

    /* libvirt's client always names the domain; the XML is a fallback */
    if (!name && args->dest_xml && (named = xm_domain_def_parse_xml(args->dest_xml, NULL)))
        name = named->name;
    if (!name) {
        XM_REPORT(VIR_ERR_INVALID_ARG, "%s",
                  _("the name of the migrated domain is missing"));
        return NULL;
    }
    if (!(dom = xm_dom_find_name(name))) {
        /* offline migrations have no object before Finish */
        if (named || (args->dest_xml &&
                      (named = xm_domain_def_parse_xml(args->dest_xml, NULL)))) {
            e = xm_migrate_lookup(named->uuid, XM_MIGRATE_IN);
            if (e && e->offline_def) {
                virResetLastError();
                if (cancelled) {
                    xm_migrate_unregister(named->uuid, XM_MIGRATE_IN, FALSE);
                    return NULL;
                }
                return finish_offline(dconn, e);
            }
        }
        return NULL;
    }
    memcpy(uuid, dom->uuid, 16);
    e = xm_migrate_lookup(uuid, XM_MIGRATE_IN);
    if (!e) {
        xm_dom_release(dom);
        XM_REPORT(VIR_ERR_OPERATION_INVALID,
                  _("no incoming migration of domain '%s'"), name);
        return NULL;
    }
    if (e->offline_def) {
        xm_dom_release(dom);
        if (cancelled) {
            xm_migrate_unregister(uuid, XM_MIGRATE_IN, FALSE);
            return NULL;
        }
        return finish_offline(dconn, e);
    }

    domid = xm_migration_finish(e->job, cookiein, cancelled, cookie, &err);
    if (domid < 0) {
        if (cancelled)
            XM_REPORT(VIR_ERR_OPERATION_ABORTED, "%s",
                      _("the migration was cancelled on the source"));
        else
            XM_REPORT_GERROR(err);
        drop_incoming(dom);
        xm_migrate_unregister(uuid, XM_MIGRATE_IN, FALSE);
        xm_dom_release(dom);
        return NULL;
    }
    if (cancelled) {
        /* the library started the guest although the source gave up: it
         * cannot, but never leave a guest on two hosts */
        g_warning("incoming domain %s started after a cancelled migration; destroying it",
                  dom->name);
        xm_ops()->destroy(xm_driver->backend, domid, NULL);
        drop_incoming(dom);
        xm_migrate_unregister(uuid, XM_MIGRATE_IN, FALSE);
        xm_dom_release(dom);
        return NULL;
    }

    xm_dom_set_domid(dom, domid);
    if (flags & VIR_MIGRATE_PAUSED) {
        dom->state = XM_DOMSTATE_PAUSED;
        dom->reason = VIR_DOMAIN_PAUSED_USER;
    } else {
        dom->state = XM_DOMSTATE_RUNNING;
        dom->reason = VIR_DOMAIN_RUNNING_MIGRATED;
    }
    if (!xm_dom_save_status(dom, &err)) {
        /* the guest runs: keep it; a daemon restart may not find it again */
        g_warning("cannot record the status of migrated domain %s: %s",
                  dom->name, err->message);
        g_clear_error(&err);
    }
    xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED);
    if (flags & VIR_MIGRATE_PAUSED)
        xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_PAUSED);
    if (flags & VIR_MIGRATE_PERSIST_DEST)
        persist_incoming(dom, e->persist_xml);
    ret = virGetDomain(dconn, dom->name, dom->uuid, domid);
    xm_migrate_unregister(uuid, XM_MIGRATE_IN, TRUE);
    xm_dom_release(dom);
    return ret;
}

virDomainPtr
xmDomainMigrateFinish3Params(virConnectPtr dconn, virTypedParameterPtr params,
                             int nparams, const char *cookiein, int cookieinlen,
                             char **cookieout, int *cookieoutlen,
                             unsigned int flags, int cancelled)
{
    g_auto(XmMigrateArgs) args = { 0 };
    g_autofree char *cin = NULL;
    char *cookie = NULL;
    virDomainPtr ret;

    XM_CHECK_FLAGS(XM_MIGRATE_FLAGS, NULL);
    if (!xm_migrate_args_parse(params, nparams, flags, &args))
        return NULL;
    if (cookiein && cookieinlen > 0)
        cin = g_strndup(cookiein, cookieinlen);
    ret = dst_finish(dconn, &args, cin, &cookie, flags, cancelled != 0);
    if (ret)
        cookie_out(cookie, cookieout, cookieoutlen);
    else
        g_free(cookie);
    return ret;
}
