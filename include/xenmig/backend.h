/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Hypervisor backends behind one ops table: "libxl" (production) and "sim"
 * (the test hypervisor). The driver and the migration code only ever see
 * XmBackend; they never include libxl.h.
 */
#pragma once

#include <glib.h>
#include <gio/gio.h>
#include <stdint.h>
#include <xenmig/domain.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _XmBackend XmBackend;

typedef enum {
    XM_DOMSTATE_NOSTATE = 0,   /* same order as virDomainState */
    XM_DOMSTATE_RUNNING = 1,
    XM_DOMSTATE_BLOCKED = 2,
    XM_DOMSTATE_PAUSED = 3,
    XM_DOMSTATE_SHUTDOWN = 4,
    XM_DOMSTATE_SHUTOFF = 5,
    XM_DOMSTATE_CRASHED = 6,
    XM_DOMSTATE_PMSUSPENDED = 7,
} XmDomainState;

typedef struct {
    int domid;
    uint8_t uuid[16];
    XmDomainState state;
    guint64 max_memory_kib;
    guint64 memory_kib;
    guint vcpus;
    guint64 cpu_time_ns;
} XmDomainInfo;

typedef struct {
    char model[32];            /* CPU model, e.g. "x86_64" */
    guint64 memory_kib;        /* total host memory */
    guint cpus;
    guint mhz;
    guint nodes, sockets, cores, threads;
} XmNodeInfo;

/* Why a domain went away or changed state on its own (not through a call). */
typedef enum {
    XM_DOMAIN_EVENT_SHUTDOWN = 0,  /* guest powered off */
    XM_DOMAIN_EVENT_REBOOT,        /* guest asked for a reboot */
    XM_DOMAIN_EVENT_CRASHED,
    XM_DOMAIN_EVENT_DIED,          /* vanished for another reason */
    XM_DOMAIN_EVENT_SUSPENDED,     /* guest paused itself */
} XmDomainEventKind;

/*
 * Called from a backend thread (never with a backend lock held) when a
 * domain changes state on its own. The driver turns it into lifecycle events
 * and on_poweroff/on_reboot/on_crash actions.
 */
typedef void (*XmDomainEventFunc)(XmBackend *backend, int domid,
                                  XmDomainEventKind kind, gpointer user_data);

typedef enum {
    XM_SUSPEND_LIVE = 1 << 0,      /* keep the guest running while memory is sent
                                    * (LIBXL_SUSPEND_LIVE); without it the guest
                                    * is paused first */
    XM_SUSPEND_DEBUG = 1 << 1,
} XmSuspendFlags;

/*
 * The ops table. Every op reports failures through @error (XM_ERROR codes,
 * e.g. XM_ERR_NO_DOMAIN for an unknown domid) and returns FALSE / -1 / NULL.
 * All ops are safe to call from several threads.
 */
