/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sim backend: a test hypervisor whose domains are real processes
 * (xenmig-sim-guest). State lives in state_dir/sim/: next-domid and, per
 * domain, <domid>.conf (the guest's configuration), .pid ("PID STARTTIME"),
 * .sock (control socket), .exit (why it exited), .log (its stderr).
 */
#include "config.h"

#define G_LOG_DOMAIN "xenmig-sim"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backend/sim-private.h"
#include "backend/sim-proto.h"
#include "util/util.h"

#define CTL_TIMEOUT_MS 30000
#define DEFAULT_HOST_MEMORY_MIB 16384
#define DEFAULT_HOST_CPUS 4
#define SIM_MAX_VCPUS 128
#define SIM_VERSION 4017000       /* report what Debian 12's Xen reports */

static SimDomain *
sim_domain_new(int domid)
{
    SimDomain *dom = g_new0(SimDomain, 1);

    dom->ref = 1;
    dom->domid = domid;
    dom->pidfd = -1;
    dom->dp_pidfd = -1;
    return dom;
}

SimDomain *
sim_domain_ref(SimDomain *dom)
{
    g_atomic_int_inc(&dom->ref);
    return dom;
}

void
sim_domain_unref(SimDomain *dom)
{
    if (!dom || !g_atomic_int_dec_and_test(&dom->ref))
        return;
    if (dom->pidfd >= 0)
        close(dom->pidfd);
    if (dom->dp_pidfd >= 0)
        close(dom->dp_pidfd);
    g_free(dom->dp_control);
    g_free(dom->name);
    g_free(dom->sock_path);
    g_free(dom);
}

static SimBackend *
sim_of(XmBackend *backend)
{
    return backend->priv;
}

/* A reference to running domain @domid, or NULL + XM_ERR_NO_DOMAIN. */
static SimDomain *
lookup(SimBackend *sb, int domid, GError **error)
{
    SimDomain *dom;

    g_mutex_lock(&sb->lock);
    dom = g_hash_table_lookup(sb->domains, GINT_TO_POINTER(domid));
    if (dom)
        sim_domain_ref(dom);
    g_mutex_unlock(&sb->lock);
    if (!dom)
        g_set_error(error, XM_ERROR, XM_ERR_NO_DOMAIN,
                    _("no domain with id %d"), domid);
    return dom;
}

static gboolean
call(SimBackend *sb, int domid, const char *line, char **reply, GError **error)
{
    g_autoptr(SimDomain) dom = lookup(sb, domid, error);
    g_autofree char *r = NULL;

    if (!dom)
        return FALSE;
    if (!xm_sim_ctl_call(dom->sock_path, line, -1, -1, CTL_TIMEOUT_MS, &r, error))
        return FALSE;
    if (reply)
        *reply = g_steal_pointer(&r);
    return TRUE;
}

static gboolean
save_next_domid(SimBackend *sb, GError **error)
{
    g_autofree char *path = g_build_filename(sb->dir, "next-domid", NULL);
    g_autofree char *text = g_strdup_printf("%d\n", sb->next_domid);

    return g_file_set_contents(path, text, -1, error);
}

static gboolean
sim_open(XmBackend *backend, GError **error)
{
    const XmBackendConfig *cfg = &backend->config;
    g_autofree char *next_path = NULL;
    g_autofree char *next = NULL;
    SimBackend *sb;

    if (!cfg->state_dir) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("the sim backend needs a state directory"));
        return FALSE;
    }
    if (cfg->sim_disk_datapath && g_strcmp0(cfg->sim_disk_datapath, "nbd") != 0 &&
        g_strcmp0(cfg->sim_disk_datapath, "direct") != 0) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("unknown sim disk datapath '%s' (expected 'nbd' or 'direct')"),
                    cfg->sim_disk_datapath);
        return FALSE;
    }
    sb = g_new0(SimBackend, 1);
    sb->backend = backend;
    sb->dir = g_build_filename(cfg->state_dir, "sim", NULL);
    sim_datapath_init(sb);
    sb->wake_fd = -1;
    g_mutex_init(&sb->lock);
    sb->domains = g_hash_table_new_full(NULL, NULL, NULL,
                                        (GDestroyNotify) sim_domain_unref);
    sb->starting = g_hash_table_new(NULL, NULL);
    if (cfg->sim_host_name) {
        sb->host = g_strdup(cfg->sim_host_name);
    } else {
        char buf[256] = "";
        gethostname(buf, sizeof(buf) - 1);
        sb->host = g_strdup(buf);
    }
    sb->guest_prog = sim_guest_program();
    sb->use_datapath = g_strcmp0(cfg->sim_disk_datapath, "direct") != 0;
    backend->priv = sb;

    if (g_mkdir_with_parents(sb->dir, 0700) < 0) {
        xm_set_error_errno(error, errno, XM_ERR_OPERATION_FAILED,
                           _("cannot create '%s'"), sb->dir);
        goto fail;
    }
    next_path = g_build_filename(sb->dir, "next-domid", NULL);
    sb->next_domid = 1;
    if (g_file_get_contents(next_path, &next, NULL, NULL))
        sb->next_domid = MAX(1, atoi(next));
    if (!sim_monitor_start(sb, error))
        goto fail;
    g_debug("sim backend on %s, host '%s', guest program %s", sb->dir, sb->host,
            sb->guest_prog);
    return TRUE;

