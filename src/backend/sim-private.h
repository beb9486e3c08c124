/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sim backend's internals, shared by its files. */
#pragma once

#include <sys/types.h>

#include "backend/backend-private.h"

typedef struct {
    gint ref;
    int domid;
    uint8_t uuid[16];
    char *name;
    pid_t pid;
    guint64 starttime;           /* /proc start time: guards against pid reuse */
    int pidfd;                   /* -1: not supported, the monitor polls /proc */
    char *sock_path;
    guint64 memory_kib;
    guint64 max_memory_kib;
    guint vcpus;
    /* the datapath daemon serving its writable disks; dp_control NULL: the
     * guest writes its images itself */
    char *dp_control;
    pid_t dp_pid;
    guint64 dp_starttime;
    int dp_pidfd;
} SimDomain;

typedef struct {
    XmBackend *backend;
    char *dir;                   /* state_dir/sim */
    char *host;                  /* written into heartbeats */
    char *guest_prog;
    gboolean use_datapath;       /* sim_disk_datapath = "nbd" */
    GMutex lock;
    GHashTable *domains;         /* domid -> SimDomain*, running ones */
    int next_domid;
    GThread *monitor;
    int wake_fd;                 /* eventfd: the domain set changed or stop */
    gboolean stopping;
} SimBackend;

SimDomain *sim_domain_ref(SimDomain *dom);
void sim_domain_unref(SimDomain *dom);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SimDomain, sim_domain_unref)

/* sim-spawn.c: state files, processes */
char *sim_path(SimBackend *sb, int domid, const char *suffix);
gboolean sim_proc_alive(pid_t pid, guint64 starttime);
guint64 sim_proc_starttime(pid_t pid);
int sim_pidfd_open(pid_t pid);
/* Starts the guest for the config file of @domid. Returns its pid, or -1
 * (then nothing of it is left running). */
pid_t sim_spawn_guest(SimBackend *sb, int domid, int restore_fd, gboolean paused,
                      GCancellable *cancellable, GError **error);
/* Kills @dom's process and waits (bounded) until it is gone. */
void sim_kill_and_wait(SimDomain *dom);
void sim_remove_files(SimBackend *sb, int domid, gboolean keep_log);
char *sim_guest_program(void);

/* sim-monitor.c */
gboolean sim_monitor_start(SimBackend *sb, GError **error);
void sim_monitor_stop(SimBackend *sb);
void sim_monitor_wake(SimBackend *sb);