typedef struct {
    const char *name;

    gboolean (*open)(XmBackend *backend, GError **error);
    void (*close)(XmBackend *backend);

    gboolean (*node_info)(XmBackend *backend, XmNodeInfo *info, GError **error);
    gboolean (*free_memory)(XmBackend *backend, guint64 *free_kib, GError **error);
    /* Hypervisor version as major * 1000000 + minor * 1000 + micro. */
    gboolean (*version)(XmBackend *backend, unsigned long *version, GError **error);
    int (*max_vcpus)(XmBackend *backend, GError **error);

    /* Running (and paused) domains: their domids, in a new array. */
    gboolean (*list)(XmBackend *backend, int **domids, size_t *n, GError **error);
    gboolean (*info)(XmBackend *backend, int domid, XmDomainInfo *info, GError **error);

    /*
     * Start @def. With @paused the domain is created but not unpaused.
     * Returns the new domid, or -1.
     */
    int (*create)(XmBackend *backend, const XmDomainDef *def, gboolean paused,
                  GError **error);
    gboolean (*destroy)(XmBackend *backend, int domid, GError **error);
    gboolean (*shutdown)(XmBackend *backend, int domid, GError **error);
    gboolean (*reboot)(XmBackend *backend, int domid, GError **error);
    gboolean (*pause)(XmBackend *backend, int domid, GError **error);
    gboolean (*unpause)(XmBackend *backend, int domid, GError **error);
    gboolean (*set_memory)(XmBackend *backend, int domid, guint64 kib, GError **error);

    /*
     * Write the domain's state (memory stream) to @fd. On success the domain
     * is suspended (not destroyed): the caller destroys it, or resumes it with
     * resume() when what follows fails. @cancellable aborts the stream.
     */
    gboolean (*suspend_to_fd)(XmBackend *backend, int domid, int fd,
                              unsigned int flags /* XmSuspendFlags */,
                              GCancellable *cancellable, GError **error);
    /* Undo a suspend_to_fd that must not be followed by destroy. */
    gboolean (*resume)(XmBackend *backend, int domid, GError **error);
    /*
     * Create a domain from @def and the stream on @fd (as written by
     * suspend_to_fd). Returns the new domid (left paused when @paused), or -1.
     */
    int (*restore_from_fd)(XmBackend *backend, const XmDomainDef *def, int fd,
                           gboolean paused, GCancellable *cancellable,
                           GError **error);

    /* Re-attach to domains that were started before this process (libvirtd
     * restart). Fills @domids with those found. */
    gboolean (*reconnect)(XmBackend *backend, int **domids, size_t *n,
                          GError **error);

    /*
     * Control socket of the domain's datapath daemon (xenmig-datapath), which
     * serves its writable disks so that every guest write passes through it
     * and a migration can track them. NULL without an error when the
     * domain's disks are not served through one (then migrations use scan
     * mode); NULL with XM_ERR_NO_DOMAIN for an unknown domid. Free with
     * g_free().
     */
    char *(*disk_datapath)(XmBackend *backend, int domid, GError **error);
} XmBackendOps;

/* Settings that select and configure a backend (from libxl.conf). */
typedef struct {
    char *backend;          /* "libxl" (default) or "sim" */
    char *state_dir;        /* runtime state, e.g. /run/libvirt/libxl */
    char *sim_host_name;    /* sim: host name written into heartbeats; NULL = gethostname */
    guint64 sim_host_memory_mib; /* sim: reported host memory */
    guint sim_host_cpus;    /* sim: reported host CPUs */
    char *sim_disk_datapath; /* sim: "nbd" (NULL: the default) serves each
                              * guest's writable disks through a datapath
                              * daemon; "direct": the guest writes its images */
    char *xen_disk_datapath; /* libxl: "nbd" serves each writable raw disk
                              * through a datapath daemon and a kernel NBD
                              * device (/dev/nbdN) that blkback uses;
                              * "direct" (NULL: the default): blkback or
                              * qdisk on the image itself */
} XmBackendConfig;

/**
 * xm_backend_new:
 * @config: the backend selection; copied
 * @event_cb: (nullable): called for domain state changes not caused by a call
 *
 * Opens the backend named by @config->backend. The libxl backend fails with
 * XM_ERR_NO_XEN and a clear message on a host without Xen.
 */
XmBackend *xm_backend_new(const XmBackendConfig *config,
                          XmDomainEventFunc event_cb, gpointer user_data,
                          GError **error);
/**
 * xm_backend_free:
 * @backend: (nullable): a backend
 *
 * Closes @backend. Running domains are left running: a later backend on the
 * same state directory finds them again with reconnect().
 */
void xm_backend_free(XmBackend *backend);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(XmBackend, xm_backend_free)

/**
 * xm_backend_ops:
 *
 * Returns: (transfer none): the ops table of @backend.
 */
const XmBackendOps *xm_backend_ops(XmBackend *backend);

/**
 * xm_backend_config:
 *
 * Returns: (transfer none): the configuration @backend was opened with.
 */
const XmBackendConfig *xm_backend_config(XmBackend *backend);

#ifdef __cplusplus
}
#endif
