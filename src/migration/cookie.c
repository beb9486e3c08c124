/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Parsing and formatting of the migration cookie.
 *
 *   <xenmig-migration version='1'>
 *     <hostname>src.example.org</hostname>
 *     <name>guest</name>
 *     <uuid>…</uuid>
 *     <memory unit='KiB'>1048576</memory>
 *     <secret>64 hex digits</secret>
 *     <tls>yes</tls>
 *     <features><feature name='disks'/>…</features>
 *     <disks>
 *       <disk target='xvda' capacity='…' allocation='…' format='raw'
 *             path='/dest/path.img' export='…' port='…'/>
 *     </disks>
 *     <nbd host='…' port='…' tls='yes'/>
 *     <memory-channel host='…' port='…'/>
 *     <statistics downtime-ms='…' memory-bytes='…' disk-bytes='…'/>
 *   </xenmig-migration>
 *
 * The peer is another xenmig, but the cookie passes through the libvirt
 * client and the network, so the parser treats it as hostile input: size
 * limits, no entities from the network, every value range-checked.
 */
#define G_LOG_DOMAIN "xenmig-migration"

#include "config.h"

#include <stdarg.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <xenmig/domain.h>
#include "migration/cookie.h"
#include "util/util.h"

#define MAX_STRING 4096

void
xm_cookie_free(XmCookie *c)
{
    if (!c)
        return;
    g_free(c->host_name);
    g_free(c->dom_name);
    g_free(c->secret);
    g_strfreev(c->features);
    for (size_t i = 0; i < c->ndisks; i++) {
        g_free(c->disks[i].target);
        g_free(c->disks[i].format);
        g_free(c->disks[i].dest_path);
        g_free(c->disks[i].export_name);
    }
    g_free(c->disks);
    g_free(c->nbd_host);
    g_free(c->mem_host);
    g_free(c);
}

XmCookieDisk *
xm_cookie_find_disk(const XmCookie *c, const char *target)
{
    for (size_t i = 0; i < c->ndisks; i++) {
        if (g_strcmp0(c->disks[i].target, target) == 0)
            return &c->disks[i];
    }
    return NULL;
}

gboolean
xm_cookie_has_feature(const XmCookie *c, const char *feature)
{
    return c->features && g_strv_contains((const char *const *) c->features,
                                          feature);
}

static gboolean bad(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean
bad(GError **error, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (error)
        *error = g_error_new_valist(XM_ERROR, XM_ERR_XML_DETAIL, fmt, ap);
    va_end(ap);
    return FALSE;
}

/* Element text or attribute value, bounded; printable characters only. */
static gboolean
check_string(const char *s, const char *what, GError **error)
{
    if (!s || !*s)
        return bad(error, _("migration cookie: empty %s"), what);
    if (strlen(s) > MAX_STRING)
        return bad(error, _("migration cookie: %s is too long"), what);
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return bad(error, _("migration cookie: control character in %s"), what);
    }
    return TRUE;
}

static gboolean
take_text(xmlNodePtr n, const char *what, char **out, GError **error)
{
    g_autofree char *s = NULL;
    xmlChar *t;

    if (*out)
        return bad(error, _("migration cookie: duplicate <%s>"), what);
    for (xmlNodePtr ch = n->children; ch; ch = ch->next) {
        if (ch->type != XML_TEXT_NODE)
            return bad(error, _("migration cookie: <%s> must hold only text"), what);
    }
    t = xmlNodeGetContent(n);
    s = g_strdup(t ? (const char *) t : "");
    xmlFree(t);
    g_strstrip(s);
    if (!check_string(s, what, error))
        return FALSE;
    *out = g_steal_pointer(&s);
    return TRUE;
}

static gboolean
parse_u64(const char *s, guint64 max, guint64 *out, const char *what,
          GError **error)
{
    if (!s || !g_ascii_isdigit(*s) ||
        !g_ascii_string_to_unsigned(s, 10, 0, max, out, NULL))
        return bad(error, _("migration cookie: invalid number in %s"), what);
    return TRUE;
}

static gboolean
parse_bool(const char *s, gboolean *out, const char *what, GError **error)
{
    if (g_strcmp0(s, "yes") == 0)
        *out = TRUE;
    else if (g_strcmp0(s, "no") == 0)
        *out = FALSE;
    else
        return bad(error, _("migration cookie: %s must be 'yes' or 'no'"), what);
    return TRUE;
}

