/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * save / restore / managed save, and the job statistics of both.
 *
 * A save image is
 *
 *   offset  size
 *        0    16  magic "XenmigSaveImage\n"
 *       16     4  format version (1), little endian like every field
 *       20     4  flags: bit 0 = restore paused
 *       24     4  length of the domain XML
 *       28     4  reserved, 0
 *       32     8  length of the backend's memory stream
 *       40     8  XXH3-64 of the XML
 *       48     8  XXH3-64 of the memory stream
 *       56     8  XXH3-64 of bytes 0..55
 *       64        the domain XML, then the memory stream
 *
 * so that a restore can refuse a corrupt or truncated image before it
 * changes anything.
 */
#define G_LOG_DOMAIN "xenmig-driver"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "driver-save.h"


#define SAVE_MAGIC "XenmigSaveImage\n"
#define SAVE_VERSION 1
#define SAVE_HEADER_SIZE 64
#define SAVE_FLAG_PAUSED 1u
/* a domain XML is small: a bigger length means a corrupt header */
#define SAVE_MAX_XML (16u * 1024 * 1024)

typedef struct {
    guint32 flags;
    guint32 xml_len;
    guint64 payload_len;
    guint64 xml_hash;
    guint64 payload_hash;
} SaveHeader;

static void
put32(guint8 *p, guint32 v)
{
    v = GUINT32_TO_LE(v);
    memcpy(p, &v, 4);
}

static void
put64(guint8 *p, guint64 v)
{
    v = GUINT64_TO_LE(v);
    memcpy(p, &v, 8);
}

static guint32
get32(const guint8 *p)
{
    guint32 v;
    memcpy(&v, p, 4);
    return GUINT32_FROM_LE(v);
}

static guint64
get64(const guint8 *p)
{
    guint64 v;
    memcpy(&v, p, 8);
    return GUINT64_FROM_LE(v);
}

static void
header_encode(const SaveHeader *h, guint8 buf[SAVE_HEADER_SIZE])
{
    memset(buf, 0, SAVE_HEADER_SIZE);
    memcpy(buf, SAVE_MAGIC, 16);
    put32(buf + 16, SAVE_VERSION);
    put32(buf + 20, h->flags);
    put32(buf + 24, h->xml_len);
    put64(buf + 32, h->payload_len);
    put64(buf + 40, h->xml_hash);
    put64(buf + 48, h->payload_hash);
    put64(buf + 56, XXH3_64bits(buf, 56));
}

static gboolean
corrupt(GError **error, const char *path, const char *why)
{
    g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                _("'%s' is not a usable save image: %s"), path, why);
    return FALSE;
}

