/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Domain events: libvirt's event state does the dispatching. */
#define G_LOG_DOMAIN "xenmig-driver"
#include "config.h"

#include "driver.h"

void
xm_event_lifecycle(XmDomObj *dom, int type, int detail)
{
    virObjectEvent *ev;

    if (!xm_driver || !xm_driver->events)
        return;
    ev = virDomainEventLifecycleNew(g_atomic_int_get(&dom->domid), dom->name,
                                    dom->uuid, type, detail);
    if (ev)
        virObjectEventStateQueue(xm_driver->events, ev);
}

void
xm_event_reboot(XmDomObj *dom)
{
    virObjectEvent *ev;

    if (!xm_driver || !xm_driver->events)
        return;
    ev = virDomainEventRebootNew(g_atomic_int_get(&dom->domid), dom->name, dom->uuid);
    if (ev)
        virObjectEventStateQueue(xm_driver->events, ev);
}

int
xmConnectDomainEventRegister(virConnectPtr conn,
                             virConnectDomainEventCallback callback,
                             void *opaque, virFreeCallback freecb)
{
    return virDomainEventStateRegister(conn, xm_driver->events, callback,
                                       opaque, freecb);
}

int
xmConnectDomainEventDeregister(virConnectPtr conn,
                               virConnectDomainEventCallback callback)
{
    return virDomainEventStateDeregister(conn, xm_driver->events, callback);
}

int
xmConnectDomainEventRegisterAny(virConnectPtr conn, virDomainPtr dom,
                                int eventID,
                                virConnectDomainEventGenericCallback callback,
                                void *opaque, virFreeCallback freecb)
{
    int id = -1;

    if (virDomainEventStateRegisterID(conn, xm_driver->events, dom, eventID,
                                      callback, opaque, freecb, &id) < 0)
        return -1;
    return id;
}

int
xmConnectDomainEventDeregisterAny(virConnectPtr conn, int callbackID)
{
    if (virObjectEventStateDeregisterID(conn, xm_driver->events, callbackID,
                                        true) < 0)
        return -1;
    return 0;
}
