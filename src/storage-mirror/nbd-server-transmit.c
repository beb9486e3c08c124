/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The transmission phase. One thread reads requests (and write payloads)
 * and hands them to a small pool of workers, so a client with several
 * requests in flight on one connection (the kernel's nbd driver, QEMU)
 * gets them served concurrently; replies go out in completion order,
 * matched by cookie. Memory is bounded by limiting what is in flight.
 * CAN_MULTI_CONN is safe because every connection shares the one image
 * descriptor, so a flush on any connection covers every completed write.
 */
#define G_LOG_DOMAIN "xenmig-nbd"
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "util/util.h"
#include "storage-mirror/nbd-proto.h"
#include "storage-mirror/nbd-server-priv.h"

/* Bounds the reply to one BLOCK_STATUS request. */
#define MAX_EXTENTS 1024
/* Worker threads per connection. */
#define WORKERS 8
/* Requests, and bytes of request data, in flight per connection; a
 * single request of any allowed size is always accepted. */
#define MAX_INFLIGHT 32
#define MAX_INFLIGHT_BYTES (64u * 1024 * 1024)

typedef struct {
    guint16 flags;
    guint16 type;
    guint64 cookie;
    guint64 offset;
    guint32 length;
} Request;

/* State of one connection's transmission phase. */
typedef struct {
    XmNbdConn *c;
    GRecMutex send_lock;        /* one reply (all its chunks) at a time */
    gint broken;                /* a reply could not be sent */

    /* workers: started on demand, joined when the connection ends */
    GAsyncQueue *queue;         /* Job*; &stop_job ends a worker */
    GThread *workers[WORKERS];
    guint n_workers;

    GMutex lock;                /* protects what follows */
    GCond cond;
    guint inflight;
    guint64 inflight_bytes;
    XmNbdDataCache cache;
} Transmit;

typedef struct {
    Request r;
    char *payload;              /* a write's data */
    int error;                  /* nonzero: only answer with this error */
} Job;

static Job stop_job;

/* Called with send_lock held, after a failed send: the connection is
 * unusable, so wake the reader and let everything wind down. */
static gboolean
broken(Transmit *t)
{
    if (!g_atomic_int_exchange(&t->broken, 1))
        shutdown(t->c->fd, SHUT_RDWR);
    return FALSE;
}

static gboolean
send_iov(Transmit *t, const struct iovec *iov, int n)
{
    gboolean ok;

    g_rec_mutex_lock(&t->send_lock);
    ok = !g_atomic_int_get(&t->broken) && xm_nbd_conn_writev(t->c, iov, n);
    if (!ok)
        broken(t);
    g_rec_mutex_unlock(&t->send_lock);
    return ok;
}

static gboolean
send_simple(Transmit *t, const Request *r, guint32 error, const void *data,
            gsize len)
{
    struct nbd_simple_reply hdr = {
        .magic = htobe32(NBD_SIMPLE_REPLY_MAGIC),
        .error = htobe32(error),
        .cookie = r->cookie,   /* opaque: echoed as received */
    };
    struct iovec iov[2] = {
        { .iov_base = &hdr, .iov_len = sizeof(hdr) },
        { .iov_base = (void *)data, .iov_len = len },
    };

    return send_iov(t, iov, len ? 2 : 1);
}

/* A structured reply chunk: header, a fixed part, then bulk data. */
static gboolean
send_chunk(Transmit *t, const Request *r, guint16 flags, guint16 type,
           const void *fixed, gsize fixed_len, const void *data,
           gsize data_len)
{
    struct nbd_structured_reply hdr = {
        .magic = htobe32(NBD_STRUCTURED_REPLY_MAGIC),
        .flags = htobe16(flags),
        .type = htobe16(type),
        .cookie = r->cookie,
        .length = htobe32(fixed_len + data_len),
    };
    struct iovec iov[3] = {
        { .iov_base = &hdr, .iov_len = sizeof(hdr) },
        { .iov_base = (void *)fixed, .iov_len = fixed_len },
        { .iov_base = (void *)data, .iov_len = data_len },
    };

    return send_iov(t, iov, data_len ? 3 : fixed_len ? 2 : 1);
}

static gboolean
send_error(Transmit *t, const Request *r, int err)
{
    guint32 wire = xm_nbd_errno_to_wire(err);

    if (t->c->structured &&
        (r->type == NBD_CMD_READ || r->type == NBD_CMD_BLOCK_STATUS)) {
        struct {
            guint32 error;
            guint16 msg_len;
        } __attribute__((packed)) e = { htobe32(wire), 0 };

        return send_chunk(t, r, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR,
                          &e, sizeof(e), NULL, 0);
    }
    return send_simple(t, r, wire, NULL, 0);
}

static gboolean
send_ok(Transmit *t, const Request *r)
{
    return send_simple(t, r, 0, NULL, 0);
}

static gboolean
in_bounds(Transmit *t, const Request *r)
{
    guint64 size = t->c->server->size;

    return r->offset <= size && r->length <= size - r->offset;
}

/* The allocation map through the connection's cache of known data. */
static void
extents(Transmit *t, const Request *r, guint max, GArray *out)
{
    XmNbdDataCache cache;

    g_mutex_lock(&t->lock);
    cache = t->cache;
    g_mutex_unlock(&t->lock);
    xm_nbd_image_extents(t->c->server, &cache, r->offset, r->length, max,
                         out);
    g_mutex_lock(&t->lock);
    t->cache = cache;
    g_mutex_unlock(&t->lock);
}

static void
do_read(Transmit *t, const Request *r)
{
    XmNbdServer *s = t->c->server;
    gboolean structured = t->c->structured;
    g_autoptr(GArray) ext = g_array_new(FALSE, FALSE, sizeof(XmNbdExtent));
    g_autofree char *buf = NULL;
    guint64 off = r->offset;
    XmNbdChunkRead chunk_read;
    int err;

    if (r->length == 0 || r->length > XM_NBD_MAX_PAYLOAD || !in_bounds(t, r)) {
        send_error(t, r, EINVAL);
        return;
    }
    /* Read everything first so that an I/O error becomes one clean error
     * reply rather than a half-sent series of chunks. */
    buf = g_try_malloc(r->length);
    if (!buf) {
        send_error(t, r, ENOMEM);
        return;
    }
    /* before the image is looked at: extents included */
    xm_nbd_chunk_read_begin(s, r->offset, r->length, &chunk_read);
    if (!structured || (r->flags & NBD_CMD_FLAG_DF))
        g_array_append_vals(ext, &(XmNbdExtent){ r->length, 0 }, 1);
    else
        extents(t, r, G_MAXUINT, ext);
    for (guint i = 0; i < ext->len; i++) {
        const XmNbdExtent *e = &g_array_index(ext, XmNbdExtent, i);

        if (!(e->flags & NBD_STATE_HOLE)) {
            err = xm_nbd_image_pread(s, buf + (off - r->offset), e->length,
                                     off);
            if (err) {
                send_error(t, r, err);
                return;
            }
        } else if (chunk_read.active) {
            /* a hole reads as zeros: hash what the client sees */
            memset(buf + (off - r->offset), 0, e->length);
        }
        off += e->length;
    }
    xm_nbd_chunk_read_record(s, &chunk_read, buf, r->length);

    if (!structured) {
        send_simple(t, r, 0, buf, r->length);
        return;
    }

    /* chunks of one reply go out together */
    g_rec_mutex_lock(&t->send_lock);
    off = r->offset;
    for (guint i = 0; i < ext->len; i++) {
        const XmNbdExtent *e = &g_array_index(ext, XmNbdExtent, i);
        guint16 flags = i + 1 == ext->len ? NBD_REPLY_FLAG_DONE : 0;
        gboolean ok;

        if (e->flags & NBD_STATE_HOLE) {
            struct {
                guint64 offset;
                guint32 length;
            } __attribute__((packed)) h = {
                htobe64(off), htobe32((guint32)e->length)
            };

            ok = send_chunk(t, r, flags, NBD_REPLY_TYPE_OFFSET_HOLE,
                            &h, sizeof(h), NULL, 0);
        } else {
            guint64 o = htobe64(off);

            ok = send_chunk(t, r, flags, NBD_REPLY_TYPE_OFFSET_DATA,
                            &o, sizeof(o), buf + (off - r->offset),
                            e->length);
        }
        if (!ok)
            break;
        off += e->length;
    }
    g_rec_mutex_unlock(&t->send_lock);
}

static int
finish_write(Transmit *t, const Request *r, XmNbdWriteKind kind,
             const void *data)
{
    int err = 0;

    if (r->flags & NBD_CMD_FLAG_FUA)
        err = xm_nbd_image_flush(t->c->server);
    if (!err && !xm_nbd_server_run_hook(t->c->server, kind, r->offset,
                                        r->length, data))
        err = EIO;
    return err;
}

/* A modification that failed on the image may still have changed part of
 * its range: trackers learn that the range's contents are unknown. */
static void
report_failed(Transmit *t, const Request *r)
{
    xm_nbd_server_run_hook(t->c->server, XM_NBD_TRIM, r->offset, r->length, NULL);
}

static void
reply(Transmit *t, const Request *r, int err)
{
    if (err)
        send_error(t, r, err);
    else
        send_ok(t, r);
}

/* The payload was read by the reader already. */
static void
do_write(Transmit *t, const Request *r, const char *payload)
{
    int err;

    if (t->c->server->readonly)
        err = EPERM;
    else if (!in_bounds(t, r))
        err = ENOSPC;
    else if (r->length == 0)
        err = 0;
    else {
        err = xm_nbd_image_pwrite(t->c->server, payload, r->length, r->offset);
        /* even a failed write may have changed part of the range */
        xm_nbd_chunk_changed(t->c->server, r->offset, r->length);
        if (!err)
            err = finish_write(t, r, XM_NBD_WRITE, payload);
        else
            report_failed(t, r);
    }
    reply(t, r, err);
}

static void
do_write_zeroes(Transmit *t, const Request *r)
{
    int err;

    if (t->c->server->readonly)
        err = EPERM;
    else if (!in_bounds(t, r))
        err = ENOSPC;
    else if (r->length == 0)
        err = 0;
    else {
        err = xm_nbd_image_zero(t->c->server, r->offset, r->length,
                                !(r->flags & NBD_CMD_FLAG_NO_HOLE),
                                !!(r->flags & NBD_CMD_FLAG_FAST_ZERO));
        xm_nbd_chunk_changed(t->c->server, r->offset, r->length);
        if (!err)
            err = finish_write(t, r, XM_NBD_WRITE_ZEROES, NULL);
        else
            report_failed(t, r);
    }
    reply(t, r, err);
}

static int
trim_and_note(XmNbdServer *s, guint64 offset, guint64 length, gboolean *changed)
{
    int err = xm_nbd_image_trim(s, offset, length, changed);

    /* a trim may leave any data behind on a block device */
    xm_nbd_chunk_changed(s, offset, length);
    return err;
}

static void
do_trim(Transmit *t, const Request *r)
{
    gboolean changed = FALSE;
    int err;

    if (t->c->server->readonly)
        err = EPERM;
    else if (!in_bounds(t, r))
        err = EINVAL;
    else if (r->length == 0)
        err = 0;
    else if (!(err = trim_and_note(t->c->server, r->offset, r->length,
                                   &changed))) {
        /* A trim the file system could not do changed nothing, so there
         * is nothing for the hook to track. */
        if (changed)
            err = finish_write(t, r, XM_NBD_TRIM, NULL);
        else if (r->flags & NBD_CMD_FLAG_FUA)
            err = xm_nbd_image_flush(t->c->server);
    } else {
        report_failed(t, r);
    }
    reply(t, r, err);
}

static void
do_block_status(Transmit *t, const Request *r)
{
    g_autoptr(GArray) ext = g_array_new(FALSE, FALSE, sizeof(XmNbdExtent));
    g_autofree guint32 *desc = NULL;
    guint32 id = htobe32(XM_NBD_BASE_ALLOCATION_ID);

    if (!t->c->structured || !t->c->meta_base_alloc || r->length == 0 ||
        !in_bounds(t, r)) {
        send_error(t, r, EINVAL);
        return;
    }
    extents(t, r, (r->flags & NBD_CMD_FLAG_REQ_ONE) ? 1 : MAX_EXTENTS, ext);
    desc = g_new(guint32, 2 * ext->len);
    for (guint i = 0; i < ext->len; i++) {
        const XmNbdExtent *e = &g_array_index(ext, XmNbdExtent, i);

        desc[2 * i] = htobe32((guint32)e->length);
        desc[2 * i + 1] = htobe32(e->flags);
    }
    send_chunk(t, r, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_BLOCK_STATUS,
               &id, sizeof(id), desc, (gsize)ext->len * 2 * sizeof(guint32));
}

/* Flags each command may carry. */
static guint16
allowed_flags(guint16 type)
{
    switch (type) {
    case NBD_CMD_READ:
        return NBD_CMD_FLAG_DF | NBD_CMD_FLAG_FUA;   /* FUA: no-op */
    case NBD_CMD_WRITE:
    case NBD_CMD_TRIM:
        return NBD_CMD_FLAG_FUA;
    case NBD_CMD_WRITE_ZEROES:
        return NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE |
               NBD_CMD_FLAG_FAST_ZERO;
    case NBD_CMD_BLOCK_STATUS:
        return NBD_CMD_FLAG_REQ_ONE;
    default:
        return 0;
    }
}

/* Bytes of memory a request holds while in flight. */
static guint64
job_bytes(const Request *r)
{
    if (r->type == NBD_CMD_READ || r->type == NBD_CMD_WRITE)
        return MIN(r->length, XM_NBD_MAX_PAYLOAD);
    return 0;
}

/* Releases @job's place among the requests in flight and frees it. */
static void
job_done(Transmit *t, Job *job)
{
    g_mutex_lock(&t->lock);
    t->inflight--;
    t->inflight_bytes -= job_bytes(&job->r);
    g_cond_broadcast(&t->cond);
    g_mutex_unlock(&t->lock);
    g_free(job->payload);
    g_free(job);
}

static void
serve_request(Transmit *t, const Request *r, const char *payload)
{
    switch (r->type) {
    case NBD_CMD_READ:
        do_read(t, r);
        break;
    case NBD_CMD_WRITE:
        do_write(t, r, payload);
        break;
    case NBD_CMD_FLUSH:
        reply(t, r, xm_nbd_image_flush(t->c->server));
        break;
    case NBD_CMD_TRIM:
        do_trim(t, r);
        break;
    case NBD_CMD_WRITE_ZEROES:
        do_write_zeroes(t, r);
        break;
    case NBD_CMD_BLOCK_STATUS:
        do_block_status(t, r);
        break;
    case NBD_CMD_CACHE:
        if (!in_bounds(t, r)) {
            send_error(t, r, EINVAL);
            break;
        }
        xm_nbd_image_prefetch(t->c->server, r->offset, r->length);
        send_ok(t, r);
        break;
    default:
        g_debug("conn %" G_GUINT64_FORMAT ": unknown command %u", t->c->id,
                r->type);
        send_error(t, r, EINVAL);
        break;
    }
}

/* Runs in a worker thread (or in the reader when none can start). */
static void
run_job(Transmit *t, Job *job)
{
    /* marks the thread, so that a hook stopping its own server is caught */
    xm_nbd_server_enter_conn(t->c);
    if (!g_atomic_int_get(&t->broken)) {
        if (job->error)
            send_error(t, &job->r, job->error);
        else
            serve_request(t, &job->r, job->payload);
    }
    xm_nbd_server_enter_conn(NULL);
    job_done(t, job);
}

static gpointer
worker_main(gpointer data)
{
    Transmit *t = data;
    Job *job;

    while ((job = g_async_queue_pop(t->queue)) != &stop_job)
        run_job(t, job);
    return NULL;
}

/* Hands @job to a worker, starting one unless a worker is idle. */
static void
dispatch(Transmit *t, Job *job)
{
    /* The queue's length is its items minus the workers waiting in it:
     * below zero, a waiting worker takes @job at once. Otherwise every
     * worker is busy (or already claimed), and @job must not wait behind
     * a request that may itself wait for it (a blocking hook). */
    if (g_async_queue_length(t->queue) >= 0 && t->n_workers < WORKERS) {
        g_autoptr(GError) err = NULL;
        GThread *w = g_thread_try_new("nbd-worker", worker_main, t, &err);

        if (w)
            t->workers[t->n_workers++] = w;
        else
            g_debug("conn %" G_GUINT64_FORMAT ": no new worker: %s",
                    t->c->id, err->message);
    }
    if (t->n_workers == 0) {
        run_job(t, job);
        return;
    }
    g_async_queue_push(t->queue, job);
}

/* Waits for room for @r among the requests in flight. */
static void
reserve(Transmit *t, const Request *r)
{
    guint64 bytes = job_bytes(r);

    g_mutex_lock(&t->lock);
    while (t->inflight > 0 &&
           (t->inflight >= MAX_INFLIGHT ||
            t->inflight_bytes + bytes > MAX_INFLIGHT_BYTES))
        g_cond_wait(&t->cond, &t->lock);
    t->inflight++;
    t->inflight_bytes += bytes;
    g_mutex_unlock(&t->lock);
}

/* Reads one request (with its payload) and queues it. FALSE ends the
 * connection: end of stream, protocol violation or NBD_CMD_DISC. */
static gboolean
read_request(Transmit *t)
{
    XmNbdConn *c = t->c;
    struct nbd_request wire;
    Job *job;
    Request r;

    if (!xm_nbd_conn_read(c, &wire, sizeof(wire)))
        return FALSE;
    if (be32toh(wire.magic) != NBD_REQUEST_MAGIC) {
        g_debug("conn %" G_GUINT64_FORMAT ": bad request magic", c->id);
        return FALSE;
    }
    r = (Request){
        .flags = be16toh(wire.flags),
        .type = be16toh(wire.type),
        .cookie = wire.cookie,
        .offset = be64toh(wire.offset),
        .length = be32toh(wire.length),
    };
    if (r.type == NBD_CMD_DISC) {
        g_debug("conn %" G_GUINT64_FORMAT ": client disconnects", c->id);
        return FALSE;
    }
    if (r.type == NBD_CMD_WRITE && r.length > XM_NBD_MAX_PAYLOAD) {
        /* The payload cannot be skipped sensibly: answer and hang up. */
        g_debug("conn %" G_GUINT64_FORMAT ": write of %u bytes refused",
                c->id, r.length);
        send_error(t, &r, EINVAL);
        return FALSE;
    }

    reserve(t, &r);
    job = g_new0(Job, 1);
    job->r = r;
    if (r.flags & ~allowed_flags(r.type)) {
        g_debug("conn %" G_GUINT64_FORMAT ": cmd %u with bad flags 0x%x",
                c->id, r.type, r.flags);
        job->error = EINVAL;
    }
    if (r.type == NBD_CMD_WRITE) {
        job->payload = g_try_malloc(MAX(r.length, 1));
        if (!job->payload)
            send_error(t, &r, ENOMEM);
        if (!job->payload || !xm_nbd_conn_read(c, job->payload, r.length)) {
            /* without the payload the stream cannot go on */
            job_done(t, job);
            return FALSE;
        }
    }
    dispatch(t, job);
    return TRUE;
}

void
xm_nbd_conn_transmit(XmNbdConn *c)
{
    Transmit t = { .c = c };

    g_rec_mutex_init(&t.send_lock);
    g_mutex_init(&t.lock);
    g_cond_init(&t.cond);
    t.queue = g_async_queue_new();

    while (!g_atomic_int_get(&t.broken) && read_request(&t))
        ;

    /* Requests already read still get their replies (NBD_CMD_DISC asks
     * for exactly that): the queue is FIFO, so each worker's stop comes
     * after them. */
    for (guint i = 0; i < t.n_workers; i++)
        g_async_queue_push(t.queue, &stop_job);
    for (guint i = 0; i < t.n_workers; i++)
        g_thread_join(t.workers[i]);
    g_async_queue_unref(t.queue);
    g_rec_mutex_clear(&t.send_lock);
    g_mutex_clear(&t.lock);
    g_cond_clear(&t.cond);
}