static gboolean
read_full(int fd, void *buf, size_t len, off_t off)
{
    size_t done = 0;

    while (done < len) {
        ssize_t r = pread(fd, (char *)buf + done, len - done, off + done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return FALSE;
        done += r;
    }
    return TRUE;
}

static gboolean
hash_range(int fd, off_t off, guint64 len, guint64 *hash, GError **error)
{
    XXH3_state_t *st = XXH3_createState();
    g_autofree char *buf = g_malloc(1 << 20);
    guint64 done = 0;

    XXH3_64bits_reset(st);
    while (done < len) {
        size_t n = MIN((guint64)(1 << 20), len - done);
        if (!read_full(fd, buf, n, off + done)) {
            XXH3_freeState(st);
            return xm_set_error_errno(error, errno ? errno : EIO,
                                      XM_ERR_OPERATION_FAILED,
                                      _("cannot read the save image"));
        }
        XXH3_64bits_update(st, buf, n);
        done += n;
    }
    *hash = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return TRUE;
}

/*
 * Opens and checks a save image. @full: also check the memory stream (a
 * restore does; reading the XML does not need to). Returns the fd, the
 * header and the XML.
 */
static int
image_open(const char *path, gboolean full, SaveHeader *h, char **xml,
           GError **error)
{
    guint8 buf[SAVE_HEADER_SIZE];
    struct stat st;
    g_autofree char *text = NULL;
    guint64 hash;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        xm_set_error_errno(error, errno, XM_ERR_OPERATION_FAILED,
                           _("cannot open save image '%s'"), path);
        return -1;
    }
    errno = 0;
    if (fstat(fd, &st) < 0 || !read_full(fd, buf, sizeof(buf), 0)) {
        corrupt(error, path, _("too short for a header"));
        goto fail;
    }
    if (memcmp(buf, SAVE_MAGIC, 16) != 0) {
        corrupt(error, path, _("bad magic"));
        goto fail;
    }
    if (get64(buf + 56) != XXH3_64bits(buf, 56)) {
        corrupt(error, path, _("header checksum mismatch"));
        goto fail;
    }
    if (get32(buf + 16) != SAVE_VERSION) {
        corrupt(error, path, _("unsupported format version"));
        goto fail;
    }
    h->flags = get32(buf + 20);
    h->xml_len = get32(buf + 24);
    h->payload_len = get64(buf + 32);
    h->xml_hash = get64(buf + 40);
    h->payload_hash = get64(buf + 48);
    if (h->xml_len == 0 || h->xml_len > SAVE_MAX_XML) {
        corrupt(error, path, _("bad XML length"));
        goto fail;
    }
    if ((guint64)st.st_size != SAVE_HEADER_SIZE + h->xml_len + h->payload_len) {
        corrupt(error, path, (guint64)st.st_size < SAVE_HEADER_SIZE + h->xml_len + h->payload_len
                                 ? _("truncated") : _("trailing data"));
        goto fail;
    }
    text = g_malloc(h->xml_len + 1);
    if (!read_full(fd, text, h->xml_len, SAVE_HEADER_SIZE)) {
        corrupt(error, path, _("truncated"));
        goto fail;
    }
    text[h->xml_len] = '\0';
    if (XXH3_64bits(text, h->xml_len) != h->xml_hash ||
        strlen(text) != h->xml_len) {
        corrupt(error, path, _("domain XML checksum mismatch"));
        goto fail;
    }
    if (full) {
        if (!hash_range(fd, SAVE_HEADER_SIZE + h->xml_len, h->payload_len, &hash, error))
            goto fail;
        if (hash != h->payload_hash) {
            corrupt(error, path, _("memory stream checksum mismatch"));
            goto fail;
        }
    }
    *xml = g_steal_pointer(&text);
    return fd;

 fail:
    close(fd);
    return -1;
}

void
xm_save_unlink(const char *path)
{
    if (g_unlink(path) < 0 && errno != ENOENT)
        g_warning("cannot remove save image %s: %s", path, g_strerror(errno));
}

/* ---- jobs ---- */

/* Returns the job's cancellable (owned by the job until job_end). */
static GCancellable *
job_begin(XmDomObj *dom, XmJobKind kind, guint64 total)
{
    GCancellable *cancel = g_cancellable_new();

    g_mutex_lock(&dom->job.lock);
    dom->job.cancel = cancel;
    dom->job.kind = kind;
    dom->job.start_us = g_get_monotonic_time();
    dom->job.total = total;
    dom->job.processed = 0;
    g_mutex_unlock(&dom->job.lock);
    return cancel;
}

static void
job_progress(XmDomObj *dom, guint64 processed)
{
    g_mutex_lock(&dom->job.lock);
    dom->job.processed = processed;
    g_mutex_unlock(&dom->job.lock);
}

static void
job_end(XmDomObj *dom, gboolean ok)
{
    g_mutex_lock(&dom->job.lock);
    dom->job.done_kind = dom->job.kind;
    dom->job.done_elapsed_ms = (g_get_monotonic_time() - dom->job.start_us) / 1000;
    dom->job.done_bytes = dom->job.processed;
    dom->job.done_ok = ok;
    dom->job.kind = XM_JOB_NONE;
    g_clear_object(&dom->job.cancel);
    g_mutex_unlock(&dom->job.lock);
}

/*
 * The backend streams into or out of the image's fd; a thread samples the
 * file offset meanwhile so that job info shows real progress.
 */
typedef struct {
    XmDomObj *dom;
    int fd;
    off_t base;
    gboolean reading;    /* restore: the offset moves; save: the size grows */
    GCancellable *stop;
} Sampler;

static gpointer
sampler_thread(gpointer data)
{
    Sampler *s = data;

    while (!g_cancellable_is_cancelled(s->stop)) {
        off_t pos;
        if (s->reading) {
            pos = lseek(s->fd, 0, SEEK_CUR);
        } else {
            struct stat st;
            pos = fstat(s->fd, &st) == 0 ? st.st_size : -1;
        }
        if (pos >= s->base)
            job_progress(s->dom, pos - s->base);
        g_usleep(50 * 1000);
    }
    return NULL;
}