fail:
    backend->ops->close(backend);
    return FALSE;
}

/* Frees our bookkeeping only: guests keep running (a libvirtd restart must
 * not take the domains down). */
static void
sim_close(XmBackend *backend)
{
    SimBackend *sb = sim_of(backend);

    if (!sb)
        return;
    sim_monitor_stop(sb);
    g_hash_table_destroy(sb->domains);
    g_hash_table_destroy(sb->starting);
    g_mutex_clear(&sb->lock);
    /* a short socket directory of our own goes once no datapath uses it */
    if (sb->sock_dir && g_strcmp0(sb->sock_dir, sb->dir) != 0)
        rmdir(sb->sock_dir);
    g_free(sb->dir);
    g_free(sb->sock_dir);
    g_free(sb->host);
    g_free(sb->guest_prog);
    g_free(sb);
    backend->priv = NULL;
}

static guint64
host_memory_kib(SimBackend *sb)
{
    guint64 mib = sb->backend->config.sim_host_memory_mib;

    return (mib ? mib : DEFAULT_HOST_MEMORY_MIB) * 1024;
}

static gboolean
sim_node_info(XmBackend *backend, XmNodeInfo *info, GError **error)
{
    SimBackend *sb = sim_of(backend);
    guint cpus = backend->config.sim_host_cpus ? backend->config.sim_host_cpus
                                               : DEFAULT_HOST_CPUS;

    memset(info, 0, sizeof(*info));
    g_strlcpy(info->model, "x86_64", sizeof(info->model));
    info->memory_kib = host_memory_kib(sb);
    info->cpus = cpus;
    info->mhz = 2000;
    info->nodes = 1;
    info->sockets = 1;
    info->cores = cpus;
    info->threads = 1;
    return TRUE;
}

static guint64
used_kib_locked(SimBackend *sb)
{
    GHashTableIter it;
    gpointer value;
    guint64 used = 0;

    g_hash_table_iter_init(&it, sb->domains);
    while (g_hash_table_iter_next(&it, NULL, &value))
        used += ((SimDomain *) value)->memory_kib;
    return used;
}

static gboolean
sim_free_memory(XmBackend *backend, guint64 *free_kib, GError **error)
{
    SimBackend *sb = sim_of(backend);
    guint64 total = host_memory_kib(sb), used;

    g_mutex_lock(&sb->lock);
    used = used_kib_locked(sb);
    g_mutex_unlock(&sb->lock);
    *free_kib = used < total ? total - used : 0;
    return TRUE;
}

static gboolean
sim_version(XmBackend *backend, unsigned long *version, GError **error)
{
    *version = SIM_VERSION;
    return TRUE;
}

static int
sim_max_vcpus(XmBackend *backend, GError **error)
{
    return SIM_MAX_VCPUS;
}

static gint
cmp_int(gconstpointer a, gconstpointer b)
{
    return *(const int *) a - *(const int *) b;
}

static gboolean
sim_list(XmBackend *backend, int **domids, size_t *n, GError **error)
{
    SimBackend *sb = sim_of(backend);
    GHashTableIter it;
    gpointer key;
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(int));

    g_mutex_lock(&sb->lock);
    g_hash_table_iter_init(&it, sb->domains);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        int id = GPOINTER_TO_INT(key);
        g_array_append_val(ids, id);
    }
    g_mutex_unlock(&sb->lock);
    g_array_sort(ids, cmp_int);
    *n = ids->len;
    *domids = (int *) g_array_free(ids, FALSE);
    return TRUE;
}

