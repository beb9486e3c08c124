/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lab network: a hub namespace holding a bridge, and one veth pair per
 * host from the bridge to the host's eth0. Nothing is created in the
 * machine's own network namespace, so the lab's addresses are reachable
 * only from inside the lab, and two labs never see each other.
 */
#include "config.h"

#include <sys/wait.h>

#include "lab.h"

#define HUB_BRIDGE "br0"

static const char *
ip_program(void)
{
    static const char *const candidates[] = { "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip" };

    for (guint i = 0; i < G_N_ELEMENTS(candidates); i++)
        if (g_file_test(candidates[i], G_FILE_TEST_IS_EXECUTABLE))
            return candidates[i];
    return "ip";
}

/* Runs `ip ARGS...` (NULL-terminated) and turns its failure into an error
 * that quotes the command and what it printed. */
static gboolean G_GNUC_NULL_TERMINATED
run_ip(GError **error, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autofree char *err_out = NULL;
    g_autofree char *cmdline = NULL;
    g_autoptr(GError) local = NULL;
    int status = 0;
    va_list ap;
    const char *arg;

    g_ptr_array_add(argv, (gpointer)ip_program());
    va_start(ap, error);
    while ((arg = va_arg(ap, const char *)))
        g_ptr_array_add(argv, (gpointer)arg);
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    cmdline = g_strjoinv(" ", (char **)argv->pdata);
    if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL,
                      G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err_out,
                      &status, &local)) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                    _("cannot run '%s': %s"), cmdline, local->message);
        return FALSE;
    }
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                    _("'%s' failed: %s"), cmdline, g_strstrip(err_out));
        return FALSE;
    }
    return TRUE;
}

gboolean
lab_netns_exists(const char *netns)
{
    g_autofree char *path = g_build_filename("/run/netns", netns, NULL);

    return g_file_test(path, G_FILE_TEST_EXISTS);
}

gboolean
lab_net_create_hub(const Lab *lab, GError **error)
{
    const char *ns = lab->hub_netns;

    return run_ip(error, "netns", "add", ns, NULL) &&
           run_ip(error, "-n", ns, "link", "set", "lo", "up", NULL) &&
           run_ip(error, "-n", ns, "link", "add", HUB_BRIDGE, "type", "bridge", NULL) &&
           run_ip(error, "-n", ns, "link", "set", HUB_BRIDGE, "up", NULL);
}

gboolean
lab_net_add_host(const Lab *lab, LabHost *host, GError **error)
{
    g_autofree char *port = g_strdup_printf("host%u", host->index);
    g_autofree char *cidr = g_strdup_printf("%s/%d", host->address, LAB_PREFIX_LEN);
    g_autofree char *nspath = g_build_filename("/run/netns", host->netns, NULL);
    const char *hub = lab->hub_netns;

    if (!run_ip(error, "netns", "add", host->netns, NULL))
        return FALSE;
    if (!lab_ns_identity(nspath, &host->netns_dev, &host->netns_ino)) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                    _("network namespace %s vanished"), host->netns);
        return FALSE;
    }
    /* Both ends are made in the hub, then eth0 moves into the host, so
     * the interface names never meet the machine's own. */
    return run_ip(error, "-n", hub, "link", "add", port, "type", "veth",
                  "peer", "name", "eth0", "netns", host->netns, NULL) &&
           run_ip(error, "-n", hub, "link", "set", port, "master", HUB_BRIDGE, NULL) &&
           run_ip(error, "-n", hub, "link", "set", port, "up", NULL) &&
           run_ip(error, "-n", host->netns, "link", "set", "lo", "up", NULL) &&
           run_ip(error, "-n", host->netns, "addr", "add", cidr, "dev", "eth0", NULL) &&
           run_ip(error, "-n", host->netns, "link", "set", "eth0", "up", NULL);
}

gboolean
lab_net_delete(const char *netns, GError **error)
{
    if (!lab_netns_exists(netns))
        return TRUE;
    return run_ip(error, "netns", "delete", netns, NULL);
}
