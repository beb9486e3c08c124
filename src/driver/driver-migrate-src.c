/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The source side of a migration: Begin, Perform, Confirm, and Perform in
 * peer-to-peer mode, where this daemon opens the destination itself and
 * drives its Prepare and Finish, then confirms locally.
 *
 * libvirt's client calls Confirm only when Perform succeeded (or when
 * Prepare failed after a Begin with change protection); a failed Perform
 * therefore ends the job here, with the guest running on this host again.
 */
#define G_LOG_DOMAIN "xenmig-driver"
#include "config.h"

#include <string.h>

#include "driver-migrate.h"

/* libvirt.so.0 exports these under LIBVIRT_PRIVATE_<version> for drivers
 * doing peer-to-peer migration (libvirt_internal.h). */
int virDomainMigratePrepare3Params(virConnectPtr dconn, virTypedParameterPtr params,
                                   int nparams, const char *cookiein, int cookieinlen,
                                   char **cookieout, int *cookieoutlen,
                                   char **uri_out, unsigned int flags);
virDomainPtr virDomainMigrateFinish3Params(virConnectPtr dconn,
                                           virTypedParameterPtr params, int nparams,
                                           const char *cookiein, int cookieinlen,
                                           char **cookieout, int *cookieoutlen,
                                           unsigned int flags, int cancelled);
/* virerror.h: restores a saved error as the thread's last error */
int virSetError(virErrorPtr newerr);

/* A cookie as libvirt carries it: bytes with a length, usually with the NUL. */
static char *
cookie_dup(const char *cookie, int len)
{
    if (!cookie || len <= 0)
        return NULL;
    return g_strndup(cookie, len);
}

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
 * The XML Begin hands to the destination: the user's (checked to describe
 * the same domain) or the domain's own, with secrets, as libvirt's
 * "migratable" XML.
 */
static char *
begin_xml(XmDomObj *dom, const XmMigrateArgs *args, gboolean offline)
{
    g_autoptr(GError) err = NULL;
    const XmDomainDef *src = offline ? xm_dom_persistent_def(dom) : dom->def;

    if (args->dest_xml) {
        g_autoptr(XmDomainDef) def = xm_domain_def_parse_xml(args->dest_xml, &err);
        if (!def) {
            XM_REPORT_GERROR(err);
            return NULL;
        }
        if (memcmp(def->uuid, dom->uuid, 16) != 0) {
            XM_REPORT(VIR_ERR_INVALID_ARG, "%s",
                      _("the destination XML describes another domain (UUID differs)"));
            return NULL;
        }
        if (!g_str_equal(def->name, args->dest_name ? args->dest_name : dom->name)) {
            XM_REPORT(VIR_ERR_INVALID_ARG,
                      _("the destination XML names the domain '%s'; use the destination name parameter to rename it"),
                      def->name);
            return NULL;
        }
        return xm_domain_def_format_xml(def, -1, XM_DOMAIN_XML_SECURE | XM_DOMAIN_XML_INACTIVE);
    }
    return xm_domain_def_format_xml(src, -1, XM_DOMAIN_XML_SECURE | XM_DOMAIN_XML_INACTIVE);
}

/*
 * Begin on @dom (locked): registers the source job. Returns the XML for the
 * destination and the cookie for Prepare.
 */
