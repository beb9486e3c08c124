/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The xenmig connection driver: shared state of the module's files.
 *
 * Locking: xm_driver->lock guards the domain list; each XmDomObj has its own
 * lock for everything else it holds. Order: driver lock, then a domain lock;
 * never the reverse. The name, UUID and (atomic) domid of an object are
 * readable under the driver lock alone.
 */
#pragma once

#include <glib.h>
#include <xenmig/backend.h>
#include <xenmig/domain.h>
#include <xenmig/xenmig.h>

#include "libvirt-private.h"
#include "util/conf.h"
#include "util/util.h"

typedef enum {
    XM_JOB_NONE = 0,
    XM_JOB_SAVE,
    XM_JOB_RESTORE,
} XmJobKind;

/* Progress of a save or restore, readable while the domain is locked by it. */
typedef struct {
    GMutex lock;
    XmJobKind kind;
    gint64 start_us;          /* g_get_monotonic_time() at start */
    guint64 total;            /* expected bytes (guest memory), 0 unknown */
    guint64 processed;
    GCancellable *cancel;     /* set while a job runs: virDomainAbortJob */
    /* last finished job, for VIR_DOMAIN_JOB_STATS_COMPLETED */
    XmJobKind done_kind;
    gint64 done_elapsed_ms;
    guint64 done_bytes;
    gboolean done_ok;
} XmJob;

typedef struct {
    /* immutable after creation */
    char *name;
    uint8_t uuid[16];

    gint refs;                /* atomic */
    gint removed;             /* atomic: no longer in the list */
    gint domid;               /* atomic: -1 when inactive */

    GMutex lock;
    XmDomainDef *def;         /* live definition when running, else persistent */
    XmDomainDef *newdef;      /* persistent definition changed while running */
    gboolean persistent;
    gboolean autostart;
    XmDomainState state;
    int reason;               /* virDomain*Reason for @state */
    gboolean in_shutdown;     /* we asked the guest to shut down */
    gboolean in_reboot;       /* we asked the guest to reboot */

    XmJob job;
} XmDomObj;

typedef struct {
    GMutex lock;
    XmDriverConfig *cfg;
    XmBackend *backend;
    GPtrArray *doms;          /* of XmDomObj *, one reference each */
    virObjectEventState *events;
    GAsyncQueue *backend_events; /* of XmBackendEvent *, see driver-state.c */
    GThread *event_thread;
    /* libvirtd's auto-shutdown (--timeout) must wait while domains run, so
     * that their own shutdowns and reboots are handled */
    void (*inhibit)(bool inhibit, void *opaque);
    void *inhibit_opaque;
    gint nactive;             /* atomic: domains with a domid */
} XmDriver;

extern XmDriver *xm_driver;

/* ---- errors (driver-error.c) ---- */

#define XM_VIR_FROM VIR_FROM_LIBXL

