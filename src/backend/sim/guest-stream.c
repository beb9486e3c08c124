/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sim guest's memory stream (what save writes and restore reads; also
 * what a migration sends over its memory channel). Little-endian:
 *
 *   header  "XMSIMSV1", u32 version (1), u32 page size, u64 pages in use,
 *           u64 memory KiB, u64 max memory KiB, u32 config length, u32 0,
 *           config text ("key=value\n" lines, informational)
 *   PAGE    u32 'PAGE', u32 count, count x u64 page index, count pages
 *           (repeated: a live save sends a page again when it was dirtied)
 *   END     u32 'END!', u32 0, u64 heartbeat sequence, u64 RAM checksum
 *           (XXH3 of the pages in use), u64 stream checksum (XXH3 of every
 *           byte before this field)
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "backend/sim/guest.h"
#include "util/util.h"

#define STREAM_MAGIC "XMSIMSV1"
#define STREAM_VERSION 1
#define TAG_PAGE 0x45474150u  /* "PAGE" */
#define TAG_END 0x21444e45u   /* "END!" */
#define BATCH 64
#define MAX_PASSES 30
#define CONVERGED_PAGES 256

typedef struct {
    int fd;
    XXH3_state_t *hash;
    guint64 bytes;
    Guest *g;                 /* for cancellation; NULL when reading */
} Stream;

static gboolean
cancelled(Stream *s, GError **error)
{
    gboolean c;

    guest_lock(s->g);
    c = s->g->save_cancel;
    guest_unlock(s->g);
    if (c)
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_ABORTED,
                    _("save was cancelled"));
    return c;
}

static gboolean
stream_write(Stream *s, const void *buf, size_t len, GError **error)
{
    size_t done = 0;

    XXH3_64bits_update(s->hash, buf, len);
    while (done < len) {
        struct pollfd pfd = { .fd = s->fd, .events = POLLOUT };
        ssize_t r;

        if (poll(&pfd, 1, 200) == 0) {
            if (cancelled(s, error))
                return FALSE;
            continue;
        }
        r = write(s->fd, (const char *) buf + done, len - done);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0)
            return xm_set_error_errno(error, errno, XM_ERR_WRITE_FAILED,
                                      _("cannot write the memory stream"));
        done += r;
    }
    s->bytes += len;
    return TRUE;
}

static gboolean
stream_read(Stream *s, void *buf, size_t len, GError **error)
{
    size_t done = 0;

    while (done < len) {
        ssize_t r = read(s->fd, (char *) buf + done, len - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN) {
            /* the caller's fd may be non-blocking (a migration socket) */
            struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
            poll(&pfd, 1, -1);
            continue;
        }
        if (r < 0)
            return xm_set_error_errno(error, errno, XM_ERR_READ_FAILED,
                                      _("cannot read the memory stream"));
        if (r == 0) {
            g_set_error(error, XM_ERROR, XM_ERR_READ_FAILED,
                        _("the memory stream is truncated (ends after %"
                          G_GUINT64_FORMAT " bytes)"), s->bytes + done);
            return FALSE;
        }
        done += r;
    }
    XXH3_64bits_update(s->hash, buf, len);
    s->bytes += len;
    return TRUE;
}

static gboolean
write_u32(Stream *s, guint32 v, GError **error)
{
    v = GUINT32_TO_LE(v);
    return stream_write(s, &v, 4, error);
}

static gboolean
write_u64(Stream *s, guint64 v, GError **error)
{
    v = GUINT64_TO_LE(v);
    return stream_write(s, &v, 8, error);
}

static gboolean
read_u32(Stream *s, guint32 *v, GError **error)
{
    if (!stream_read(s, v, 4, error))
        return FALSE;
    *v = GUINT32_FROM_LE(*v);
    return TRUE;
}

static gboolean
read_u64(Stream *s, guint64 *v, GError **error)
{
    if (!stream_read(s, v, 8, error))
        return FALSE;
    *v = GUINT64_FROM_LE(*v);
    return TRUE;
}

static char *
config_text(Guest *g)
{
    return g_strdup_printf("name=%s\nuuid=%s\nhost=%s\n", g->name, g->uuid_str,
                           g->host);
}

