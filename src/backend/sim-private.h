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
    char *sock_dir;              /* the datapaths' sockets: dir, unless that is
                                  * too deep for sun_path */
    char *host;                  /* written into heartbeats */
    char *guest_prog;
    gboolean use_datapath;       /* sim_disk_datapath = "nbd" */
    GMutex lock;
    GHashTable *domains;         /* domid -> SimDomain*, running ones */
    GHashTable *starting;        /* domids being started: not reconnect's */
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
/* The same in sock_dir, for the datapath's sockets. */
char *sim_sock_path(SimBackend *sb, int domid, const char *suffix);
gboolean sim_proc_alive(pid_t pid, guint64 starttime);
guint64 sim_proc_starttime(pid_t pid);
int sim_pidfd_open(pid_t pid);
/* Starts the guest for the config file of @domid. Returns its pid, or -1
 * (then nothing of it is left running). */
pid_t sim_spawn_guest(SimBackend *sb, int domid, int restore_fd, gboolean paused,
                      GCancellable *cancellable, GError **error);
/* Kills @dom's process and waits (bounded) until it is gone. */
void sim_kill_and_wait(SimDomain *dom);
/* SIGKILL for @pid if it still is the process that started at @starttime,
 * then a bounded wait for it to go. */
void sim_kill_pid_and_wait(pid_t pid, guint64 starttime, int pidfd);
void sim_remove_files(SimBackend *sb, int domid, gboolean keep_log);
char *sim_guest_program(void);

/* sim-datapath.c: the per-domain datapath daemon (sim_disk_datapath) */
/* Chooses sb->sock_dir. */
void sim_datapath_init(SimBackend *sb);
/* Starts @dom's daemon for those of @disks it serves (none with "direct")
 * and returns in @paths what the guest opens for each disk: an nbd+unix
 * URI or the disk's own source. On failure nothing of it runs. */
gboolean sim_datapath_start(SimBackend *sb, SimDomain *dom,
                            const XmDiskDef *const *disks, size_t n,
                            char ***paths, GError **error);
/* QUIT, then SIGKILL if it lingers; the files stay (sim_remove_files). */
void sim_datapath_stop(SimDomain *dom);
/* FALSE when @dom has a datapath whose process is gone. */
gboolean sim_datapath_alive(SimDomain *dom);
/* After a restart: finds the daemon of @dom listening on @control again
 * (pid file, command line, PING). FALSE if it is gone or does not answer;
 * what was found is recorded in @dom either way. */
gboolean sim_datapath_reconnect(SimBackend *sb, SimDomain *dom,
                                const char *control);

/* sim-monitor.c */
gboolean sim_monitor_start(SimBackend *sb, GError **error);
void sim_monitor_stop(SimBackend *sb);
void sim_monitor_wake(SimBackend *sb);