static GThread *
sampler_start(Sampler *s)
{
    s->stop = g_cancellable_new();
    return g_thread_new("xenmig-job", sampler_thread, s);
}

static void
sampler_stop(Sampler *s, GThread *t)
{
    g_cancellable_cancel(s->stop);
    g_thread_join(t);
    g_object_unref(s->stop);
}

/* ---- save ---- */

static gboolean
write_all(int fd, const void *buf, size_t len, off_t off, GError **error)
{
    size_t done = 0;

    while (done < len) {
        ssize_t w = pwrite(fd, (const char *)buf + done, len - done, off + done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                                      _("cannot write the save image"));
        done += w;
    }
    return TRUE;
}

/* Writes @dom (locked, active) to @path and stops it. */
static gboolean
save_domain(XmDomObj *dom, const char *path, const char *dxml,
            unsigned int flags, GError **error)
{
    g_autofree char *xml = NULL;
    SaveHeader h = { 0 };
    guint8 hbuf[SAVE_HEADER_SIZE];
    int domid = g_atomic_int_get(&dom->domid);
    struct stat st;
    Sampler s = { 0 };
    GThread *t;
    gboolean ok, created;
    GCancellable *cancel;
    g_autofree char *marker = xm_dom_save_marker_path(dom->name);
    int fd;

    if (dxml) {
        g_autoptr(XmDomainDef) alt = xm_domain_def_parse_xml(dxml, error);
        if (!alt)
            return FALSE;
        if (!g_str_equal(alt->name, dom->name) || memcmp(alt->uuid, dom->uuid, 16)) {
            g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG, "%s",
                        _("the XML given for the save image names another domain"));
            return FALSE;
        }
        xml = xm_domain_def_format_xml(alt, -1, XM_DOMAIN_XML_SECURE | XM_DOMAIN_XML_INACTIVE);
    } else {
        xml = xm_domain_def_format_xml(dom->def, -1,
                                       XM_DOMAIN_XML_SECURE | XM_DOMAIN_XML_INACTIVE);
    }
    h.xml_len = strlen(xml);
    h.xml_hash = XXH3_64bits(xml, h.xml_len);
    if ((flags & VIR_DOMAIN_SAVE_PAUSED) ||
        (dom->state == XM_DOMSTATE_PAUSED && !(flags & VIR_DOMAIN_SAVE_RUNNING)))
        h.flags |= SAVE_FLAG_PAUSED;

    /* A failed save removes only a file it created itself: the target may
     * be a device or something else the caller owns. */
    created = !g_file_test(path, G_FILE_TEST_EXISTS);
    /* read back to checksum the stream the backend wrote */
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return xm_set_error_errno(error, errno, XM_ERR_OPERATION_FAILED,
                                  _("cannot create save image '%s'"), path);
    /* a zero header until the stream is complete: never restorable half-way */
    memset(hbuf, 0, sizeof(hbuf));
    if (!write_all(fd, hbuf, sizeof(hbuf), 0, error) ||
        !write_all(fd, xml, h.xml_len, SAVE_HEADER_SIZE, error) ||
        lseek(fd, SAVE_HEADER_SIZE + h.xml_len, SEEK_SET) < 0)
        goto fail_unlink;

    cancel = job_begin(dom, XM_JOB_SAVE, dom->def->current_memory_kib * 1024);
    s.dom = dom;
    s.fd = fd;
    s.base = SAVE_HEADER_SIZE + h.xml_len;
    t = sampler_start(&s);
    if (!g_file_set_contents(marker, "", 0, NULL))
        g_debug("cannot create %s", marker);
    ok = xm_ops()->suspend_to_fd(xm_driver->backend, domid, fd, 0, cancel, error);
    sampler_stop(&s, t);
    if (!ok) {
        g_unlink(marker);
        job_end(dom, FALSE);
        goto fail_unlink;
    }
    if (fstat(fd, &st) < 0) {
        xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                           _("cannot stat the save image"));
        goto fail_resume;
    }
    h.payload_len = st.st_size - (SAVE_HEADER_SIZE + h.xml_len);
    job_progress(dom, h.payload_len);
    if (!hash_range(fd, SAVE_HEADER_SIZE + h.xml_len, h.payload_len, &h.payload_hash, error))
        goto fail_resume;
    header_encode(&h, hbuf);
    if (!write_all(fd, hbuf, sizeof(hbuf), 0, error))
        goto fail_resume;
    if (fsync(fd) < 0 || close(fd) < 0) {
        fd = -1;
        xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                           _("cannot write the save image"));
        goto fail_resume;
    }
    fd = -1;
    g_unlink(marker);
    job_end(dom, TRUE);
    return TRUE;

 fail_resume:
    job_end(dom, FALSE);
    /* the guest must go on running where it was */
    if (!xm_ops()->resume(xm_driver->backend, domid, NULL))
        g_warning("cannot resume domain %s after a failed save", dom->name);
    g_unlink(marker);
 fail_unlink:
    if (fd >= 0)
        close(fd);
    if (created)
        g_unlink(path);
    return FALSE;
}

