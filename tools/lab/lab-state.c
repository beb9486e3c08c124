/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lab's state file: which hosts exist and how to find their processes
 * and namespaces again from a later command. */
#include "config.h"

#include <errno.h>
#include <sys/stat.h>

#include "lab.h"

#define STATE_FILE "lab.state"
#define LAB_GROUP "lab"

void
lab_host_free(LabHost *host)
{
    if (!host)
        return;
    g_free(host->netns);
    g_free(host->hostname);
    g_free(host->address);
    g_free(host->dir);
    g_free(host);
}

void
lab_free(Lab *lab)
{
    if (!lab)
        return;
    g_free(lab->dir);
    g_free(lab->ns_prefix);
    g_free(lab->hub_netns);
    g_free(lab->module_dir);
    g_free(lab->tls_dir);
    g_free(lab->sim_disk_datapath);
    g_ptr_array_unref(lab->hosts);
    g_free(lab);
}

char *
lab_default_dir(void)
{
    const char *env = g_getenv("XENMIG_LAB_DIR");

    return g_strdup(env && *env ? env : LAB_DEFAULT_DIR);
}

/* Namespace names are global to the machine while lab directories are not:
 * two labs (two test runs in parallel) must not share names, so every lab
 * but the default one carries a short digest of its directory. */
static char *
ns_prefix_for(const char *dir)
{
    g_autofree char *digest = NULL;

    if (strcmp(dir, LAB_DEFAULT_DIR) == 0)
        return g_strdup("xenmig-lab");
    digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, dir, -1);
    digest[8] = '\0';
    return g_strdup_printf("xenmig-lab-%s", digest);
}

Lab *
lab_new(const char *dir)
{
    Lab *lab = g_new0(Lab, 1);

    lab->dir = g_canonicalize_filename(dir, NULL);
    lab->ns_prefix = ns_prefix_for(lab->dir);
    lab->hub_netns = g_strdup_printf("%s-hub", lab->ns_prefix);
    lab->hosts = g_ptr_array_new_with_free_func((GDestroyNotify)lab_host_free);
    return lab;
}

LabHost *
lab_add_host(Lab *lab)
{
    LabHost *host = g_new0(LabHost, 1);

    host->index = lab->hosts->len + 1;
    host->netns = g_strdup_printf("%s-%u", lab->ns_prefix, host->index);
    host->hostname = g_strdup_printf("xenmig-host%u", host->index);
    host->address = g_strdup_printf(LAB_SUBNET ".%u", host->index);
    host->dir = g_strdup_printf("%s/host%u", lab->dir, host->index);
    g_ptr_array_add(lab->hosts, host);
    return host;
}

LabHost *
lab_get_host(Lab *lab, guint index, GError **error)
{
    if (index < 1 || index > lab->hosts->len) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("no host %u in the lab in %s (it has %u hosts)"),
                    index, lab->dir, lab->hosts->len);
        return NULL;
    }
    return g_ptr_array_index(lab->hosts, index - 1);
}

char *
lab_state_path(const Lab *lab)
{
    return g_build_filename(lab->dir, STATE_FILE, NULL);
}

gboolean
lab_state_exists(const Lab *lab)
{
    g_autofree char *path = lab_state_path(lab);

    return g_file_test(path, G_FILE_TEST_EXISTS);
}

char *
lab_host_path(const LabHost *host, const char *sub)
{
    return g_build_filename(host->dir, sub, NULL);
}

char *
lab_host_socket(const LabHost *host)
{
    return g_build_filename(host->dir, "run", "libvirt-sock", NULL);
}

/* The socket path is the same file seen from every namespace (the host's
 * run directory is also mounted at /run/libvirt inside the host), so this
 * URI works from the machine and from inside every host. */
char *
lab_host_uri(const Lab *lab, const LabHost *host)
{
    g_autofree char *sock = lab_host_socket(host);

    return g_strdup_printf("xen+unix:///system?socket=%s", sock);
}

char *
lab_host_tcp_uri(const LabHost *host)
{
    return g_strdup_printf("xen+tcp://%s/system", host->hostname);
}

char *
lab_host_tls_uri(const LabHost *host)
{
    return g_strdup_printf("xen+tls://%s/system", host->hostname);
}

gboolean
lab_mkdir(const char *path, GError **error)
{
    if (g_mkdir_with_parents(path, 0755) < 0)
        return xm_set_error_errno(error, errno, XM_ERR_OPERATION_FAILED,
                                  _("cannot create directory %s"), path);
    return TRUE;
}

static void
set_u64(GKeyFile *kf, const char *group, const char *key, guint64 v)
{
    g_key_file_set_uint64(kf, group, key, v);
}

