/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The domain model: the subset of libvirt's domain XML that xenmig accepts
 * for Xen PV, PVH and HVM guests, as plain C data. Parsed from XML with
 * libxml2 (src/domain/domain-parse.c), formatted back (domain-format.c),
 * converted to libxl_domain_config (src/domain/domain-libxl.c). The accepted
 * subset is documented in docs/domain-xml.rst.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    XM_OS_PV = 0,   /* <os><type>xen</type> or <type>linux</type> */
    XM_OS_PVH,      /* <os><type>xenpvh</type> */
    XM_OS_HVM,      /* <os><type>hvm</type> */
} XmOsType;

typedef enum {
    XM_LIFECYCLE_DESTROY = 0,
    XM_LIFECYCLE_RESTART,
    XM_LIFECYCLE_PRESERVE,
    XM_LIFECYCLE_RENAME_RESTART,
    XM_LIFECYCLE_COREDUMP_DESTROY,
    XM_LIFECYCLE_COREDUMP_RESTART,
} XmLifecycleAction;

typedef enum {
    XM_DISK_FILE = 0,   /* <disk type='file'> */
    XM_DISK_BLOCK,      /* <disk type='block'> */
} XmDiskType;

typedef enum {
    XM_DISK_FORMAT_RAW = 0,
    XM_DISK_FORMAT_QCOW2,
} XmDiskFormat;

typedef enum {
    XM_DISK_BUS_XEN = 0,
    XM_DISK_BUS_IDE,
    XM_DISK_BUS_SCSI,
} XmDiskBus;

typedef enum {
    XM_DISK_DEVICE_DISK = 0,
    XM_DISK_DEVICE_CDROM,
} XmDiskDevice;

typedef struct {
    XmDiskType type;
    XmDiskDevice device;
    XmDiskFormat format;
    char *driver_name;        /* <driver name=''>: "qemu", "phy", "tap"; may be NULL */
    char *source;             /* file or dev path */
    char *target;             /* target dev, e.g. "xvda" */
    XmDiskBus bus;
    bool readonly;
    bool shareable;
} XmDiskDef;

typedef enum {
    XM_NET_BRIDGE = 0,
    XM_NET_ETHERNET,
} XmNetType;

typedef struct {
    XmNetType type;
    uint8_t mac[6];
    bool has_mac;             /* false: generated at define time */
    char *bridge;             /* <source bridge=''>, bridge only */
    char *script;             /* <script path=''>, may be NULL */
    char *model;              /* <model type=''>, may be NULL */
    char *ifname;             /* <target dev=''>, may be NULL */
} XmNetDef;

typedef enum {
    XM_CHR_CONSOLE = 0,
    XM_CHR_SERIAL,
} XmChrKind;

typedef struct {
    XmChrKind kind;
    char *type;               /* <console type='pty'>: "pty" */
    char *target_type;        /* console target type: "xen", "serial"; may be NULL */
    int port;
} XmChrDef;

typedef struct {
    bool autoport;
    int port;                 /* -1 for autoport */
    char *listen;             /* may be NULL */
    char *keymap;             /* may be NULL */
    char *passwd;             /* may be NULL; never formatted unless asked */
} XmVncDef;

typedef struct {
    char *type;               /* "mouse", "tablet", "keyboard" */
    char *bus;                /* "usb", "ps2", "xen" */
} XmInputDef;

/*
 * Parameters of a sim-backend guest, from
 * <metadata><xenmig:sim xmlns:xenmig="https://xenmig.org/xmlns/sim/1">…
 * Ignored by the libxl backend; round-tripped like any metadata.
 */
typedef struct {
    bool present;
    guint64 ram_dirty_mib_s;      /* rate at which the sim dirties its RAM */
    guint64 disk_write_mib_s;     /* rate of random writes to its disks */
    guint heartbeat_ms;           /* heartbeat period; 0 disables */
} XmSimDef;

typedef struct {
    char *name;
    uint8_t uuid[16];
    char *title;                  /* may be NULL */
    char *description;            /* may be NULL */

    guint64 max_memory_kib;       /* <memory unit='KiB'> */
    guint64 current_memory_kib;   /* <currentMemory>; == max when absent */
    guint vcpus;                  /* <vcpu current=''> or <vcpu> */
    guint max_vcpus;              /* <vcpu> */

    XmOsType os_type;
    char *os_arch;                /* "x86_64" */
    char *kernel;
    char *initrd;
    char *cmdline;
    char *bootloader;
    char *bootloader_args;
    char *loader;                 /* HVM firmware; may be NULL */
    char boot_order[5];           /* HVM: 'c' 'd' 'n' 'a', NUL-terminated */

    /* <features> */
    bool acpi, apic, pae, hap, viridian;
    bool hap_set;                 /* <hap> present */

    char *clock_offset;           /* "utc", "localtime"; may be NULL */

    XmLifecycleAction on_poweroff;
    XmLifecycleAction on_reboot;
    XmLifecycleAction on_crash;

    XmDiskDef *disks;
    size_t ndisks;
    XmNetDef *nets;
    size_t nnets;
    XmChrDef *chrs;
    size_t nchrs;
    XmVncDef *vnc;                /* NULL: no <graphics type='vnc'> */
    XmInputDef *inputs;
    size_t ninputs;

    XmSimDef sim;

    /* Opaque XML kept verbatim and re-emitted: other <metadata> children. */
    char *metadata_xml;

    char *emulator;               /* <devices><emulator>: device model; may be NULL */

    /* <video><model type='' vram=''/>: "cirrus" or "vga" (HVM), "xen"
     * (PV/PVH); NULL when absent. vram in KiB, 0 for the default. */
    char *video_model;
    guint64 video_vram_kib;
} XmDomainDef;

