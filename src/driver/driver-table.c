/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The driver tables libvirtd reads, and libxlRegister(), the one symbol the
 * module exports. Slots left out stay NULL: libvirt then answers
 * VIR_ERR_NO_SUPPORT ("this function is not supported by the connection
 * driver") itself. Migration (issue 4) is not here yet.
 */
#define G_LOG_DOMAIN "xenmig-driver"
#include "config.h"

#include "driver.h"
#include "driver-save.h"

G_STATIC_ASSERT(sizeof(XmVirHypervisorDriver) ==
                XM_VIRHYPERVISORDRIVER_NFIELDS * sizeof(void *));

static XmVirHypervisorDriver xm_hypervisor_driver = {
    .name = "Xen",
    .connectURIProbe = xmConnectURIProbe,
    .connectOpen = xmConnectOpen,
    .connectClose = xmConnectClose,
    .connectSupportsFeature = xmConnectSupportsFeature,
    .connectGetType = xmConnectGetType,
    .connectGetVersion = xmConnectGetVersion,
    .connectGetHostname = xmConnectGetHostname,
    .connectGetMaxVcpus = xmConnectGetMaxVcpus,
    .nodeGetInfo = xmNodeGetInfo,
    .connectGetCapabilities = xmConnectGetCapabilities,
    .connectListDomains = xmConnectListDomains,
    .connectNumOfDomains = xmConnectNumOfDomains,
    .connectListAllDomains = xmConnectListAllDomains,
    .domainCreateXML = xmDomainCreateXML,
    .domainLookupByID = xmDomainLookupByID,
    .domainLookupByUUID = xmDomainLookupByUUID,
    .domainLookupByName = xmDomainLookupByName,
    .domainSuspend = xmDomainSuspend,
    .domainResume = xmDomainResume,
    .domainShutdown = xmDomainShutdown,
    .domainShutdownFlags = xmDomainShutdownFlags,
    .domainReboot = xmDomainReboot,
    .domainDestroy = xmDomainDestroy,
    .domainDestroyFlags = xmDomainDestroyFlags,
    .domainGetOSType = xmDomainGetOSType,
    .domainGetMaxMemory = xmDomainGetMaxMemory,
    .domainSetMaxMemory = xmDomainSetMaxMemory,
    .domainSetMemory = xmDomainSetMemory,
    .domainSetMemoryFlags = xmDomainSetMemoryFlags,
    .domainGetInfo = xmDomainGetInfo,
    .domainGetState = xmDomainGetState,
    .domainSave = xmDomainSave,
    .domainSaveFlags = xmDomainSaveFlags,
    .domainRestore = xmDomainRestore,
    .domainRestoreFlags = xmDomainRestoreFlags,
    .domainSaveImageGetXMLDesc = xmDomainSaveImageGetXMLDesc,
    .domainGetVcpusFlags = xmDomainGetVcpusFlags,
    .domainGetMaxVcpus = xmDomainGetMaxVcpus,
    .domainGetXMLDesc = xmDomainGetXMLDesc,
    .connectListDefinedDomains = xmConnectListDefinedDomains,
    .connectNumOfDefinedDomains = xmConnectNumOfDefinedDomains,
    .domainCreate = xmDomainCreate,
    .domainCreateWithFlags = xmDomainCreateWithFlags,
    .domainDefineXML = xmDomainDefineXML,
    .domainDefineXMLFlags = xmDomainDefineXMLFlags,
    .domainUndefine = xmDomainUndefine,
    .domainUndefineFlags = xmDomainUndefineFlags,
    .domainGetAutostart = xmDomainGetAutostart,
    .domainSetAutostart = xmDomainSetAutostart,
    .nodeGetCellsFreeMemory = xmNodeGetCellsFreeMemory,
    .nodeGetFreeMemory = xmNodeGetFreeMemory,
    .connectDomainEventRegister = xmConnectDomainEventRegister,
    .connectDomainEventDeregister = xmConnectDomainEventDeregister,
    .nodeGetSecurityModel = xmNodeGetSecurityModel,
    .connectIsEncrypted = xmConnectIsEncrypted,
    .connectIsSecure = xmConnectIsSecure,
    .domainIsActive = xmDomainIsActive,
    .domainIsPersistent = xmDomainIsPersistent,
    .domainIsUpdated = xmDomainIsUpdated,
    .domainGetJobInfo = xmDomainGetJobInfo,
    .domainGetJobStats = xmDomainGetJobStats,
    .domainAbortJob = xmDomainAbortJob,
    .connectDomainEventRegisterAny = xmConnectDomainEventRegisterAny,
    .connectDomainEventDeregisterAny = xmConnectDomainEventDeregisterAny,
    .domainManagedSave = xmDomainManagedSave,
    .domainHasManagedSaveImage = xmDomainHasManagedSaveImage,
    .domainManagedSaveRemove = xmDomainManagedSaveRemove,
    .connectIsAlive = xmConnectIsAlive,
    .nodeGetCPUMap = xmNodeGetCPUMap,
    .domainSetMetadata = xmDomainSetMetadata,
    .domainGetMetadata = xmDomainGetMetadata,
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