static gboolean
sim_info(XmBackend *backend, int domid, XmDomainInfo *info, GError **error)
{
    SimBackend *sb = sim_of(backend);
    g_autoptr(SimDomain) dom = lookup(sb, domid, error);
    g_autofree char *reply = NULL;
    g_autofree char *state = NULL;

    if (!dom)
        return FALSE;
    if (!xm_sim_ctl_call(dom->sock_path, "info", -1, -1, CTL_TIMEOUT_MS, &reply,
                         error))
        return FALSE;
    state = xm_sim_reply_get(reply, "state");
    memset(info, 0, sizeof(*info));
    info->domid = domid;
    memcpy(info->uuid, dom->uuid, 16);
    if (g_strcmp0(state, "running") == 0)
        info->state = XM_DOMSTATE_RUNNING;
    else
        info->state = XM_DOMSTATE_PAUSED;     /* paused, or suspended by a save */
    info->memory_kib = xm_sim_reply_get_u64(reply, "memory_kib", dom->memory_kib);
    info->max_memory_kib = xm_sim_reply_get_u64(reply, "max_memory_kib",
                                                dom->max_memory_kib);
    info->vcpus = xm_sim_reply_get_u64(reply, "vcpus", dom->vcpus);
    info->cpu_time_ns = xm_sim_reply_get_u64(reply, "cpu_time_ns", 0);
    return TRUE;
}

/* The disks the guest writes: writable ones, in definition order (the first
 * one carries the heartbeat). */
static gboolean
guest_disks(const XmDomainDef *def, GPtrArray *out, GError **error)
{
    for (size_t i = 0; i < def->ndisks; i++) {
        const XmDiskDef *d = &def->disks[i];
        if (!d->source || d->readonly || d->device != XM_DISK_DEVICE_DISK)
            continue;
        /* the guest writes guest-visible bytes at raw offsets: into a qcow2
         * file that would destroy the image */
        if (d->format != XM_DISK_FORMAT_RAW && !g_str_has_prefix(d->source, "nbd")) {
            g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                        _("sim guests write raw images only; disk '%s' is not raw"),
                        d->target ? d->target : d->source);
            return FALSE;
        }
        g_ptr_array_add(out, (gpointer) d);
    }
    return TRUE;
}

/* Writes <domid>.conf for the guest program: @paths are what it opens, one
 * per guest disk. The datapath's control socket is recorded for reconnect. */
static gboolean
write_guest_config(SimBackend *sb, SimDomain *dom, const XmDomainDef *def,
                   char **paths, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autofree char *path = sim_path(sb, dom->domid, "conf");
    g_autofree char *sock = sim_path(sb, dom->domid, "sock");
    g_autofree char *exitf = sim_path(sb, dom->domid, "exit");
    const char *grp = XM_SIM_CONFIG_GROUP;
    char uuid[37];

    xm_uuid_format(def->uuid, uuid);
    g_key_file_set_string(kf, grp, "name", def->name);
    g_key_file_set_string(kf, grp, "uuid", uuid);
    g_key_file_set_integer(kf, grp, "domid", dom->domid);
    g_key_file_set_uint64(kf, grp, "memory_kib",
                          def->current_memory_kib ? def->current_memory_kib
                                                  : def->max_memory_kib);
    g_key_file_set_uint64(kf, grp, "max_memory_kib", def->max_memory_kib);
    g_key_file_set_integer(kf, grp, "vcpus", def->vcpus ? def->vcpus : 1);
    g_key_file_set_uint64(kf, grp, "ram_dirty_mib_s", def->sim.ram_dirty_mib_s);
    g_key_file_set_uint64(kf, grp, "disk_write_mib_s", def->sim.disk_write_mib_s);
    g_key_file_set_integer(kf, grp, "heartbeat_ms", def->sim.heartbeat_ms);
    g_key_file_set_string_list(kf, grp, "disks", (const char *const *) paths,
                               g_strv_length(paths));
    g_key_file_set_string(kf, grp, "host", sb->host);
    g_key_file_set_string(kf, grp, "socket", sock);
    g_key_file_set_string(kf, grp, "exit_file", exitf);
    if (dom->dp_control)
        g_key_file_set_string(kf, grp, "datapath_control", dom->dp_control);
    return g_key_file_save_to_file(kf, path, error);
}