/* Checks that @n has only the attributes in @allowed (NULL-terminated). */
static gboolean
check_attrs(xmlNodePtr n, const char *const *allowed, GError **error)
{
    for (xmlAttrPtr a = n->properties; a; a = a->next) {
        if (a->ns || !g_strv_contains(allowed, (const char *) a->name)) {
            g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                        _("migration cookie: unexpected attribute '%s' on <%s>"),
                        (const char *) a->name, (const char *) n->name);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
check_no_children(xmlNodePtr n, GError **error)
{
    for (xmlNodePtr ch = n->children; ch; ch = ch->next) {
        if (ch->type == XML_ELEMENT_NODE || ch->type == XML_TEXT_NODE) {
            if (ch->type == XML_TEXT_NODE) {
                xmlChar *t = xmlNodeGetContent(ch);
                gboolean blank = TRUE;
                for (const xmlChar *p = t; p && *p; p++)
                    if (!g_ascii_isspace(*p))
                        blank = FALSE;
                xmlFree(t);
                if (blank)
                    continue;
            }
            return bad(error, _("migration cookie: <%s> must be empty"),
                       (const char *) n->name);
        }
    }
    return TRUE;
}

/* Attribute as a new string, or NULL when absent; bounded and checked. */
static gboolean
get_attr(xmlNodePtr n, const char *name, gboolean mandatory, char **out,
         GError **error)
{
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *) name);
    g_autofree char *what = g_strdup_printf("%s/@%s", (const char *) n->name, name);

    if (!v) {
        if (mandatory)
            return bad(error, _("migration cookie: missing %s"), what);
        *out = NULL;
        return TRUE;
    }
    *out = g_strdup((const char *) v);
    xmlFree(v);
    if (!check_string(*out, what, error)) {
        g_clear_pointer(out, g_free);
        return FALSE;
    }
    return TRUE;
}

static gboolean
parse_port_attr(xmlNodePtr n, guint *port, GError **error)
{
    g_autofree char *s = NULL;
    guint64 v;

    if (!get_attr(n, "port", TRUE, &s, error))
        return FALSE;
    if (!parse_u64(s, 65535, &v, "port", error))
        return FALSE;
    if (v == 0)
        return bad(error, _("migration cookie: invalid %s"), "port");
    *port = (guint) v;
    return TRUE;
}

static gboolean
parse_disk(xmlNodePtr n, XmCookie *c, GError **error)
{
    static const char *const attrs[] = { "target", "capacity", "allocation",
                                         "format", "path", "export", "port", NULL };
    XmCookieDisk d = { 0 };
    g_autofree char *cap = NULL, *alloc = NULL, *port = NULL;
    gboolean ok = FALSE;

    if (c->ndisks >= XM_COOKIE_MAX_DISKS)
        return bad(error, _("migration cookie: more than %s disks"),
                   G_STRINGIFY(XM_COOKIE_MAX_DISKS));
    if (!check_attrs(n, attrs, error) || !check_no_children(n, error))
        return FALSE;
    if (!get_attr(n, "target", TRUE, &d.target, error) ||
        !get_attr(n, "capacity", TRUE, &cap, error) ||
        !get_attr(n, "allocation", FALSE, &alloc, error) ||
        !get_attr(n, "format", TRUE, &d.format, error) ||
        !get_attr(n, "path", FALSE, &d.dest_path, error) ||
        !get_attr(n, "export", FALSE, &d.export_name, error) ||
        !get_attr(n, "port", FALSE, &port, error))
        goto out;
    if (port && !parse_port_attr(n, &d.nbd_port, error))
        goto out;
    if (!parse_u64(cap, G_MAXINT64, &d.capacity, "disk/@capacity", error))
        goto out;
    if (alloc && !parse_u64(alloc, G_MAXINT64, &d.allocation,
                            "disk/@allocation", error))
        goto out;
    if (strcmp(d.format, "raw") != 0 && strcmp(d.format, "qcow2") != 0) {
        bad(error, _("migration cookie: unknown disk format '%s'"), d.format);
        goto out;
    }
    if (d.dest_path && d.dest_path[0] != '/') {
        bad(error, _("migration cookie: disk path '%s' is not absolute"), d.dest_path);
        goto out;
    }
    if (xm_cookie_find_disk(c, d.target)) {
        bad(error, _("migration cookie: disk '%s' listed twice"), d.target);
        goto out;
    }
    c->disks = g_renew(XmCookieDisk, c->disks, c->ndisks + 1);
    c->disks[c->ndisks++] = d;
    memset(&d, 0, sizeof(d));
    ok = TRUE;
 out:
    g_free(d.target);
    g_free(d.format);
    g_free(d.dest_path);
    g_free(d.export_name);
    return ok;
}

