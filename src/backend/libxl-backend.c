/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libxl backend's context: opening Xen, routing libxl's log to
 * g_debug, running libxl's event machinery in a GLib main loop on a thread
 * of our own (libxl_osevent_register_hooks), waiting for asynchronous
 * operations, and turning domain shutdown/death into backend events.
 */
#include "config.h"

#define G_LOG_DOMAIN "xenmig-libxl"

#include <errno.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <glib-unix.h>

#include "backend/libxl-private.h"
#include "util/util.h"

/* ---- logging ---------------------------------------------------------- */

static void
xm_xtl_vmessage(xentoollog_logger *logger, xentoollog_level level, int errnoval,
             const char *context, const char *format, va_list al)
{
    g_autofree char *msg = g_strdup_vprintf(format, al);

    g_debug("%s%s%s%s%s", context ? context : "", context ? ": " : "", msg,
            errnoval >= 0 ? ": " : "", errnoval >= 0 ? g_strerror(errnoval) : "");
}

static void
xm_xtl_progress(xentoollog_logger *logger, const char *context,
             const char *doing_what, int percent, unsigned long done,
             unsigned long total)
{
    g_debug("%s: %s %d%%", context ? context : "libxl", doing_what, percent);
}

static void
xm_xtl_destroy(xentoollog_logger *logger)
{
}

/* ---- osevent hooks on a GLib main context ----------------------------- */

typedef struct {
    gint ref;
    XmLibxlBackend *lb;
    int fd;
    void *for_libxl;
    GSource *source;
} FdReg;

typedef struct {
    gint ref;
    XmLibxlBackend *lb;
    void *for_libxl;
    GMutex lock;
    gboolean fired;
    GSource *source;
} TimeoutReg;

static void
fd_reg_unref(gpointer data)
{
    FdReg *r = data;

    if (g_atomic_int_dec_and_test(&r->ref))
        g_free(r);
}

static gboolean
fd_ready(int fd, GIOCondition cond, gpointer data)
{
    FdReg *r = data;

    libxl_osevent_occurred_fd(r->lb->ctx, r->for_libxl, fd, 0, (short) cond);
    return G_SOURCE_CONTINUE;
}

static GSource *
fd_source(FdReg *r, short events)
{
    /* GIOCondition bits are poll(2)'s on Linux */
    GSource *s = g_unix_fd_source_new(r->fd, (GIOCondition) events);

    g_atomic_int_inc(&r->ref);
    g_source_set_callback(s, (GSourceFunc) (void (*)(void)) fd_ready, r, fd_reg_unref);
    g_source_attach(s, r->lb->loop_ctx);
    return s;
}

static int
hook_fd_register(void *user, int fd, void **reg_out, short events, void *for_libxl)
{
    FdReg *r = g_new0(FdReg, 1);

    r->ref = 1;
    r->lb = user;
    r->fd = fd;
    r->for_libxl = for_libxl;
    r->source = fd_source(r, events);
    *reg_out = r;
    return 0;
}

static int
hook_fd_modify(void *user, int fd, void **reg_update, short events)
{
    FdReg *r = *reg_update;

    /* libxl tolerates late events for the old mask, so replace the source */
    g_source_destroy(r->source);
    g_source_unref(r->source);
    r->source = fd_source(r, events);
    return 0;
}

static void
hook_fd_deregister(void *user, int fd, void *reg)
{
    FdReg *r = reg;

    g_source_destroy(r->source);
    g_source_unref(r->source);
    fd_reg_unref(r);
}

static void
timeout_reg_unref(gpointer data)
{
    TimeoutReg *r = data;

    if (g_atomic_int_dec_and_test(&r->ref)) {
        g_mutex_clear(&r->lock);
        g_free(r);
    }
}

static gboolean
timeout_fired(gpointer data)
{
    TimeoutReg *r = data;
    gboolean first;

    g_mutex_lock(&r->lock);
    first = !r->fired;
    r->fired = TRUE;
    if (r->source) {
        g_source_destroy(r->source);
        g_source_unref(r->source);
        r->source = NULL;
    }
    g_mutex_unlock(&r->lock);
    if (first) {
        libxl_osevent_occurred_timeout(r->lb->ctx, r->for_libxl);
        /* libxl forgets the registration once told: drop its reference */
        timeout_reg_unref(r);
    }
    return G_SOURCE_REMOVE;
}

static guint
ms_until(struct timeval abs)
{
    struct timeval now;
    gint64 ms;

    gettimeofday(&now, NULL);
    ms = (abs.tv_sec - now.tv_sec) * 1000LL + (abs.tv_usec - now.tv_usec) / 1000;
    return ms > 0 ? (guint) MIN(ms, G_MAXINT) : 0;
}