static gboolean
check_new_domain(SimBackend *sb, const XmDomainDef *def, GError **error)
{
    guint64 want = def->current_memory_kib ? def->current_memory_kib
                                           : def->max_memory_kib;
    GHashTableIter it;
    gpointer value;
    guint64 used;

    if (!def->name || !*def->name || def->max_memory_kib == 0) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("a sim domain needs a name and a memory size"));
        return FALSE;
    }
    g_mutex_lock(&sb->lock);
    g_hash_table_iter_init(&it, sb->domains);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        SimDomain *d = value;
        if (memcmp(d->uuid, def->uuid, 16) == 0 || strcmp(d->name, def->name) == 0) {
            g_mutex_unlock(&sb->lock);
            g_set_error(error, XM_ERROR, XM_ERR_DOM_EXIST,
                        _("domain '%s' is already running with id %d"),
                        def->name, d->domid);
            return FALSE;
        }
    }
    used = used_kib_locked(sb);
    g_mutex_unlock(&sb->lock);
    if (used + want > host_memory_kib(sb)) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                    _("not enough free memory for domain '%s' (%" G_GUINT64_FORMAT
                      " KiB wanted)"), def->name, want);
        return FALSE;
    }
    return TRUE;
}

/* A new domid, marked as starting until start_done(). */
static int
alloc_domid(SimBackend *sb, GError **error)
{
    int id;

    g_mutex_lock(&sb->lock);
    id = sb->next_domid++;
    if (!save_next_domid(sb, error))
        id = -1;
    else
        g_hash_table_add(sb->starting, GINT_TO_POINTER(id));
    g_mutex_unlock(&sb->lock);
    return id;
}

static int
start_done(SimBackend *sb, int domid, int result)
{
    g_mutex_lock(&sb->lock);
    g_hash_table_remove(sb->starting, GINT_TO_POINTER(domid));
    g_mutex_unlock(&sb->lock);
    return result;
}

/* Registers a started guest: pid file, pidfd, table, monitor. Takes @dom. */
static gboolean
adopt(SimBackend *sb, SimDomain *dom, pid_t pid, const XmDomainDef *def,
      GError **error)
{
    g_autofree char *pidpath = sim_path(sb, dom->domid, "pid");
    g_autofree char *pidtext = NULL;

    memcpy(dom->uuid, def->uuid, 16);
    dom->pid = pid;
    dom->starttime = sim_proc_starttime(pid);
    dom->pidfd = sim_pidfd_open(pid);
    dom->sock_path = sim_path(sb, dom->domid, "sock");
    dom->memory_kib = def->current_memory_kib ? def->current_memory_kib
                                              : def->max_memory_kib;
    dom->max_memory_kib = def->max_memory_kib;
    dom->vcpus = def->vcpus ? def->vcpus : 1;

    pidtext = g_strdup_printf("%d %" G_GUINT64_FORMAT "\n", (int) pid, dom->starttime);
    if (!g_file_set_contents(pidpath, pidtext, -1, error)) {
        sim_kill_and_wait(dom);
        sim_datapath_stop(dom);
        sim_domain_unref(dom);
        return FALSE;
    }
    g_mutex_lock(&sb->lock);
    g_hash_table_insert(sb->domains, GINT_TO_POINTER(dom->domid), dom);
    g_mutex_unlock(&sb->lock);
    sim_monitor_wake(sb);
    return TRUE;
}

/* The datapath (if any) first, so that the guest finds its disks served;
 * any failure stops what was started and removes its files. */
