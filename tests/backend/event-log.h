/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The backend tests' record of domain events, waited on by domid. */
#pragma once

#include <glib.h>
#include <xenmig/backend.h>

typedef struct {
    GMutex lock;
    GCond cond;
    GArray *events;              /* EventLogEntry */
} EventLog;

void event_log_init(EventLog *log);
void event_log_clear(EventLog *log);
/* An XmDomainEventFunc: pass the EventLog as its data. */
void event_log_record(XmBackend *b, int domid, XmDomainEventKind kind, gpointer data);
/* Waits up to @ms for an event for @domid, takes it off the log and
 * returns its kind, or -1. */
int event_log_wait(EventLog *log, int domid, int ms);
