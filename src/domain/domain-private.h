/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internals shared by the parser, the formatter and the libxl converter of
 * the domain model (not installed). The name tables live here so that the
 * parser and the formatter can never disagree on a spelling.
 */
#pragma once

#include <xenmig/domain.h>

/* The namespace of our own metadata element, <xenmig:sim>. */
#define XM_SIM_NS_HREF "https://xenmig.org/xmlns/sim/1"
#define XM_SIM_NS_PREFIX "xenmig"

/* Limits that keep a hostile document from asking for absurd allocations
 * or wrapping libxl's int fields. */
#define XM_DOMAIN_MAX_VCPUS 512
#define XM_DOMAIN_MAX_DEVICES 256

typedef struct {
    int value;
    const char *name;
} XmEnumName;

/* NULL-name-terminated tables. */
extern const XmEnumName xm_os_type_names[];
extern const XmEnumName xm_lifecycle_names[];
extern const XmEnumName xm_disk_type_names[];
extern const XmEnumName xm_disk_format_names[];
extern const XmEnumName xm_disk_bus_names[];
extern const XmEnumName xm_disk_device_names[];
extern const XmEnumName xm_net_type_names[];
extern const XmEnumName xm_chr_kind_names[];

/* Returns the value for @name, or -1. */
int xm_enum_from_name(const XmEnumName *table, const char *name);
/* Returns the canonical name of @value (the first entry that has it). */
const char *xm_enum_to_name(const XmEnumName *table, int value);

/* Boot device letters of XmDomainDef.boot_order and their XML names. */
char xm_boot_dev_from_name(const char *name);
const char *xm_boot_dev_to_name(char dev);

/*
 * xm_domain_def_equal:
 * Field-by-field equality of two models (strings by content, NULL equals
 * only NULL). Used by the round-trip tests and the fuzz target.
 */
gboolean xm_domain_def_equal(const XmDomainDef *a, const XmDomainDef *b);

void xm_disk_def_clear(XmDiskDef *disk);
void xm_net_def_clear(XmNetDef *net);
void xm_chr_def_clear(XmChrDef *chr);
void xm_input_def_clear(XmInputDef *input);
void xm_vnc_def_free(XmVncDef *vnc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(XmVncDef, xm_vnc_def_free)
