/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libxl backend's ops: each one a thin, checked call into libxl. */
#include "config.h"

#define G_LOG_DOMAIN "xenmig-libxl"

#include <string.h>
#include <sys/utsname.h>

#include "backend/libxl-private.h"
#include "util/util.h"

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(libxl_domain_config, libxl_domain_config_dispose)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(libxl_dominfo, libxl_dominfo_dispose)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(libxl_physinfo, libxl_physinfo_dispose)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(libxl_domain_restore_params,
                                 libxl_domain_restore_params_dispose)

static XmLibxlBackend *
lb_of(XmBackend *backend)
{
    return backend->priv;
}

static gboolean
lx_node_info(XmBackend *backend, XmNodeInfo *info, GError **error)
{
    XmLibxlBackend *lb = lb_of(backend);
    g_auto(libxl_physinfo) phys;
    struct utsname uts;
    int rc;

    libxl_physinfo_init(&phys);
    rc = libxl_get_physinfo(lb->ctx, &phys);
    if (rc) {
        g_set_error(error, XM_ERROR, XM_ERR_XEN_CALL,
                    _("libxl_get_physinfo failed (libxl error %d)"), rc);
        return FALSE;
    }
    memset(info, 0, sizeof(*info));
    uname(&uts);
    g_strlcpy(info->model, uts.machine, sizeof(info->model));
    info->memory_kib = phys.total_pages * 4;        /* 4 KiB Xen pages */
    info->cpus = phys.nr_cpus;
    info->mhz = phys.cpu_khz / 1000;
    info->nodes = MAX(phys.nr_nodes, 1);
    info->threads = MAX(phys.threads_per_core, 1);
    info->cores = MAX(phys.cores_per_socket, 1);
    info->sockets = MAX(info->cpus / (info->cores * info->threads * info->nodes), 1);
    return TRUE;
}

static gboolean
lx_free_memory(XmBackend *backend, guint64 *free_kib, GError **error)
{
    uint64_t kib = 0;
    int rc = libxl_get_free_memory(lb_of(backend)->ctx, &kib);

    if (rc) {
        g_set_error(error, XM_ERROR, XM_ERR_XEN_CALL,
                    _("libxl_get_free_memory failed (libxl error %d)"), rc);
        return FALSE;
    }
    *free_kib = kib;
    return TRUE;
}

static gboolean
lx_version(XmBackend *backend, unsigned long *version, GError **error)
{
    const libxl_version_info *v = libxl_get_version_info(lb_of(backend)->ctx);
    unsigned long micro = 0;

    if (!v) {
        g_set_error(error, XM_ERROR, XM_ERR_XEN_CALL,
                    _("cannot get the Xen version"));
        return FALSE;
    }
    /* xen_version_extra looks like ".0" or ".1-pre" */
    if (v->xen_version_extra && v->xen_version_extra[0] == '.')
        micro = strtoul(v->xen_version_extra + 1, NULL, 10);
    *version = v->xen_version_major * 1000000UL + v->xen_version_minor * 1000UL + micro;
    return TRUE;
}

static int
lx_max_vcpus(XmBackend *backend, GError **error)
{
    int n = libxl_get_max_cpus(lb_of(backend)->ctx);

    if (n <= 0) {
        g_set_error(error, XM_ERROR, XM_ERR_XEN_CALL,
                    _("libxl_get_max_cpus failed (libxl error %d)"), n);
        return -1;
    }
    return n;
}

static gboolean
lx_list(XmBackend *backend, int **domids, size_t *n, GError **error)
{
    int count = 0;
    libxl_dominfo *all = libxl_list_domain(lb_of(backend)->ctx, &count);
    GArray *ids;

    if (!all) {
        g_set_error(error, XM_ERROR, XM_ERR_XEN_CALL, _("cannot list Xen domains"));
        return FALSE;
    }
    ids = g_array_new(FALSE, FALSE, sizeof(int));
    for (int i = 0; i < count; i++) {
        int id = all[i].domid;
        if (id != 0)              /* dom0 is the host, not a guest */
            g_array_append_val(ids, id);
    }
    libxl_dominfo_list_free(all, count);
    *n = ids->len;
    *domids = (int *) g_array_free(ids, FALSE);
    return TRUE;
}

