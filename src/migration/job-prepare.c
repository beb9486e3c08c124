/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Prepare (destination): check resources before anything is created,
 * create the missing images, open the NBD exports and the memory listener,
 * and start the worker that accepts the source, restores the memory stream
 * and collects the completion record.
 */
#define G_LOG_DOMAIN "xenmig-migration"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "migration/migration-private.h"

static gboolean
check_memory(XmMigration *job, const XmCookie *in, GError **error)
{
    const XmBackendOps *ops = xm_backend_ops(job->backend);
    guint64 free_kib = 0, need_kib;

    need_kib = MAX(job->def->current_memory_kib, in->memory_kib);
    if (!ops->free_memory(job->backend, &free_kib, error))
        return FALSE;
    if (free_kib < need_kib) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                    _("not enough free memory on host '%s' for domain '%s': "
                      "%" G_GUINT64_FORMAT " MiB needed, %" G_GUINT64_FORMAT " MiB free"),
                    job->host_name, job->def->name, need_kib / 1024, free_kib / 1024);
        return FALSE;
    }
    return TRUE;
}

typedef struct {
    dev_t dev;
    guint64 need;
    guint64 avail;
    char *dir;
} FsNeed;

/* Every image to create must fit: its capacity, summed per file system,
 * since a guest may fill its disk while it moves. */
static gboolean
check_images(XmMigration *job, GError **error)
{
    g_autoptr(GArray) fs = g_array_new(FALSE, TRUE, sizeof(FsNeed));
    gboolean ok = TRUE;

    for (size_t i = 0; i < job->ndisks && ok; i++) {
        XmMigDisk *d = &job->disks[i];
        struct stat st;
        g_autofree char *dir = NULL;
        struct statvfs vfs;
        guint64 size = 0;
        FsNeed *slot = NULL;

        if (stat(d->dest_path, &st) == 0) {
            if (!xm_migration_image_size(d->dest_path, &size, NULL, error))
                return FALSE;
            if (size != d->capacity) {
                g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                            _("image '%s' for disk '%s' exists with %" G_GUINT64_FORMAT
                              " bytes, but the source disk has %" G_GUINT64_FORMAT),
                            d->dest_path, d->target, size, d->capacity);
                return FALSE;
            }
            continue;       /* pre-created (copy-storage-inc, nova) */
        }
        if (errno != ENOENT)
            return xm_set_error_errno(error, errno, XM_ERR_OPERATION_FAILED,
                                      _("cannot access '%s'"), d->dest_path);
        if (job->params.non_shared_inc) {
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                        _("incremental disk copy: image '%s' for disk '%s' must exist on host '%s'"),
                        d->dest_path, d->target, job->host_name);
            return FALSE;
        }
        if (d->format != XM_DISK_FORMAT_RAW) {
            g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                        _("creating non-raw image '%s' is not supported yet"), d->dest_path);
            return FALSE;
        }
        dir = g_path_get_dirname(d->dest_path);
        if (stat(dir, &st) < 0 || statvfs(dir, &vfs) < 0)
            return xm_set_error_errno(error, errno, XM_ERR_OPERATION_FAILED,
                                      _("cannot create image '%s'"), d->dest_path);
        for (guint j = 0; j < fs->len; j++) {
            if (g_array_index(fs, FsNeed, j).dev == st.st_dev)
                slot = &g_array_index(fs, FsNeed, j);
        }
        if (!slot) {
            FsNeed n = { .dev = st.st_dev,
                         .avail = (guint64) vfs.f_bavail * vfs.f_frsize };
            g_array_append_val(fs, n);
            slot = &g_array_index(fs, FsNeed, fs->len - 1);
            slot->dir = g_steal_pointer(&dir);
        }
        slot->need += d->capacity;
    }
    for (guint j = 0; j < fs->len; j++) {
        FsNeed *n = &g_array_index(fs, FsNeed, j);
        if (ok && n->need > n->avail) {
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                        _("not enough space in '%s' on host '%s' for the disks of domain '%s': "
                          "%" G_GUINT64_FORMAT " MiB needed, %" G_GUINT64_FORMAT " MiB free"),
                        n->dir, job->host_name, job->def->name,
                        (n->need + 1048575) / 1048576, n->avail / 1048576);
            ok = FALSE;
        }
        g_free(n->dir);
    }
    return ok;
}

