/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `xenmig-lab guest NAME`: sparse disk images on one host's private
 * storage and the domain XML of a sim guest that uses them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "lab.h"

#define MAX_DISKS 26
#define SIM_NS "https://xenmig.org/xmlns/sim/1"

typedef struct {
    char *name;
    guint64 disk_size;
    guint disks;
    guint write_rate;
    guint dirty_rate;
    guint host;
    guint heartbeat_ms;
    guint memory_mib;
} GuestSpec;

/* "64M", "1G", "4096" (bytes); binary units, as qemu-img and truncate. */
static gboolean
parse_size(const char *text, guint64 *out, GError **error)
{
    static const struct { char suffix; guint shift; } units[] = {
        { 'K', 10 }, { 'M', 20 }, { 'G', 30 }, { 'T', 40 },
    };
    g_autofree char *num = g_strdup(text);
    gsize len = strlen(num);
    guint shift = 0;
    guint64 v;

    if (len > 0) {
        char last = g_ascii_toupper(num[len - 1]);

        for (guint i = 0; i < G_N_ELEMENTS(units); i++)
            if (last == units[i].suffix) {
                shift = units[i].shift;
                num[len - 1] = '\0';
            }
    }
    if (!g_ascii_string_to_unsigned(num, 10, 1, ((guint64)1 << 40) >> shift,
                                    &v, NULL)) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("invalid disk size '%s' (a number with an optional K, M, G or T suffix, at most 1T)"),
                    text);
        return FALSE;
    }
    v <<= shift;
    if (v % 512) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("disk size '%s' is not a multiple of 512 bytes"), text);
        return FALSE;
    }
    *out = v;
    return TRUE;
}

static gboolean
valid_name(const char *name)
{
    if (!*name || strlen(name) > 64 || name[0] == '.' || name[0] == '-')
        return FALSE;
    for (const char *p = name; *p; p++)
        if (!g_ascii_isalnum(*p) && !strchr("_.-", *p))
            return FALSE;
    return TRUE;
}

static char *
image_name(const GuestSpec *spec, guint disk)
{
    return g_strdup_printf("%s-xvd%c.img", spec->name, 'a' + disk);
}

static gboolean
create_images(const LabHost *host, const GuestSpec *spec, GError **error)
{
    g_autofree char *storage = lab_host_path(host, "storage");

    for (guint d = 0; d < spec->disks; d++) {
        g_autofree char *file = image_name(spec, d);
        g_autofree char *path = g_build_filename(storage, file, NULL);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

        if (fd < 0 || ftruncate(fd, (off_t)spec->disk_size) < 0) {
            int errsv = errno;

            if (fd >= 0) {
                close(fd);
                unlink(path);
            }
            /* Leave nothing half made. */
            while (d-- > 0) {
                g_autofree char *f = image_name(spec, d);
                g_autofree char *p = g_build_filename(storage, f, NULL);

                unlink(p);
            }
            return xm_set_error_errno(error, errsv, XM_ERR_OPERATION_FAILED,
                                      _("cannot create disk image %s on host %u"),
                                      path, host->index);
        }
        close(fd);
    }
    return TRUE;
}

static char *
format_xml(const GuestSpec *spec)
{
    g_autoptr(GString) xml = g_string_new(NULL);
    g_autofree char *uuid = g_uuid_string_random();
    g_autofree char *name = g_markup_escape_text(spec->name, -1);

    g_string_append_printf(xml,
        "<domain type='xen'>\n"
        "  <name>%s</name>\n"
        "  <uuid>%s</uuid>\n"
        "  <memory unit='MiB'>%u</memory>\n"
        "  <currentMemory unit='MiB'>%u</currentMemory>\n"
        "  <vcpu>1</vcpu>\n"
        "  <metadata>\n"
        "    <xenmig:sim xmlns:xenmig='" SIM_NS "' ram-dirty-mib-s='%u' disk-write-mib-s='%u' heartbeat-ms='%u'/>\n"
        "  </metadata>\n"
        "  <os>\n"
        "    <type arch='x86_64' machine='xenpvh'>xenpvh</type>\n"
        "  </os>\n"
        "  <on_poweroff>destroy</on_poweroff>\n"
        "  <on_reboot>restart</on_reboot>\n"
        "  <on_crash>destroy</on_crash>\n"
        "  <devices>\n",
        name, uuid, spec->memory_mib, spec->memory_mib,
        spec->dirty_rate, spec->write_rate, spec->heartbeat_ms);
    for (guint d = 0; d < spec->disks; d++) {
        g_autofree char *file = image_name(spec, d);
        g_autofree char *esc = g_markup_escape_text(file, -1);

        g_string_append_printf(xml,
            "    <disk type='file' device='disk'>\n"
            "      <driver name='qemu' type='raw'/>\n"
            "      <source file='" LAB_IMAGE_DIR "/%s'/>\n"
            "      <target dev='xvd%c' bus='xen'/>\n"
            "    </disk>\n",
            esc, 'a' + d);
    }
    g_string_append(xml, "  </devices>\n</domain>\n");
    return g_string_free(g_steal_pointer(&xml), FALSE);
}

