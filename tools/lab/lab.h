/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xenmig-lab: N libvirtd "hosts" on one machine, each in its own network,
 * UTS and mount namespace, for tests, demos and newcomers.
 *
 * Layout of a lab directory DIR (default $XENMIG_LAB_DIR or /run/xenmig-lab):
 *   DIR/lab.state          GKeyFile: hosts, PIDs, namespace identities
 *   DIR/hosts              /etc/hosts bind-mounted inside every host
 *   DIR/host<i>/run/       libvirtd's sockets and pid file; mounted at
 *                          /run/libvirt inside host i
 *   DIR/host<i>/storage/   host i's private storage, mounted at
 *                          LAB_IMAGE_DIR inside host i
 *   DIR/host<i>/etc/       libvirtd.conf, xenmig.conf, persistent domains
 *   DIR/host<i>/log/       libvirtd log and output
 * With `up --tls-dir TLS`, host i's libvirtd also listens for TLS with
 * TLS/cacert.pem, TLS/host<i>/servercert.pem and TLS/host<i>/serverkey.pem.
 */
#pragma once

#include <sys/types.h>

#include "util/util.h"

#define LAB_IMAGE_DIR "/var/lib/xenmig-lab/images"
#define LAB_LIBVIRT_RUN_DIR "/run/libvirt"
#define LAB_DEFAULT_DIR "/run/xenmig-lab"
#define LAB_SUBNET "10.77.0"
#define LAB_PREFIX_LEN 24
#define LAB_LIBVIRTD_PORT 16509
#define LAB_LIBVIRTD_TLS_PORT 16514
#define LAB_MAX_HOSTS 200
#define LAB_LIBVIRTD "/usr/sbin/libvirtd"
#define LAB_MODULE_FILE "libvirt_driver_libxl.so"

/* Exit codes of every command. */
enum {
    LAB_EXIT_OK = 0,
    LAB_EXIT_FAILURE = 1,
    LAB_EXIT_USAGE = 2,
};

typedef struct {
    guint index;              /* 1-based */
    char *netns;              /* ip netns name */
    char *hostname;           /* UTS host name */
    char *address;            /* IPv4 address on the lab network */
    char *dir;                /* DIR/host<i> */
    pid_t holder_pid;         /* keeps the UTS and mount namespaces alive */
    pid_t libvirtd_pid;
    dev_t netns_dev;          /* identity of the network namespace */
    ino_t netns_ino;
    dev_t mntns_dev;          /* identity of the mount namespace */
    ino_t mntns_ino;
} LabHost;

typedef struct {
    char *dir;                /* absolute lab directory */
    char *ns_prefix;          /* e.g. "xenmig-lab" or "xenmig-lab-1a2b3c" */
    char *hub_netns;          /* namespace holding the bridge */
    char *module_dir;         /* LIBVIRT_DRIVER_DIR given to libvirtd */
    char *tls_dir;            /* --tls-dir: certificates, NULL without TLS */
    char *sim_disk_datapath;  /* --sim-disk-datapath, NULL: the backend's default */
    GPtrArray *hosts;         /* LabHost*, index i-1 */
} Lab;

void lab_host_free(LabHost *host);
void lab_free(Lab *lab);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Lab, lab_free)

/* lab-state.c */
char *lab_default_dir(void);
Lab *lab_new(const char *dir);
LabHost *lab_add_host(Lab *lab);
LabHost *lab_get_host(Lab *lab, guint index, GError **error);
char *lab_state_path(const Lab *lab);
gboolean lab_state_exists(const Lab *lab);
Lab *lab_load(const char *dir, GError **error);
gboolean lab_save(const Lab *lab, GError **error);
char *lab_host_uri(const Lab *lab, const LabHost *host);
char *lab_host_tcp_uri(const LabHost *host);
char *lab_host_tls_uri(const LabHost *host);
char *lab_host_socket(const LabHost *host);
char *lab_host_path(const LabHost *host, const char *sub);
gboolean lab_mkdir(const char *path, GError **error);

/* lab-ns.c */
pid_t lab_holder_spawn(const Lab *lab, const LabHost *host, GError **error);
gboolean lab_enter(const LabHost *host, GError **error);
gboolean lab_ns_identity(const char *path, dev_t *dev, ino_t *ino);
gboolean lab_pid_alive(pid_t pid);
guint lab_kill_host_processes(const LabHost *host);
gboolean lab_signal_and_wait(pid_t pid, int timeout_ms);

/* lab-net.c */
gboolean lab_net_create_hub(const Lab *lab, GError **error);
gboolean lab_net_add_host(const Lab *lab, LabHost *host, GError **error);
gboolean lab_net_delete(const char *netns, GError **error);
gboolean lab_netns_exists(const char *netns);

/* lab-libvirtd.c */
gboolean lab_libvirtd_write_config(const Lab *lab, const LabHost *host,
                                   GError **error);
pid_t lab_libvirtd_spawn(const Lab *lab, const LabHost *host, GError **error);
gboolean lab_libvirtd_wait(const Lab *lab, const LabHost *host,
                           gboolean check_driver, GError **error);
char *lab_log_tail(const char *path, guint lines);
gboolean lab_libvirtd_check_tls_dir(const char *tls_dir, guint n, GError **error);
gboolean lab_module_present(const Lab *lab);

/* lab-down.c: stops and removes everything the state names; @purge also
 * removes the storage, definitions and logs kept for the next `up`. */
gboolean lab_teardown(Lab *lab, gboolean purge, GError **error);

/* Commands: lab-up.c, lab-down.c, lab-guest.c, lab-exec.c, lab-restart.c */
int lab_cmd_up(const char *dir, int argc, char **argv);
int lab_cmd_down(const char *dir, int argc, char **argv);
int lab_cmd_status(const char *dir, int argc, char **argv);
int lab_cmd_exec(const char *dir, int argc, char **argv);
int lab_cmd_guest(const char *dir, int argc, char **argv);
int lab_cmd_restart(const char *dir, int argc, char **argv);

/* lab-main.c */
void lab_print_error(const GError *error);
