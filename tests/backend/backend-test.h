/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the backend tests share: disk images, the sim backend's
 * configuration, process checks, the sim guest's heartbeat check, and the
 * killing of every process a test case started (found by its command line
 * naming the test case's directory), also from a SIGABRT/SIGTERM handler.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>
#include <xenmig/backend.h>

/* A sparse image of @size bytes: @dir/@name. */
char *bt_make_disk(const char *dir, const char *name, guint64 size);
/* A sim host "host-a" (1024 MiB, 2 CPUs) keeping its state in @dir/state
 * (cfg->state_dir is the caller's to free). */
void bt_sim_config(XmBackendConfig *cfg, const char *dir);

/* Creates @def on @b, asserting that it succeeds: its domid. */
int bt_create(XmBackend *b, const XmDomainDef *def, gboolean paused);

/* Alive and not a zombie. */
gboolean bt_process_alive(pid_t pid);
/* Runs "xenmig-sim-guest heartbeat-check" on @disk: its line, its exit
 * status in *@status. */
char *bt_heartbeat_check(const char *disk, int *status);
/* @key's value in a sim reply line, G_MAXUINT64 if it has none. */
guint64 bt_field(const char *line, const char *key);

/* The pids (at most @max) of the processes, this one excepted, whose
 * command line contains @needle. Safe in a signal handler's context as
 * far as the tests need: plain syscalls on /proc. */
int bt_procs_with(const char *needle, pid_t *out, int max);
/* From now on every process naming @dir belongs to the test case (NULL:
 * none); bt_kill_test_processes() and the abort handler kill them. */
void bt_watch_dir(const char *dir);
void bt_kill_test_processes(void);
/* Kills the watched processes when the test aborts or is terminated. */
void bt_kill_on_abort(void);