static int
start_guest(XmBackend *backend, const XmDomainDef *def, int restore_fd,
            gboolean paused, GCancellable *cancellable, GError **error)
{
    SimBackend *sb = sim_of(backend);
    g_autoptr(GPtrArray) disks = g_ptr_array_new();
    g_auto(GStrv) paths = NULL;
    SimDomain *dom;
    int domid;
    pid_t pid;

    if (!check_new_domain(sb, def, error) || !guest_disks(def, disks, error))
        return -1;
    domid = alloc_domid(sb, error);
    if (domid < 0)
        return -1;
    dom = sim_domain_new(domid);
    dom->name = g_strdup(def->name);
    if (!sim_datapath_start(sb, dom, (const XmDiskDef *const *) disks->pdata,
                            disks->len, &paths, error)) {
        g_debug("sim domain %d: no datapath; logs kept in %s", domid, sb->dir);
        sim_remove_files(sb, domid, TRUE);
        sim_domain_unref(dom);
        return start_done(sb, domid, -1);
    }
    if (!write_guest_config(sb, dom, def, paths, error)) {
        sim_datapath_stop(dom);
        sim_remove_files(sb, domid, FALSE);
        sim_domain_unref(dom);
        return start_done(sb, domid, -1);
    }
    pid = sim_spawn_guest(sb, domid, restore_fd, paused, cancellable, error);
    if (pid < 0) {
        g_debug("sim domain %d failed to start; logs kept in %s", domid, sb->dir);
        sim_datapath_stop(dom);
        sim_remove_files(sb, domid, TRUE);
        sim_domain_unref(dom);
        return start_done(sb, domid, -1);
    }
    if (!adopt(sb, dom, pid, def, error)) {
        sim_remove_files(sb, domid, FALSE);
        return start_done(sb, domid, -1);
    }
    g_debug("sim domain %d '%s' %s as pid %d", domid, def->name,
            restore_fd >= 0 ? "restored" : "started", (int) pid);
    return start_done(sb, domid, domid);
}

static int
sim_create(XmBackend *backend, const XmDomainDef *def, gboolean paused,
           GError **error)
{
    return start_guest(backend, def, -1, paused, NULL, error);
}

static int
sim_restore_from_fd(XmBackend *backend, const XmDomainDef *def, int fd,
                    gboolean paused, GCancellable *cancellable, GError **error)
{
    return start_guest(backend, def, fd, paused, cancellable, error);
}

static gboolean
sim_destroy(XmBackend *backend, int domid, GError **error)
{
    SimBackend *sb = sim_of(backend);
    SimDomain *dom;

    g_mutex_lock(&sb->lock);
    dom = g_hash_table_lookup(sb->domains, GINT_TO_POINTER(domid));
    if (dom) {
        sim_domain_ref(dom);
        g_hash_table_remove(sb->domains, GINT_TO_POINTER(domid));
    }
    g_mutex_unlock(&sb->lock);
    if (!dom) {
        g_set_error(error, XM_ERROR, XM_ERR_NO_DOMAIN, _("no domain with id %d"), domid);
        return FALSE;
    }
    sim_kill_and_wait(dom);
    sim_datapath_stop(dom);
    sim_remove_files(sb, domid, FALSE);
    sim_monitor_wake(sb);
    sim_domain_unref(dom);
    return TRUE;
}

static gboolean
sim_shutdown(XmBackend *backend, int domid, GError **error)
{
    return call(sim_of(backend), domid, "shutdown", NULL, error);
}

static gboolean
sim_reboot(XmBackend *backend, int domid, GError **error)
{
    return call(sim_of(backend), domid, "reboot", NULL, error);
}

static gboolean
sim_pause(XmBackend *backend, int domid, GError **error)
{
    return call(sim_of(backend), domid, "pause", NULL, error);
}

static gboolean
sim_unpause(XmBackend *backend, int domid, GError **error)
{
    return call(sim_of(backend), domid, "unpause", NULL, error);
}

static gboolean
sim_resume(XmBackend *backend, int domid, GError **error)
{
    return call(sim_of(backend), domid, "resume", NULL, error);
}

static gboolean
sim_set_memory(XmBackend *backend, int domid, guint64 kib, GError **error)
{
    SimBackend *sb = sim_of(backend);
    g_autofree char *line = g_strdup_printf("set-memory %" G_GUINT64_FORMAT, kib);
    SimDomain *dom;

    if (!call(sb, domid, line, NULL, error))
        return FALSE;
    g_mutex_lock(&sb->lock);
    dom = g_hash_table_lookup(sb->domains, GINT_TO_POINTER(domid));
    if (dom)
        dom->memory_kib = kib;
    g_mutex_unlock(&sb->lock);
    return TRUE;
}