static gboolean
parse_children(xmlNodePtr parent, const char *child_name,
               gboolean (*fn)(xmlNodePtr, XmCookie *, GError **),
               XmCookie *c, GError **error)
{
    if (parent->properties)
        return bad(error, _("migration cookie: unexpected attribute on <%s>"),
                   (const char *) parent->name);
    for (xmlNodePtr n = parent->children; n; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_COMMENT_NODE)
            continue;
        if (n->type != XML_ELEMENT_NODE || n->ns ||
            strcmp((const char *) n->name, child_name) != 0)
            return bad(error, _("migration cookie: unexpected content in <%s>"),
                       (const char *) parent->name);
        if (!fn(n, c, error))
            return FALSE;
    }
    return TRUE;
}

static gboolean
parse_feature(xmlNodePtr n, XmCookie *c, GError **error)
{
    static const char *const attrs[] = { "name", NULL };
    g_autofree char *name = NULL;
    guint len = c->features ? g_strv_length(c->features) : 0;

    if (len >= XM_COOKIE_MAX_FEATURES)
        return bad(error, _("migration cookie: more than %s features"),
                   G_STRINGIFY(XM_COOKIE_MAX_FEATURES));
    if (!check_attrs(n, attrs, error) || !check_no_children(n, error) ||
        !get_attr(n, "name", TRUE, &name, error))
        return FALSE;
    c->features = g_renew(char *, c->features, len + 2);
    c->features[len] = g_steal_pointer(&name);
    c->features[len + 1] = NULL;
    return TRUE;
}

static gboolean
parse_element(xmlNodePtr n, XmCookie *c, guint *seen, GError **error)
{
    const char *name = (const char *) n->name;
    g_autofree char *s = NULL;

    if (strcmp(name, "hostname") == 0)
        return check_attrs(n, (const char *const[]) { NULL }, error) &&
               take_text(n, name, &c->host_name, error);
    if (strcmp(name, "name") == 0)
        return check_attrs(n, (const char *const[]) { NULL }, error) &&
               take_text(n, name, &c->dom_name, error);
    if (strcmp(name, "uuid") == 0) {
        if (*seen & 1)
            return bad(error, _("migration cookie: duplicate <%s>"), name);
        *seen |= 1;
        if (!check_attrs(n, (const char *const[]) { NULL }, error) ||
            !take_text(n, name, &s, error))
            return FALSE;
        if (!xm_uuid_parse(s, c->uuid))
            return bad(error, _("migration cookie: invalid %s"), "uuid");
        return TRUE;
    }
    if (strcmp(name, "memory") == 0) {
        g_autofree char *unit = NULL;
        if (*seen & 2)
            return bad(error, _("migration cookie: duplicate <%s>"), name);
        *seen |= 2;
        if (!check_attrs(n, (const char *const[]) { "unit", NULL }, error) ||
            !get_attr(n, "unit", TRUE, &unit, error) ||
            !take_text(n, name, &s, error))
            return FALSE;
        if (strcmp(unit, "KiB") != 0)
            return bad(error, _("migration cookie: memory unit must be KiB, not '%s'"), unit);
        return parse_u64(s, G_MAXINT64 / 1024, &c->memory_kib, "memory", error);
    }
    if (strcmp(name, "secret") == 0) {
        if (!check_attrs(n, (const char *const[]) { NULL }, error) ||
            !take_text(n, name, &c->secret, error))
            return FALSE;
        if (strlen(c->secret) != XM_COOKIE_SECRET_HEX)
            return bad(error, _("migration cookie: the %s must be 64 hex digits"), "secret");
        for (const char *p = c->secret; *p; p++) {
            if (!g_ascii_isxdigit(*p))
                return bad(error, _("migration cookie: the %s must be 64 hex digits"), "secret");
        }
        return TRUE;
    }
    if (strcmp(name, "tls") == 0) {
        if (*seen & 4)
            return bad(error, _("migration cookie: duplicate <%s>"), name);
        *seen |= 4;
        return check_attrs(n, (const char *const[]) { NULL }, error) &&
               take_text(n, name, &s, error) &&
               parse_bool(s, &c->tls, "tls", error);
    }
    if (strcmp(name, "features") == 0) {
        if (*seen & 8)
            return bad(error, _("migration cookie: duplicate <%s>"), name);
        *seen |= 8;
        return parse_children(n, "feature", parse_feature, c, error);
    }
    if (strcmp(name, "disks") == 0) {
        if (*seen & 16)
            return bad(error, _("migration cookie: duplicate <%s>"), name);
        *seen |= 16;
        return parse_children(n, "disk", parse_disk, c, error);
    }
    if (strcmp(name, "nbd") == 0) {
        g_autofree char *tls = NULL;
        if (c->nbd_host)
            return bad(error, _("migration cookie: duplicate <%s>"), name);
        if (!check_attrs(n, (const char *const[]) { "host", "port", "tls", NULL }, error) ||
            !check_no_children(n, error) ||
            !get_attr(n, "host", TRUE, &c->nbd_host, error) ||
            !parse_port_attr(n, &c->nbd_port, error) ||
            !get_attr(n, "tls", FALSE, &tls, error))
            return FALSE;
        return !tls || parse_bool(tls, &c->nbd_tls, "nbd/@tls", error);
    }
    if (strcmp(name, "memory-channel") == 0) {
        if (c->mem_host)
            return bad(error, _("migration cookie: duplicate <%s>"), name);
        return check_attrs(n, (const char *const[]) { "host", "port", NULL }, error) &&
               check_no_children(n, error) &&
               get_attr(n, "host", TRUE, &c->mem_host, error) &&
               parse_port_attr(n, &c->mem_port, error);
    }
    if (strcmp(name, "statistics") == 0) {
        g_autofree char *dt = NULL, *mb = NULL, *db = NULL;
        if (c->has_stats)
            return bad(error, _("migration cookie: duplicate <%s>"), name);
        c->has_stats = TRUE;
        return check_attrs(n, (const char *const[]) { "downtime-ms", "memory-bytes",
                                                      "disk-bytes", NULL }, error) &&
               check_no_children(n, error) &&
               get_attr(n, "downtime-ms", TRUE, &dt, error) &&
               get_attr(n, "memory-bytes", TRUE, &mb, error) &&
               get_attr(n, "disk-bytes", TRUE, &db, error) &&
               parse_u64(dt, G_MAXINT64, &c->downtime_ms, "statistics/@downtime-ms", error) &&
               parse_u64(mb, G_MAXINT64, &c->memory_bytes, "statistics/@memory-bytes", error) &&
               parse_u64(db, G_MAXINT64, &c->disk_bytes, "statistics/@disk-bytes", error);
    }
    return bad(error, _("migration cookie: unknown element <%s>"), name);
}