static gboolean
lx_info(XmBackend *backend, int domid, XmDomainInfo *info, GError **error)
{
    g_auto(libxl_dominfo) di;
    int rc;

    libxl_dominfo_init(&di);
    rc = libxl_domain_info(lb_of(backend)->ctx, &di, domid);
    if (rc)
        return xm_libxl_error(error, rc, domid, _("getting information"));
    memset(info, 0, sizeof(*info));
    info->domid = domid;
    memcpy(info->uuid, libxl_uuid_bytearray(&di.uuid), 16);
    if (di.shutdown && di.shutdown_reason == LIBXL_SHUTDOWN_REASON_CRASH)
        info->state = XM_DOMSTATE_CRASHED;
    else if (di.shutdown && di.shutdown_reason == LIBXL_SHUTDOWN_REASON_SUSPEND && !di.dying)
        /* stopped by a save or a migration's memory stream, intact until
         * resumed or destroyed: not a guest shutting down (a restarted
         * libvirtd would clean it away) */
        info->state = XM_DOMSTATE_PAUSED;
    else if (di.shutdown || di.dying)
        info->state = XM_DOMSTATE_SHUTDOWN;
    else if (di.paused)
        info->state = XM_DOMSTATE_PAUSED;
    else if (di.blocked)
        info->state = XM_DOMSTATE_BLOCKED;
    else if (di.running)
        info->state = XM_DOMSTATE_RUNNING;
    else
        info->state = XM_DOMSTATE_RUNNING;      /* runnable, waiting for a CPU */
    info->memory_kib = di.current_memkb;
    info->max_memory_kib = di.max_memkb;
    info->vcpus = di.vcpu_online;
    info->cpu_time_ns = di.cpu_time;
    return TRUE;
}

/* Starts (or restores, with @restore_fd >= 0) a domain; unpauses unless
 * @paused. */
static int
start_domain(XmBackend *backend, const XmDomainDef *def, int restore_fd,
             gboolean paused, GCancellable *cancellable, GError **error)
{
    XmLibxlBackend *lb = lb_of(backend);
    g_auto(libxl_domain_config) d_config;
    g_auto(libxl_domain_restore_params) params;
    g_autoptr(XmLxDatapath) dp = NULL;
    XmLibxlAo ao;
    uint32_t domid = (uint32_t) INVALID_DOMID;
    int rc;

    libxl_domain_config_init(&d_config);
    libxl_domain_restore_params_init(&params);
    if (!xm_domain_def_to_libxl(def, &d_config, lb->ctx, error) ||
        !xm_libxl_datapath_prepare(lb, def, &d_config, &dp, error))
        return -1;

    xm_libxl_ao_init(&ao);
    if (restore_fd >= 0) {
        params.checkpointed_stream = LIBXL_CHECKPOINTED_STREAM_NONE;
        params.stream_version = 2;
        rc = libxl_domain_create_restore(lb->ctx, &d_config, &domid, restore_fd,
                                         -1, &params, &ao.how, NULL);
    } else {
        rc = libxl_domain_create_new(lb->ctx, &d_config, &domid, &ao.how, NULL);
    }
    rc = xm_libxl_ao_wait(lb, &ao, rc, cancellable);
    xm_libxl_ao_clear(&ao);
    if (rc) {
        /* libxl destroys what it half-built, but make sure of it */
        if (domid != (uint32_t) INVALID_DOMID && domid != 0)
            libxl_domain_destroy(lb->ctx, domid, NULL);
        if (rc == ERROR_ABORTED)
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_ABORTED,
                        _("starting domain '%s' was cancelled"), def->name);
        else
            g_set_error(error, XM_ERROR, XM_ERR_XEN_CALL,
                        restore_fd >= 0
                            ? _("restoring domain '%s' failed (libxl error %d)")
                            : _("creating domain '%s' failed (libxl error %d)"),
                        def->name, rc);
        if (dp)
            xm_lxdp_stop(lb->dp, g_steal_pointer(&dp));
        return -1;
    }
    if (dp)
        xm_lxdp_bind(lb->dp, g_steal_pointer(&dp), domid);
    if (!xm_libxl_watch_domain(lb, domid, error))
        goto fail;
    if (!paused && (rc = libxl_domain_unpause(lb->ctx, domid, NULL)) != 0) {
        xm_libxl_error(error, rc, domid, _("unpausing"));
        goto fail;
    }
    g_debug("domain '%s' %s with id %u", def->name,
            restore_fd >= 0 ? "restored" : "created", domid);
    return domid;