/* After a successful save_domain: the guest's state is in the image. */
static void
finish_saved(XmDomObj *dom)
{
    g_autoptr(GError) err = NULL;

    if (!xm_ops()->destroy(xm_driver->backend, g_atomic_int_get(&dom->domid), &err))
        g_warning("cannot destroy saved domain %s: %s", dom->name, err->message);
    xm_dom_mark_stopped(dom, VIR_DOMAIN_SHUTOFF_SAVED);
    xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_SAVED);
    xm_dom_cleanup_stopped(dom);
}

static gboolean
save_flags_ok(unsigned int flags)
{
    if ((flags & VIR_DOMAIN_SAVE_RUNNING) && (flags & VIR_DOMAIN_SAVE_PAUSED)) {
        XM_REPORT(VIR_ERR_INVALID_ARG, "%s",
                  _("running and paused flags are mutually exclusive"));
        return FALSE;
    }
    return TRUE;
}

/* The domain @vdom names, if it is a running guest (not Domain-0); the
 * caller releases it. */
static XmDomObj *
lookup_saveable(virDomainPtr vdom)
{
    XmDomObj *dom;

    if (!(dom = xm_dom_from_virdom(vdom)))
        return NULL;
    if (!xm_dom_check_not_dom0(dom))
        goto fail;
    if (!xm_dom_is_active(dom)) {
        XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s", _("domain is not running"));
        goto fail;
    }
    return dom;
 fail:
    xm_dom_release(dom);
    return NULL;
}

int
xmDomainSaveFlags(virDomainPtr vdom, const char *to, const char *dxml,
                  unsigned int flags)
{
    g_autoptr(GError) err = NULL;
    XmDomObj *dom;
    int ret = -1;

    XM_CHECK_FLAGS(VIR_DOMAIN_SAVE_RUNNING | VIR_DOMAIN_SAVE_PAUSED, -1);
    if (!save_flags_ok(flags))
        return -1;
    if (!(dom = lookup_saveable(vdom)))
        return -1;
    if (!save_domain(dom, to, dxml, flags, &err)) {
        XM_REPORT_GERROR(err);
        goto out;
    }
    finish_saved(dom);
    ret = 0;
 out:
    xm_dom_release(dom);
    return ret;
}

int
xmDomainSave(virDomainPtr vdom, const char *to)
{
    return xmDomainSaveFlags(vdom, to, NULL, 0);
}

int
xmDomainManagedSave(virDomainPtr vdom, unsigned int flags)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;
    XmDomObj *dom;
    int ret = -1;

    XM_CHECK_FLAGS(VIR_DOMAIN_SAVE_RUNNING | VIR_DOMAIN_SAVE_PAUSED, -1);
    if (!save_flags_ok(flags))
        return -1;
    if (!(dom = lookup_saveable(vdom)))
        return -1;
    if (!dom->persistent) {
        XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s",
                  _("cannot do managed save for transient domain"));
        goto out;
    }
    path = xm_dom_managed_save_path(dom);
    if (g_mkdir_with_parents(xm_driver->cfg->save_dir, 0755) < 0) {
        XM_REPORT(VIR_ERR_SYSTEM_ERROR, _("cannot create directory '%s': %s"),
                  xm_driver->cfg->save_dir, g_strerror(errno));
        goto out;
    }
    if (!save_domain(dom, path, NULL, flags, &err)) {
        XM_REPORT_GERROR(err);
        goto out;
    }
    finish_saved(dom);
    ret = 0;
 out:
    xm_dom_release(dom);
    return ret;
}