/*
 * Makes the file of one new image, sized, and tells the caller before it
 * has a name. The file is born unnamed (O_TMPFILE) and linked at its path
 * only once the caller knows its identity: a process killed in between
 * leaves nothing behind, and one killed later has it on record. Where the
 * file system has no unnamed files, the image is created at its path
 * (O_EXCL) and told at once, still empty.
 */
static gboolean
create_image(XmMigration *job, XmMigDisk *d, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(d->dest_path);
    gboolean named = FALSE;
    struct stat st;
    int fd;

    fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        fd = open(d->dest_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        named = TRUE;
    }
    if (fd < 0)
        return xm_set_error_errno(error, errno, XM_ERR_OPERATION_FAILED,
                                  _("cannot create image '%s'"), d->dest_path);
    if (named)
        d->created = TRUE;
    if (fstat(fd, &st) < 0) {
        xm_set_error_errno(error, errno, XM_ERR_OPERATION_FAILED,
                           _("cannot access '%s'"), d->dest_path);
        goto fail;
    }
    if (job->params.image_created &&
        !job->params.image_created(d->dest_path, st.st_dev, st.st_ino,
                                   job->params.image_created_data, error))
        goto fail;
    if (ftruncate(fd, d->capacity) < 0) {
        xm_set_error_errno(error, errno, XM_ERR_OPERATION_FAILED,
                           _("cannot size image '%s'"), d->dest_path);
        goto fail;
    }
    if (!named) {
        g_autofree char *self = g_strdup_printf("/proc/self/fd/%d", fd);

        /* fails (EEXIST) if someone else put a file there meanwhile */
        if (linkat(AT_FDCWD, self, AT_FDCWD, d->dest_path, AT_SYMLINK_FOLLOW) < 0 &&
            linkat(fd, "", AT_FDCWD, d->dest_path, AT_EMPTY_PATH) < 0) {
            xm_set_error_errno(error, errno, XM_ERR_OPERATION_FAILED,
                               _("cannot create image '%s'"), d->dest_path);
            goto fail;
        }
        d->created = TRUE;
    }
    close(fd);
    g_debug("created sparse image %s (%" G_GUINT64_FORMAT " bytes)",
            d->dest_path, d->capacity);
    return TRUE;

 fail:
    close(fd);
    return FALSE;
}

static gboolean
create_images(XmMigration *job, GError **error)
{
    for (size_t i = 0; i < job->ndisks; i++) {
        if (access(job->disks[i].dest_path, F_OK) == 0)
            continue;
        if (!create_image(job, &job->disks[i], error))
            return FALSE;
    }
    return TRUE;
}

static char *
random_name(void)
{
    guint8 r[XM_COOKIE_SECRET_BYTES];
    g_autofree char *hex = NULL;

    xm_channel_secret_generate(r);
    hex = xm_channel_secret_to_hex(r);
    memset(r, 0, sizeof(r));
    return g_strndup(hex, 32);
}

