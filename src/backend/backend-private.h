/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the backend implementations share with backend.c (not installed). */
#pragma once

#include <xenmig/backend.h>

struct _XmBackend {
    XmBackendConfig config;         /* deep copy of the caller's */
    const XmBackendOps *ops;
    XmDomainEventFunc event_cb;
    gpointer event_data;
    gpointer priv;                  /* owned by the implementation */
};

extern const XmBackendOps xm_backend_libxl_ops;
extern const XmBackendOps xm_backend_sim_ops;

/* Reports a domain state change to the driver; never call it with a
 * backend lock held. */
void xm_backend_emit_event(XmBackend *backend, int domid, XmDomainEventKind kind);