XmCookie *
xm_cookie_parse(const char *xml, gsize len, GError **error)
{
    g_autoptr(XmCookie) c = g_new0(XmCookie, 1);
    xmlDocPtr doc;
    xmlNodePtr root;
    xmlChar *version;
    gboolean ok = FALSE;
    guint seen = 0;

    if (!xml || len == 0) {
        g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                    _("migration cookie is missing"));
        return NULL;
    }
    if (len > XM_COOKIE_MAX_BYTES) {
        g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                    _("migration cookie is too large (%" G_GSIZE_FORMAT " bytes)"), len);
        return NULL;
    }
    if (memchr(xml, '\0', len)) {
        g_set_error(error, XM_ERROR, XM_ERR_XML_ERROR,
                    _("migration cookie contains a NUL byte"));
        return NULL;
    }
    doc = xmlReadMemory(xml, (int) len, "cookie.xml", "UTF-8",
                        XML_PARSE_NONET | XML_PARSE_NOERROR |
                        XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
    if (!doc) {
        g_set_error(error, XM_ERROR, XM_ERR_XML_ERROR,
                    _("migration cookie is not well-formed XML"));
        return NULL;
    }
    root = xmlDocGetRootElement(doc);
    if (doc->intSubset || !root || root->ns ||
        strcmp((const char *) root->name, "xenmig-migration") != 0) {
        g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                    _("migration cookie: the root element must be <xenmig-migration>"));
        goto out;
    }
    if (!check_attrs(root, (const char *const[]) { "version", NULL }, error))
        goto out;
    version = xmlGetNoNsProp(root, (const xmlChar *) "version");
    if (!version || strcmp((const char *) version, "1") != 0) {
        g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                    _("migration cookie: unsupported version '%s' (this host reads version 1)"),
                    version ? (const char *) version : "");
        xmlFree(version);
        goto out;
    }
    xmlFree(version);

    for (xmlNodePtr n = root->children; n; n = n->next) {
        if (n->type == XML_COMMENT_NODE)
            continue;
        if (n->type == XML_TEXT_NODE) {
            xmlChar *t = xmlNodeGetContent(n);
            gboolean blank = TRUE;
            for (const xmlChar *p = t; p && *p; p++)
                if (!g_ascii_isspace(*p))
                    blank = FALSE;
            xmlFree(t);
            if (!blank) {
                g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                            _("migration cookie: unexpected text"));
                goto out;
            }
            continue;
        }
        if (n->type != XML_ELEMENT_NODE || n->ns) {
            g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                        _("migration cookie: unexpected content"));
            goto out;
        }
        if (!parse_element(n, c, &seen, error))
            goto out;
    }
    if (!c->host_name || !c->dom_name || !(seen & 1) || !c->secret) {
        g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                    _("migration cookie: <hostname>, <name>, <uuid> and <secret> are mandatory"));
        goto out;
    }
    ok = TRUE;
 out:
    xmlFreeDoc(doc);
    return ok ? g_steal_pointer(&c) : NULL;
}