/* Sends every page marked dirty (clearing its mark); returns the count. */
static gboolean
send_dirty(Stream *s, guint64 *sent, GError **error)
{
    Guest *g = s->g;
    g_autofree uint8_t *pages = g_malloc(BATCH * XM_SIM_PAGE_SIZE);
    guint64 idx[BATCH];
    size_t cursor = 0;

    *sent = 0;
    for (;;) {
        guint32 n = 0;

        guest_lock(g);
        if (g->save_cancel) {
            guest_unlock(g);
            return !cancelled(s, error);
        }
        while (cursor < g->ram_pages && n < BATCH) {
            if (g->dirty[cursor / 64] & (1ULL << (cursor % 64))) {
                g->dirty[cursor / 64] &= ~(1ULL << (cursor % 64));
                memcpy(pages + n * XM_SIM_PAGE_SIZE,
                       g->ram + cursor * XM_SIM_PAGE_SIZE, XM_SIM_PAGE_SIZE);
                idx[n++] = GUINT64_TO_LE(cursor);
            }
            cursor++;
        }
        guest_unlock(g);
        if (n == 0)
            return TRUE;
        if (!write_u32(s, TAG_PAGE, error) || !write_u32(s, n, error) ||
            !stream_write(s, idx, n * 8, error) ||
            !stream_write(s, pages, (size_t) n * XM_SIM_PAGE_SIZE, error))
            return FALSE;
        *sent += n;
    }
}

static guint64
count_dirty(Guest *g)
{
    guint64 n = 0;

    guest_lock(g);
    for (size_t i = 0; i < (g->ram_pages + 63) / 64; i++)
        n += __builtin_popcountll(g->dirty[i]);
    guest_unlock(g);
    return n;
}

static gboolean
save_stream(Stream *s, gboolean live, guint *passes, guint64 *total, GError **error)
{
    Guest *g = s->g;
    g_autofree char *cfg = config_text(g);
    guint64 sent, hb_seq, ram_sum, prev_dirty = G_MAXUINT64;

    if (!stream_write(s, STREAM_MAGIC, 8, error) ||
        !write_u32(s, STREAM_VERSION, error) ||
        !write_u32(s, XM_SIM_PAGE_SIZE, error) ||
        !write_u64(s, g->ram_pages, error) ||
        !write_u64(s, g->memory_kib, error) ||
        !write_u64(s, g->max_memory_kib, error) ||
        !write_u32(s, strlen(cfg), error) || !write_u32(s, 0, error) ||
        !stream_write(s, cfg, strlen(cfg), error))
        return FALSE;

    *passes = 0;
    *total = 0;
    while (live) {
        guint64 dirty;

        if (!send_dirty(s, &sent, error))
            return FALSE;
        *total += sent;
        (*passes)++;
        dirty = count_dirty(g);
        if (dirty <= CONVERGED_PAGES || *passes >= MAX_PASSES ||
            (*passes >= 5 && dirty >= prev_dirty))
            break;
        prev_dirty = dirty;
    }

    /* stop-and-copy: the worker is stopped from here on */
    guest_lock(g);
    g->state = GUEST_SUSPENDED;
    guest_unlock(g);
    if (!send_dirty(s, &sent, error))
        return FALSE;
    *total += sent;
    (*passes)++;

    guest_lock(g);
    hb_seq = g->hb_seq;
    ram_sum = guest_ram_checksum(g);
    guest_unlock(g);
    if (!write_u32(s, TAG_END, error) || !write_u32(s, 0, error) ||
        !write_u64(s, hb_seq, error) || !write_u64(s, ram_sum, error))
        return FALSE;
    return write_u64(s, XXH3_64bits_digest(s->hash), error);
}

