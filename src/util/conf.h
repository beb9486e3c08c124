/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvirt's configuration-file syntax (the one of /etc/libvirt/libxl.conf):
 *
 *   # comment
 *   key = "string"          (or 'string', or """a string over lines""")
 *   key = 42                (decimal integer, may be negative)
 *   key = [ "a", "b", ]     (list of strings or integers)
 *
 * and the xenmig driver configuration read from such a file.
 */
#pragma once

#include <glib.h>

typedef enum {
    XM_CONF_STRING = 0,
    XM_CONF_INT,
    XM_CONF_LIST,
} XmConfType;

typedef struct _XmConfValue XmConfValue;
struct _XmConfValue {
    XmConfType type;
    char *str;              /* XM_CONF_STRING */
    gint64 num;             /* XM_CONF_INT */
    GPtrArray *list;        /* XM_CONF_LIST: of XmConfValue * */
};

typedef struct {
    char *key;
    XmConfValue *value;
    guint line;
} XmConfEntry;

typedef struct _XmConf XmConf;

/**
 * xm_conf_parse:
 * @text: the file's contents
 * @filename: used in error messages
 * @error: XM_ERR_CONF_SYNTAX naming the file and line
 */
XmConf *xm_conf_parse(const char *text, const char *filename, GError **error);
/* Reads and parses @path; XM_ERR_OPEN_FAILED / XM_ERR_READ_FAILED if it
 * cannot be read. */
XmConf *xm_conf_load_file(const char *path, GError **error);
void xm_conf_free(XmConf *conf);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(XmConf, xm_conf_free)

/* Entries in file order; a key set twice appears twice, the last wins in
 * lookups (as in libvirt). */
guint xm_conf_n_entries(const XmConf *conf);
const XmConfEntry *xm_conf_entry(const XmConf *conf, guint i);
const XmConfEntry *xm_conf_lookup(const XmConf *conf, const char *key);

/*
 * Typed getters: when @key is absent they leave @out alone and return TRUE;
 * a value of the wrong type or out of range is XM_ERR_CONF_SYNTAX naming the
 * key and line.
 */
gboolean xm_conf_get_string(const XmConf *conf, const char *key, char **out,
                            GError **error);
gboolean xm_conf_get_uint(const XmConf *conf, const char *key, guint max,
                          guint *out, GError **error);
gboolean xm_conf_get_uint64(const XmConf *conf, const char *key, guint64 *out,
                            GError **error);

/* The driver configuration (libxl.conf). */
typedef struct {
    char *backend;                 /* "libxl" (default) or "sim" */
    char *state_dir;               /* /run/libvirt/libxl */
    char *config_dir;              /* /etc/libvirt/libxl */
    char *autostart_dir;           /* config_dir/autostart */
    char *save_dir;                /* /var/lib/libvirt/libxl/save */
    char *sim_host_name;           /* NULL: the machine's host name */
    guint64 sim_host_memory_mib;   /* 8192 */
    guint sim_host_cpus;           /* 4 */
    char *sim_disk_datapath;       /* "nbd" (default) or "direct" */
    char *xen_disk_datapath;       /* libxl: "direct" (default) or "nbd" */
    /* Issue 4 (migration) reads these; parsed and validated already. */
    guint migration_port_min;      /* 49152 */
    guint migration_port_max;      /* 49215 */
    char *migrate_tls_x509_cert_dir; /* NULL: libvirt's default */
    gboolean migrate_tls_force;    /* every migration uses TLS */
    char *migration_address;       /* NULL: the host of the migration URI */
    char *migrate_hook;            /* SYSCONFDIR/libvirt/hooks/libxl */
    guint migration_drain_timeout; /* s without progress while suspended: 10 */
} XmDriverConfig;

XmDriverConfig *xm_driver_config_new(void);
void xm_driver_config_free(XmDriverConfig *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(XmDriverConfig, xm_driver_config_free)

/* $XENMIG_CONF if set, else SYSCONFDIR/libvirt/libxl.conf. */
const char *xm_driver_config_path(void);

/**
 * xm_driver_config_load:
 * @path: the file; a missing file leaves the defaults
 *
 * Applies the keys found in @path to @cfg. Keys this driver does not know
 * (for instance those of libvirt's own libxl driver) are ignored, as libvirt
 * does. On failure @cfg is unchanged.
 */
gboolean xm_driver_config_load(XmDriverConfig *cfg, const char *path,
                               GError **error);
