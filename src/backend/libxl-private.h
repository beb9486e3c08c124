/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libxl backend's internals, shared by its files. */
#pragma once

#include <libxl.h>
#include <xentoollog.h>

#include "backend/backend-private.h"
#include "backend/libxl-datapath.h"

typedef struct {
    xentoollog_logger vtable;         /* first: libxl sees only this */
} XmXtlLogger;

/* Per-domain bookkeeping for death/shutdown events. */
typedef struct {
    int domid;
    libxl_evgen_domain_death *evgen;
    gboolean destroying;              /* our destroy(): no event for the death */
    gboolean suspending;              /* our suspend: SHUTDOWN(suspend) is ours */
    gboolean shutdown_reported;       /* the death that follows is no news */
} XmLibxlDomain;

typedef struct {
    XmBackend *backend;
    libxl_ctx *ctx;
    XmXtlLogger logger;
    GMainContext *loop_ctx;
    GMainLoop *loop;
    GThread *loop_thread;
    GMutex lock;                      /* protects domains; never held into libxl */
    GHashTable *domains;              /* domid -> XmLibxlDomain* */
    XmLxDpHost *dp;                   /* xen_disk_datapath = "nbd", else NULL */
} XmLibxlBackend;

/* An asynchronous libxl operation that the caller waits for, so that
 * another thread (a GCancellable) can abort it with libxl_ao_abort. */
typedef struct {
    GMutex lock;
    GCond cond;
    gboolean done;
    int rc;
    libxl_asyncop_how how;
} XmLibxlAo;

void xm_libxl_ao_init(XmLibxlAo *ao);
/* Waits for the operation started with @ao->how; @rc is what its initiating
 * call returned. Returns the operation's libxl error code (0 = success). */
int xm_libxl_ao_wait(XmLibxlBackend *lb, XmLibxlAo *ao, int rc,
                     GCancellable *cancellable);
void xm_libxl_ao_clear(XmLibxlAo *ao);

/* Arranges shutdown/death events for @domid (idempotent). */
gboolean xm_libxl_watch_domain(XmLibxlBackend *lb, int domid, GError **error);
void xm_libxl_unwatch_domain(XmLibxlBackend *lb, int domid);
/* Sets a flag on the watched domain (no-op when unwatched). */
void xm_libxl_domain_mark(XmLibxlBackend *lb, int domid, gboolean destroying,
                          gboolean suspending);

/* Sets @error from libxl error code @rc for the operation @what. */
gboolean xm_libxl_error(GError **error, int rc, int domid, const char *what);

gboolean xm_libxl_open(XmBackend *backend, GError **error);
void xm_libxl_close(XmBackend *backend);

/* The disk datapath (libxl-datapath.c); every call is a no-op when
 * xen_disk_datapath is "direct". */
gboolean xm_libxl_datapath_open(XmLibxlBackend *lb, GError **error);
void xm_libxl_datapath_close(XmLibxlBackend *lb);
/* Starts the datapath of the domain @def is about to become and points
 * @d_config's served disks at its NBD devices; *@out: NULL when nothing is
 * served, else to be bound (xm_lxdp_bind) or stopped (xm_lxdp_stop). */
gboolean xm_libxl_datapath_prepare(XmLibxlBackend *lb, const XmDomainDef *def,
                                   libxl_domain_config *d_config,
                                   XmLxDatapath **out, GError **error);
