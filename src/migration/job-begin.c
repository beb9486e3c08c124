/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Begin (source): check the request, choose the disks to copy and describe
 * them in the first cookie. Nothing is sent and the guest is not touched.
 */
#define G_LOG_DOMAIN "xenmig-migration"

#include "config.h"

#include <string.h>

#include "migration/migration-private.h"

/* Disks that can be copied: a local file or block device the guest
 * writes and nobody else does. */
static gboolean
disk_copyable(const XmDiskDef *d, GError **error)
{
    if (d->readonly || d->device == XM_DISK_DEVICE_CDROM) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("disk '%s' is read-only and is not copied"), d->target);
        return FALSE;
    }
    if (d->shareable) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("disk '%s' is shareable; copying it would split it"), d->target);
        return FALSE;
    }
    if (!d->source || d->source[0] != '/') {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("disk '%s' is not a local file or block device"), d->target);
        return FALSE;
    }
    return TRUE;
}

static gboolean
choose_disks(XmMigration *job, GError **error)
{
    const XmMigrationParams *p = &job->params;
    const XmDomainDef *def = job->def;
    g_autoptr(GArray) chosen = g_array_new(FALSE, TRUE, sizeof(XmMigDisk));

    if (!p->non_shared_disk && !p->non_shared_inc)
        return TRUE;        /* shared storage: memory only */

    if (p->migrate_disks) {
        for (const char *const *t = p->migrate_disks; *t; t++) {
            gboolean found = FALSE;
            for (const char *const *u = p->migrate_disks; u != t; u++) {
                if (strcmp(*u, *t) == 0) {
                    g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                                _("disk '%s' is listed twice in the disks to migrate"), *t);
                    return FALSE;
                }
            }
            for (size_t i = 0; i < def->ndisks; i++) {
                if (g_strcmp0(def->disks[i].target, *t) == 0)
                    found = TRUE;
            }
            if (!found) {
                g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                            _("domain '%s' has no disk '%s' to migrate"), def->name, *t);
                return FALSE;
            }
        }
    }

    for (size_t i = 0; i < def->ndisks; i++) {
        const XmDiskDef *dd = &def->disks[i];
        g_autoptr(GError) why = NULL;
        XmMigDisk d = { 0 };

        if (p->migrate_disks) {
            if (!g_strv_contains(p->migrate_disks, dd->target))
                continue;
            if (!disk_copyable(dd, error))
                return FALSE;
        } else if (!disk_copyable(dd, &why)) {
            g_debug("not copying disk %s: %s", dd->target, why->message);
            continue;
        }
        if (dd->format != XM_DISK_FORMAT_RAW) {
            g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                        _("disk '%s' is not raw; copying qcow2 images is not supported yet"),
                        dd->target);
            return FALSE;
        }
        if (!xm_migration_image_size(dd->source, &d.capacity, &d.allocation, error))
            return FALSE;
        d.target = g_strdup(dd->target);
        d.source_path = g_strdup(dd->source);
        d.format = dd->format;
        g_array_append_val(chosen, d);
    }
    job->ndisks = chosen->len;
    job->disks = (XmMigDisk *) g_array_free(g_steal_pointer(&chosen), FALSE);
    return TRUE;
}

XmMigration *
xm_migration_begin(XmBackend *backend, int domid, const XmDomainDef *def,
                   const XmMigrationParams *params, char **cookie_out,
                   GError **error)
{
    g_autoptr(XmMigration) job = NULL;
    g_autoptr(XmCookie) c = NULL;
    GPtrArray *features;
    XmDomainInfo info;

    g_return_val_if_fail(backend && def && params && cookie_out, NULL);
    xm_init();
    if (!xm_migration_check_params(params, error))
        return NULL;
    if (!xm_backend_ops(backend)->info(backend, domid, &info, error))
        return NULL;

    job = xm_migration_new(TRUE, backend, def, params);
    job->domid = domid;
    job->mem_total = MAX(info.memory_kib, def->current_memory_kib) * 1024;
    job->was_paused = info.state == XM_DOMSTATE_PAUSED;
    if (!choose_disks(job, error))
        return NULL;
    xm_channel_secret_generate(job->secret);

    c = g_new0(XmCookie, 1);
    c->host_name = g_strdup(job->host_name);
    c->dom_name = g_strdup(def->name);
    memcpy(c->uuid, def->uuid, 16);
    c->memory_kib = job->mem_total / 1024;
    c->secret = xm_channel_secret_to_hex(job->secret);
    c->tls = params->tls;
    features = g_ptr_array_new();
    g_ptr_array_add(features, g_strdup("memory-channel"));
    g_ptr_array_add(features, g_strdup("verify"));
    if (job->ndisks)
        g_ptr_array_add(features, g_strdup(params->non_shared_inc ? "disks-inc" : "disks"));
    if (params->tls)
        g_ptr_array_add(features, g_strdup("tls"));
    /* a guest its user paused stays paused where it lands */
    if (job->was_paused)
        g_ptr_array_add(features, g_strdup("guest-paused"));
    g_ptr_array_add(features, NULL);
    c->features = (char **) g_ptr_array_free(features, FALSE);
    c->ndisks = job->ndisks;
    c->disks = g_new0(XmCookieDisk, job->ndisks ? job->ndisks : 1);
    for (size_t i = 0; i < job->ndisks; i++) {
        c->disks[i].target = g_strdup(job->disks[i].target);
        c->disks[i].capacity = job->disks[i].capacity;
        c->disks[i].allocation = job->disks[i].allocation;
        c->disks[i].format = g_strdup("raw");
    }
    *cookie_out = xm_cookie_format(c);
    job->cookie = g_steal_pointer(&c);
    xm_migration_set_state(job, XM_MIGRATION_STATE_BEGIN);
    g_debug("begin: domain '%s', %zu disk(s) to copy", def->name, job->ndisks);
    return g_steal_pointer(&job);
}