/* Called with r->lock held. */
static void
timeout_arm(TimeoutReg *r, guint ms)
{
    GSource *s = g_timeout_source_new(ms);

    g_atomic_int_inc(&r->ref);
    g_source_set_callback(s, timeout_fired, r, timeout_reg_unref);
    r->source = s;
    g_source_attach(s, r->lb->loop_ctx);
}

static int
hook_timeout_register(void *user, void **reg_out, struct timeval abs, void *for_libxl)
{
    TimeoutReg *r = g_new0(TimeoutReg, 1);

    r->ref = 1;                 /* libxl's */
    r->lb = user;
    r->for_libxl = for_libxl;
    g_mutex_init(&r->lock);
    g_mutex_lock(&r->lock);
    timeout_arm(r, ms_until(abs));
    g_mutex_unlock(&r->lock);
    *reg_out = r;
    return 0;
}

static int
hook_timeout_modify(void *user, void **reg_update, struct timeval abs)
{
    TimeoutReg *r = *reg_update;

    g_mutex_lock(&r->lock);
    if (!r->fired) {            /* an occurrence in progress wins */
        if (r->source) {
            g_source_destroy(r->source);
            g_source_unref(r->source);
        }
        timeout_arm(r, ms_until(abs));
    }
    g_mutex_unlock(&r->lock);
    return 0;
}

static void
hook_timeout_deregister(void *user, void *reg)
{
    /* never called by libxl (see libxl_event.h) */
}

static const libxl_osevent_hooks osevent_hooks = {
    .fd_register = hook_fd_register,
    .fd_modify = hook_fd_modify,
    .fd_deregister = hook_fd_deregister,
    .timeout_register = hook_timeout_register,
    .timeout_modify = hook_timeout_modify,
    .timeout_deregister = hook_timeout_deregister,
};

static gpointer
loop_thread(gpointer data)
{
    XmLibxlBackend *lb = data;

    g_main_context_push_thread_default(lb->loop_ctx);
    g_main_loop_run(lb->loop);
    g_main_context_pop_thread_default(lb->loop_ctx);
    return NULL;
}

/* ---- asynchronous operations ------------------------------------------ */

static void
ao_done(libxl_ctx *ctx, int rc, void *for_callback)
{
    XmLibxlAo *ao = for_callback;

    g_mutex_lock(&ao->lock);
    ao->rc = rc;
    ao->done = TRUE;
    g_cond_broadcast(&ao->cond);
    g_mutex_unlock(&ao->lock);
}

void
xm_libxl_ao_init(XmLibxlAo *ao)
{
    memset(ao, 0, sizeof(*ao));
    g_mutex_init(&ao->lock);
    g_cond_init(&ao->cond);
    ao->how.callback = ao_done;
    ao->how.u.for_callback = ao;   /* unique per operation: safe to abort */
}

int
xm_libxl_ao_wait(XmLibxlBackend *lb, XmLibxlAo *ao, int rc,
                 GCancellable *cancellable)
{
    gboolean aborted = FALSE;

    if (rc)                        /* failed to start: no callback will come */
        return rc;
    g_mutex_lock(&ao->lock);
    while (!ao->done) {
        g_cond_wait_until(&ao->cond, &ao->lock,
                          g_get_monotonic_time() + 100 * G_TIME_SPAN_MILLISECOND);
        if (!ao->done && !aborted && cancellable &&
            g_cancellable_is_cancelled(cancellable)) {
            aborted = TRUE;
            g_mutex_unlock(&ao->lock);
            g_debug("aborting a libxl operation: %d",
                    libxl_ao_abort(lb->ctx, &ao->how));
            g_mutex_lock(&ao->lock);
        }
    }
    rc = ao->rc;
    g_mutex_unlock(&ao->lock);
    return rc;
}

void
xm_libxl_ao_clear(XmLibxlAo *ao)
{
    g_mutex_clear(&ao->lock);
    g_cond_clear(&ao->cond);
}

gboolean
xm_libxl_error(GError **error, int rc, int domid, const char *what)
{
    if (rc == ERROR_DOMAIN_NOTFOUND)
        g_set_error(error, XM_ERROR, XM_ERR_NO_DOMAIN,
                    _("no domain with id %d"), domid);
    else if (rc == ERROR_ABORTED)
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_ABORTED,
                    _("%s of domain %d was cancelled"), what, domid);
    else
        g_set_error(error, XM_ERROR, XM_ERR_XEN_CALL,
                    _("%s of domain %d failed (libxl error %d)"), what, domid, rc);
    return FALSE;
}

/* ---- domain events ---------------------------------------------------- */

typedef struct {
    XmLibxlBackend *lb;
    int domid;
    XmLibxlDomain *dead;        /* identity only: never dereferenced */
} UnwatchJob;

