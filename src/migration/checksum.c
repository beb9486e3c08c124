/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Image sizes and the destination's own checksum of a copied image.
 *
 * The source's mirror verification already compares source and destination
 * over NBD; the destination recomputes the digest from its local image so
 * that a destination guest never starts on data the destination itself has
 * not checked against the source's word (the completion record).
 */
#define G_LOG_DOMAIN "xenmig-migration"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "migration/migration-private.h"

gboolean
xm_migration_image_size(const char *path, guint64 *size, guint64 *allocation,
                        GError **error)
{
    struct stat st;
    guint64 sz;

    if (stat(path, &st) < 0)
        return xm_set_error_errno(error, errno, XM_ERR_NO_SOURCE,
                                  _("cannot access image '%s'"), path);
    if (S_ISBLK(st.st_mode)) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return xm_set_error_errno(error, errno, XM_ERR_OPEN_FAILED,
                                      _("cannot open '%s'"), path);
        if (ioctl(fd, BLKGETSIZE64, &sz) < 0) {
            int e = errno;
            close(fd);
            return xm_set_error_errno(error, e, XM_ERR_SYSTEM_ERROR,
                                      _("cannot get the size of '%s'"), path);
        }
        close(fd);
        *size = sz;
        if (allocation)
            *allocation = sz;
        return TRUE;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED,
                    _("'%s' is neither a file nor a block device"), path);
        return FALSE;
    }
    *size = st.st_size;
    if (allocation)
        *allocation = MIN((guint64) st.st_blocks * 512, (guint64) st.st_size);
    return TRUE;
}

gboolean
xm_migration_image_checksum(const char *path, guint64 size,
                            GCancellable *cancellable, char out[33],
                            GError **error)
{
    guint64 chunk = xm_digest_chunk_size(size);
    g_autofree guint8 *buf = g_malloc(chunk);
    XXH3_state_t *st;
    XXH128_canonical_t canon;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    gboolean ok = FALSE;

    if (fd < 0)
        return xm_set_error_errno(error, errno, XM_ERR_OPEN_FAILED,
                                  _("cannot open '%s'"), path);
    st = XXH3_createState();
    XXH3_128bits_reset(st);
    for (guint64 off = 0; off < size; off += chunk) {
        gsize len = MIN(chunk, size - off), got = 0;

        if (g_cancellable_is_cancelled(cancellable)) {
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_ABORTED,
                        _("migration cancelled"));
            goto out;
        }
        while (got < len) {
            ssize_t n = pread(fd, buf + got, len - got, off + got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                xm_set_error_errno(error, n < 0 ? errno : EIO, XM_ERR_READ_FAILED,
                                   _("cannot read '%s' at offset %" G_GUINT64_FORMAT),
                                   path, off + got);
                goto out;
            }
            got += n;
        }
        XXH128_canonicalFromHash(&canon, XXH3_128bits(buf, len));
        XXH3_128bits_update(st, &canon, sizeof(canon));
    }
    XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(st));
    for (guint i = 0; i < 16; i++)
        g_snprintf(out + 2 * i, 3, "%02x", canon.digest[i]);
    ok = TRUE;
 out:
    XXH3_freeState(st);
    close(fd);
    return ok;
}
