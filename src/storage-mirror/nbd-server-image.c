/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The exported image: reads, writes, zeroing and discard on a raw file or
 * block device, and its allocation map from SEEK_DATA/SEEK_HOLE.
 */
#define G_LOG_DOMAIN "xenmig-nbd"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/util.h"
#include "storage-mirror/nbd-proto.h"
#include "storage-mirror/nbd-server-priv.h"

guint32
xm_nbd_errno_to_wire(int err)
{
    switch (err) {
    case 0:
        return 0;
    case EPERM:
    case EACCES:
    case EROFS:
        return NBD_EPERM;
    case ENOMEM:
        return NBD_ENOMEM;
    case EINVAL:
        return NBD_EINVAL;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return NBD_ENOSPC;
    case EOVERFLOW:
        return NBD_EOVERFLOW;
    case ENOTSUP:
        return NBD_ENOTSUP;
    case ESHUTDOWN:
        return NBD_ESHUTDOWN;
    default:
        return NBD_EIO;
    }
}

static void
add_extent(GArray *extents, guint64 length, guint32 flags)
{
    if (extents->len > 0) {
        XmNbdExtent *last = &g_array_index(extents, XmNbdExtent,
                                           extents->len - 1);

        if (last->flags == flags) {
            last->length += length;
            return;
        }
    }
    g_array_append_vals(extents, &(XmNbdExtent){ length, flags }, 1);
}

int
xm_nbd_image_extents(XmNbdServer *s, XmNbdDataCache *cache, guint64 offset,
                     guint64 length, guint max_extents, GArray *extents)
{
    const guint32 hole = NBD_STATE_HOLE | NBD_STATE_ZERO;
    guint64 pos = offset;
    guint64 end = offset + length;
    gint generation = g_atomic_int_get(&s->hole_generation);

    g_array_set_size(extents, 0);
    while (pos < end) {
        off_t data, next;

        /* Stop early, but never before at least one extent exists. */
        if (extents->len >= max_extents)
            break;
        if (cache->generation == generation && pos >= cache->start &&
            pos < cache->end) {
            guint64 n = MIN(cache->end, end) - pos;

            add_extent(extents, n, 0);
            pos += n;
            continue;
        }
        data = lseek(s->image_fd, (off_t)pos, SEEK_DATA);
        if (data < 0) {
            if (errno == ENXIO) {
                /* no data from pos up to the end of the file */
                add_extent(extents, end - pos, hole);
            } else {
                /* no SEEK_DATA support: everything is data */
                add_extent(extents, end - pos, 0);
            }
            break;
        }
        if ((guint64)data > pos) {
            guint64 n = MIN((guint64)data, end) - pos;

            add_extent(extents, n, hole);
            pos += n;
            continue;
        }
        next = lseek(s->image_fd, (off_t)pos, SEEK_HOLE);
        if (next < 0 || (guint64)next <= pos)
            next = (off_t)end;
        else
            *cache = (XmNbdDataCache){ generation, pos, (guint64)next };
        add_extent(extents, MIN((guint64)next, end) - pos, 0);
        pos = MIN((guint64)next, end);
    }
    return 0;
}

int
xm_nbd_image_pread(XmNbdServer *s, void *buf, gsize len, guint64 offset)
{
    char *p = buf;

    while (len > 0) {
        ssize_t n = pread(s->image_fd, p, len, (off_t)offset);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        if (n == 0) {
            /* the file shrank under us: what is not there reads as 0 */
            memset(p, 0, len);
            return 0;
        }
        p += n;
        len -= n;
        offset += n;
    }
    return 0;
}

int
xm_nbd_image_pwrite(XmNbdServer *s, const void *buf, gsize len,
                    guint64 offset)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = pwrite(s->image_fd, p, len, (off_t)offset);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        if (n == 0)
            return EIO;
        p += n;
        len -= n;
        offset += n;
    }
    return 0;
}

/* fallocate(2) with @mode: 0, an errno, or -1 when this call cannot be
 * done that way. A mode the file (system) does not support at all is
 * remembered in @flag; EINVAL (e.g. a block device and a range that is
 * not sector-aligned) only rules out this one call. */
static int
try_fallocate(XmNbdServer *s, gint *flag, int mode, guint64 offset,
              guint64 length)
{
    if (g_atomic_int_get(flag))
        return -1;
    for (;;) {
        if (fallocate(s->image_fd, mode, (off_t)offset, (off_t)length) == 0) {
            g_atomic_int_inc(&s->hole_generation);
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EOPNOTSUPP || errno == ENOSYS || errno == ENODEV) {
            g_debug("%s: fallocate mode 0x%x unsupported (%s)",
                    s->image_path, mode, g_strerror(errno));
            g_atomic_int_set(flag, 1);
            return -1;
        }
        if (errno == EINVAL)
            return -1;
        return errno;
    }
}

int
xm_nbd_image_zero(XmNbdServer *s, guint64 offset, guint64 length,
                  gboolean may_punch, gboolean fast)
{
    static const guint64 chunk = 1024 * 1024;
    g_autofree char *zeroes = NULL;
    int rc;

    if (may_punch) {
        rc = try_fallocate(s, &s->no_punch,
                           FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                           offset, length);
        if (rc >= 0)
            return rc;
    }
    /* On a block device ZERO_RANGE may silently fall back to writing
     * zeroes, so it does not count as fast there. */
    if (!(fast && s->is_blockdev)) {
        rc = try_fallocate(s, &s->no_zero_range,
                           FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
                           offset, length);
        if (rc >= 0)
            return rc;
    }
    if (fast)
        return ENOTSUP;
    if (s->is_blockdev) {
        guint64 range[2] = { offset, length };

        if (ioctl(s->image_fd, BLKZEROOUT, range) == 0)
            return 0;
    }
    zeroes = g_malloc0(MIN(chunk, length));
    while (length > 0) {
        guint64 n = MIN(chunk, length);

        rc = xm_nbd_image_pwrite(s, zeroes, n, offset);
        if (rc)
            return rc;
        offset += n;
        length -= n;
    }
    return 0;
}

int
xm_nbd_image_trim(XmNbdServer *s, guint64 offset, guint64 length,
                  gboolean *changed)
{
    int rc = try_fallocate(s, &s->no_punch,
                           FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                           offset, length);

    /* Discard is advisory: doing nothing is a valid trim. */
    *changed = rc == 0;
    return rc > 0 ? rc : 0;
}

int
xm_nbd_image_prefetch(XmNbdServer *s, guint64 offset, guint64 length)
{
    /* only a hint: errors do not matter to the client */
    int rc = posix_fadvise(s->image_fd, (off_t)offset, (off_t)length,
                           POSIX_FADV_WILLNEED);

    if (rc)
        g_debug("%s: posix_fadvise: %s", s->image_path, g_strerror(rc));
    return 0;
}

int
xm_nbd_image_flush(XmNbdServer *s)
{
    if (fdatasync(s->image_fd) < 0)
        return errno;
    return 0;
}
