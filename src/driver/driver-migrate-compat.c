/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The V3 entry points without typed parameters. libvirt's client uses them
 * for virDomainMigrate2 and friends (CloudStack calls virDomainMigrate2);
 * their fixed arguments are the parameters URI, DEST_NAME, DEST_XML and
 * BANDWIDTH, so each one forwards to its "Params" sibling.
 */
#define G_LOG_DOMAIN "xenmig-driver"
#include "config.h"

#include "driver-migrate.h"

typedef struct {
    virTypedParameterPtr p;
    int n;
    int max;
} Params;

static void
params_clear(Params *ps)
{
    virTypedParamsFree(ps->p, ps->n);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Params, params_clear)

static gboolean
params_build(Params *ps, const char *uri, const char *dname, const char *xml,
             unsigned long bandwidth)
{
    if ((uri && virTypedParamsAddString(&ps->p, &ps->n, &ps->max,
                                        VIR_MIGRATE_PARAM_URI, uri) < 0) ||
        (dname && virTypedParamsAddString(&ps->p, &ps->n, &ps->max,
                                          VIR_MIGRATE_PARAM_DEST_NAME, dname) < 0) ||
        (xml && virTypedParamsAddString(&ps->p, &ps->n, &ps->max,
                                        VIR_MIGRATE_PARAM_DEST_XML, xml) < 0) ||
        (bandwidth && virTypedParamsAddULLong(&ps->p, &ps->n, &ps->max,
                                              VIR_MIGRATE_PARAM_BANDWIDTH,
                                              bandwidth) < 0)) {
        XM_REPORT(VIR_ERR_NO_MEMORY, "%s", _("cannot build the migration parameters"));
        return FALSE;
    }
    return TRUE;
}

/* Flags beyond 32 bits exist in no libvirt release: refuse them as unknown. */
static gboolean
flags_fit(unsigned long flags)
{
    if (flags > G_MAXUINT) {
        XM_REPORT(VIR_ERR_INVALID_ARG, _("unsupported flags (0x%lx)"), flags);
        return FALSE;
    }
    return TRUE;
}

char *
xmDomainMigrateBegin3(virDomainPtr vdom, const char *xmlin, char **cookieout,
                      int *cookieoutlen, unsigned long flags, const char *dname,
                      unsigned long resource)
{
    g_auto(Params) ps = { 0 };

    if (!flags_fit(flags) || !params_build(&ps, NULL, dname, xmlin, resource))
        return NULL;
    return xmDomainMigrateBegin3Params(vdom, ps.p, ps.n, cookieout, cookieoutlen, flags);
}

int
xmDomainMigratePrepare3(virConnectPtr dconn, const char *cookiein, int cookieinlen,
                        char **cookieout, int *cookieoutlen, const char *uri_in,
                        char **uri_out, unsigned long flags, const char *dname,
                        unsigned long resource, const char *dom_xml)
{
    g_auto(Params) ps = { 0 };

    if (!flags_fit(flags) || !params_build(&ps, uri_in, dname, dom_xml, resource))
        return -1;
    return xmDomainMigratePrepare3Params(dconn, ps.p, ps.n, cookiein, cookieinlen,
                                         cookieout, cookieoutlen, uri_out, flags);
}

int
xmDomainMigratePerform3(virDomainPtr vdom, const char *xmlin, const char *cookiein,
                        int cookieinlen, char **cookieout, int *cookieoutlen,
                        const char *dconnuri, const char *uri, unsigned long flags,
                        const char *dname, unsigned long resource)
{
    g_auto(Params) ps = { 0 };

    if (!flags_fit(flags) || !params_build(&ps, uri, dname, xmlin, resource))
        return -1;
    return xmDomainMigratePerform3Params(vdom, dconnuri, ps.p, ps.n, cookiein,
                                         cookieinlen, cookieout, cookieoutlen, flags);
}

virDomainPtr
xmDomainMigrateFinish3(virConnectPtr dconn, const char *dname, const char *cookiein,
                       int cookieinlen, char **cookieout, int *cookieoutlen,
                       const char *dconnuri, const char *uri, unsigned long flags,
                       int cancelled)
{
    g_auto(Params) ps = { 0 };

    if (!flags_fit(flags) || !params_build(&ps, uri, dname, NULL, 0))
        return NULL;
    return xmDomainMigrateFinish3Params(dconn, ps.p, ps.n, cookiein, cookieinlen,
                                        cookieout, cookieoutlen, flags, cancelled);
}

int
xmDomainMigrateConfirm3(virDomainPtr vdom, const char *cookiein, int cookieinlen,
                        unsigned long flags, int cancelled)
{
    if (!flags_fit(flags))
        return -1;
    return xmDomainMigrateConfirm3Params(vdom, NULL, 0, cookiein, cookieinlen,
                                         flags, cancelled);
}