static void
esc(GString *s, const char *v)
{
    g_autofree char *e = g_markup_escape_text(v, -1);
    g_string_append(s, e);
}

char *
xm_cookie_format(const XmCookie *c)
{
    GString *s = g_string_new("<xenmig-migration version='1'>\n");
    char uuid[37];

    xm_uuid_format(c->uuid, uuid);
    g_string_append(s, "  <hostname>");
    esc(s, c->host_name ? c->host_name : "");
    g_string_append(s, "</hostname>\n  <name>");
    esc(s, c->dom_name ? c->dom_name : "");
    g_string_append_printf(s, "</name>\n  <uuid>%s</uuid>\n", uuid);
    if (c->memory_kib)
        g_string_append_printf(s, "  <memory unit='KiB'>%" G_GUINT64_FORMAT "</memory>\n",
                               c->memory_kib);
    g_string_append_printf(s, "  <secret>%s</secret>\n", c->secret ? c->secret : "");
    g_string_append_printf(s, "  <tls>%s</tls>\n", c->tls ? "yes" : "no");
    if (c->features && c->features[0]) {
        g_string_append(s, "  <features>\n");
        for (char **f = c->features; *f; f++) {
            g_string_append(s, "    <feature name='");
            esc(s, *f);
            g_string_append(s, "'/>\n");
        }
        g_string_append(s, "  </features>\n");
    }
    if (c->ndisks) {
        g_string_append(s, "  <disks>\n");
        for (size_t i = 0; i < c->ndisks; i++) {
            const XmCookieDisk *d = &c->disks[i];
            g_string_append(s, "    <disk target='");
            esc(s, d->target);
            g_string_append_printf(s, "' capacity='%" G_GUINT64_FORMAT
                                   "' allocation='%" G_GUINT64_FORMAT "' format='",
                                   d->capacity, d->allocation);
            esc(s, d->format ? d->format : "raw");
            g_string_append(s, "'");
            if (d->dest_path) {
                g_string_append(s, " path='");
                esc(s, d->dest_path);
                g_string_append(s, "'");
            }
            if (d->export_name) {
                g_string_append(s, " export='");
                esc(s, d->export_name);
                g_string_append(s, "'");
            }
            if (d->nbd_port)
                g_string_append_printf(s, " port='%u'", d->nbd_port);
            g_string_append(s, "/>\n");
        }
        g_string_append(s, "  </disks>\n");
    }
    if (c->nbd_host) {
        g_string_append(s, "  <nbd host='");
        esc(s, c->nbd_host);
        g_string_append_printf(s, "' port='%u' tls='%s'/>\n", c->nbd_port,
                               c->nbd_tls ? "yes" : "no");
    }
    if (c->mem_host) {
        g_string_append(s, "  <memory-channel host='");
        esc(s, c->mem_host);
        g_string_append_printf(s, "' port='%u'/>\n", c->mem_port);
    }
    if (c->has_stats)
        g_string_append_printf(s, "  <statistics downtime-ms='%" G_GUINT64_FORMAT
                               "' memory-bytes='%" G_GUINT64_FORMAT
                               "' disk-bytes='%" G_GUINT64_FORMAT "'/>\n",
                               c->downtime_ms, c->memory_bytes, c->disk_bytes);
    g_string_append(s, "</xenmig-migration>\n");
    return g_string_free(s, FALSE);
}
