/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "event-log.h"

typedef struct {
    XmDomainEventKind kind;
    int domid;
} EventLogEntry;

void
event_log_init(EventLog *log)
{
    g_mutex_init(&log->lock);
    g_cond_init(&log->cond);
    log->events = g_array_new(FALSE, FALSE, sizeof(EventLogEntry));
}

void
event_log_clear(EventLog *log)
{
    g_array_unref(log->events);
    g_mutex_clear(&log->lock);
    g_cond_clear(&log->cond);
}

void
event_log_record(XmBackend *b, int domid, XmDomainEventKind kind, gpointer data)
{
    EventLog *log = data;
    EventLogEntry ev = { kind, domid };

    g_mutex_lock(&log->lock);
    g_array_append_val(log->events, ev);
    g_cond_broadcast(&log->cond);
    g_mutex_unlock(&log->lock);
}

int
event_log_wait(EventLog *log, int domid, int ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000LL;
    int kind = -1;

    g_mutex_lock(&log->lock);
    while (kind < 0) {
        for (guint i = 0; i < log->events->len; i++) {
            EventLogEntry *e = &g_array_index(log->events, EventLogEntry, i);
            if (e->domid == domid) {
                kind = e->kind;
                g_array_remove_index(log->events, i);
                break;
            }
        }
        if (kind < 0 && !g_cond_wait_until(&log->cond, &log->lock, end))
            break;
    }
    g_mutex_unlock(&log->lock);
    return kind;
}
