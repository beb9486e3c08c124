/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xenmig-sim-guest: the process that is a sim domain. One worker thread
 * plays the guest (dirties RAM, writes its disks, appends heartbeats); the
 * main thread serves the control socket, one thread per request.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "backend/sim-proto.h"

/* Disk I/O behind a tiny interface: a plain image file, or an NBD export
 * (nbd:// or nbd+unix:// URI) so that writes can go through a tracked
 * datapath. */
typedef struct SimDisk SimDisk;
SimDisk *sim_disk_open(const char *path, GError **error);
guint64 sim_disk_size(SimDisk *disk);
gboolean sim_disk_pwrite(SimDisk *disk, const void *buf, size_t len,
                         guint64 off, GError **error);
gboolean sim_disk_flush(SimDisk *disk, GError **error);
void sim_disk_close(SimDisk *disk);

typedef enum {
    GUEST_RUNNING,
    GUEST_PAUSED,
    GUEST_SUSPENDED,      /* after save: only resume or destroy */
} GuestState;

typedef struct {
    /* configuration (fixed after start) */
    char *name;
    uint8_t uuid[16];
    char *uuid_str;
    int domid;
    guint64 max_memory_kib;
    guint vcpus;
    guint64 ram_dirty_mib_s;
    guint64 disk_write_mib_s;
    guint heartbeat_ms;
    char **disk_paths;
    char *host;
    char *socket_path;
    char *exit_path;

    SimDisk **disks;
    size_t ndisks;
    guint64 hb_slots;            /* 0: first disk too small, no heartbeat */

    /* everything below is protected by lock */
    GMutex lock;
    GCond cond;
    GuestState state;
    guint64 memory_kib;          /* current target */
    uint8_t *ram;
    size_t ram_alloc_pages;      /* mapped */
    size_t ram_pages;            /* in use: min(memory, cap) */
    guint64 *dirty;              /* one bit per allocated page */
    guint64 hb_seq;              /* last heartbeat written (0: none yet) */
    gint64 next_hb_us;
    guint64 rng;
    double dirty_credit, write_credit;
    gint64 last_tick_us;
    const char *quit_reason;     /* set: the worker exits the process */
    gboolean save_running;
    gboolean save_cancel;
} Guest;

/* guest-main.c */
void guest_lock(Guest *g);
void guest_unlock(Guest *g);

/* guest-ram.c */
gboolean guest_ram_init(Guest *g, GError **error);
void guest_ram_fill(Guest *g, size_t first, size_t last);
gboolean guest_ram_set_memory(Guest *g, guint64 kib, GError **error);
guint64 guest_ram_checksum(Guest *g);
void guest_ram_dirty_some(Guest *g, guint64 npages);
guint64 guest_rand(Guest *g);

/* guest-worker.c */
gpointer guest_worker(gpointer data);
void guest_request_quit(Guest *g, const char *reason);

/* guest-stream.c */
gboolean guest_save(Guest *g, int fd, gboolean live, char **summary,
                    GError **error);
gboolean guest_restore(Guest *g, int fd, GError **error);

/* guest-ctl.c */
int guest_ctl_listen(Guest *g, GError **error);
void guest_ctl_serve(Guest *g, int listen_fd);
