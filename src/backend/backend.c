/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Backend selection: picks the ops table named by the configuration and owns
 * the configuration copy that every implementation reads.
 */
#include "config.h"

#define G_LOG_DOMAIN "xenmig-backend"

#include <string.h>

#include "backend/backend-private.h"
#include "util/util.h"

static const XmBackendOps *const backends[] = {
    &xm_backend_libxl_ops,
    &xm_backend_sim_ops,
};

static void
config_copy(XmBackendConfig *dst, const XmBackendConfig *src)
{
    dst->backend = g_strdup(src->backend ? src->backend : "libxl");
    dst->state_dir = g_strdup(src->state_dir);
    dst->sim_host_name = g_strdup(src->sim_host_name);
    dst->sim_host_memory_mib = src->sim_host_memory_mib;
    dst->sim_host_cpus = src->sim_host_cpus;
    dst->sim_disk_datapath = g_strdup(src->sim_disk_datapath);
    dst->xen_disk_datapath = g_strdup(src->xen_disk_datapath);
}

static void
config_clear(XmBackendConfig *config)
{
    g_clear_pointer(&config->backend, g_free);
    g_clear_pointer(&config->state_dir, g_free);
    g_clear_pointer(&config->sim_host_name, g_free);
    g_clear_pointer(&config->sim_disk_datapath, g_free);
    g_clear_pointer(&config->xen_disk_datapath, g_free);
}

XmBackend *
xm_backend_new(const XmBackendConfig *config, XmDomainEventFunc event_cb,
               gpointer user_data, GError **error)
{
    const char *name;
    const XmBackendOps *ops = NULL;
    XmBackend *backend;

    g_return_val_if_fail(config != NULL, NULL);

    name = config->backend ? config->backend : "libxl";
    for (size_t i = 0; i < G_N_ELEMENTS(backends); i++) {
        if (strcmp(backends[i]->name, name) == 0)
            ops = backends[i];
    }
    if (!ops) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("unknown backend '%s' (expected 'libxl' or 'sim')"), name);
        return NULL;
    }

    backend = g_new0(XmBackend, 1);
    config_copy(&backend->config, config);
    backend->ops = ops;
    backend->event_cb = event_cb;
    backend->event_data = user_data;

    g_debug("opening backend %s (state dir %s)", ops->name,
            backend->config.state_dir ? backend->config.state_dir : "(none)");
    if (!ops->open(backend, error)) {
        config_clear(&backend->config);
        g_free(backend);
        return NULL;
    }
    return backend;
}

void
xm_backend_free(XmBackend *backend)
{
    if (!backend)
        return;
    backend->ops->close(backend);
    config_clear(&backend->config);
    g_free(backend);
}

const XmBackendOps *
xm_backend_ops(XmBackend *backend)
{
    g_return_val_if_fail(backend != NULL, NULL);
    return backend->ops;
}

const XmBackendConfig *
xm_backend_config(XmBackend *backend)
{
    g_return_val_if_fail(backend != NULL, NULL);
    return &backend->config;
}

void
xm_backend_emit_event(XmBackend *backend, int domid, XmDomainEventKind kind)
{
    g_debug("domain %d: event %d", domid, kind);
    if (backend->event_cb)
        backend->event_cb(backend, domid, kind, backend->event_data);
}