static char *
src_begin(XmDomObj *dom, const XmMigrateArgs *args, unsigned int flags,
          char **cookie)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *c = NULL;
    XmMigrationParams p;
    XmMigrateEntry *e, *old;
    gboolean offline = (flags & VIR_MIGRATE_OFFLINE) != 0;

    if (offline) {
        if (!dom->persistent) {
            XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s",
                      _("cannot migrate a transient domain offline"));
            return NULL;
        }
    } else if (!xm_dom_is_active(dom)) {
        XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s", _("domain is not running"));
        return NULL;
    }
    if ((flags & VIR_MIGRATE_UNDEFINE_SOURCE) && !dom->persistent && !offline) {
        /* nothing to undefine: libvirt accepts it for transient domains */
        g_debug("%s: UNDEFINE_SOURCE on a transient domain", dom->name);
    }
    old = xm_migrate_lookup(dom->uuid, XM_MIGRATE_OUT);
    if (old) {
        /* A Begin whose client went away before Perform leaves its job in
         * state BEGIN; nothing ran yet, so a new Begin replaces it. */
        if (old->busy ||
            (old->job && xm_migration_get_state(old->job) != XM_MIGRATION_STATE_BEGIN)) {
            XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s",
                      _("domain is already being migrated"));
            return NULL;
        }
        xm_migrate_unregister(dom->uuid, XM_MIGRATE_OUT, FALSE);
    }
    if (!(xml = begin_xml(dom, args, offline)))
        return NULL;
    if (!xm_migrate_fill_params(&p, flags, args))
        return NULL;

    e = g_new0(XmMigrateEntry, 1);
    memcpy(e->uuid, dom->uuid, 16);
    e->side = XM_MIGRATE_OUT;
    e->flags = flags;
    p.outgoing = xm_migrate_outrec_stage;
    p.outgoing_data = e->uuid;
    if (!offline) {
        e->job = xm_migration_begin(xm_driver->backend, g_atomic_int_get(&dom->domid),
                                    dom->def, &p, &c, &err);
        if (!e->job) {
            g_free(e);
            XM_REPORT_GERROR(err);
            return NULL;
        }
    } else {
        /* only the definition moves; the cookie just says so */
        c = g_strdup("<xenmig-migration offline='yes'/>");
    }
    if (!xm_migrate_register(e)) {
        xm_migration_free(e->job);
        g_free(e);
        XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s", _("domain is already being migrated"));
        return NULL;
    }
    *cookie = g_steal_pointer(&c);
    return g_steal_pointer(&xml);
}

char *
xmDomainMigrateBegin3Params(virDomainPtr vdom, virTypedParameterPtr params,
                            int nparams, char **cookieout, int *cookieoutlen,
                            unsigned int flags)
{
    g_auto(XmMigrateArgs) args = { 0 };
    char *cookie = NULL;
    XmDomObj *dom;
    char *xml;

    XM_CHECK_FLAGS(XM_MIGRATE_FLAGS, NULL);
    if (!xm_migrate_args_parse(params, nparams, flags, &args))
        return NULL;
    if (!(dom = xm_dom_from_virdom(vdom)))
        return NULL;
    xml = src_begin(dom, &args, flags, &cookie);
    xm_dom_release(dom);
    if (xml)
        cookie_out(cookie, cookieout, cookieoutlen);
    return xml;
}

/*
 * After a migration that failed or was cancelled the library has resumed
 * the guest; the domain object may still say "paused" (by the migration, or
 * by a backend event seen while Perform ran unlocked). The backend knows.
 */
static void
resync_after_failure(XmDomObj *dom)
{
    XmDomainInfo info;
    int domid = g_atomic_int_get(&dom->domid);

    if (domid < 0 || dom->state != XM_DOMSTATE_PAUSED ||
        (dom->reason != VIR_DOMAIN_PAUSED_MIGRATION &&
         dom->reason != VIR_DOMAIN_PAUSED_UNKNOWN))
        return;
    if (!xm_ops()->info(xm_driver->backend, domid, &info, NULL) ||
        info.state == XM_DOMSTATE_PAUSED)
        return;
    dom->state = XM_DOMSTATE_RUNNING;
    dom->reason = VIR_DOMAIN_RUNNING_MIGRATION_CANCELED;
    xm_dom_save_status(dom, NULL);
    xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED);
}

/*
 * A failed Perform normally resumes the guest. It cannot when sending the
 * completion record failed (the destination may have it and run the
 * guest) or when the backend's resume failed: then the guest stays
 * suspended, "paused (migrating)", the log says so, and TRUE tells the
 * caller to keep the outgoing record for a restarted libvirtd.
 */
static gboolean
left_suspended(XmDomObj *dom, const GError *err)
{
    XmDomainInfo info;
    int domid = g_atomic_int_get(&dom->domid);

    if (domid < 0 || !xm_ops()->info(xm_driver->backend, domid, &info, NULL) ||
        info.state != XM_DOMSTATE_PAUSED)
        return FALSE;
    g_warning("domain %s: its failed outgoing migration left it suspended here (%s); "
              "check whether the destination runs it, and resume it here only if not",
              dom->name, err ? err->message : "unknown error");
    if (dom->state != XM_DOMSTATE_PAUSED) {
        dom->state = XM_DOMSTATE_PAUSED;
        dom->reason = VIR_DOMAIN_PAUSED_MIGRATION;
        xm_dom_save_status(dom, NULL);
        xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_SUSPENDED,
                           VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED);
    } else if (dom->reason != VIR_DOMAIN_PAUSED_MIGRATION) {
        dom->reason = VIR_DOMAIN_PAUSED_MIGRATION;
        xm_dom_save_status(dom, NULL);
    }
    return TRUE;
}

