/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The control requests. Each disk has at most one mirror job; the request
 * that creates, completes or frees it marks the disk busy and does the
 * slow part (connecting, the final drain, joining the job's thread)
 * without holding the lock, so other requests keep being answered.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "storage-mirror/datapath-client.h"
#include "storage-mirror/nbd-client.h"
#include "util/util.h"
#include "datapath.h"

typedef gboolean (*DpHandler)(Datapath *dp, DpDisk *disk, GHashTable *args,
                              GString *reply, GError **error);

typedef struct {
    const char *name;
    DpHandler handler;
    gboolean has_target;
    /* keys allowed besides "target" */
    const char *const *keys;
} DpCommand;

static const char *const mirror_keys[] = {
    "uri", "tls_dir", "bandwidth", "sync", "auto_sync", "auto_sync_ratio",
    "granularity", "connections", "verify", "timeout", "max_request",
    "max_in_flight", NULL
};
static const char *const bandwidth_keys[] = { "mib", NULL };

static void
reply_field(GString *reply, const char *key, const char *value)
{
    g_autofree char *escaped = xm_datapath_escape(value);

    g_string_append_printf(reply, " %s=%s", key, escaped);
}

static void
reply_u64(GString *reply, const char *key, guint64 value)
{
    g_string_append_printf(reply, " %s=%" G_GUINT64_FORMAT, key, value);
}

/* ------------------------------------------------------------------ */
/* argument parsing */

static gboolean
arg_u64(GHashTable *args, const char *key, guint64 max, guint64 *out,
        GError **error)
{
    const char *v = g_hash_table_lookup(args, key);

    if (!v)
        return TRUE;
    if (!g_ascii_string_to_unsigned(v, 10, 0, max, out, NULL)) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("bad value '%s' for %s"), v, key);
        return FALSE;
    }
    return TRUE;
}

static gboolean
arg_uint(GHashTable *args, const char *key, guint *out, GError **error)
{
    guint64 v = *out;

    if (!arg_u64(args, key, G_MAXUINT, &v, error))
        return FALSE;
    *out = (guint) v;
    return TRUE;
}

static gboolean
arg_bool(GHashTable *args, const char *key, gboolean *out, GError **error)
{
    guint64 v = *out ? 1 : 0;

    if (!arg_u64(args, key, 1, &v, error))
        return FALSE;
    *out = v == 1;
    return TRUE;
}

static gboolean
arg_double(GHashTable *args, const char *key, double *out, GError **error)
{
    const char *v = g_hash_table_lookup(args, key);
    char *end = NULL;
    double d;

    if (!v)
        return TRUE;
    d = g_ascii_strtod(v, &end);
    if (!*v || *end || !(d >= 0) || d > 1e12) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("bad value '%s' for %s"), v, key);
        return FALSE;
    }
    *out = d;
    return TRUE;
}

static const char *
arg_required(GHashTable *args, const char *key, GError **error)
{
    const char *v = g_hash_table_lookup(args, key);

    if (!v || !*v)
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("missing argument '%s'"), key);
    return v && *v ? v : NULL;
}

/* ------------------------------------------------------------------ */
/* disk ownership */

/* Ends the caller's ownership of @disk. */
static void
disk_release(Datapath *dp, DpDisk *disk)
{
    g_mutex_lock(&dp->lock);
    disk->busy = FALSE;
    disk->cancel_requested = FALSE;
    g_cond_broadcast(&dp->idle);
    g_mutex_unlock(&dp->lock);
}

/* Unpublishes @job, frees it (joins its thread, removes its write hook)
 * and gives the disk back. */
static void
disk_drop_job(Datapath *dp, DpDisk *disk, XmMirrorJob *job)
{
    g_mutex_lock(&dp->lock);
    disk->job = NULL;
    g_mutex_unlock(&dp->lock);
    xm_mirror_job_free(job);
    disk_release(dp, disk);
}

/* ------------------------------------------------------------------ */
/* handlers */

static gboolean
do_ping(Datapath *dp, DpDisk *disk, GHashTable *args, GString *reply,
        GError **error)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    g_autofree char *joined = NULL;

    for (guint i = 0; i < dp->n_disks; i++)
        g_ptr_array_add(names, dp->disks[i].target);
    g_ptr_array_add(names, NULL);
    joined = g_strjoinv(",", (char **) names->pdata);
    reply_u64(reply, "version", XM_DATAPATH_PROTOCOL_VERSION);
    reply_field(reply, "disks", joined);
    return TRUE;
}