int
xmDomainHasManagedSaveImage(virDomainPtr vdom, unsigned int flags)
{
    XmDomObj *dom;
    int ret;

    XM_CHECK_FLAGS(0, -1);
    if (!(dom = xm_dom_from_virdom(vdom)))
        return -1;
    ret = xm_dom_has_managed_save(dom);
    xm_dom_release(dom);
    return ret;
}

int
xmDomainManagedSaveRemove(virDomainPtr vdom, unsigned int flags)
{
    g_autofree char *path = NULL;
    XmDomObj *dom;
    int ret = 0;

    XM_CHECK_FLAGS(0, -1);
    if (!(dom = xm_dom_from_virdom(vdom)))
        return -1;
    path = xm_dom_managed_save_path(dom);
    if (g_unlink(path) < 0 && errno != ENOENT) {
        XM_REPORT(VIR_ERR_SYSTEM_ERROR,
                  _("Failed to remove managed save file '%s': %s"),
                  path, g_strerror(errno));
        ret = -1;
    }
    xm_dom_release(dom);
    return ret;
}

/* ---- restore ---- */

/* Runs the backend restore for @dom (locked, inactive) from @fd. */
static gboolean
restore_stream(XmDomObj *dom, int fd, const SaveHeader *h, gboolean paused,
               GError **error)
{
    Sampler s = { 0 };
    GCancellable *cancel;
    GThread *t;
    int domid;

    if (lseek(fd, SAVE_HEADER_SIZE + h->xml_len, SEEK_SET) < 0)
        return xm_set_error_errno(error, errno, XM_ERR_OPERATION_FAILED,
                                  _("cannot seek in the save image"));
    cancel = job_begin(dom, XM_JOB_RESTORE, h->payload_len);
    s.dom = dom;
    s.fd = fd;
    s.base = SAVE_HEADER_SIZE + h->xml_len;
    s.reading = TRUE;
    t = sampler_start(&s);
    domid = xm_ops()->restore_from_fd(xm_driver->backend, dom->def, fd, paused,
                                      cancel, error);
    sampler_stop(&s, t);
    if (domid < 0) {
        job_end(dom, FALSE);
        return FALSE;
    }
    job_progress(dom, h->payload_len);
    job_end(dom, TRUE);
    xm_dom_set_domid(dom, domid);
    dom->state = paused ? XM_DOMSTATE_PAUSED : XM_DOMSTATE_RUNNING;
    dom->reason = paused ? VIR_DOMAIN_PAUSED_SAVE : VIR_DOMAIN_RUNNING_RESTORED;
    if (!xm_dom_save_status(dom, error)) {
        xm_ops()->destroy(xm_driver->backend, domid, NULL);
        xm_dom_set_domid(dom, -1);
        dom->state = XM_DOMSTATE_SHUTOFF;
        dom->reason = VIR_DOMAIN_SHUTOFF_FAILED;
        return FALSE;
    }
    return TRUE;
}

static gboolean
want_paused(const SaveHeader *h, unsigned int flags)
{
    if (flags & VIR_DOMAIN_SAVE_PAUSED)
        return TRUE;
    if (flags & VIR_DOMAIN_SAVE_RUNNING)
        return FALSE;
    return (h->flags & SAVE_FLAG_PAUSED) != 0;
}

gboolean
xm_save_restore_into(XmDomObj *dom, const char *path, gboolean paused,
                     GError **error)
{
    g_autofree char *xml = NULL;
    g_autoptr(XmDomainDef) def = NULL;
    SaveHeader h;
    gboolean ok;
    int fd;

    fd = image_open(path, TRUE, &h, &xml, error);
    if (fd < 0)
        return FALSE;
    if (!(def = xm_domain_def_parse_xml(xml, error)) ||
        memcmp(def->uuid, dom->uuid, 16) != 0) {
        if (def)
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                        _("managed save image '%s' belongs to another domain"), path);
        close(fd);
        return FALSE;
    }
    /* the image's definition runs; the persistent one waits in newdef */
    xm_domain_def_free(dom->newdef);
    dom->newdef = dom->def;
    dom->def = g_steal_pointer(&def);
    ok = restore_stream(dom, fd, &h, paused || (h.flags & SAVE_FLAG_PAUSED), error);
    close(fd);
    if (!ok) {
        xm_domain_def_free(dom->def);
        dom->def = g_steal_pointer(&dom->newdef);
    }
    return ok;
}