gboolean
lab_save(const Lab *lab, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autofree char *path = lab_state_path(lab);
    g_autofree char *data = NULL;
    gsize len;

    g_key_file_set_string(kf, LAB_GROUP, "dir", lab->dir);
    g_key_file_set_string(kf, LAB_GROUP, "ns-prefix", lab->ns_prefix);
    g_key_file_set_string(kf, LAB_GROUP, "hub-netns", lab->hub_netns);
    g_key_file_set_string(kf, LAB_GROUP, "module-dir",
                          lab->module_dir ? lab->module_dir : "");
    g_key_file_set_string(kf, LAB_GROUP, "tls-dir",
                          lab->tls_dir ? lab->tls_dir : "");
    g_key_file_set_string(kf, LAB_GROUP, "sim-disk-datapath",
                          lab->sim_disk_datapath ? lab->sim_disk_datapath : "");
    g_key_file_set_uint64(kf, LAB_GROUP, "hosts", lab->hosts->len);
    for (guint i = 0; i < lab->hosts->len; i++) {
        LabHost *h = g_ptr_array_index(lab->hosts, i);
        g_autofree char *group = g_strdup_printf("host%u", h->index);

        g_key_file_set_string(kf, group, "netns", h->netns);
        g_key_file_set_string(kf, group, "hostname", h->hostname);
        g_key_file_set_string(kf, group, "address", h->address);
        set_u64(kf, group, "holder-pid", (guint64)h->holder_pid);
        set_u64(kf, group, "libvirtd-pid", (guint64)h->libvirtd_pid);
        set_u64(kf, group, "netns-dev", (guint64)h->netns_dev);
        set_u64(kf, group, "netns-ino", (guint64)h->netns_ino);
        set_u64(kf, group, "mntns-dev", (guint64)h->mntns_dev);
        set_u64(kf, group, "mntns-ino", (guint64)h->mntns_ino);
    }
    if (!lab_mkdir(lab->dir, error))
        return FALSE;
    data = g_key_file_to_data(kf, &len, NULL);
    return g_file_set_contents(path, data, len, error);
}

static gboolean
get_u64(GKeyFile *kf, const char *group, const char *key, guint64 *out,
        GError **error)
{
    g_autoptr(GError) local = NULL;
    guint64 v = g_key_file_get_uint64(kf, group, key, &local);

    if (local) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("corrupt lab state: %s"), local->message);
        return FALSE;
    }
    *out = v;
    return TRUE;
}

static char *
get_str(GKeyFile *kf, const char *group, const char *key, GError **error)
{
    g_autoptr(GError) local = NULL;
    char *v = g_key_file_get_string(kf, group, key, &local);

    if (!v)
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("corrupt lab state: %s"), local->message);
    return v;
}

Lab *
lab_load(const char *dir, GError **error)
{
    g_autoptr(Lab) lab = lab_new(dir);
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autofree char *path = lab_state_path(lab);
    g_autoptr(GError) local = NULL;
    g_autofree char *module_dir = NULL;
    g_autofree char *tls_dir = NULL;
    g_autofree char *datapath = NULL;
    guint64 nhosts;

    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local)) {
        if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                        _("no lab is up in %s (run 'xenmig-lab up N' first)"),
                        lab->dir);
        else
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                        _("cannot read lab state %s: %s"), path, local->message);
        return NULL;
    }
    if (!get_u64(kf, LAB_GROUP, "hosts", &nhosts, error))
        return NULL;
    if (nhosts > LAB_MAX_HOSTS) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("corrupt lab state %s: %" G_GUINT64_FORMAT " hosts"),
                    path, nhosts);
        return NULL;
    }
    module_dir = g_key_file_get_string(kf, LAB_GROUP, "module-dir", NULL);
    if (module_dir && *module_dir)
        lab->module_dir = g_steal_pointer(&module_dir);
    /* absent in the state of a lab started before TLS existed */
    tls_dir = g_key_file_get_string(kf, LAB_GROUP, "tls-dir", NULL);
    if (tls_dir && *tls_dir)
        lab->tls_dir = g_steal_pointer(&tls_dir);
    /* absent in the state of a lab started before the option existed */
    datapath = g_key_file_get_string(kf, LAB_GROUP, "sim-disk-datapath", NULL);
    if (datapath && *datapath)
        lab->sim_disk_datapath = g_steal_pointer(&datapath);
    for (guint64 i = 0; i < nhosts; i++) {
        LabHost *h = lab_add_host(lab);
        g_autofree char *group = g_strdup_printf("host%u", h->index);
        guint64 v[6];
        static const char *const keys[6] = {
            "holder-pid", "libvirtd-pid", "netns-dev", "netns-ino",
            "mntns-dev", "mntns-ino",
        };
        char *netns;

        for (guint k = 0; k < G_N_ELEMENTS(keys); k++)
            if (!get_u64(kf, group, keys[k], &v[k], error))
                return NULL;
        if (!(netns = get_str(kf, group, "netns", error)))
            return NULL;
        /* The names are derived from the directory; a state file that
         * names something else was not written for this directory. */
        if (strcmp(netns, h->netns) != 0) {
            g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                        _("lab state %s names namespace %s, expected %s"),
                        path, netns, h->netns);
            g_free(netns);
            return NULL;
        }
        g_free(netns);
        h->holder_pid = (pid_t)v[0];
        h->libvirtd_pid = (pid_t)v[1];
        h->netns_dev = (dev_t)v[2];
        h->netns_ino = (ino_t)v[3];
        h->mntns_dev = (dev_t)v[4];
        h->mntns_ino = (ino_t)v[5];
    }
    return g_steal_pointer(&lab);
}
