/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The driver tables libvirtd reads, and libxlRegister(), the one symbol the
 * module exports. Slots left out stay NULL: libvirt then answers
 * VIR_ERR_NO_SUPPORT ("this function is not supported by the connection
 * driver") itself. Migration is driver-migrate-*.c (docs/migration.rst).
 * The comment on each entry is the xenmig version it arrived in.
 */
#define G_LOG_DOMAIN "xenmig-driver"
#include "config.h"

#include "driver.h"
#include "driver-migrate.h"
#include "driver-save.h"

G_STATIC_ASSERT(sizeof(XmVirHypervisorDriver) ==
                XM_VIRHYPERVISORDRIVER_NFIELDS * sizeof(void *));

static XmVirHypervisorDriver xm_hypervisor_driver = {
    .name = "Xen", /* 0.1.0 */
    .connectURIProbe = xmConnectURIProbe, /* 0.1.0 */
    .connectOpen = xmConnectOpen, /* 0.1.0 */
    .connectClose = xmConnectClose, /* 0.1.0 */
    .connectSupportsFeature = xmConnectSupportsFeature, /* 0.1.0 */
    .connectGetType = xmConnectGetType, /* 0.1.0 */
    .connectGetVersion = xmConnectGetVersion, /* 0.1.0 */
    .connectGetHostname = xmConnectGetHostname, /* 0.1.0 */
    .connectGetMaxVcpus = xmConnectGetMaxVcpus, /* 0.1.0 */
    .nodeGetInfo = xmNodeGetInfo, /* 0.1.0 */
    .connectGetCapabilities = xmConnectGetCapabilities, /* 0.1.0 */
    .connectListDomains = xmConnectListDomains, /* 0.1.0 */
    .connectNumOfDomains = xmConnectNumOfDomains, /* 0.1.0 */
    .connectListAllDomains = xmConnectListAllDomains, /* 0.1.0 */
    .domainCreateXML = xmDomainCreateXML, /* 0.1.0 */
    .domainLookupByID = xmDomainLookupByID, /* 0.1.0 */
    .domainLookupByUUID = xmDomainLookupByUUID, /* 0.1.0 */
    .domainLookupByName = xmDomainLookupByName, /* 0.1.0 */
    .domainSuspend = xmDomainSuspend, /* 0.1.0 */
    .domainResume = xmDomainResume, /* 0.1.0 */
    .domainShutdown = xmDomainShutdown, /* 0.1.0 */
    .domainShutdownFlags = xmDomainShutdownFlags, /* 0.1.0 */
    .domainReboot = xmDomainReboot, /* 0.1.0 */
    .domainDestroy = xmDomainDestroy, /* 0.1.0 */
    .domainDestroyFlags = xmDomainDestroyFlags, /* 0.1.0 */
    .domainGetOSType = xmDomainGetOSType, /* 0.1.0 */
    .domainGetMaxMemory = xmDomainGetMaxMemory, /* 0.1.0 */
    .domainSetMaxMemory = xmDomainSetMaxMemory, /* 0.1.0 */
    .domainSetMemory = xmDomainSetMemory, /* 0.1.0 */
    .domainSetMemoryFlags = xmDomainSetMemoryFlags, /* 0.1.0 */
    .domainGetInfo = xmDomainGetInfo, /* 0.1.0 */
    .domainGetState = xmDomainGetState, /* 0.1.0 */
    .domainSave = xmDomainSave, /* 0.1.0 */
    .domainSaveFlags = xmDomainSaveFlags, /* 0.1.0 */
    .domainRestore = xmDomainRestore, /* 0.1.0 */
    .domainRestoreFlags = xmDomainRestoreFlags, /* 0.1.0 */
    .domainSaveImageGetXMLDesc = xmDomainSaveImageGetXMLDesc, /* 0.1.0 */
    .domainGetVcpusFlags = xmDomainGetVcpusFlags, /* 0.1.0 */
    .domainGetMaxVcpus = xmDomainGetMaxVcpus, /* 0.1.0 */
    .domainGetXMLDesc = xmDomainGetXMLDesc, /* 0.1.0 */
    .connectListDefinedDomains = xmConnectListDefinedDomains, /* 0.1.0 */
    .connectNumOfDefinedDomains = xmConnectNumOfDefinedDomains, /* 0.1.0 */
    .domainCreate = xmDomainCreate, /* 0.1.0 */
    .domainCreateWithFlags = xmDomainCreateWithFlags, /* 0.1.0 */
    .domainDefineXML = xmDomainDefineXML, /* 0.1.0 */
    .domainDefineXMLFlags = xmDomainDefineXMLFlags, /* 0.1.0 */
    .domainUndefine = xmDomainUndefine, /* 0.1.0 */
    .domainUndefineFlags = xmDomainUndefineFlags, /* 0.1.0 */
    .domainGetAutostart = xmDomainGetAutostart, /* 0.1.0 */
    .domainSetAutostart = xmDomainSetAutostart, /* 0.1.0 */
    .nodeGetCellsFreeMemory = xmNodeGetCellsFreeMemory, /* 0.1.0 */
    .nodeGetFreeMemory = xmNodeGetFreeMemory, /* 0.1.0 */
    .connectDomainEventRegister = xmConnectDomainEventRegister, /* 0.1.0 */
    .connectDomainEventDeregister = xmConnectDomainEventDeregister, /* 0.1.0 */
    .nodeGetSecurityModel = xmNodeGetSecurityModel, /* 0.1.0 */
    .connectIsEncrypted = xmConnectIsEncrypted, /* 0.1.0 */
    .connectIsSecure = xmConnectIsSecure, /* 0.1.0 */
    .domainIsActive = xmDomainIsActive, /* 0.1.0 */
    .domainIsPersistent = xmDomainIsPersistent, /* 0.1.0 */
    .domainIsUpdated = xmDomainIsUpdated, /* 0.1.0 */
    .domainGetJobInfo = xmDomainGetJobInfoAny, /* 0.1.0 */
    .domainGetJobStats = xmDomainGetJobStatsAny, /* 0.1.0 */
    .domainAbortJob = xmDomainAbortJobAny, /* 0.1.0 */
    .domainMigrateSetMaxDowntime = xmDomainMigrateSetMaxDowntime, /* 0.1.0 */
    .domainMigrateGetMaxDowntime = xmDomainMigrateGetMaxDowntime, /* 0.1.0 */
    .domainMigrateSetMaxSpeed = xmDomainMigrateSetMaxSpeed, /* 0.1.0 */
    .domainMigrateGetMaxSpeed = xmDomainMigrateGetMaxSpeed, /* 0.1.0 */
    .domainMigrateBegin3 = xmDomainMigrateBegin3, /* 0.1.0 */
    .domainMigratePrepare3 = xmDomainMigratePrepare3, /* 0.1.0 */
    .domainMigratePerform3 = xmDomainMigratePerform3, /* 0.1.0 */
    .domainMigrateFinish3 = xmDomainMigrateFinish3, /* 0.1.0 */
    .domainMigrateConfirm3 = xmDomainMigrateConfirm3, /* 0.1.0 */
    .domainMigrateBegin3Params = xmDomainMigrateBegin3Params, /* 0.1.0 */
    .domainMigratePrepare3Params = xmDomainMigratePrepare3Params, /* 0.1.0 */
    .domainMigratePerform3Params = xmDomainMigratePerform3Params, /* 0.1.0 */
    .domainMigrateFinish3Params = xmDomainMigrateFinish3Params, /* 0.1.0 */
    .domainMigrateConfirm3Params = xmDomainMigrateConfirm3Params, /* 0.1.0 */
    .connectDomainEventRegisterAny = xmConnectDomainEventRegisterAny, /* 0.1.0 */
    .connectDomainEventDeregisterAny = xmConnectDomainEventDeregisterAny, /* 0.1.0 */
    .domainManagedSave = xmDomainManagedSave, /* 0.1.0 */
    .domainHasManagedSaveImage = xmDomainHasManagedSaveImage, /* 0.1.0 */
    .domainManagedSaveRemove = xmDomainManagedSaveRemove, /* 0.1.0 */
    .connectIsAlive = xmConnectIsAlive, /* 0.1.0 */
    .nodeGetCPUMap = xmNodeGetCPUMap, /* 0.1.0 */
    .domainSetMetadata = xmDomainSetMetadata, /* 0.1.0 */
    .domainGetMetadata = xmDomainGetMetadata, /* 0.1.0 */
};

static const char *xm_uri_schemes[] = { "xen", NULL };

static XmVirConnectDriver xm_connect_driver = {
    .localOnly = true,
    .uriSchemes = xm_uri_schemes,
    .hypervisorDriver = &xm_hypervisor_driver,
};

static XmVirStateDriver xm_state_driver = {
    .name = "Xen",
    .stateInitialize = xmStateInitialize,
    .stateCleanup = xmStateCleanup,
    .stateReload = xmStateReload,
};

/* libvirtd dlopen()s libvirt_driver_libxl.so and calls this. */
int libxlRegister(void) __attribute__((visibility("default")));

int
libxlRegister(void)
{
    if (virRegisterConnectDriver(&xm_connect_driver, true) < 0)
        return -1;
    if (virRegisterStateDriver(&xm_state_driver) < 0)
        return -1;
    return 0;
}