/*
 * Perform on @dom (locked) with the cookie from Prepare. On failure the
 * guest runs here again and the job is over (no Confirm follows).
 */
static gboolean
src_perform(XmDomObj *dom, const char *cookiein, char **cookie)
{
    g_autoptr(GError) err = NULL;
    XmMigrateEntry *e = xm_migrate_lookup(dom->uuid, XM_MIGRATE_OUT);
    gboolean ok, was_running;

    if (!e || e->busy) {
        XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s",
                  e ? _("the migration of this domain is already being performed")
                    : _("no migration of this domain was begun"));
        return FALSE;
    }
    if (!e->job)        /* offline: nothing to send */
        return TRUE;
    if (!xm_dom_is_active(dom)) {
        XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s", _("domain is not running"));
        xm_migrate_unregister(dom->uuid, XM_MIGRATE_OUT, FALSE);
        return FALSE;
    }
    /* The domain stays reachable (lookups, info, job info, abort) while
     * the data flows; the busy flag keeps Begin and Confirm off this job. */
    was_running = dom->state != XM_DOMSTATE_PAUSED;
    e->busy = TRUE;
    g_mutex_unlock(&dom->lock);
    ok = xm_migration_perform(e->job, cookiein, cookie, &err);
    g_mutex_lock(&dom->lock);
    e->busy = FALSE;
    if (!ok) {
        XM_REPORT_GERROR(err);
        if (was_running && left_suspended(dom, err)) {
            /* its record keeps saying whether the destination may run it */
            e->keep_record = TRUE;
        }
        xm_migrate_unregister(dom->uuid, XM_MIGRATE_OUT, FALSE);
        resync_after_failure(dom);
        return FALSE;
    }
    /* the guest is suspended here and starts on the destination */
    if (dom->state != XM_DOMSTATE_PAUSED) {
        dom->state = XM_DOMSTATE_PAUSED;
        dom->reason = VIR_DOMAIN_PAUSED_MIGRATION;
        xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_SUSPENDED,
                           VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED);
    }
    return TRUE;
}

/* Confirm on @dom (locked); ends the job. */
static gboolean
src_confirm(XmDomObj *dom, const char *cookiein, unsigned int flags,
            gboolean cancelled)
{
    g_autoptr(GError) err = NULL;
    XmMigrateEntry *e = xm_migrate_lookup(dom->uuid, XM_MIGRATE_OUT);
    gboolean had_job;

    if (!e || e->busy) {
        XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s",
                  e ? _("the migration of this domain is still being performed")
                    : _("no migration of this domain is in progress"));
        return FALSE;
    }
    had_job = e->job != NULL;
    if (e->job && !xm_migration_confirm(e->job, cookiein, cancelled, &err)) {
        XM_REPORT_GERROR(err);
        xm_migrate_unregister(dom->uuid, XM_MIGRATE_OUT, FALSE);
        return FALSE;
    }
    xm_migrate_unregister(dom->uuid, XM_MIGRATE_OUT, !cancelled);

    if (cancelled) {
        resync_after_failure(dom);
        return TRUE;
    }
    e = NULL;   /* freed with the registry entry */
    if (had_job) {
        /* the library destroyed the source domain */
        xm_dom_mark_stopped(dom, VIR_DOMAIN_SHUTOFF_MIGRATED);
        xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_STOPPED,
                           VIR_DOMAIN_EVENT_STOPPED_MIGRATED);
    }
    if ((flags & VIR_MIGRATE_UNDEFINE_SOURCE) && dom->persistent) {
        if (!xm_dom_delete_config(dom, &err)) {
            /* the guest runs on the destination: say so, keep going */
            g_warning("cannot undefine migrated domain %s: %s", dom->name, err->message);
        } else {
            dom->persistent = FALSE;
            xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_UNDEFINED,
                               VIR_DOMAIN_EVENT_UNDEFINED_REMOVED);
        }
    }
    if (!xm_dom_is_active(dom))
        xm_dom_cleanup_stopped(dom);
    return TRUE;
}

/* ---- peer-to-peer ---- */