/**
 * xm_domain_def_free:
 * @def: (nullable): a model from this library
 *
 * Frees @def and everything it owns.
 */
void xm_domain_def_free(XmDomainDef *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(XmDomainDef, xm_domain_def_free)

/**
 * xm_domain_def_parse_xml:
 * @xml: a libvirt domain XML document
 * @error: XM_ERR_XML_ERROR for malformed XML, XM_ERR_CONFIG_UNSUPPORTED
 *   naming the element or attribute for anything outside the subset,
 *   XM_ERR_XML_DETAIL / XM_ERR_INVALID_ARG for bad values.
 *
 * Returns: (transfer full): the model, or NULL.
 */
XmDomainDef *xm_domain_def_parse_xml(const char *xml, GError **error);

typedef enum {
    XM_DOMAIN_XML_SECURE = 1 << 0,     /* include secrets (VNC password) */
    XM_DOMAIN_XML_INACTIVE = 1 << 1,   /* omit live-only details */
} XmDomainXmlFlags;

/**
 * xm_domain_def_format_xml:
 * @def: the model
 * @id: the running domain's ID, or -1 when inactive
 * @flags: #XmDomainXmlFlags
 *
 * Returns: (transfer full): libvirt domain XML that xm_domain_def_parse_xml
 * reads back into an equal model.
 */
char *xm_domain_def_format_xml(const XmDomainDef *def, int id, unsigned int flags);

/**
 * xm_domain_def_copy:
 * @def: the model
 *
 * Returns: (transfer full): a deep copy of @def.
 */
XmDomainDef *xm_domain_def_copy(const XmDomainDef *def);

/**
 * xm_domain_def_assign_macs:
 * @def: the model
 *
 * Gives every interface without a MAC address (has_mac false) a random one
 * in Xen's 00:16:3e OUI, unique within @def, as libvirt does when a
 * definition is stored. Interfaces that have one keep it.
 */
void xm_domain_def_assign_macs(XmDomainDef *def);

/**
 * xm_uuid_format:
 * @uuid: 16 bytes
 * @out: 37 bytes: receives the NUL-terminated 8-4-4-4-12 form
 */
void xm_uuid_format(const uint8_t uuid[16], char out[37]);
/**
 * xm_uuid_parse:
 * @str: the 8-4-4-4-12 form, or 32 hex digits
 * @uuid: (out): 16 bytes, untouched on failure
 *
 * Returns: TRUE if @str is a UUID.
 */
gboolean xm_uuid_parse(const char *str, uint8_t uuid[16]);
/**
 * xm_uuid_generate:
 * @uuid: (out): receives a random version-4 UUID
 */
void xm_uuid_generate(uint8_t uuid[16]);

/*
 * libxl conversion (src/domain/domain-libxl.c). The libxl types are used
 * through an opaque pointer here so that this header does not pull in
 * libxl.h; callers that hold a libxl_domain_config pass its address.
 */

/**
 * xm_domain_def_to_libxl:
 * @def: the model
 * @d_config: (out caller-allocates): a libxl_domain_config that the caller
 *   has libxl_domain_config_init()ed; filled on success.
 * @ctx: a libxl_ctx * or NULL (NULL is enough for conversion and JSON).
 */
gboolean xm_domain_def_to_libxl(const XmDomainDef *def, void *d_config,
                                void *ctx, GError **error);

/**
 * xm_domain_def_from_libxl:
 * @d_config: a libxl_domain_config *, e.g. from
 *   libxl_retrieve_domain_configuration()
 * @error: XM_ERR_CONFIG_UNSUPPORTED for settings the model cannot express
 *
 * The inverse of xm_domain_def_to_libxl(): converting the result back
 * gives the same libxl configuration. Title, description, metadata and
 * other things libxl does not carry are absent.
 *
 * Returns: (transfer full): the model, or NULL.
 */
XmDomainDef *xm_domain_def_from_libxl(const void *d_config, GError **error);

/**
 * xm_domain_def_to_libxl_json:
 *
 * Returns: (transfer full): libxl_domain_config_to_json() of the converted
 * model; used by golden tests and by debug logging.
 */
char *xm_domain_def_to_libxl_json(const XmDomainDef *def, GError **error);

#ifdef __cplusplus
}
#endif
