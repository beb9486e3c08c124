/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The guest's "CPU": every tick it dirties RAM and writes disk blocks at the
 * configured rates and appends a heartbeat when one is due, all under the
 * guest lock, so that pause/save see a guest that is between two ticks.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend/sim-heartbeat.h"
#include "backend/sim/guest.h"
#include "util/util.h"

#define TICK_US 5000
#define WRITE_BLOCK (64u * 1024)

extern volatile sig_atomic_t guest_sigterm;

void
guest_request_quit(Guest *g, const char *reason)
{
    guest_lock(g);
    if (!g->quit_reason)
        g->quit_reason = reason;
    g_cond_broadcast(&g->cond);
    guest_unlock(g);
}

static guint64
realtime_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (guint64) ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static gboolean
write_heartbeat(Guest *g, GError **error)
{
    XmSimHeartbeat hb = { 0 };
    uint8_t rec[XM_SIM_HB_RECORD_SIZE];

    hb.seq = g->hb_seq + 1;
    hb.time_ns = realtime_ns();
    memcpy(hb.uuid, g->uuid, 16);
    g_strlcpy(hb.host, g->host, sizeof(hb.host));
    g_strlcpy(hb.name, g->name, sizeof(hb.name));
    xm_sim_hb_encode(&hb, rec);
    if (!sim_disk_pwrite(g->disks[0], rec, sizeof(rec),
                         xm_sim_hb_offset(hb.seq, g->hb_slots), error))
        return FALSE;
    g->hb_seq = hb.seq;
    return TRUE;
}

static gboolean
write_random_block(Guest *g, uint8_t *block, GError **error)
{
    size_t d = guest_rand(g) % g->ndisks;
    guint64 size = sim_disk_size(g->disks[d]);
    guint64 start = d == 0 ? XM_SIM_HB_AREA : 0;
    guint64 nblocks, off;

    if (size < start + WRITE_BLOCK)
        return TRUE;              /* no room outside the heartbeat area */
    nblocks = (size - start) / WRITE_BLOCK;
    off = start + (guest_rand(g) % nblocks) * WRITE_BLOCK;
    for (size_t i = 0; i < WRITE_BLOCK / 8; i++)
        ((guint64 *) block)[i] = guest_rand(g);
    return sim_disk_pwrite(g->disks[d], block, WRITE_BLOCK, off, error);
}

/* One tick of a running guest; called with the lock held. */
static gboolean
tick(Guest *g, uint8_t *block, GError **error)
{
    gint64 now = g_get_monotonic_time();
    double secs = (now - g->last_tick_us) / 1e6;

    g->last_tick_us = now;
    secs = MIN(secs, 0.1);        /* no burst after a long pause */

    if (g->ram_dirty_mib_s) {
        guint64 n;
        g->dirty_credit += g->ram_dirty_mib_s * (1048576.0 / XM_SIM_PAGE_SIZE) * secs;
        n = (guint64) g->dirty_credit;
        g->dirty_credit -= n;
        guest_ram_dirty_some(g, n);
    }
    if (g->disk_write_mib_s && g->ndisks) {
        g->write_credit += g->disk_write_mib_s * 1048576.0 * secs;
        while (g->write_credit >= WRITE_BLOCK) {
            g->write_credit -= WRITE_BLOCK;
            if (!write_random_block(g, block, error))
                return FALSE;
        }
    }
    if (g->heartbeat_ms && g->hb_slots && now >= g->next_hb_us) {
        if (!write_heartbeat(g, error))
            return FALSE;
        g->next_hb_us += (gint64) g->heartbeat_ms * 1000;
        if (g->next_hb_us < now)
            g->next_hb_us = now + (gint64) g->heartbeat_ms * 1000;
    }
    return TRUE;
}

static void
write_exit_file(Guest *g, const char *reason)
{
    g_autofree char *tmp = g_strconcat(g->exit_path, ".tmp", NULL);

    if (g_file_set_contents(tmp, reason, -1, NULL))
        rename(tmp, g->exit_path);
}

G_GNUC_NORETURN static void
guest_exit(Guest *g, const char *reason)
{
    for (size_t i = 0; i < g->ndisks; i++) {
        sim_disk_flush(g->disks[i], NULL);
        sim_disk_close(g->disks[i]);
    }
    unlink(g->socket_path);
    write_exit_file(g, reason);
    fprintf(stderr, "sim guest %s: exiting (%s)\n", g->name, reason);
    _exit(strcmp(reason, "crashed") == 0 ? 70 : 0);
}

gpointer
guest_worker(gpointer data)
{
    Guest *g = data;
    g_autofree uint8_t *block = g_malloc(WRITE_BLOCK);

    guest_lock(g);
    g->last_tick_us = g_get_monotonic_time();
    g->next_hb_us = g->last_tick_us;
    for (;;) {
        g_autoptr(GError) err = NULL;
        gint64 now;

        if (guest_sigterm && !g->quit_reason)
            g->quit_reason = "shutdown";
        if (g->quit_reason)
            guest_exit(g, g->quit_reason);

        now = g_get_monotonic_time();
        if (g->state == GUEST_RUNNING && !tick(g, block, &err)) {
            fprintf(stderr, "sim guest %s: %s\n", g->name, err->message);
            guest_exit(g, "crashed");
        }
        if (g->state != GUEST_RUNNING) {
            /* keep the clocks where they were so that resuming neither bursts
             * nor fires a backlog of heartbeats */
            g->last_tick_us = now;
            g->next_hb_us = MAX(g->next_hb_us, now);
        }
        g_cond_wait_until(&g->cond, &g->lock, now + TICK_US);
    }
    return NULL;
}