fail:
    xm_libxl_domain_mark(lb, domid, TRUE, FALSE);
    libxl_domain_destroy(lb->ctx, domid, NULL);
    xm_libxl_unwatch_domain(lb, domid);
    if (lb->dp)
        xm_lxdp_release(lb->dp, domid, FALSE);
    return -1;
}

static int
lx_create(XmBackend *backend, const XmDomainDef *def, gboolean paused,
          GError **error)
{
    return start_domain(backend, def, -1, paused, NULL, error);
}

static int
lx_restore_from_fd(XmBackend *backend, const XmDomainDef *def, int fd,
                   gboolean paused, GCancellable *cancellable, GError **error)
{
    return start_domain(backend, def, fd, paused, cancellable, error);
}

static gboolean
lx_destroy(XmBackend *backend, int domid, GError **error)
{
    XmLibxlBackend *lb = lb_of(backend);
    XmLibxlAo ao;
    int rc;

    xm_libxl_domain_mark(lb, domid, TRUE, FALSE);
    xm_libxl_ao_init(&ao);
    rc = libxl_domain_destroy(lb->ctx, domid, &ao.how);
    rc = xm_libxl_ao_wait(lb, &ao, rc, NULL);
    xm_libxl_ao_clear(&ao);
    if (rc) {
        xm_libxl_domain_mark(lb, domid, FALSE, FALSE);
        return xm_libxl_error(error, rc, domid, _("destroying"));
    }
    xm_libxl_unwatch_domain(lb, domid);
    if (lb->dp)
        xm_lxdp_release(lb->dp, domid, FALSE);
    return TRUE;
}

/* Runs a libxl call that takes (ctx, domid, ao_how) to completion. */
static gboolean
simple_op(XmBackend *backend, int domid,
          int (*fn)(libxl_ctx *, uint32_t, const libxl_asyncop_how *),
          const char *what, GError **error)
{
    XmLibxlBackend *lb = lb_of(backend);
    XmLibxlAo ao;
    int rc;

    xm_libxl_ao_init(&ao);
    rc = fn(lb->ctx, domid, &ao.how);
    rc = xm_libxl_ao_wait(lb, &ao, rc, NULL);
    xm_libxl_ao_clear(&ao);
    if (rc)
        return xm_libxl_error(error, rc, domid, what);
    return TRUE;
}

static gboolean
lx_shutdown(XmBackend *backend, int domid, GError **error)
{
    return simple_op(backend, domid, libxl_domain_shutdown, _("shutting down"), error);
}

static gboolean
lx_reboot(XmBackend *backend, int domid, GError **error)
{
    return simple_op(backend, domid, libxl_domain_reboot, _("rebooting"), error);
}

static gboolean
lx_pause(XmBackend *backend, int domid, GError **error)
{
    return simple_op(backend, domid, libxl_domain_pause, _("pausing"), error);
}

static gboolean
lx_unpause(XmBackend *backend, int domid, GError **error)
{
    g_auto(libxl_dominfo) di;

    /* unpausing a suspended domain "succeeds" and leaves the guest
     * stopped: say it needs resume() */
    libxl_dominfo_init(&di);
    if (libxl_domain_info(lb_of(backend)->ctx, &di, domid) == 0 && di.shutdown &&
        di.shutdown_reason == LIBXL_SHUTDOWN_REASON_SUSPEND) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                    _("domain %d is suspended (by a save or a migration), not paused"), domid);
        return FALSE;
    }
    return simple_op(backend, domid, libxl_domain_unpause, _("unpausing"), error);
}

static gboolean
lx_set_memory(XmBackend *backend, int domid, guint64 kib, GError **error)
{
    int rc = libxl_set_memory_target(lb_of(backend)->ctx, domid, kib, 0, 1);

    if (rc)
        return xm_libxl_error(error, rc, domid, _("setting the memory"));
    return TRUE;
}