int
xmDomainRestoreFlags(virConnectPtr conn, const char *from, const char *dxml,
                     unsigned int flags)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = NULL;
    XmDomainDef *def;
    XmDomObj *dom;
    gboolean added = FALSE, paused;
    SaveHeader h;
    int fd, ret = -1;

    XM_CHECK_FLAGS(VIR_DOMAIN_SAVE_RUNNING | VIR_DOMAIN_SAVE_PAUSED, -1);
    if (!save_flags_ok(flags))
        return -1;
    fd = image_open(from, TRUE, &h, &xml, &err);
    if (fd < 0) {
        XM_REPORT_GERROR(err);
        return -1;
    }
    def = xm_domain_def_parse_xml(dxml ? dxml : xml, &err);
    if (!def) {
        XM_REPORT_GERROR(err);
        close(fd);
        return -1;
    }
    if (dxml) {
        g_autoptr(XmDomainDef) orig = xm_domain_def_parse_xml(xml, &err);
        if (!orig || !g_str_equal(orig->name, def->name) ||
            memcmp(orig->uuid, def->uuid, 16) != 0) {
            XM_REPORT(VIR_ERR_INVALID_ARG, "%s",
                      _("the XML given for the restore names another domain than the image"));
            xm_domain_def_free(def);
            close(fd);
            return -1;
        }
    }
    paused = want_paused(&h, flags);
    if (!(dom = xm_dom_add(def, TRUE, &added))) {
        close(fd);
        return -1;
    }
    if (added)
        dom->persistent = FALSE;
    if (!restore_stream(dom, fd, &h, paused, &err)) {
        XM_REPORT_GERROR(err);
        xm_dom_cleanup_stopped(dom);
        goto out;
    }
    xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_RESTORED);
    if (paused)
        xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_SUSPENDED,
                           VIR_DOMAIN_EVENT_SUSPENDED_RESTORED);
    ret = 0;
 out:
    close(fd);
    xm_dom_release(dom);
    return ret;
}

int
xmDomainRestore(virConnectPtr conn, const char *from)
{
    return xmDomainRestoreFlags(conn, from, NULL, 0);
}

char *
xmDomainSaveImageGetXMLDesc(virConnectPtr conn, const char *file, unsigned int flags)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmDomainDef) def = NULL;
    g_autofree char *xml = NULL;
    SaveHeader h;
    int fd;

    XM_CHECK_FLAGS(VIR_DOMAIN_SAVE_IMAGE_XML_SECURE, NULL);
    fd = image_open(file, FALSE, &h, &xml, &err);
    if (fd < 0) {
        XM_REPORT_GERROR(err);
        return NULL;
    }
    close(fd);
    if (!(def = xm_domain_def_parse_xml(xml, &err))) {
        XM_REPORT_GERROR(err);
        return NULL;
    }
    return xm_domain_def_format_xml(def, -1,
                                    XM_DOMAIN_XML_INACTIVE |
                                    ((flags & VIR_DOMAIN_SAVE_IMAGE_XML_SECURE)
                                         ? XM_DOMAIN_XML_SECURE : 0));
}

/* ---- job info ---- */

int
xmDomainAbortJob(virDomainPtr vdom)
{
    XmDomObj *dom = xm_dom_get_unlocked(vdom);
    int ret = 0;

    if (!dom)
        return -1;
    /* The save or restore sees the cancellation, stops its stream and
     * leaves the guest as it was (a save resumes it). Idempotent. */
    g_mutex_lock(&dom->job.lock);
    if (dom->job.kind != XM_JOB_NONE && dom->job.cancel) {
        g_cancellable_cancel(dom->job.cancel);
    } else {
        XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s", _("no job is active on the domain"));
        ret = -1;
    }
    g_mutex_unlock(&dom->job.lock);
    xm_dom_unref(dom);
    return ret;
}

