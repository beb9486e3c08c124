/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libxl backend's disk datapath (xen_disk_datapath = "nbd"): the parts
 * that need no hypervisor, so that tests can run them on any machine with
 * a fake /sys/block, a fake /dev and fake tools.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

/* One served disk of a domain. */
typedef struct {
    char *target;       /* the guest's device name (vdev), e.g. "xvda" */
    char *image;        /* the file or block device the definition names */
    char *socket;       /* where the daemon serves it */
    char *device;       /* /dev/nbdN once attached, else NULL */
    int client_pid;     /* /sys/block/nbdN/pid right after attaching: tells
                         * later whether the device still is our connection */
} XmLxDpDisk;

/* The datapath of one domain: its daemon, its disks and its files. */
typedef struct {
    char *uuid;         /* the domain's UUID as text: names every file */
    int domid;          /* -1 until libxl has created the domain */
    char *state_file;
    char *control;
    char *pid_file;
    char *log_file;
    pid_t pid;          /* the daemon; 0 while not started */
    GPtrArray *disks;   /* XmLxDpDisk* */
} XmLxDatapath;

/* The host side: where files go, how devices are found, the domains. */
typedef struct {
    char *dir;          /* state files, pid files, logs */
    char *sock_dir;     /* sockets: @dir, or a short directory when @dir is
                         * too deep for a unix socket path */
    char *sys_block;    /* "/sys/block" */
    char *dev_dir;      /* "/dev" */
    char *path;         /* where nbd-client and modprobe are looked for */
    GMutex nbd_lock;    /* choosing a free device and attaching it */
    gboolean modprobe_tried;
    GMutex lock;        /* protects domains */
    GHashTable *domains;        /* domid -> XmLxDatapath* of bound domains */
    GThreadPool *reaper;        /* stops the datapaths of dead domains */
} XmLxDpHost;

XmLxDatapath *xm_lxdp_new(XmLxDpHost *host, const char *uuid);
XmLxDpDisk *xm_lxdp_add_disk(XmLxDatapath *dp, const char *target,
                             const char *image);
void xm_lxdp_free(XmLxDatapath *dp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(XmLxDatapath, xm_lxdp_free)

/* The state file (a key file at dp->state_file) records everything needed
 * to find the datapath again, or to undo it, after a libvirtd restart. */
gboolean xm_lxdp_state_save(const XmLxDatapath *dp, GError **error);
XmLxDatapath *xm_lxdp_state_load(const char *file, GError **error);

/*
 * The lowest N >= @from such that @sys_block/nbdN exists and is not
 * connected (no @sys_block/nbdN/pid). -1 with XM_ERR_DEVICE_MISSING when
 * there is no nbdN at all (module not loaded), XM_ERR_RESOURCE_BUSY when
 * all are in use.
 */
int xm_lxdp_free_nbd(const char *sys_block, int from, GError **error);
/* The pid in @sys_block/nbdN/pid for the device path @device (".../nbdN"),
 * or 0 when it is not connected. */
int xm_lxdp_nbd_pid(const char *sys_block, const char *device);

/* The first executable @name in the colon-separated @path; else
 * XM_ERR_NO_SUPPORT with a message naming @name and @package. */
char *xm_lxdp_find_program(const char *name, const char *package,
                           const char *path, GError **error);
char **xm_lxdp_connect_argv(const char *nbd_client, const char *socket,
                            const char *device);
char **xm_lxdp_disconnect_argv(const char *nbd_client, const char *device);

XmLxDpHost *xm_lxdp_host_new(const char *state_dir, GError **error);
/* Forgets the bound datapaths without stopping them (they serve running
 * domains, which a later backend finds again). */
void xm_lxdp_host_free(XmLxDpHost *host);

/*
 * Starts @dp: its daemon, then one NBD device per disk. On failure
 * everything started is undone and the files are removed.
 */
gboolean xm_lxdp_start(XmLxDpHost *host, XmLxDatapath *dp, GError **error);
/* Undoes @dp (devices, daemon, files) and frees it. */
void xm_lxdp_stop(XmLxDpHost *host, XmLxDatapath *dp);

/* Records @dp as the datapath of @domid (takes it). */
void xm_lxdp_bind(XmLxDpHost *host, XmLxDatapath *dp, int domid);
/* Stops the datapath bound to @domid, if any: now, or with @later in the
 * reaper thread (callers that must not block). */
void xm_lxdp_release(XmLxDpHost *host, int domid, gboolean later);
/* The control socket of @domid's datapath if its daemon runs, else NULL. */
char *xm_lxdp_control(XmLxDpHost *host, int domid, gboolean *bound);

/* Whether domain @domid exists now with UUID @uuid (text form). */
typedef gboolean (*XmLxDpDomainCheck)(gpointer data, int domid,
                                      const char *uuid);
/*
 * After a restart: binds again the datapaths (state files) of domains
 * that still run, and stops those left by domains that are gone or by a
 * start that was cut short.
 */
void xm_lxdp_reconnect(XmLxDpHost *host, XmLxDpDomainCheck check,
                       gpointer data);