static gboolean
unwatch_later(gpointer data)
{
    UnwatchJob *job = data;
    XmLibxlBackend *lb = job->lb;
    gboolean same;

    /* only if the entry is still the dead domain's, not a new domain's
     * that got the same domid in the meantime */
    g_mutex_lock(&lb->lock);
    same = g_hash_table_lookup(lb->domains, GINT_TO_POINTER(job->domid)) == job->dead;
    g_mutex_unlock(&lb->lock);
    if (same)
        xm_libxl_unwatch_domain(lb, job->domid);
    return G_SOURCE_REMOVE;
}

static void
on_event(void *user, libxl_event *ev)
{
    XmLibxlBackend *lb = user;
    XmLibxlDomain *d;
    int domid = ev->domid;
    gboolean emit = FALSE, dead = FALSE, destroying = FALSE;
    XmDomainEventKind kind = XM_DOMAIN_EVENT_DIED;

    g_mutex_lock(&lb->lock);
    d = g_hash_table_lookup(lb->domains, GINT_TO_POINTER(domid));
    if (d && ev->type == LIBXL_EVENT_TYPE_DOMAIN_SHUTDOWN) {
        switch (ev->u.domain_shutdown.shutdown_reason) {
        case LIBXL_SHUTDOWN_REASON_POWEROFF:
            kind = XM_DOMAIN_EVENT_SHUTDOWN;
            break;
        case LIBXL_SHUTDOWN_REASON_REBOOT:
        case LIBXL_SHUTDOWN_REASON_SOFT_RESET:
            kind = XM_DOMAIN_EVENT_REBOOT;
            break;
        case LIBXL_SHUTDOWN_REASON_SUSPEND:
            kind = XM_DOMAIN_EVENT_SUSPENDED;
            break;
        default:                   /* crash, watchdog */
            kind = XM_DOMAIN_EVENT_CRASHED;
            break;
        }
        /* the suspend of our own save is not news */
        emit = !(kind == XM_DOMAIN_EVENT_SUSPENDED && d->suspending) &&
               !d->destroying;
        if (emit && kind != XM_DOMAIN_EVENT_SUSPENDED)
            d->shutdown_reported = TRUE;
    } else if (d && ev->type == LIBXL_EVENT_TYPE_DOMAIN_DEATH) {
        emit = !d->destroying && !d->shutdown_reported;
        kind = XM_DOMAIN_EVENT_DIED;
        dead = TRUE;
        destroying = d->destroying;
    }
    g_mutex_unlock(&lb->lock);

    /* a death not caused by our destroy (which stops the datapath itself):
     * stop the domain's datapath, off this thread */
    if (dead && !destroying && lb->dp)
        xm_lxdp_release(lb->dp, domid, TRUE);
    g_debug("libxl event type %d for domain %d%s", ev->type, domid,
            emit ? "" : " (ignored)");
    libxl_event_free(lb->ctx, ev);
    /* Xen reuses domids: stop watching this one, from our loop rather
     * than from inside libxl's callback */
    if (dead) {
        GSource *s = g_idle_source_new();
        UnwatchJob *job = g_new0(UnwatchJob, 1);

        job->lb = lb;
        job->domid = domid;
        job->dead = d;
        g_source_set_callback(s, unwatch_later, job, g_free);
        g_source_attach(s, lb->loop_ctx);
        g_source_unref(s);
    }
    if (emit)
        xm_backend_emit_event(lb->backend, domid, kind);
}

static void
on_disaster(void *user, libxl_event_type type, const char *msg, int errnoval)
{
    /* no libxl calls allowed here; libxl has logged it as critical too */
    g_debug("libxl cannot deliver events (type %d): %s: %s", type, msg,
            g_strerror(errnoval));
}

static const libxl_event_hooks event_hooks = {
    .event_occurs_mask = (1ULL << LIBXL_EVENT_TYPE_DOMAIN_SHUTDOWN) |
                         (1ULL << LIBXL_EVENT_TYPE_DOMAIN_DEATH),
    .event_occurs = on_event,
    .disaster = on_disaster,
};

gboolean
xm_libxl_watch_domain(XmLibxlBackend *lb, int domid, GError **error)
{
    libxl_evgen_domain_death *evgen = NULL;
    XmLibxlDomain *d;
    gboolean known;
    int rc;

    g_mutex_lock(&lb->lock);
    known = g_hash_table_contains(lb->domains, GINT_TO_POINTER(domid));
    g_mutex_unlock(&lb->lock);
    if (known)
        return TRUE;
    rc = libxl_evenable_domain_death(lb->ctx, domid, 0, &evgen);
    if (rc)
        return xm_libxl_error(error, rc, domid, _("watching"));
    d = g_new0(XmLibxlDomain, 1);
    d->domid = domid;
    d->evgen = evgen;
    g_mutex_lock(&lb->lock);
    g_hash_table_replace(lb->domains, GINT_TO_POINTER(domid), d);
    g_mutex_unlock(&lb->lock);
    return TRUE;
}