gboolean
guest_save(Guest *g, int fd, gboolean live, char **summary, GError **error)
{
    Stream s = { .fd = fd, .hash = XXH3_createState(), .g = g };
    GuestState prev;
    guint passes = 0;
    guint64 total = 0;
    gboolean ok;

    guest_lock(g);
    if (g->state == GUEST_SUSPENDED || g->save_running) {
        guest_unlock(g);
        XXH3_freeState(s.hash);
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                    _("domain is already suspended or being saved"));
        return FALSE;
    }
    prev = g->state;
    g->save_running = TRUE;
    g->save_cancel = FALSE;
    if (!live)
        g->state = GUEST_SUSPENDED;
    for (size_t p = 0; p < g->ram_pages; p++)
        g->dirty[p / 64] |= 1ULL << (p % 64);
    guest_unlock(g);

    XXH3_64bits_reset(s.hash);
    ok = save_stream(&s, live, &passes, &total, error);
    XXH3_freeState(s.hash);

    guest_lock(g);
    g->save_running = FALSE;
    if (!ok)
        g->state = prev;      /* the guest carries on as if nothing happened */
    g_cond_broadcast(&g->cond);
    guest_unlock(g);
    if (ok)
        *summary = g_strdup_printf("bytes=%" G_GUINT64_FORMAT " passes=%u pages=%"
                                   G_GUINT64_FORMAT, s.bytes, passes, total);
    return ok;
}

static gboolean
corrupt(GError **error, const char *what)
{
    g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                _("the memory stream is corrupt: %s"), what);
    return FALSE;
}

static gboolean
restore_stream(Guest *g, Stream *s, GError **error)
{
    char magic[8];
    guint32 version, page_size, cfg_len, reserved;
    guint64 pages, memory_kib, max_kib;
    g_autofree char *cfg = NULL;

    if (!stream_read(s, magic, 8, error))
        return FALSE;
    if (memcmp(magic, STREAM_MAGIC, 8) != 0)
        return corrupt(error, _("not a sim memory stream (bad magic)"));
    if (!read_u32(s, &version, error) || !read_u32(s, &page_size, error) ||
        !read_u64(s, &pages, error) || !read_u64(s, &memory_kib, error) ||
        !read_u64(s, &max_kib, error) || !read_u32(s, &cfg_len, error) ||
        !read_u32(s, &reserved, error))
        return FALSE;
    if (version != STREAM_VERSION)
        return corrupt(error, _("unsupported stream version"));
    if (page_size != XM_SIM_PAGE_SIZE || cfg_len > 65536 || pages == 0)
        return corrupt(error, _("bad header"));
    if (pages > g->ram_alloc_pages) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                    _("the saved RAM (%" G_GUINT64_FORMAT " pages) does not fit "
                      "the domain's memory (%zu pages)"), pages, g->ram_alloc_pages);
        return FALSE;
    }
    cfg = g_malloc0(cfg_len + 1);
    if (!stream_read(s, cfg, cfg_len, error))
        return FALSE;
    g->ram_pages = pages;
    g->memory_kib = MIN(memory_kib, g->max_memory_kib);

    for (;;) {
        guint32 tag, n;

        if (!read_u32(s, &tag, error) || !read_u32(s, &n, error))
            return FALSE;
        if (tag == TAG_PAGE) {
            guint64 idx[BATCH];
            if (n == 0 || n > BATCH)
                return corrupt(error, _("bad page count"));
            if (!stream_read(s, idx, n * 8, error))
                return FALSE;
            for (guint32 i = 0; i < n; i++) {
                guint64 p = GUINT64_FROM_LE(idx[i]);
                if (p >= pages)
                    return corrupt(error, _("page index out of range"));
                if (!stream_read(s, g->ram + p * XM_SIM_PAGE_SIZE,
                                 XM_SIM_PAGE_SIZE, error))
                    return FALSE;
            }
        } else if (tag == TAG_END) {
            guint64 hb_seq, ram_sum, want, got;
            if (!read_u64(s, &hb_seq, error) || !read_u64(s, &ram_sum, error))
                return FALSE;
            want = XXH3_64bits_digest(s->hash);
            if (!read_u64(s, &got, error))
                return FALSE;
            if (got != want)
                return corrupt(error, _("checksum mismatch"));
            if (guest_ram_checksum(g) != ram_sum)
                return corrupt(error, _("RAM checksum mismatch"));
            g->hb_seq = hb_seq;
            return TRUE;
        } else {
            return corrupt(error, _("unknown record"));
        }
    }
}

gboolean
guest_restore(Guest *g, int fd, GError **error)
{
    Stream s = { .fd = fd, .hash = XXH3_createState() };
    gboolean ok;

    XXH3_64bits_reset(s.hash);
    ok = restore_stream(g, &s, error);
    XXH3_freeState(s.hash);
    return ok;
}