static gboolean
start_nbd(XmMigration *job, const char *bind_host, const char *nbd_host,
          guint mem_port, GError **error)
{
    guint next_port = job->params.disks_port;

    for (size_t i = 0; i < job->ndisks; i++) {
        XmMigDisk *d = &job->disks[i];
        XmNbdServerConfig cfg = { 0 };
        guint16 bound = 0;
        guint port = 0;

        d->export_name = random_name();
        cfg.image_path = d->dest_path;
        cfg.export_name = d->export_name;
        cfg.tls_dir = job->params.tls ? job->params.tls_dir : NULL;
        cfg.tls_verify_peer = TRUE;
        cfg.max_connections = 8;
        cfg.handshake_timeout_ms = 30000;
        d->server = xm_nbd_server_new(&cfg, error);
        if (!d->server)
            return FALSE;
        /* the source's verification reads every digest chunk through this
         * server: remembering their hashes spares Finish a second read of
         * the whole image while the guest is down */
        if (!xm_nbd_server_enable_chunk_hashes(d->server,
                                               xm_digest_chunk_size(xm_nbd_server_get_size(d->server)),
                                               error))
            return FALSE;
        if (next_port) {
            port = next_port++;
        } else {
            guint skip = mem_port;
            /* ports already taken by earlier disks are bound: the probe
             * skips them by itself */
            if (!xm_migration_probe_port(bind_host, job->params.port_min,
                                         job->params.port_max, skip, &port, error))
                return FALSE;
        }
        if (!xm_nbd_server_listen_tcp(d->server, bind_host, port, &bound, error) ||
            !xm_nbd_server_start(d->server, error))
            return FALSE;
        d->nbd_port = bound ? bound : port;
        g_debug("disk %s: NBD export on %s port %u%s", d->target, nbd_host,
                d->nbd_port, cfg.tls_dir ? " (TLS)" : " (no TLS)");
    }
    return TRUE;
}

/* The destination's worker: accept the source, then turn records back
 * into the memory stream for the backend's restore. */

typedef struct {
    XmMigration *job;
    int fd;
    int domid;
    GError *error;
    gint done;
} RestoreCtx;

static gpointer
restore_thread(gpointer data)
{
    RestoreCtx *r = data;
    XmMigration *job = r->job;

    r->domid = xm_backend_ops(job->backend)->restore_from_fd(job->backend, job->def,
                                                              r->fd, TRUE,
                                                              job->cancellable,
                                                              &r->error);
    /* the worker may be blocked writing to us: make its write fail
     * rather than wait for a reader that is gone */
    shutdown(r->fd, SHUT_RDWR);
    g_atomic_int_set(&r->done, 1);
    return NULL;
}

static gboolean
write_all(int fd, const guint8 *buf, gsize len, GError **error)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return xm_set_error_errno(error, n < 0 ? errno : EPIPE, XM_ERR_OPERATION_FAILED,
                                      _("the memory restore stopped reading"));
        buf += n;
        len -= n;
    }
    return TRUE;
}