/* After a cancelled save, wait until the guest has rolled back. */
static void
wait_save_rolled_back(SimDomain *dom)
{
    for (int i = 0; i < 200; i++) {
        g_autofree char *reply = NULL;
        if (!xm_sim_ctl_call(dom->sock_path, "info", -1, -1, 2000, &reply, NULL) ||
            xm_sim_reply_get_u64(reply, "saving", 0) == 0)
            return;
        g_usleep(50000);
    }
}

static gboolean
sim_suspend_to_fd(XmBackend *backend, int domid, int fd, unsigned int flags,
                  GCancellable *cancellable, GError **error)
{
    g_autoptr(SimDomain) dom = lookup(sim_of(backend), domid, error);
    g_autofree char *reply = NULL;
    g_autoptr(GError) err = NULL;
    int cancel_fd;
    gboolean ok;

    if (!dom)
        return FALSE;
    if (flags & ~(XM_SUSPEND_LIVE | XM_SUSPEND_DEBUG)) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("unsupported suspend flags 0x%x"), flags);
        return FALSE;
    }
    cancel_fd = cancellable ? g_cancellable_get_fd(cancellable) : -1;
    ok = xm_sim_ctl_call(dom->sock_path,
                         (flags & XM_SUSPEND_LIVE) ? "save live" : "save",
                         fd, cancel_fd, -1, &reply, &err);
    if (cancel_fd >= 0)
        g_cancellable_release_fd(cancellable);
    if (!ok && g_error_matches(err, XM_ERROR, XM_ERR_OPERATION_ABORTED)) {
        g_autofree char *ignored = NULL;
        xm_sim_ctl_call(dom->sock_path, "save-cancel", -1, -1, CTL_TIMEOUT_MS,
                        &ignored, NULL);
        wait_save_rolled_back(dom);
    }
    if (!ok) {
        g_propagate_error(error, g_steal_pointer(&err));
        return FALSE;
    }
    g_debug("sim domain %d saved: %s", domid, reply);
    return TRUE;
}

static char *
sim_disk_datapath(XmBackend *backend, int domid, GError **error)
{
    g_autoptr(SimDomain) dom = lookup(sim_of(backend), domid, error);

    return dom ? g_strdup(dom->dp_control) : NULL;
}

/* Stops the datapath daemon of @domid whose guest is gone, if it runs. */
static void
stop_lost_datapath(SimBackend *sb, int domid)
{
    g_autoptr(SimDomain) tmp = sim_domain_new(domid);
    g_autofree char *control = sim_sock_path(sb, domid, "dp.ctl");

    sim_datapath_reconnect(sb, tmp, control);
    sim_datapath_stop(tmp);
}

/* Re-adopts guests listed in the state directory whose process still runs;
 * forgets the files of those that died while nobody watched. */