static gboolean
mirror_options(GHashTable *args, XmMirrorOptions *opts, gboolean *sync,
               GError **error)
{
    guint64 granularity = 0, max_request = 0;

    opts->mode = XM_MIRROR_TRACKED;
    opts->tls_dir = g_hash_table_lookup(args, "tls_dir");
    if (!arg_double(args, "bandwidth", &opts->bandwidth_mib, error) ||
        !arg_bool(args, "sync", sync, error) ||
        !arg_bool(args, "auto_sync", &opts->auto_sync, error) ||
        !arg_double(args, "auto_sync_ratio", &opts->auto_sync_ratio, error) ||
        !arg_u64(args, "granularity", G_MAXUINT64, &granularity, error) ||
        !arg_uint(args, "connections", &opts->connections, error) ||
        !arg_bool(args, "verify", &opts->verify, error) ||
        !arg_uint(args, "timeout", &opts->timeout_s, error) ||
        !arg_u64(args, "max_request", G_MAXUINT64, &max_request, error) ||
        !arg_uint(args, "max_in_flight", &opts->max_in_flight, error))
        return FALSE;
    opts->granularity = granularity;
    opts->max_request = max_request;
    return TRUE;
}

static gboolean
do_mirror(Datapath *dp, DpDisk *disk, GHashTable *args, GString *reply,
          GError **error)
{
    XmMirrorOptions opts = { 0 };
    gboolean sync = FALSE, ok, cancelled;
    const char *uri = arg_required(args, "uri", error);
    g_autofree char *where = NULL;
    g_autofree char *bandwidth_text = NULL;
    g_autoptr(GError) err = NULL;
    XmMirrorJob *job;

    if (!uri || !mirror_options(args, &opts, &sync, error))
        return FALSE;
    where = xm_nbd_uri_describe(uri);
    bandwidth_text = opts.bandwidth_mib > 0
        ? g_strdup_printf("%g MiB/s", opts.bandwidth_mib) : g_strdup("unlimited");

    g_mutex_lock(&dp->lock);
    if (dp->quitting || disk->job || disk->busy) {
        if (dp->quitting)
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                        _("the datapath is shutting down"));
        else
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                        _("disk %s already has a mirror job"), disk->target);
        g_mutex_unlock(&dp->lock);
        return FALSE;
    }
    disk->busy = TRUE;
    g_mutex_unlock(&dp->lock);

    job = xm_mirror_job_new(disk->image, uri, &opts, &err);
    if (!job) {
        disk_release(dp, disk);
        g_message("MIRROR %s to %s: failed: %s", disk->target, where, err->message);
        g_propagate_error(error, g_steal_pointer(&err));
        return FALSE;
    }
    /* with verification, hash both sides while the guest still runs, so
     * that COMPLETE (guest paused) reads only the chunks changed since */
    if (opts.verify)
        xm_mirror_job_preverify(job);
    /* published before the slow start so that CANCEL can interrupt it;
     * one that came while the job was being created takes effect now */
    g_mutex_lock(&dp->lock);
    disk->job = job;
    if (disk->cancel_requested || dp->quitting)
        xm_mirror_job_cancel(job);
    g_mutex_unlock(&dp->lock);
    ok = xm_mirror_job_attach_server(job, disk->server, &err) &&
         xm_mirror_job_start(job, &err);
    if (ok && sync)
        xm_mirror_job_request_sync(job);

    /* checked and released in one go: a CANCEL arriving now waits for a
     * job it can see */
    g_mutex_lock(&dp->lock);
    cancelled = disk->cancel_requested || dp->quitting;
    if (ok && !cancelled) {
        disk->busy = FALSE;
        g_cond_broadcast(&dp->idle);
    }
    g_mutex_unlock(&dp->lock);
    if (ok && cancelled) {
        ok = FALSE;
        g_set_error(&err, XM_ERROR, XM_ERR_OPERATION_ABORTED,
                    _("the mirror job of %s was cancelled while starting"),
                    disk->target);
    }
    if (!ok) {
        disk_drop_job(dp, disk, job);
        g_message("MIRROR %s to %s: failed: %s", disk->target, where, err->message);
        g_propagate_error(error, g_steal_pointer(&err));
        return FALSE;
    }
    g_message("MIRROR %s to %s: started (bandwidth %s%s%s%s)", disk->target, where,
              bandwidth_text, sync ? ", sync" : "", opts.auto_sync ? ", auto-sync" : "",
              opts.verify ? ", verify" : "");
    return TRUE;
}

/* Runs @fn on the disk's job under the lock (for the quick calls). */
static gboolean
with_job(Datapath *dp, DpDisk *disk, void (*fn)(XmMirrorJob *, gpointer),
         gpointer data, GError **error)
{
    gboolean found;

    g_mutex_lock(&dp->lock);
    found = disk->job != NULL;
    if (found)
        fn(disk->job, data);
    g_mutex_unlock(&dp->lock);
    if (!found)
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                    _("disk %s has no mirror job"), disk->target);
    return found;
}

static void
get_progress(XmMirrorJob *job, gpointer data)
{
    xm_mirror_job_get_progress(job, data);
}