static gboolean
receive(XmMigration *job, GError **error)
{
    g_autofree guint8 *buf = g_malloc(XM_CHANNEL_MAX_PAYLOAD);
    g_autoptr(XmChannel) ch = NULL;
    RestoreCtx r = { .job = job, .fd = -1, .domid = -1 };
    GThread *restorer = NULL;
    int sv[2] = { -1, -1 };
    gboolean ended = FALSE, ok = FALSE;
    guint connect_ms = job->params.connect_timeout_s * 1000;
    guint idle_ms = MAX(connect_ms, XM_MIGRATION_MIN_IDLE_MS);

    ch = xm_channel_accept(job->listener, connect_ms, job->cancellable, error);
    g_mutex_lock(&job->lock);
    job->refused = xm_channel_listener_get_refused(job->listener);
    /* one peer per migration: nobody else may connect from now on */
    g_clear_pointer(&job->listener, xm_channel_listener_free);
    if (ch)
        job->channel = ch;
    job->setup_done_us = g_get_monotonic_time();
    g_mutex_unlock(&job->lock);
    if (!ch)
        return FALSE;
    if (xm_migration_is_cancelled(job))
        xm_channel_shutdown(ch);

    for (;;) {
        XmChannelRecord type;
        guint32 len;

        if (!xm_channel_recv(ch, &type, buf, &len, idle_ms, error))
            goto out;
        if (type == XM_CHANNEL_PING)
            continue;
        if (type == XM_CHANNEL_ABORT) {
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_ABORTED,
                        _("the migration source aborted: %.*s"), (int) MIN(len, 512),
                        (const char *) buf);
            goto out;
        }
        if (type == XM_CHANNEL_DATA && !ended) {
            if (!restorer) {
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                    xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                                       _("cannot create a socket pair"));
                    goto out;
                }
                r.fd = sv[1];
                xm_migration_set_state(job, XM_MIGRATION_STATE_PERFORMING_MEMORY);
                restorer = g_thread_new("xm-mig-restore", restore_thread, &r);
            }
            if (g_atomic_int_get(&r.done) && r.domid >= 0) {
                /* the backend found its stream's end before ours */
                g_debug("ignoring %u bytes after the end of the memory stream", len);
                continue;
            }
            if (!write_all(sv[0], buf, len, error)) {
                /* the restore's own error says more than a broken pipe */
                g_thread_join(restorer);
                restorer = NULL;
                if (r.domid >= 0) {
                    g_mutex_lock(&job->lock);
                    job->domid = r.domid;      /* teardown destroys it */
                    g_mutex_unlock(&job->lock);
                } else if (r.error) {
                    g_clear_error(error);
                    g_propagate_prefixed_error(error, g_steal_pointer(&r.error),
                                               _("restoring the memory failed: "));
                }
                goto out;
            }
            __atomic_add_fetch(&job->mem_processed, len, __ATOMIC_RELAXED);
            continue;
        }
        if (type == XM_CHANNEL_END && !ended) {
            ended = TRUE;
            g_mutex_lock(&job->lock);
            job->end_received_us = g_get_monotonic_time();
            job->mem_done = TRUE;
            g_mutex_unlock(&job->lock);
            if (!restorer) {
                g_set_error(error, XM_ERROR, XM_ERR_RPC,
                            _("the migration source sent no memory"));
                goto out;
            }
            close(sv[0]);
            sv[0] = -1;
            g_thread_join(restorer);
            restorer = NULL;
            if (r.domid < 0) {
                g_propagate_error(error, g_steal_pointer(&r.error));
                goto out;
            }
            g_mutex_lock(&job->lock);
            job->domid = r.domid;
            g_mutex_unlock(&job->lock);
            xm_migration_set_state(job, XM_MIGRATION_STATE_DRAINING);
            continue;
        }
        if (type == XM_CHANNEL_COMPLETE && ended) {
            g_autofree char *text = g_strndup((const char *) buf, len);
            g_mutex_lock(&job->lock);
            job->peer_checksums = g_strsplit(text, "\n", XM_COOKIE_MAX_DISKS + 1);
            g_mutex_unlock(&job->lock);
            ok = TRUE;
            goto out;
        }
        g_set_error(error, XM_ERROR, XM_ERR_RPC,
                    _("unexpected record %u on the migration channel"), type);
        goto out;
    }
 out:
    if (sv[0] >= 0)
        close(sv[0]);
    if (restorer) {
        g_thread_join(restorer);
        if (r.domid >= 0) {
            g_mutex_lock(&job->lock);
            job->domid = r.domid;      /* teardown destroys it */
            g_mutex_unlock(&job->lock);
        }
    }
    g_clear_error(&r.error);
    if (sv[1] >= 0)
        close(sv[1]);
    g_mutex_lock(&job->lock);
    job->channel = NULL;
    g_mutex_unlock(&job->lock);
    return ok;
}

static gpointer
worker_main(gpointer data)
{
    XmMigration *job = data;
    g_autoptr(GError) err = NULL;
    gboolean ok = receive(job, &err);

    if (!ok) {
        g_debug("destination worker failed: %s", err->message);
        /* close the disk endpoints at once: nothing may write any more */
        for (size_t i = 0; i < job->ndisks; i++) {
            if (job->disks[i].server)
                xm_nbd_server_stop(job->disks[i].server);
        }
    }
    /* Said before worker_done, so that a Finish, which waits for it, has
     * the last word. Without a Finish (link cut, source daemon gone) the
     * state is all the driver can see to remove the half-made domain. */
    if (!ok)
        xm_migration_set_state(job, g_error_matches(err, XM_ERROR, XM_ERR_OPERATION_ABORTED)
                                    ? XM_MIGRATION_STATE_CANCELLED
                                    : XM_MIGRATION_STATE_FAILED);
    g_mutex_lock(&job->lock);
    if (!ok)
        job->worker_error = g_steal_pointer(&err);
    job->worker_done = TRUE;
    g_cond_broadcast(&job->worker_cond);
    g_mutex_unlock(&job->lock);
    return NULL;
}