/* Reports @err (an XM_ERROR) to libvirt with the same code and message. */
void xm_report_gerror(const GError *err, const char *func);
void xm_report(int code, const char *func, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

#define XM_REPORT(code, ...) xm_report((code), __func__, __VA_ARGS__)
#define XM_REPORT_GERROR(err) xm_report_gerror((err), __func__)

/* libvirt's behaviour for unknown flags: VIR_ERR_INVALID_ARG. */
#define XM_CHECK_FLAGS(supported, retval) \
    do { \
        unsigned int xm_unsupp_ = flags & ~(unsigned int)(supported); \
        if (xm_unsupp_) { \
            XM_REPORT(VIR_ERR_INVALID_ARG, \
                      _("unsupported flags (0x%x) in function %s"), \
                      xm_unsupp_, __func__); \
            return retval; \
        } \
    } while (0)

/* ---- domain objects (driver-domobj.c) ---- */

XmDomObj *xm_dom_ref(XmDomObj *dom);
void xm_dom_unref(XmDomObj *dom);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(XmDomObj, xm_dom_unref)

gboolean xm_dom_is_active(XmDomObj *dom);
/* Sets @dom's domid (-1: inactive) and keeps libvirtd from shutting down
 * on idle while any domain is active. */
void xm_dom_set_domid(XmDomObj *dom, int domid);

/*
 * Lookups return a referenced, LOCKED object, or NULL after reporting
 * VIR_ERR_NO_DOMAIN. xm_dom_from_virdom finds the object of a virDomainPtr
 * passed by libvirt (by UUID).
 */
XmDomObj *xm_dom_find_uuid(const uint8_t *uuid);
XmDomObj *xm_dom_find_name(const char *name);
XmDomObj *xm_dom_find_id(int id);
XmDomObj *xm_dom_from_virdom(virDomainPtr vdom);
/* Referenced but NOT locked: for job info while a job holds the lock. */
XmDomObj *xm_dom_get_unlocked(virDomainPtr vdom);
/* Unlocks and unreferences. */
void xm_dom_release(XmDomObj *dom);

/*
 * Adds @def (taking it) as a new object or updates the object with the same
 * UUID. @live: the definition is being started now (createXML, restore):
 * refuses an active object. Returns the locked, referenced object, and in
 * @added whether it is new. Errors as libvirt: VIR_ERR_OPERATION_FAILED for a
 * name/UUID clash, VIR_ERR_OPERATION_INVALID for an active domain.
 */
XmDomObj *xm_dom_add(XmDomainDef *def, gboolean live, gboolean *added);
/* Marks @dom (locked) removed and drops it from the list. */
void xm_dom_remove(XmDomObj *dom);

/* Snapshot of the list: referenced, unlocked objects. */
GPtrArray *xm_dom_list(void);

/* Persistence (config_dir, autostart_dir, state_dir). */
gboolean xm_dom_save_config(XmDomObj *dom, const XmDomainDef *def, GError **error);
gboolean xm_dom_delete_config(XmDomObj *dom, GError **error);
gboolean xm_dom_set_autostart_link(XmDomObj *dom, gboolean on, GError **error);
gboolean xm_dom_save_status(XmDomObj *dom, GError **error);
void xm_dom_delete_status(XmDomObj *dom);
char *xm_dom_managed_save_path(XmDomObj *dom);
char *xm_dom_save_marker_path(const char *name);
gboolean xm_dom_has_managed_save(XmDomObj *dom);

/* Xen's control domain (domid 0) as libvirt's libxl driver shows it:
 * listed and inspectable, never started, stopped, saved or redefined. */
gboolean xm_dom_is_dom0(XmDomObj *dom);
/* Reports VIR_ERR_OPERATION_INVALID and returns FALSE for Domain-0. */
gboolean xm_dom_check_not_dom0(XmDomObj *dom);

/* Loads config_dir and state_dir at start-up. */
void xm_dom_load_all(void);
/* Adds definitions from config_dir not known yet (start-up, reload). */
void xm_dom_load_all_configs(void);

/* The persistent definition (newdef if set, else def). */
const XmDomainDef *xm_dom_persistent_def(XmDomObj *dom);

/* ---- events (driver-events.c) ---- */

void xm_event_lifecycle(XmDomObj *dom, int type, int detail);
/* VIR_DOMAIN_EVENT_ID_REBOOT: the guest rebooted (it stays running). */
void xm_event_reboot(XmDomObj *dom);

/* ---- lifecycle helpers (driver-lifecycle.c) ---- */

/* Starts @dom (locked, inactive), from its managed-save image if it has one. */
gboolean xm_dom_start(XmDomObj *dom, gboolean paused, int *ev_detail,
                      GError **error);
/* Marks @dom stopped: state, status file, transient removal is the caller's. */
void xm_dom_mark_stopped(XmDomObj *dom, int reason);
/* After a domain stopped: drops a transient object, applies newdef. Unlocks
 * nothing. Returns TRUE if @dom was removed from the list. */
gboolean xm_dom_cleanup_stopped(XmDomObj *dom);

/* ---- the hypervisor table entry points, by file ---- */
const XmBackendOps *xm_ops(void);

/* driver-connect.c */
int xmConnectOpen(virConnectPtr conn, virConnectAuthPtr auth, void *conf, unsigned int flags);
int xmConnectClose(virConnectPtr conn);
const char *xmConnectGetType(virConnectPtr conn);
int xmConnectGetVersion(virConnectPtr conn, unsigned long *version);
char *xmConnectGetHostname(virConnectPtr conn);
int xmConnectGetMaxVcpus(virConnectPtr conn, const char *type);
int xmNodeGetInfo(virConnectPtr conn, virNodeInfoPtr info);
char *xmConnectGetCapabilities(virConnectPtr conn);
unsigned long long xmNodeGetFreeMemory(virConnectPtr conn);
int xmNodeGetCPUMap(virConnectPtr conn, unsigned char **cpumap, unsigned int *online,
                    unsigned int flags);
int xmNodeGetCellsFreeMemory(virConnectPtr conn, unsigned long long *mems, int start, int max);
int xmNodeGetSecurityModel(virConnectPtr conn, virSecurityModelPtr secmodel);
int xmConnectSupportsFeature(virConnectPtr conn, int feature);
int xmConnectIsEncrypted(virConnectPtr conn);
int xmConnectIsSecure(virConnectPtr conn);
int xmConnectIsAlive(virConnectPtr conn);
int xmConnectURIProbe(char **uri);

/* driver-events.c */
int xmConnectDomainEventRegister(virConnectPtr conn, virConnectDomainEventCallback callback,
                                 void *opaque, virFreeCallback freecb);
int xmConnectDomainEventDeregister(virConnectPtr conn, virConnectDomainEventCallback callback);
int xmConnectDomainEventRegisterAny(virConnectPtr conn, virDomainPtr dom, int eventID,
                                    virConnectDomainEventGenericCallback callback,
                                    void *opaque, virFreeCallback freecb);
int xmConnectDomainEventDeregisterAny(virConnectPtr conn, int callbackID);

/* driver-state.c */
int xmStateInitialize(bool privileged, const char *root, bool monolithic,
                      void *callback, void *opaque);
int xmStateCleanup(void);
int xmStateReload(void);

/* driver-domain.c */
virDomainPtr xmDomainLookupByID(virConnectPtr conn, int id);
virDomainPtr xmDomainLookupByUUID(virConnectPtr conn, const unsigned char *uuid);
virDomainPtr xmDomainLookupByName(virConnectPtr conn, const char *name);
int xmConnectNumOfDomains(virConnectPtr conn);
int xmConnectListDomains(virConnectPtr conn, int *ids, int maxids);
int xmConnectNumOfDefinedDomains(virConnectPtr conn);
int xmConnectListDefinedDomains(virConnectPtr conn, char **const names, int maxnames);
int xmConnectListAllDomains(virConnectPtr conn, virDomainPtr **domains, unsigned int flags);
virDomainPtr xmDomainDefineXMLFlags(virConnectPtr conn, const char *xml, unsigned int flags);
virDomainPtr xmDomainDefineXML(virConnectPtr conn, const char *xml);
int xmDomainUndefineFlags(virDomainPtr vdom, unsigned int flags);
int xmDomainUndefine(virDomainPtr vdom);
int xmDomainGetInfo(virDomainPtr vdom, virDomainInfoPtr info);
int xmDomainGetState(virDomainPtr vdom, int *state, int *reason, unsigned int flags);
char *xmDomainGetXMLDesc(virDomainPtr vdom, unsigned int flags);
char *xmDomainGetOSType(virDomainPtr vdom);
unsigned long long xmDomainGetMaxMemory(virDomainPtr vdom);
int xmDomainSetMemoryFlags(virDomainPtr vdom, unsigned long memory, unsigned int flags);
int xmDomainSetMemory(virDomainPtr vdom, unsigned long memory);
int xmDomainSetMaxMemory(virDomainPtr vdom, unsigned long memory);
int xmDomainGetVcpusFlags(virDomainPtr vdom, unsigned int flags);
int xmDomainGetMaxVcpus(virDomainPtr vdom);
int xmDomainIsActive(virDomainPtr vdom);
int xmDomainIsPersistent(virDomainPtr vdom);
int xmDomainIsUpdated(virDomainPtr vdom);
int xmDomainGetAutostart(virDomainPtr vdom, int *autostart);
int xmDomainSetAutostart(virDomainPtr vdom, int autostart);
char *xmDomainGetMetadata(virDomainPtr vdom, int type, const char *uri, unsigned int flags);
int xmDomainSetMetadata(virDomainPtr vdom, int type, const char *metadata,
                        const char *key, const char *uri, unsigned int flags);

/* driver-lifecycle.c */
int xmDomainCreateWithFlags(virDomainPtr vdom, unsigned int flags);
int xmDomainCreate(virDomainPtr vdom);
virDomainPtr xmDomainCreateXML(virConnectPtr conn, const char *xml, unsigned int flags);
int xmDomainDestroyFlags(virDomainPtr vdom, unsigned int flags);
int xmDomainDestroy(virDomainPtr vdom);
int xmDomainShutdownFlags(virDomainPtr vdom, unsigned int flags);
int xmDomainShutdown(virDomainPtr vdom);
int xmDomainReboot(virDomainPtr vdom, unsigned int flags);
int xmDomainSuspend(virDomainPtr vdom);
int xmDomainResume(virDomainPtr vdom);