static gboolean
do_progress(Datapath *dp, DpDisk *disk, GHashTable *args, GString *reply,
            GError **error)
{
    XmMirrorProgress p;

    if (!with_job(dp, disk, get_progress, &p, error))
        return FALSE;
    reply_field(reply, "phase", xm_mirror_phase_to_string(p.phase));
    reply_u64(reply, "pass", p.pass);
    reply_u64(reply, "total", p.total);
    reply_u64(reply, "done", p.done);
    reply_u64(reply, "remaining", p.remaining);
    reply_u64(reply, "dirty", p.dirty);
    reply_u64(reply, "sent", p.sent);
    reply_u64(reply, "blocks_sent", p.blocks_sent);
    reply_u64(reply, "rate", p.rate);
    reply_u64(reply, "verified", p.verified);
    reply_u64(reply, "verify_read_source", p.verify_read_source);
    reply_u64(reply, "verify_read_dest", p.verify_read_dest);
    return TRUE;
}

static void
set_bandwidth(XmMirrorJob *job, gpointer data)
{
    xm_mirror_job_set_bandwidth(job, *(double *) data);
}

static gboolean
do_bandwidth(Datapath *dp, DpDisk *disk, GHashTable *args, GString *reply,
             GError **error)
{
    double mib = 0;

    if (!arg_required(args, "mib", error) || !arg_double(args, "mib", &mib, error))
        return FALSE;
    if (!with_job(dp, disk, set_bandwidth, &mib, error))
        return FALSE;
    g_message("BANDWIDTH %s: %g MiB/s", disk->target, mib);
    return TRUE;
}

static void
request_sync(XmMirrorJob *job, gpointer data)
{
    xm_mirror_job_request_sync(job);
}

static gboolean
do_sync(Datapath *dp, DpDisk *disk, GHashTable *args, GString *reply,
        GError **error)
{
    if (!with_job(dp, disk, request_sync, NULL, error))
        return FALSE;
    g_message("SYNC %s: synchronous mode requested", disk->target);
    return TRUE;
}

static gboolean
do_complete(Datapath *dp, DpDisk *disk, GHashTable *args, GString *reply,
            GError **error)
{
    g_autoptr(GError) err = NULL;
    XmMirrorResult res = { 0 };
    XmMirrorProgress before, after;
    gint64 t0, ms;
    XmMirrorJob *job;
    gboolean ok;

    g_mutex_lock(&dp->lock);
    job = disk->busy ? NULL : disk->job;
    if (!job)
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                    disk->job ? _("disk %s: another request handles its mirror job")
                              : _("disk %s has no mirror job"),
                    disk->target);
    else
        disk->busy = TRUE;
    g_mutex_unlock(&dp->lock);
    if (!job)
        return FALSE;

    g_message("COMPLETE %s: final drain", disk->target);
    xm_mirror_job_get_progress(job, &before);
    t0 = g_get_monotonic_time();
    /* without the lock: this lasts as long as the drain and verification */
    ok = xm_mirror_job_complete(job, &res, &err);
    xm_mirror_job_get_progress(job, &after);
    disk_drop_job(dp, disk, job);
    if (!ok) {
        g_message("COMPLETE %s: failed: %s", disk->target, err->message);
        g_propagate_error(error, g_steal_pointer(&err));
        return FALSE;
    }
    ms = (g_get_monotonic_time() - t0) / 1000;
    /* what the paused guest waited for, for whoever tunes downtime */
    g_message("COMPLETE %s: done, %s%s%s in %" G_GINT64_FORMAT " ms (%" G_GUINT64_FORMAT
              " bytes sent, verification read %" G_GUINT64_FORMAT " + %" G_GUINT64_FORMAT
              " bytes)", disk->target,
              res.verified ? "verified, xxh3-128 " : "not verified",
              res.verified ? res.source_checksum : "", res.verified ? "," : "", ms,
              after.sent - before.sent,
              after.verify_read_source - before.verify_read_source,
              after.verify_read_dest - before.verify_read_dest);
    reply_u64(reply, "verified", res.verified ? 1 : 0);
    reply_u64(reply, "ms", ms);
    reply_u64(reply, "sent", after.sent - before.sent);
    reply_u64(reply, "verify_read_source", after.verify_read_source - before.verify_read_source);
    reply_u64(reply, "verify_read_dest", after.verify_read_dest - before.verify_read_dest);
    reply_field(reply, "source", res.source_checksum);
    reply_field(reply, "dest", res.dest_checksum);
    return TRUE;
}

