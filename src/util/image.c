/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Opening disk images: the one place that decides what counts as an image. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

int
xm_image_open(const char *path, int flags, guint64 *size, gboolean *is_blockdev,
              GError **error)
{
    struct stat st;
    guint64 bytes;
    int fd;

    /* O_NONBLOCK: opening a FIFO would otherwise wait for a writer forever,
     * before the type check below could refuse it. */
    fd = open(path, flags | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        xm_set_error_errno(error, errno, XM_ERR_OPEN_FAILED,
                           _("cannot open image '%s'"), path);
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                           _("cannot stat image '%s'"), path);
        goto fail;
    }
    if (S_ISBLK(st.st_mode)) {
        if (ioctl(fd, BLKGETSIZE64, &bytes) < 0) {
            xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                               _("cannot get the size of device '%s'"), path);
            goto fail;
        }
    } else if (S_ISREG(st.st_mode)) {
        bytes = st.st_size;
    } else {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("'%s' is neither a regular file nor a block device"),
                    path);
        goto fail;
    }
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
        xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                           _("cannot set up image '%s'"), path);
        goto fail;
    }
    *size = bytes;
    if (is_blockdev)
        *is_blockdev = S_ISBLK(st.st_mode);
    return fd;

 fail:
    close(fd);
    return -1;
}