int
xmDomainGetJobInfo(virDomainPtr vdom, virDomainJobInfoPtr info)
{
    XmDomObj *dom = xm_dom_get_unlocked(vdom);

    if (!dom)
        return -1;
    memset(info, 0, sizeof(*info));
    g_mutex_lock(&dom->job.lock);
    if (dom->job.kind != XM_JOB_NONE) {
        info->type = VIR_DOMAIN_JOB_UNBOUNDED;
        info->timeElapsed = (g_get_monotonic_time() - dom->job.start_us) / 1000;
        info->dataTotal = info->memTotal = MAX(dom->job.total, dom->job.processed);
        info->dataProcessed = info->memProcessed = dom->job.processed;
        info->dataRemaining = info->memRemaining = info->dataTotal - info->dataProcessed;
    } else {
        info->type = VIR_DOMAIN_JOB_NONE;
    }
    g_mutex_unlock(&dom->job.lock);
    xm_dom_unref(dom);
    return 0;
}

static void
param_ullong(virTypedParameterPtr p, const char *field, unsigned long long v)
{
    g_strlcpy(p->field, field, VIR_TYPED_PARAM_FIELD_LENGTH);
    p->type = VIR_TYPED_PARAM_ULLONG;
    p->value.ul = v;
}

int
xmDomainGetJobStats(virDomainPtr vdom, int *type, virTypedParameterPtr *params,
                    int *nparams, unsigned int flags)
{
    XmDomObj *dom;
    virTypedParameterPtr p;
    XmJobKind kind;
    guint64 elapsed, total, processed;
    int n = 0;

    XM_CHECK_FLAGS(VIR_DOMAIN_JOB_STATS_COMPLETED |
                   VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED, -1);
    if (!(dom = xm_dom_get_unlocked(vdom)))
        return -1;
    g_mutex_lock(&dom->job.lock);
    if (flags & VIR_DOMAIN_JOB_STATS_COMPLETED) {
        kind = dom->job.done_kind;
        elapsed = dom->job.done_elapsed_ms;
        total = processed = dom->job.done_bytes;
        *type = kind == XM_JOB_NONE ? VIR_DOMAIN_JOB_NONE
              : dom->job.done_ok ? VIR_DOMAIN_JOB_COMPLETED : VIR_DOMAIN_JOB_FAILED;
        if (!(flags & VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED))
            dom->job.done_kind = XM_JOB_NONE;
    } else {
        kind = dom->job.kind;
        elapsed = (g_get_monotonic_time() - dom->job.start_us) / 1000;
        processed = dom->job.processed;
        total = MAX(dom->job.total, processed);
        *type = kind == XM_JOB_NONE ? VIR_DOMAIN_JOB_NONE : VIR_DOMAIN_JOB_UNBOUNDED;
    }
    g_mutex_unlock(&dom->job.lock);
    xm_dom_unref(dom);

    *params = NULL;
    *nparams = 0;
    if (kind == XM_JOB_NONE)
        return 0;
    p = g_new0(virTypedParameter, 8);
    g_strlcpy(p[n].field, VIR_DOMAIN_JOB_OPERATION, VIR_TYPED_PARAM_FIELD_LENGTH);
    p[n].type = VIR_TYPED_PARAM_INT;
    p[n++].value.i = kind == XM_JOB_SAVE ? VIR_DOMAIN_JOB_OPERATION_SAVE
                                         : VIR_DOMAIN_JOB_OPERATION_RESTORE;
    param_ullong(&p[n++], VIR_DOMAIN_JOB_TIME_ELAPSED, elapsed);
    param_ullong(&p[n++], VIR_DOMAIN_JOB_DATA_TOTAL, total);
    param_ullong(&p[n++], VIR_DOMAIN_JOB_DATA_PROCESSED, processed);
    param_ullong(&p[n++], VIR_DOMAIN_JOB_DATA_REMAINING, total - processed);
    param_ullong(&p[n++], VIR_DOMAIN_JOB_MEMORY_TOTAL, total);
    param_ullong(&p[n++], VIR_DOMAIN_JOB_MEMORY_PROCESSED, processed);
    param_ullong(&p[n++], VIR_DOMAIN_JOB_MEMORY_REMAINING, total - processed);
    *params = p;
    *nparams = n;
    return 0;
}