static gboolean
sim_reconnect(XmBackend *backend, int **domids, size_t *n, GError **error)
{
    SimBackend *sb = sim_of(backend);
    g_autoptr(GDir) dir = g_dir_open(sb->dir, 0, error);
    g_autoptr(GArray) found = g_array_new(FALSE, FALSE, sizeof(int));
    const char *entry;

    if (!dir)
        return FALSE;
    while ((entry = g_dir_read_name(dir))) {
        g_autofree char *pidpath = NULL, *pidtext = NULL, *confpath = NULL;
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autofree char *uuid = NULL;
        g_autofree char *reply = NULL;
        g_autofree char *dp_control = NULL;
        guint64 start = 0;
        int domid, pid = 0;
        gboolean known, starting, dp_only;
        char tail[16];
        SimDomain *dom;

        /* <domid>.pid: a guest; <domid>.dp.pid: its datapath */
        if (sscanf(entry, "%d.%15s", &domid, tail) != 2 || domid <= 0)
            continue;
        if (strcmp(tail, "dp.pid") == 0)
            dp_only = TRUE;
        else if (strcmp(tail, "pid") == 0)
            dp_only = FALSE;
        else
            continue;
        pidpath = sim_path(sb, domid, "pid");
        g_mutex_lock(&sb->lock);
        known = g_hash_table_contains(sb->domains, GINT_TO_POINTER(domid));
        starting = g_hash_table_contains(sb->starting, GINT_TO_POINTER(domid));
        sb->next_domid = MAX(sb->next_domid, domid + 1);
        g_mutex_unlock(&sb->lock);
        if (dp_only) {
            /* a datapath without its guest: the start was cut short */
            if (!known && !starting && !g_file_test(pidpath, G_FILE_TEST_EXISTS)) {
                g_debug("sim domain %d: datapath without a guest; stopping it", domid);
                stop_lost_datapath(sb, domid);
                sim_remove_files(sb, domid, TRUE);
            }
            continue;
        }
        if (known) {
            g_array_append_val(found, domid);
            continue;
        }
        if (starting)
            continue;

        confpath = sim_path(sb, domid, "conf");
        if (!g_file_get_contents(pidpath, &pidtext, NULL, NULL) ||
            sscanf(pidtext, "%d %" G_GUINT64_FORMAT, &pid, &start) != 2 ||
            !sim_proc_alive(pid, start) ||
            !g_key_file_load_from_file(kf, confpath, G_KEY_FILE_NONE, NULL)) {
            g_debug("sim domain %d is gone; forgetting it", domid);
            stop_lost_datapath(sb, domid);
            sim_remove_files(sb, domid, FALSE);
            continue;
        }

        dom = sim_domain_new(domid);
        dom->name = g_key_file_get_string(kf, XM_SIM_CONFIG_GROUP, "name", NULL);
        uuid = g_key_file_get_string(kf, XM_SIM_CONFIG_GROUP, "uuid", NULL);
        if (!dom->name || !uuid || !xm_uuid_parse(uuid, dom->uuid)) {
            sim_domain_unref(dom);
            continue;
        }
        dom->pid = pid;
        dom->starttime = start;
        dom->pidfd = sim_pidfd_open(pid);
        dom->sock_path = sim_path(sb, domid, "sock");
        dom->memory_kib = g_key_file_get_uint64(kf, XM_SIM_CONFIG_GROUP, "memory_kib", NULL);
        dom->max_memory_kib = g_key_file_get_uint64(kf, XM_SIM_CONFIG_GROUP,
                                                    "max_memory_kib", NULL);
        dom->vcpus = g_key_file_get_integer(kf, XM_SIM_CONFIG_GROUP, "vcpus", NULL);
        dp_control = g_key_file_get_string(kf, XM_SIM_CONFIG_GROUP, "datapath_control",
                                           NULL);
        if (dp_control && !sim_datapath_reconnect(sb, dom, dp_control)) {
            /* its disks are gone: it would crash at its next write */
            g_debug("sim domain %d lost its datapath; stopping it", domid);
            sim_kill_and_wait(dom);
            sim_datapath_stop(dom);
            sim_remove_files(sb, domid, TRUE);
            sim_domain_unref(dom);
            continue;
        }
        if (xm_sim_ctl_call(dom->sock_path, "info", -1, -1, 5000, &reply, NULL))
            dom->memory_kib = xm_sim_reply_get_u64(reply, "memory_kib", dom->memory_kib);

        g_mutex_lock(&sb->lock);
        g_hash_table_insert(sb->domains, GINT_TO_POINTER(domid), dom);
        g_mutex_unlock(&sb->lock);
        g_debug("sim domain %d '%s' (pid %d) reconnected", domid, dom->name, pid);
        g_array_append_val(found, domid);
    }
    g_mutex_lock(&sb->lock);
    if (!save_next_domid(sb, error)) {
        g_mutex_unlock(&sb->lock);
        return FALSE;
    }
    g_mutex_unlock(&sb->lock);
    sim_monitor_wake(sb);
    g_array_sort(found, cmp_int);
    *n = found->len;
    *domids = (int *) g_array_free(g_steal_pointer(&found), FALSE);
    return TRUE;
}

const XmBackendOps xm_backend_sim_ops = {
    .name = "sim",
    .open = sim_open,
    .close = sim_close,
    .node_info = sim_node_info,
    .free_memory = sim_free_memory,
    .version = sim_version,
    .max_vcpus = sim_max_vcpus,
    .list = sim_list,
    .info = sim_info,
    .create = sim_create,
    .destroy = sim_destroy,
    .shutdown = sim_shutdown,
    .reboot = sim_reboot,
    .pause = sim_pause,
    .unpause = sim_unpause,
    .set_memory = sim_set_memory,
    .suspend_to_fd = sim_suspend_to_fd,
    .resume = sim_resume,
    .restore_from_fd = sim_restore_from_fd,
    .reconnect = sim_reconnect,
    .disk_datapath = sim_disk_datapath,
};
