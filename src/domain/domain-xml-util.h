/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Strict libxml2 tree helpers shared by the domain XML parser's modules
 * (domain-parse.c, domain-parse-devices.c). Each helper that refuses
 * something sets an XM_ERROR naming the element or attribute.
 */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

#include <xenmig/domain.h>

#define ATTRS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NO_ATTRS ((const char *const *)NULL)

#define FOR_EACH_ELEMENT(child, parent) \
    for (xmlNodePtr child = xm_xml_next_element((parent)->children); child; \
         child = xm_xml_next_element(child->next))

/* XM_ERR_CONFIG_UNSUPPORTED "unsupported element <x> in <parent>". */
gboolean xm_xml_unsupported_element(xmlNodePtr node, GError **error);
/* XM_ERR_XML_DETAIL for a second copy of a singleton element. */
gboolean xm_xml_duplicate_element(xmlNodePtr node, GError **error);
/* Refuses attributes outside the NULL-terminated @allowed list. */
gboolean xm_xml_check_attrs(xmlNodePtr node, const char *const *allowed,
                            GError **error);
gboolean xm_xml_check_no_children(xmlNodePtr node, GError **error);
xmlNodePtr xm_xml_next_element(xmlNodePtr start);
/* True for an element named @name in no namespace. */
gboolean xm_xml_is_element(xmlNodePtr node, const char *name);
char *xm_xml_get_attr(xmlNodePtr node, const char *name);
char *xm_xml_get_text(xmlNodePtr node, GError **error);
/* Stores the non-empty text of a leaf element that may appear once. */
gboolean xm_xml_set_text_once(xmlNodePtr node, char **field,
                              const char *const *allowed, GError **error);
gboolean xm_xml_parse_uint(const char *str, guint64 max, guint64 *out);
/* XM_ERR_XML_DETAIL "invalid value 'v' for what"; returns FALSE. */
gboolean xm_xml_bad_value(const char *what, const char *value, GError **error);

/* domain-parse-devices.c */
gboolean xm_domain_parse_devices(XmDomainDef *def, xmlNodePtr node,
                                 GError **error);
/* Cross-element checks and defaults, once the whole document is read. */
gboolean xm_domain_def_validate(XmDomainDef *def, gboolean have_current_memory,
                                GError **error);