void
xm_libxl_unwatch_domain(XmLibxlBackend *lb, int domid)
{
    XmLibxlDomain *d;

    g_mutex_lock(&lb->lock);
    d = g_hash_table_lookup(lb->domains, GINT_TO_POINTER(domid));
    if (d)
        g_hash_table_steal(lb->domains, GINT_TO_POINTER(domid));
    g_mutex_unlock(&lb->lock);
    if (d) {
        libxl_evdisable_domain_death(lb->ctx, d->evgen);
        g_free(d);
    }
}

void
xm_libxl_domain_mark(XmLibxlBackend *lb, int domid, gboolean destroying,
                     gboolean suspending)
{
    XmLibxlDomain *d;

    g_mutex_lock(&lb->lock);
    d = g_hash_table_lookup(lb->domains, GINT_TO_POINTER(domid));
    if (d) {
        d->destroying = destroying;
        d->suspending = suspending;
    }
    g_mutex_unlock(&lb->lock);
}

/* ---- open/close ------------------------------------------------------- */

static const libxl_childproc_hooks childproc_hooks = {
    /* libvirtd has children of its own: libxl may reap only its own */
    .chldowner = libxl_sigchld_owner_libxl_always_selective_reap,
};

static gboolean
xen_present(GError **error)
{
    if (access("/dev/xen/privcmd", F_OK) == 0 || access("/proc/xen/privcmd", F_OK) == 0)
        return TRUE;
    g_set_error(error, XM_ERROR, XM_ERR_NO_XEN,
                _("cannot open Xen: /dev/xen/privcmd not present (is this a Xen dom0?)"));
    return FALSE;
}

gboolean
xm_libxl_open(XmBackend *backend, GError **error)
{
    XmLibxlBackend *lb;

    if (!xen_present(error))
        return FALSE;

    lb = g_new0(XmLibxlBackend, 1);
    lb->backend = backend;
    lb->logger.vtable.vmessage = xm_xtl_vmessage;
    lb->logger.vtable.progress = xm_xtl_progress;
    lb->logger.vtable.destroy = xm_xtl_destroy;
    g_mutex_init(&lb->lock);
    lb->domains = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    backend->priv = lb;
    if (!xm_libxl_datapath_open(lb, error)) {
        xm_libxl_close(backend);
        return FALSE;
    }

    if (libxl_ctx_alloc(&lb->ctx, LIBXL_VERSION, 0, &lb->logger.vtable) != 0 ||
        !libxl_get_version_info(lb->ctx)) {
        g_set_error(error, XM_ERROR, XM_ERR_NO_XEN,
                    _("cannot open Xen: libxl could not connect to the "
                      "hypervisor (is xenstored running, are we root?)"));
        xm_libxl_close(backend);
        return FALSE;
    }
    /* hooks first: everything after may already register fds and timeouts */
    lb->loop_ctx = g_main_context_new();
    lb->loop = g_main_loop_new(lb->loop_ctx, FALSE);
    libxl_osevent_register_hooks(lb->ctx, &osevent_hooks, lb);
    libxl_childproc_setmode(lb->ctx, &childproc_hooks, lb);
    libxl_event_register_callbacks(lb->ctx, &event_hooks, lb);
    lb->loop_thread = g_thread_new("xm-libxl-events", loop_thread, lb);
    g_debug("libxl backend open");
    return TRUE;
}

static gboolean
quit_loop(gpointer data)
{
    g_main_loop_quit(data);
    return G_SOURCE_REMOVE;
}

void
xm_libxl_close(XmBackend *backend)
{
    XmLibxlBackend *lb = backend->priv;
    g_autoptr(GList) ids = NULL;

    if (!lb)
        return;
    if (lb->ctx) {
        ids = g_hash_table_get_keys(lb->domains);
        for (GList *l = ids; l; l = l->next)
            xm_libxl_unwatch_domain(lb, GPOINTER_TO_INT(l->data));
    }
    if (lb->loop_thread) {
        GSource *s = g_idle_source_new();
        g_source_set_callback(s, quit_loop, lb->loop, NULL);
        g_source_attach(s, lb->loop_ctx);
        g_source_unref(s);
        g_thread_join(lb->loop_thread);
    }
    /* libxl deregisters its fds from here; the hooks only touch GLib */
    if (lb->ctx)
        libxl_ctx_free(lb->ctx);
    xm_libxl_datapath_close(lb);
    if (lb->loop)
        g_main_loop_unref(lb->loop);
    if (lb->loop_ctx)
        g_main_context_unref(lb->loop_ctx);
    g_hash_table_destroy(lb->domains);
    g_mutex_clear(&lb->lock);
    g_free(lb);
    backend->priv = NULL;
}
