/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sim guest's disks. A path is either an image (file or block device,
 * written with pwrite) or an NBD URI (nbd:// or nbd+unix://, written with
 * libnbd), which lets the guest's I/O pass through a tracking NBD server.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libnbd.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "backend/sim/guest.h"
#include "util/util.h"

struct SimDisk {
    char *path;
    int fd;                   /* file: the image; NBD: -1 */
    struct nbd_handle *nbd;   /* NBD: the connection */
    guint64 size;
};

static gboolean
is_nbd_uri(const char *path)
{
    return g_str_has_prefix(path, "nbd://") || g_str_has_prefix(path, "nbd+unix://") ||
           g_str_has_prefix(path, "nbds://") || g_str_has_prefix(path, "nbds+unix://");
}

static SimDisk *
open_nbd(const char *uri, GError **error)
{
    struct nbd_handle *nbd = nbd_create();
    SimDisk *disk;
    int64_t size;

    if (!nbd) {
        g_set_error(error, XM_ERROR, XM_ERR_INTERNAL_ERROR, "nbd_create: %s",
                    nbd_get_error());
        return NULL;
    }
    if (nbd_connect_uri(nbd, uri) < 0 || (size = nbd_get_size(nbd)) < 0) {
        g_set_error(error, XM_ERROR, XM_ERR_OPEN_FAILED,
                    _("cannot open disk '%s': %s"), uri, nbd_get_error());
        nbd_close(nbd);
        return NULL;
    }
    disk = g_new0(SimDisk, 1);
    disk->path = g_strdup(uri);
    disk->fd = -1;
    disk->nbd = nbd;
    disk->size = size;
    return disk;
}

SimDisk *
sim_disk_open(const char *path, GError **error)
{
    SimDisk *disk;
    struct stat st;
    guint64 size;
    int fd;

    if (is_nbd_uri(path))
        return open_nbd(path, error);

    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        xm_set_error_errno(error, errno, XM_ERR_OPEN_FAILED,
                           _("cannot open disk '%s'"), path);
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        xm_set_error_errno(error, errno, XM_ERR_OPEN_FAILED, "fstat '%s'", path);
        close(fd);
        return NULL;
    }
    size = st.st_size;
    if (S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, &size) < 0) {
        xm_set_error_errno(error, errno, XM_ERR_OPEN_FAILED,
                           _("cannot get the size of '%s'"), path);
        close(fd);
        return NULL;
    }
    disk = g_new0(SimDisk, 1);
    disk->path = g_strdup(path);
    disk->fd = fd;
    disk->size = size;
    return disk;
}

guint64
sim_disk_size(SimDisk *disk)
{
    return disk->size;
}

gboolean
sim_disk_pwrite(SimDisk *disk, const void *buf, size_t len, guint64 off,
                GError **error)
{
    size_t done = 0;

    if (disk->nbd) {
        if (nbd_pwrite(disk->nbd, buf, len, off, 0) < 0) {
            g_set_error(error, XM_ERROR, XM_ERR_WRITE_FAILED,
                        _("write to '%s' failed: %s"), disk->path, nbd_get_error());
            return FALSE;
        }
        return TRUE;
    }
    while (done < len) {
        ssize_t r = pwrite(disk->fd, (const char *) buf + done, len - done, off + done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return xm_set_error_errno(error, r < 0 ? errno : ENOSPC,
                                      XM_ERR_WRITE_FAILED,
                                      _("write to '%s' failed"), disk->path);
        done += r;
    }
    return TRUE;
}

gboolean
sim_disk_flush(SimDisk *disk, GError **error)
{
    if (disk->nbd) {
        if (nbd_can_flush(disk->nbd) > 0 && nbd_flush(disk->nbd, 0) < 0) {
            g_set_error(error, XM_ERROR, XM_ERR_WRITE_FAILED,
                        _("flush of '%s' failed: %s"), disk->path, nbd_get_error());
            return FALSE;
        }
        return TRUE;
    }
    if (fdatasync(disk->fd) < 0)
        return xm_set_error_errno(error, errno, XM_ERR_WRITE_FAILED,
                                  _("flush of '%s' failed"), disk->path);
    return TRUE;
}

void
sim_disk_close(SimDisk *disk)
{
    if (!disk)
        return;
    if (disk->nbd) {
        nbd_shutdown(disk->nbd, 0);
        nbd_close(disk->nbd);
    }
    if (disk->fd >= 0)
        close(disk->fd);
    g_free(disk->path);
    g_free(disk);
}