/* A copy of @params the destination gets: libvirt's client would add the
 * XML Begin made and the domain's name for Finish, so this does too. */
static gboolean
p2p_params(virTypedParameterPtr params, int nparams, const char *xml,
           const char *name, virTypedParameterPtr *out, int *nout)
{
    virTypedParameterPtr p = NULL;
    int n = 0, max = 0;
    gboolean have_xml = FALSE, have_name = FALSE;

    for (int i = 0; i < nparams; i++) {
        const virTypedParameter *s = &params[i];
        int r = -1;

        switch (s->type) {
        case VIR_TYPED_PARAM_STRING:
            r = virTypedParamsAddString(&p, &n, &max, s->field, s->value.s);
            have_xml |= g_str_equal(s->field, VIR_MIGRATE_PARAM_DEST_XML);
            have_name |= g_str_equal(s->field, VIR_MIGRATE_PARAM_DEST_NAME);
            break;
        case VIR_TYPED_PARAM_ULLONG:
            r = virTypedParamsAddULLong(&p, &n, &max, s->field, s->value.ul);
            break;
        case VIR_TYPED_PARAM_INT:
            r = virTypedParamsAddInt(&p, &n, &max, s->field, s->value.i);
            break;
        default:
            break;
        }
        if (r < 0)
            goto fail;
    }
    if (!have_xml && virTypedParamsAddString(&p, &n, &max, VIR_MIGRATE_PARAM_DEST_XML, xml) < 0)
        goto fail;
    if (!have_name && virTypedParamsAddString(&p, &n, &max, VIR_MIGRATE_PARAM_DEST_NAME, name) < 0)
        goto fail;
    *out = p;
    *nout = n;
    return TRUE;
 fail:
    virTypedParamsFree(p, n);
    return FALSE;
}

/* Replaces or adds the URI parameter (Prepare chose the address). */
static gboolean
p2p_set_uri(virTypedParameterPtr *p, int *n, const char *uri)
{
    int max = *n;

    for (int i = 0; i < *n; i++) {
        if (g_str_equal((*p)[i].field, VIR_MIGRATE_PARAM_URI)) {
            free((*p)[i].value.s);
            (*p)[i].value.s = strdup(uri);
            return (*p)[i].value.s != NULL;
        }
    }
    return virTypedParamsAddString(p, n, &max, VIR_MIGRATE_PARAM_URI, uri) == 0;
}

