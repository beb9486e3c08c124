/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Strict libxml2 tree helpers of the domain XML parser: each one that
 * refuses something names the element or attribute in an XM_ERROR.
 */
#define G_LOG_DOMAIN "xenmig-domain"
#include "config.h"

#include <string.h>

#include <libxml/tree.h>

#include "domain/domain-xml-util.h"
#include "util/util.h"

gboolean
xm_xml_unsupported_element(xmlNodePtr node, GError **error)
{
    const char *parent = node->parent && node->parent->type == XML_ELEMENT_NODE ?
                         (const char *)node->parent->name : NULL;

    if (node->ns && node->ns->prefix) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported element <%s:%s> in <%s>"),
                    (const char *)node->ns->prefix, (const char *)node->name,
                    parent ? parent : "");
    } else if (parent) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported element <%s> in <%s>"),
                    (const char *)node->name, parent);
    } else {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("unsupported element <%s>"), (const char *)node->name);
    }
    return FALSE;
}

gboolean
xm_xml_duplicate_element(xmlNodePtr node, GError **error)
{
    g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                _("element <%s> appears more than once in <%s>"),
                (const char *)node->name, (const char *)node->parent->name);
    return FALSE;
}

/* Refuses any attribute of @node that is not in the NULL-terminated
 * @allowed list, and any namespaced attribute. */
gboolean
xm_xml_check_attrs(xmlNodePtr node, const char *const *allowed, GError **error)
{
    for (xmlAttrPtr a = node->properties; a; a = a->next) {
        gboolean ok = FALSE;

        if (!a->ns) {
            for (size_t i = 0; allowed && allowed[i]; i++) {
                if (strcmp((const char *)a->name, allowed[i]) == 0) {
                    ok = TRUE;
                    break;
                }
            }
        }
        if (!ok) {
            g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                        _("unsupported attribute '%s' of <%s>"),
                        (const char *)a->name, (const char *)node->name);
            return FALSE;
        }
    }
    return TRUE;
}


/* The first element child of @node from @start on, or NULL. */
xmlNodePtr
xm_xml_next_element(xmlNodePtr start)
{
    for (; start; start = start->next) {
        if (start->type == XML_ELEMENT_NODE)
            return start;
    }
    return NULL;
}


gboolean
xm_xml_is_element(xmlNodePtr node, const char *name)
{
    return !node->ns && strcmp((const char *)node->name, name) == 0;
}

gboolean
xm_xml_check_no_children(xmlNodePtr node, GError **error)
{
    xmlNodePtr child = xm_xml_next_element(node->children);

    if (child)
        return xm_xml_unsupported_element(child, error);
    return TRUE;
}

char *
xm_xml_get_attr(xmlNodePtr node, const char *name)
{
    xmlChar *v = xmlGetNoNsProp(node, (const xmlChar *)name);
    char *ret = g_strdup((const char *)v);

    xmlFree(v);
    return ret;
}

/* Text content of a leaf element; NULL (with @error set) when the element
 * has element children. */
char *
xm_xml_get_text(xmlNodePtr node, GError **error)
{
    xmlChar *v;
    char *ret;

    if (!xm_xml_check_no_children(node, error))
        return NULL;
    v = xmlNodeGetContent(node);
    ret = g_strdup(v ? (const char *)v : "");
    xmlFree(v);
    return ret;
}

/* A leaf element whose text is a value we store as is: empty text is
 * refused because it cannot be told apart from an absent element. */
gboolean
xm_xml_set_text_once(xmlNodePtr node, char **field, const char *const *allowed,
                     GError **error)
{
    char *text;

    if (*field)
        return xm_xml_duplicate_element(node, error);
    if (!xm_xml_check_attrs(node, allowed, error))
        return FALSE;
    if (!(text = xm_xml_get_text(node, error)))
        return FALSE;
    if (!*text) {
        g_free(text);
        g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                    _("element <%s> must not be empty"), (const char *)node->name);
        return FALSE;
    }
    *field = text;
    return TRUE;
}

gboolean
xm_xml_parse_uint(const char *str, guint64 max, guint64 *out)
{
    return str && g_ascii_string_to_unsigned(str, 10, 0, max, out, NULL);
}

gboolean
xm_xml_bad_value(const char *what, const char *value, GError **error)
{
    g_set_error(error, XM_ERROR, XM_ERR_XML_DETAIL,
                _("invalid value '%s' for %s"), value ? value : "", what);
    return FALSE;
}