static gboolean
do_cancel(Datapath *dp, DpDisk *disk, GHashTable *args, GString *reply,
          GError **error)
{
    XmMirrorJob *job = NULL;
    gboolean had_job;

    g_mutex_lock(&dp->lock);
    had_job = disk->job || disk->busy;
    if (disk->busy) {
        /* its owner frees it; the job is gone when we answer */
        disk->cancel_requested = TRUE;
        if (disk->job)
            xm_mirror_job_cancel(disk->job);
        while (disk->busy)
            g_cond_wait(&dp->idle, &dp->lock);
    } else if (disk->job) {
        job = disk->job;
        disk->busy = TRUE;
    }
    g_mutex_unlock(&dp->lock);
    if (job)
        disk_drop_job(dp, disk, job);
    g_message("CANCEL %s: %s", disk->target,
              had_job ? "mirror job cancelled" : "no mirror job");
    return TRUE;
}

static gboolean
do_quit(Datapath *dp, DpDisk *disk, GHashTable *args, GString *reply,
        GError **error)
{
    g_message("QUIT requested");
    return TRUE;
}

static const DpCommand commands[] = {
    { "PING", do_ping, FALSE, NULL },
    { "MIRROR", do_mirror, TRUE, mirror_keys },
    { "PROGRESS", do_progress, TRUE, NULL },
    { "BANDWIDTH", do_bandwidth, TRUE, bandwidth_keys },
    { "SYNC", do_sync, TRUE, NULL },
    { "COMPLETE", do_complete, TRUE, NULL },
    { "CANCEL", do_cancel, TRUE, NULL },
    { "QUIT", do_quit, FALSE, NULL },
};

static gboolean
key_allowed(const DpCommand *cmd, const char *key)
{
    if (cmd->has_target && g_str_equal(key, "target"))
        return TRUE;
    for (const char *const *k = cmd->keys; k && *k; k++)
        if (g_str_equal(key, *k))
            return TRUE;
    return FALSE;
}

static gboolean
execute(Datapath *dp, const char *line, GString *reply, gboolean *quit,
        GError **error)
{
    g_auto(GStrv) words = g_strsplit(line, " ", -1);
    g_autoptr(GHashTable) args = NULL;
    const DpCommand *cmd = NULL;
    DpDisk *disk = NULL;
    GHashTableIter it;
    gpointer key;

    for (gsize i = 0; words[0] && i < G_N_ELEMENTS(commands); i++)
        if (g_str_equal(words[0], commands[i].name))
            cmd = &commands[i];
    if (!cmd) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG, _("unknown command '%s'"),
                    words[0] ? words[0] : "");
        return FALSE;
    }
    args = xm_datapath_parse_fields(words + 1, XM_ERR_INVALID_ARG, error);
    if (!args)
        return FALSE;
    g_hash_table_iter_init(&it, args);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        if (!key_allowed(cmd, key)) {
            g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                        _("unknown argument '%s' for %s"), (const char *) key,
                        cmd->name);
            return FALSE;
        }
    }
    if (cmd->has_target) {
        const char *target = arg_required(args, "target", error);

        if (!target)
            return FALSE;
        for (guint i = 0; i < dp->n_disks; i++)
            if (g_str_equal(dp->disks[i].target, target))
                disk = &dp->disks[i];
        if (!disk) {
            g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                        _("no disk '%s' in this datapath"), target);
            return FALSE;
        }
    }
    if (!cmd->handler(dp, disk, args, reply, error))
        return FALSE;
    *quit = cmd->handler == do_quit;
    return TRUE;
}

char *
dp_request(Datapath *dp, const char *line, gboolean *quit)
{
    g_autoptr(GString) reply = g_string_new("OK");
    g_autoptr(GError) err = NULL;

    if (!execute(dp, line, reply, quit, &err)) {
        g_autofree char *msg = g_strdelimit(g_strdup(err->message), "\r\n", ' ');

        g_debug("request '%s' failed: %s", line, msg);
        return g_strdup_printf("ERR %d %s",
                               err->domain == XM_ERROR && err->code > 0
                                   ? err->code : XM_ERR_INTERNAL_ERROR, msg);
    }
    return g_string_free(g_steal_pointer(&reply), FALSE);
}

void
dp_cancel_all(Datapath *dp)
{
    g_mutex_lock(&dp->lock);
    dp->quitting = TRUE;
    for (guint i = 0; i < dp->n_disks; i++) {
        if (dp->disks[i].job) {
            dp->disks[i].cancel_requested = TRUE;
            xm_mirror_job_cancel(dp->disks[i].job);
        }
    }
    g_mutex_unlock(&dp->lock);
}

void
dp_free_jobs(Datapath *dp)
{
    for (guint i = 0; i < dp->n_disks; i++) {
        DpDisk *disk = &dp->disks[i];

        if (disk->job) {
            g_message("CANCEL %s: mirror job cancelled by shutdown", disk->target);
            xm_mirror_job_free(g_steal_pointer(&disk->job));
        }
    }
}