/* The whole migration from this daemon; @dom locked. */
static int
src_perform_p2p(XmDomObj *dom, const char *dconnuri, virTypedParameterPtr params,
                int nparams, const XmMigrateArgs *args, unsigned int flags)
{
    virConnectPtr dconn = NULL;
    virTypedParameterPtr dp = NULL;
    int ndp = 0;
    g_autofree char *xml = NULL;
    g_autofree char *c1 = NULL;
    char *c2 = NULL, *c4 = NULL, *uri_out = NULL;
    g_autofree char *c3 = NULL;
    int l2 = 0, l4 = 0;
    unsigned int dflags = flags & ~(VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_ABORT_ON_ERROR |
                                    VIR_MIGRATE_AUTO_CONVERGE);
    virDomainPtr ddom = NULL;
    gboolean performed = FALSE;
    int ret = -1;

    if (!dconnuri) {
        XM_REPORT(VIR_ERR_INVALID_ARG, "%s",
                  _("peer-to-peer migration needs the destination's connection URI"));
        return -1;
    }
    if (dom->state == XM_DOMSTATE_PAUSED)
        dflags |= VIR_MIGRATE_PAUSED;
    if (!(xml = src_begin(dom, args, flags, &c1)))
        return -1;

    /* No interactive authentication inside the daemon: the destination
     * must accept this host as it is (TLS certificates, or no auth). */
    dconn = virConnectOpen(dconnuri);
    if (!dconn) {
        g_autofree char *msg = g_strdup(virGetLastErrorMessage());
        xm_migrate_unregister(dom->uuid, XM_MIGRATE_OUT, FALSE);
        XM_REPORT(VIR_ERR_OPERATION_FAILED,
                  _("cannot open a connection to the destination '%s': %s"),
                  dconnuri, msg);
        return -1;
    }
    if (!p2p_params(params, nparams, xml, dom->name, &dp, &ndp)) {
        xm_migrate_unregister(dom->uuid, XM_MIGRATE_OUT, FALSE);
        XM_REPORT(VIR_ERR_NO_MEMORY, "%s", _("cannot copy the migration parameters"));
        goto out;
    }
    /* errors of the remote calls are already the thread's libvirt error */
    if (virDomainMigratePrepare3Params(dconn, dp, ndp, c1, strlen(c1) + 1,
                                       &c2, &l2, &uri_out, dflags) < 0) {
        xm_migrate_unregister(dom->uuid, XM_MIGRATE_OUT, FALSE);
        goto out;
    }
    if (uri_out && !p2p_set_uri(&dp, &ndp, uri_out)) {
        XM_REPORT(VIR_ERR_NO_MEMORY, "%s", _("cannot copy the migration parameters"));
        xm_migrate_unregister(dom->uuid, XM_MIGRATE_OUT, FALSE);
        goto finish;
    }
    {
        g_autofree char *cookie2 = cookie_dup(c2, l2);
        performed = src_perform(dom, cookie2, &c3);
    }

 finish:
    {
        /* keep Perform's error: Finish with cancelled=1 must not hide it */
        virErrorPtr perr = performed ? NULL : virSaveLastError();
        ddom = virDomainMigrateFinish3Params(dconn, dp, ndp, c3,
                                             c3 ? strlen(c3) + 1 : 0,
                                             &c4, &l4, dflags, !performed);
        if (perr) {
            virSetError(perr);
            virFreeError(perr);
        }
    }
    if (!performed)
        goto out;
    {
        g_autofree char *cookie4 = cookie_dup(c4, l4);
        virErrorPtr ferr = ddom ? NULL : virSaveLastError();
        gboolean confirmed = src_confirm(dom, cookie4, flags, ddom == NULL);
        if (ferr) {
            /* the destination's reason is the one the user needs */
            virSetError(ferr);
            virFreeError(ferr);
        }
        ret = ddom && confirmed ? 0 : -1;
    }

 out:
    {
        /* the public calls below reset the thread's error: keep it */
        virErrorPtr saved = ret < 0 ? virSaveLastError() : NULL;
        if (ddom)
            virDomainFree(ddom);
        virTypedParamsFree(dp, ndp);
        free(c2);
        free(c4);
        free(uri_out);
        virConnectClose(dconn);
        if (saved) {
            virSetError(saved);
            virFreeError(saved);
        }
    }
    return ret;
}

int
xmDomainMigratePerform3Params(virDomainPtr vdom, const char *dconnuri,
                              virTypedParameterPtr params, int nparams,
                              const char *cookiein, int cookieinlen,
                              char **cookieout, int *cookieoutlen,
                              unsigned int flags)
{
    g_auto(XmMigrateArgs) args = { 0 };
    g_autofree char *cin = NULL;
    char *cookie = NULL;
    XmDomObj *dom;
    int ret = -1;

    XM_CHECK_FLAGS(XM_MIGRATE_FLAGS, -1);
    if (!xm_migrate_args_parse(params, nparams, flags, &args))
        return -1;
    if (!(dom = xm_dom_from_virdom(vdom)))
        return -1;
    if (flags & VIR_MIGRATE_PEER2PEER) {
        ret = src_perform_p2p(dom, dconnuri, params, nparams, &args, flags);
    } else {
        cin = cookie_dup(cookiein, cookieinlen);
        if (src_perform(dom, cin, &cookie)) {
            cookie_out(cookie, cookieout, cookieoutlen);
            ret = 0;
        }
    }
    xm_dom_release(dom);
    return ret;
}

int
xmDomainMigrateConfirm3Params(virDomainPtr vdom, virTypedParameterPtr params,
                              int nparams, const char *cookiein, int cookieinlen,
                              unsigned int flags, int cancelled)
{
    g_auto(XmMigrateArgs) args = { 0 };
    g_autofree char *cin = NULL;
    XmDomObj *dom;
    int ret;

    XM_CHECK_FLAGS(XM_MIGRATE_FLAGS, -1);
    if (!xm_migrate_args_parse(params, nparams, flags, &args))
        return -1;
    if (!(dom = xm_dom_from_virdom(vdom)))
        return -1;
    cin = cookie_dup(cookiein, cookieinlen);
    ret = src_confirm(dom, cin, flags, cancelled != 0) ? 0 : -1;
    xm_dom_release(dom);
    return ret;
}