int
lab_cmd_guest(const char *dir, int argc, char **argv)
{
    g_autofree char *dir_opt = NULL;
    g_autofree char *size_opt = NULL;
    gint disks = 1, write_rate = 1, dirty_rate = 1, host_index = 1;
    gint heartbeat = 100, memory = 64;
    GOptionEntry entries[] = {
        { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir_opt,
          N_("Lab directory (default $XENMIG_LAB_DIR or /run/xenmig-lab)"), N_("DIR") },
        { "host", 0, 0, G_OPTION_ARG_INT, &host_index,
          N_("Host whose storage gets the disk images (default 1)"), N_("N") },
        { "disks", 0, 0, G_OPTION_ARG_INT, &disks,
          N_("Number of disks, xvda, xvdb, ... (default 1)"), N_("N") },
        { "disk-size", 0, 0, G_OPTION_ARG_STRING, &size_opt,
          N_("Size of each sparse raw image (default 32M)"), N_("SIZE") },
        { "write-rate", 0, 0, G_OPTION_ARG_INT, &write_rate,
          N_("MiB per second the guest writes to its disks (default 1)"), N_("MB/S") },
        { "dirty-rate", 0, 0, G_OPTION_ARG_INT, &dirty_rate,
          N_("MiB per second of RAM the guest dirties (default 1)"), N_("MB/S") },
        { "heartbeat-ms", 0, 0, G_OPTION_ARG_INT, &heartbeat,
          N_("Interval of the heartbeat record on the first disk (default 100)"), N_("MS") },
        { "memory", 0, 0, G_OPTION_ARG_INT, &memory,
          N_("Guest memory in MiB (default 64)"), N_("MIB") },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new(_("NAME - make disk images and print a sim guest's domain XML"));
    g_autoptr(GError) error = NULL;
    g_autoptr(Lab) lab = NULL;
    g_autofree char *xml = NULL;
    GuestSpec spec = { 0 };
    LabHost *host;

    g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        lab_print_error(error);
        return LAB_EXIT_USAGE;
    }
    if (argc != 2 || !valid_name(argv[1])) {
        g_printerr(_("xenmig-lab guest: give one guest name of letters, digits, '_', '.' and '-'\n"));
        return LAB_EXIT_USAGE;
    }
    if (disks < 1 || disks > MAX_DISKS || write_rate < 0 || dirty_rate < 0 ||
        heartbeat < 0 || memory < 1 || memory > 1024 * 1024 || host_index < 1) {
        g_printerr(_("xenmig-lab guest: --disks takes 1 to %d, --memory at least 1, rates and --heartbeat-ms 0 or more\n"),
                   MAX_DISKS);
        return LAB_EXIT_USAGE;
    }
    spec.name = argv[1];
    spec.disks = disks;
    spec.write_rate = write_rate;
    spec.dirty_rate = dirty_rate;
    spec.heartbeat_ms = heartbeat;
    spec.memory_mib = memory;
    spec.host = host_index;
    if (!parse_size(size_opt ? size_opt : "32M", &spec.disk_size, &error)) {
        lab_print_error(error);
        return LAB_EXIT_USAGE;
    }
    lab = lab_load(dir_opt ? dir_opt : dir, &error);
    if (!lab || !(host = lab_get_host(lab, spec.host, &error)) ||
        !create_images(host, &spec, &error)) {
        lab_print_error(error);
        return LAB_EXIT_FAILURE;
    }
    xml = format_xml(&spec);
    g_print("%s", xml);
    return LAB_EXIT_OK;
}
