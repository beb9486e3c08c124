/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The migration cookie: what the two sides tell each other through
 * libvirt between the phases, as a small XML document
 * <xenmig-migration version='1'>. Each phase fills in what it knows and
 * passes the rest on, so one structure serves all four directions.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

#define XM_COOKIE_MAX_DISKS 64
#define XM_COOKIE_MAX_FEATURES 32
#define XM_COOKIE_MAX_BYTES (256 * 1024)
#define XM_COOKIE_SECRET_BYTES 32
#define XM_COOKIE_SECRET_HEX (2 * XM_COOKIE_SECRET_BYTES)

typedef struct {
    char *target;            /* target dev on the source, e.g. "xvda" */
    guint64 capacity;        /* bytes */
    guint64 allocation;      /* bytes actually allocated on the source */
    char *format;            /* "raw" */
    char *dest_path;         /* prepare: image path on the destination */
    char *export_name;       /* prepare: NBD export of this disk */
    guint nbd_port;          /* prepare: its NBD port (0: <nbd port>) */
} XmCookieDisk;

typedef struct {
    char *host_name;         /* host that wrote the cookie */
    char *dom_name;
    uint8_t uuid[16];
    guint64 memory_kib;      /* guest memory; 0 unknown */
    char *secret;            /* XM_COOKIE_SECRET_HEX lowercase hex digits */
    gboolean tls;
    char **features;         /* NULL-terminated; may be NULL */

    XmCookieDisk *disks;
    size_t ndisks;

    char *nbd_host;          /* prepare: NBD endpoint; NULL: none */
    guint nbd_port;
    gboolean nbd_tls;

    char *mem_host;          /* prepare: memory endpoint; NULL: none */
    guint mem_port;

    gboolean has_stats;      /* perform/finish: statistics */
    guint64 downtime_ms;
    guint64 memory_bytes;
    guint64 disk_bytes;
} XmCookie;

void xm_cookie_free(XmCookie *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(XmCookie, xm_cookie_free)

/* Strict parse: unknown elements or attributes, missing mandatory parts,
 * out-of-range numbers and oversize input are XM_ERR_XML_DETAIL (malformed
 * XML: XM_ERR_XML_ERROR). Never touches the network. */
XmCookie *xm_cookie_parse(const char *xml, gsize len, GError **error);
char *xm_cookie_format(const XmCookie *c);

XmCookieDisk *xm_cookie_find_disk(const XmCookie *c, const char *target);
gboolean xm_cookie_has_feature(const XmCookie *c, const char *feature);