static gboolean
lx_suspend_to_fd(XmBackend *backend, int domid, int fd, unsigned int flags,
                 GCancellable *cancellable, GError **error)
{
    XmLibxlBackend *lb = lb_of(backend);
    XmLibxlAo ao;
    int lflags = 0, rc;

    if (flags & ~(XM_SUSPEND_LIVE | XM_SUSPEND_DEBUG)) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("unsupported suspend flags 0x%x"), flags);
        return FALSE;
    }
    if (flags & XM_SUSPEND_LIVE)
        lflags |= LIBXL_SUSPEND_LIVE;
    if (flags & XM_SUSPEND_DEBUG)
        lflags |= LIBXL_SUSPEND_DEBUG;

    xm_libxl_domain_mark(lb, domid, FALSE, TRUE);
    xm_libxl_ao_init(&ao);
    rc = libxl_domain_suspend(lb->ctx, domid, fd, lflags, &ao.how);
    rc = xm_libxl_ao_wait(lb, &ao, rc, cancellable);
    xm_libxl_ao_clear(&ao);
    if (rc) {
        xm_libxl_domain_mark(lb, domid, FALSE, FALSE);
        return xm_libxl_error(error, rc, domid, _("saving"));
    }
    return TRUE;
}

static gboolean
lx_resume(XmBackend *backend, int domid, GError **error)
{
    XmLibxlBackend *lb = lb_of(backend);
    XmLibxlAo ao;
    int rc;

    xm_libxl_ao_init(&ao);
    /* suspend_cancel=1: the guest sees its suspend hypercall fail and
     * carries on where it was, with its devices still connected */
    rc = libxl_domain_resume(lb->ctx, domid, 1, &ao.how);
    rc = xm_libxl_ao_wait(lb, &ao, rc, NULL);
    xm_libxl_ao_clear(&ao);
    if (rc)
        return xm_libxl_error(error, rc, domid, _("resuming"));
    xm_libxl_domain_mark(lb, domid, FALSE, FALSE);
    return TRUE;
}

/* Whether @domid is still the domain whose UUID is @uuid (domids are
 * reused). */
static gboolean
domain_has_uuid(gpointer data, int domid, const char *uuid)
{
    XmLibxlBackend *lb = data;
    g_auto(libxl_dominfo) di;
    char text[37];
    const uint8_t *u;

    libxl_dominfo_init(&di);
    if (libxl_domain_info(lb->ctx, &di, domid) != 0)
        return FALSE;
    u = libxl_uuid_bytearray(&di.uuid);
    g_snprintf(text, sizeof(text),
               "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
               u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10],
               u[11], u[12], u[13], u[14], u[15]);
    return g_ascii_strcasecmp(text, uuid) == 0;
}

static gboolean
lx_reconnect(XmBackend *backend, int **domids, size_t *n, GError **error)
{
    XmLibxlBackend *lb = lb_of(backend);
    g_autofree int *ids = NULL;
    size_t count = 0;

    if (!lx_list(backend, &ids, &count, error))
        return FALSE;
    for (size_t i = 0; i < count; i++) {
        if (!xm_libxl_watch_domain(lb, ids[i], error))
            return FALSE;
    }
    if (lb->dp)
        xm_lxdp_reconnect(lb->dp, domain_has_uuid, lb);
    *n = count;
    *domids = g_steal_pointer(&ids);
    return TRUE;
}

/* With xen_disk_datapath = "nbd" the daemon serving the domain's disks;
 * NULL otherwise (blkback or qdisk straight on the image: migrations then
 * use scan mode). */
static char *
lx_disk_datapath(XmBackend *backend, int domid, GError **error)
{
    XmLibxlBackend *lb = lb_of(backend);
    char *control = lb->dp ? xm_lxdp_control(lb->dp, domid, NULL) : NULL;
    int rc;

    if (control)
        return control;
    rc = libxl_domain_info(lb->ctx, NULL, domid);
    if (rc)
        xm_libxl_error(error, rc, domid, _("getting information"));
    return NULL;
}

const XmBackendOps xm_backend_libxl_ops = {
    .name = "libxl",
    .open = xm_libxl_open,
    .close = xm_libxl_close,
    .node_info = lx_node_info,
    .free_memory = lx_free_memory,
    .version = lx_version,
    .max_vcpus = lx_max_vcpus,
    .list = lx_list,
    .info = lx_info,
    .create = lx_create,
    .destroy = lx_destroy,
    .shutdown = lx_shutdown,
    .reboot = lx_reboot,
    .pause = lx_pause,
    .unpause = lx_unpause,
    .set_memory = lx_set_memory,
    .suspend_to_fd = lx_suspend_to_fd,
    .resume = lx_resume,
    .restore_from_fd = lx_restore_from_fd,
    .reconnect = lx_reconnect,
    .disk_datapath = lx_disk_datapath,
};
