/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The part of libvirt's internal ABI this module uses: the driver-table
 * layouts generated from the installed version's headers
 * (xm-libvirt-layout.h, see gen-libvirt-layout.py) and the private functions
 * libvirt.so.0 exports under its LIBVIRT_PRIVATE_<version> node. Ordinary
 * linking binds them to that node (objdump -T shows
 * "LIBVIRT_PRIVATE_9.0.0 virGetDomain" in the module), so a libvirt of
 * another version refuses to load the module instead of misbehaving.
 *
 * Only src/driver/ includes this file.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "xm-libvirt-layout.h"

/* Opaque internal objects, only ever passed back to libvirt. */
typedef struct _virObjectEventState virObjectEventState;
typedef struct _virObjectEvent virObjectEvent;

/* Values of libvirt's virDrvOpenStatus and virDrvStateInitResult. */
enum {
    XM_VIR_DRV_OPEN_SUCCESS = 0,
    XM_VIR_DRV_OPEN_DECLINED = -1,
    XM_VIR_DRV_OPEN_ERROR = -2,
};
enum {
    XM_VIR_DRV_STATE_INIT_ERROR = -1,
    XM_VIR_DRV_STATE_INIT_SKIPPED = 0,
    XM_VIR_DRV_STATE_INIT_COMPLETE = 1,
};

/* virDrvFeature values this driver answers itself. */
enum {
    XM_VIR_DRV_FEATURE_MIGRATION_V1 = 1,
    XM_VIR_DRV_FEATURE_MIGRATION_V2 = 3,
    XM_VIR_DRV_FEATURE_MIGRATION_P2P = 4,
    XM_VIR_DRV_FEATURE_MIGRATION_DIRECT = 5,
    XM_VIR_DRV_FEATURE_MIGRATION_V3 = 6,
    XM_VIR_DRV_FEATURE_MIGRATE_CHANGE_PROTECTION = 7,
    XM_VIR_DRV_FEATURE_XML_MIGRATABLE = 11,
    XM_VIR_DRV_FEATURE_MIGRATION_OFFLINE = 12,
    XM_VIR_DRV_FEATURE_MIGRATION_PARAMS = 13,
};

int virRegisterConnectDriver(XmVirConnectDriver *driver, bool setSharedDrivers);
int virRegisterStateDriver(XmVirStateDriver *driver);

virDomainPtr virGetDomain(virConnectPtr conn, const char *name,
                          const unsigned char *uuid, int id);

void virReportErrorHelper(int domcode, int errcode, const char *filename,
                          const char *funcname, size_t linenr,
                          const char *fmt, ...) G_GNUC_PRINTF(6, 7);

bool virDriverFeatureIsGlobal(int feat, int *supported);

/* libvirtd's host UUID (host_uuid / host_uuid_source in libvirtd.conf, else
 * SMBIOS); returns 0 or an errno value. */
int virGetHostUUID(unsigned char *host_uuid);

/* libvirt's access control (access_drivers in libvirtd.conf) for opening a
 * connection. The per-domain checks take libvirt's internal virDomainDef,
 * which this module does not have: see docs/driver.rst. */
int virConnectOpenEnsureACL(virConnectPtr conn);

virObjectEventState *virObjectEventStateNew(void);
void virObjectEventStateQueue(virObjectEventState *state, virObjectEvent *event);
int virObjectEventStateDeregisterID(virConnectPtr conn, virObjectEventState *state,
                                    int callbackID, bool doFreeCb);
int virDomainEventStateRegister(virConnectPtr conn, virObjectEventState *state,
                                virConnectDomainEventCallback callback,
                                void *opaque, virFreeCallback freecb);
int virDomainEventStateRegisterID(virConnectPtr conn, virObjectEventState *state,
                                  virDomainPtr dom, int eventID,
                                  virConnectDomainEventGenericCallback cb,
                                  void *opaque, virFreeCallback freecb,
                                  int *callbackID);
int virDomainEventStateDeregister(virConnectPtr conn, virObjectEventState *state,
                                  virConnectDomainEventCallback callback);
virObjectEvent *virDomainEventLifecycleNew(int id, const char *name,
                                           const unsigned char *uuid,
                                           int type, int detail);
virObjectEvent *virDomainEventRebootNew(int id, const char *name,
                                        const unsigned char *uuid);
void virObjectUnref(void *obj);
