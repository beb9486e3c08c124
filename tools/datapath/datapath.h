/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xenmig-datapath: serves a domain's disk images on unix sockets through
 * the tracked NBD server and, on request over a control socket, runs one
 * tracked mirror job per disk. main.c starts and stops it, control.c
 * accepts control connections (one thread each), requests.c executes them.
 */
#pragma once

#include <glib.h>

#include <xenmig/mirror.h>
#include <xenmig/nbd-server.h>

typedef struct {
    char *target;
    char *image;
    char *socket;
    XmNbdServer *server;
    /* The fields below are under Datapath.lock. @job is set while a job
     * exists. @busy: one request owns the job's life cycle (creating,
     * completing or freeing it); nobody else may free or replace it, and
     * a CANCEL waits for @busy to clear. */
    XmMirrorJob *job;
    gboolean busy;
    gboolean cancel_requested;
} DpDisk;

typedef struct {
    GMutex lock;
    GCond idle;               /* signalled when a disk's @busy clears */
    DpDisk *disks;
    guint n_disks;
    char *control_path;
    char *pid_file;
    int listen_fd;
    int wake_fd;              /* eventfd: a QUIT request asks main to stop */
    gboolean quitting;        /* under @lock */
    GPtrArray *conns;         /* DpConn *, under @lock */
} Datapath;

/* control.c */
gboolean dp_control_listen(Datapath *dp, GError **error);
/* Accepts one connection and starts its thread. */
void dp_control_accept(Datapath *dp);
/* Shuts every control connection down and joins their threads. */
void dp_control_close_all(Datapath *dp);
/* Joins the threads of connections that ended. */
void dp_control_reap(Datapath *dp);

/* requests.c: executes one request line; returns the reply line (without
 * newline). *@quit is set by QUIT. */
char *dp_request(Datapath *dp, const char *line, gboolean *quit);
/* Cancels every job; requests running on them end soon. */
void dp_cancel_all(Datapath *dp);
/* Frees the jobs left once no request runs any more. */
void dp_free_jobs(Datapath *dp);