/* Where to listen and what to announce. */
static gboolean
choose_addresses(XmMigration *job, char **bind_host, char **announce,
                 guint *port, GError **error)
{
    const XmMigrationParams *p = &job->params;
    g_autofree char *uri_host = NULL;
    guint uri_port = 0;

    if (p->uri && !xm_migration_uri_parse(p->uri, &uri_host, &uri_port, error))
        return FALSE;
    if (p->listen_address) {
        *bind_host = g_strdup(p->listen_address);
        if (strcmp(p->listen_address, "0.0.0.0") == 0 ||
            strcmp(p->listen_address, "::") == 0)
            *announce = g_strdup(uri_host ? uri_host : job->host_name);
        else
            *announce = g_strdup(p->listen_address);
    } else if (uri_host) {
        *bind_host = g_strdup(uri_host);
        *announce = g_strdup(uri_host);
    } else {
        *bind_host = g_strdup(job->host_name);
        *announce = g_strdup(job->host_name);
    }
    *port = uri_port;
    return TRUE;
}

XmMigration *
xm_migration_prepare(XmBackend *backend, const XmDomainDef *def,
                     const char *cookie_in, const XmMigrationParams *params,
                     char **cookie_out, char **uri_out, GError **error)
{
    g_autoptr(XmMigration) job = NULL;
    g_autoptr(XmCookie) in = NULL;
    g_autoptr(XmCookie) out = NULL;
    g_autofree char *bind_host = NULL, *announce = NULL;
    g_autofree char *nbd_bind = NULL, *nbd_announce = NULL;
    guint mem_port = 0, uri_port = 0;
    int lfd;

    g_return_val_if_fail(backend && def && params && cookie_out, NULL);
    xm_init();
    if (!xm_migration_check_params(params, error))
        return NULL;
    in = xm_cookie_parse(cookie_in, cookie_in ? strlen(cookie_in) : 0, error);
    if (!in)
        return NULL;
    if (in->tls != params->tls) {
        g_set_error(error, XM_ERROR, XM_ERR_ARGUMENT_UNSUPPORTED,
                    in->tls ? _("the source asks for a TLS migration, but TLS is not enabled here")
                            : _("this host requires TLS migration, but the source did not ask for it"));
        return NULL;
    }
    job = xm_migration_new(FALSE, backend, def, params);
    if (params->dest_name) {
        g_free(job->def->name);
        job->def->name = g_strdup(params->dest_name);
    }
    job->mem_total = MAX(in->memory_kib, def->current_memory_kib) * 1024;
    job->was_paused = xm_cookie_has_feature(in, "guest-paused");

    /* disks named by the source, at the paths of the destination XML */
    job->ndisks = in->ndisks;
    job->disks = g_new0(XmMigDisk, in->ndisks ? in->ndisks : 1);
    for (size_t i = 0; i < in->ndisks; i++) {
        XmMigDisk *d = &job->disks[i];
        const XmDiskDef *dd = NULL;

        for (size_t j = 0; j < def->ndisks; j++) {
            if (g_strcmp0(def->disks[j].target, in->disks[i].target) == 0)
                dd = &def->disks[j];
        }
        d->target = g_strdup(in->disks[i].target);
        d->capacity = in->disks[i].capacity;
        d->allocation = in->disks[i].allocation;
        d->format = strcmp(in->disks[i].format, "raw") == 0 ? XM_DISK_FORMAT_RAW
                                                            : XM_DISK_FORMAT_QCOW2;
        if (!dd) {
            g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                        _("the destination definition of '%s' has no disk '%s'"),
                        def->name, d->target);
            return NULL;
        }
        if (!dd->source || dd->source[0] != '/') {
            g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                        _("disk '%s' on the destination is not a local file or block device"),
                        d->target);
            return NULL;
        }
        if (dd->format != XM_DISK_FORMAT_RAW || d->format != XM_DISK_FORMAT_RAW) {
            g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                        _("disk '%s' is not raw; copying qcow2 images is not supported yet"),
                        d->target);
            return NULL;
        }
        d->dest_path = g_strdup(dd->source);
    }

    /* checks first: nothing is created when one fails */
    if (!check_memory(job, in, error) || !check_images(job, error))
        return NULL;
    if (!choose_addresses(job, &bind_host, &announce, &uri_port, error))
        return NULL;
    lfd = xm_migration_listen_in_range(bind_host,
                                       uri_port ? uri_port : job->params.port_min,
                                       uri_port ? uri_port : job->params.port_max,
                                       &mem_port, error);
    if (lfd < 0)
        return NULL;
    xm_channel_secret_generate(job->secret);
    job->listener = xm_channel_listener_new(lfd, job->secret,
                                            params->tls ? params->tls_dir : NULL, error);
    if (!job->listener)
        return NULL;
    /* disks_uri moves the NBD endpoint elsewhere (another network) */
    nbd_bind = g_strdup(bind_host);
    nbd_announce = g_strdup(announce);
    if (params->disks_uri) {
        guint dport = 0;
        g_free(nbd_bind);
        if (!xm_migration_uri_parse(params->disks_uri, &nbd_bind, &dport, error))
            return NULL;
        g_free(nbd_announce);
        nbd_announce = g_strdup(nbd_bind);
        if (dport && !job->params.disks_port)
            job->params.disks_port = dport;
    }
    if (!create_images(job, error) ||
        !start_nbd(job, nbd_bind, nbd_announce, mem_port, error)) {
        xm_migration_dest_teardown(job);
        return NULL;
    }
    /* the caller's context lives only for this call */
    job->params.image_created = NULL;
    job->params.image_created_data = NULL;
    if (!params->tls)
        g_debug("migration of '%s' without TLS: endpoints are protected by the "
                "per-migration secret only", def->name);

    out = g_new0(XmCookie, 1);
    out->host_name = g_strdup(job->host_name);
    out->dom_name = g_strdup(job->def->name);
    memcpy(out->uuid, def->uuid, 16);
    out->memory_kib = job->mem_total / 1024;
    out->secret = xm_channel_secret_to_hex(job->secret);
    out->tls = params->tls;
    out->features = g_strdupv(in->features);
    out->ndisks = job->ndisks;
    out->disks = g_new0(XmCookieDisk, job->ndisks ? job->ndisks : 1);
    for (size_t i = 0; i < job->ndisks; i++) {
        out->disks[i].target = g_strdup(job->disks[i].target);
        out->disks[i].capacity = job->disks[i].capacity;
        out->disks[i].allocation = job->disks[i].allocation;
        out->disks[i].format = g_strdup("raw");
        out->disks[i].dest_path = g_strdup(job->disks[i].dest_path);
        out->disks[i].export_name = g_strdup(job->disks[i].export_name);
        out->disks[i].nbd_port = job->disks[i].nbd_port;
    }
    if (job->ndisks) {
        out->nbd_host = g_strdup(nbd_announce);
        out->nbd_port = job->disks[0].nbd_port;
        out->nbd_tls = params->tls;
    }
    out->mem_host = g_strdup(announce);
    out->mem_port = mem_port;

    *cookie_out = xm_cookie_format(out);
    if (uri_out)
        *uri_out = xm_migration_uri_format(announce, mem_port);
    job->cookie = g_steal_pointer(&out);
    xm_migration_set_state(job, XM_MIGRATION_STATE_PREPARED);
    job->worker = g_thread_new("xm-mig-dest", worker_main, job);
    g_debug("prepare: domain '%s' expected on %s port %u", job->def->name,
            announce, mem_port);
    return g_steal_pointer(&job);
}
