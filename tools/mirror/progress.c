/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "util/util.h"
#include "commands.h"
#include "progress.h"

struct _XmProgressOut {
    int fd;                 /* machine-readable lines, or -1 */
    gboolean bar;           /* draw a bar on stderr */
    gboolean bar_drawn;
};

XmProgressOut *
xm_progress_out_new(const char *spec, GError **error)
{
    XmProgressOut *out;

    if (!spec)
        return NULL;
    out = g_new0(XmProgressOut, 1);
    out->fd = -1;
    if (!*spec) {
        out->bar = isatty(STDERR_FILENO);
        return out;
    }
    if (g_str_has_prefix(spec, "fd:")) {
        guint64 fd;

        if (g_ascii_string_to_unsigned(spec + 3, 10, 0, G_MAXINT, &fd, NULL) &&
            fcntl((int)fd, F_GETFD) >= 0) {
            out->fd = (int)fd;
            return out;
        }
        g_free(out);
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("--progress=%s: not an open file descriptor"), spec);
        return NULL;
    }
    g_free(out);
    g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                _("--progress takes no value or fd:N, not '%s'"), spec);
    return NULL;
}

static const char *
line_phase(XmMirrorPhase phase)
{
    switch (phase) {
    case XM_MIRROR_PHASE_INIT:
    case XM_MIRROR_PHASE_BULK: return "bulk";
    case XM_MIRROR_PHASE_DIRTY: return "dirty";
    case XM_MIRROR_PHASE_SYNC: return "sync";
    case XM_MIRROR_PHASE_DRAIN: return "drain";
    case XM_MIRROR_PHASE_VERIFY: return "verify";
    case XM_MIRROR_PHASE_DONE: return "done";
    default: return NULL;
    }
}

void
xm_progress_out_update(XmProgressOut *out, const XmMirrorProgress *p)
{
    const char *phase = line_phase(p->phase);

    if (!out || !phase)
        return;     /* a failed job reports no progress line */
    if (out->fd >= 0) {
        g_autofree char *line = g_strdup_printf(
            "progress phase=%s pass=%u total=%" G_GUINT64_FORMAT " done=%"
            G_GUINT64_FORMAT " remaining=%" G_GUINT64_FORMAT " dirty=%"
            G_GUINT64_FORMAT " sent=%" G_GUINT64_FORMAT " rate=%"
            G_GUINT64_FORMAT "\n", phase, MAX(p->pass, 1), p->total, p->done,
            p->remaining, p->dirty, p->sent, p->rate);
        gsize len = strlen(line), off = 0;

        while (off < len) {
            ssize_t n = write(out->fd, line + off, len - off);

            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;      /* a closed reader must not stop the copy */
            off += (gsize)n;
        }
    }
    if (out->bar) {
        int width = 30, fill;
        double frac = p->total ? (double)p->done / (double)p->total : 1.0;

        fill = (int)(frac * width);
        /* TRANSLATORS: the terminal progress bar: phase, bar, percentage,
         * rate, dirty data */
        fprintf(stderr, _("\r%-6s [%.*s%*s] %5.1f%% %7.1f MiB/s dirty %.1f MiB "),
                phase, fill, "##############################", width - fill, "",
                frac * 100.0, (double)p->rate / (1024 * 1024),
                (double)p->dirty / (1024 * 1024));
        out->bar_drawn = TRUE;
    }
}

void
xm_progress_out_finish(XmProgressOut *out)
{
    if (out && out->bar_drawn) {
        fputc('\n', stderr);
        out->bar_drawn = FALSE;
    }
}

void
xm_progress_out_free(XmProgressOut *out)
{
    if (!out)
        return;
    xm_progress_out_finish(out);
    g_free(out);
}

static gboolean
parse_progress(const char *name, const char *value, gpointer data, GError **error)
{
    XmCliCommon *c = data;

    g_free(c->progress);
    c->progress = g_strdup(value ? value : "");
    return TRUE;
}

GOptionGroup *
xm_cli_common_group(XmCliCommon *c)
{
    GOptionEntry entries[] = {
        { "connections", 'c', 0, G_OPTION_ARG_INT, &c->connections,
          N_("NBD connections to the destination (default 4)"), N_("N") },
        { "bandwidth", 'b', 0, G_OPTION_ARG_STRING, &c->bandwidth,
          N_("Limit the copy to MIB/S mebibytes per second"), N_("MIB/S") },
        { "tls-dir", 0, 0, G_OPTION_ARG_FILENAME, &c->tls_dir,
          N_("Client certificates (ca-cert.pem, client-cert.pem, client-key.pem)"),
          N_("DIR") },
        { "progress", 'p', G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK,
          (gpointer)parse_progress,
          N_("Show a progress bar, or write progress lines to fd N"), N_("fd:N") },
        { "verify", 0, 0, G_OPTION_ARG_NONE, &c->verify,
          N_("Compare checksums of source and destination at the end"), NULL },
        { NULL }
    };
    GOptionGroup *g = g_option_group_new("common", "", "", c, NULL);

    c->connections = -1;    /* not given */

    g_option_group_add_entries(g, entries);
    g_option_group_set_translation_domain(g, GETTEXT_PACKAGE);
    return g;
}

void
xm_cli_common_clear(XmCliCommon *c)
{
    g_clear_pointer(&c->bandwidth, g_free);
    g_clear_pointer(&c->tls_dir, g_free);
    g_clear_pointer(&c->progress, g_free);
}

gboolean
xm_cli_common_apply(XmCliCommon *c, XmMirrorOptions *o, GError **error)
{
    if (c->connections != -1 && (c->connections < 1 || c->connections > 64)) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("--connections must be between 1 and 64"));
        return FALSE;
    }
    o->connections = c->connections == -1 ? 0 : (guint)c->connections;
    if (c->bandwidth) {
        char *end = NULL;
        double v = g_ascii_strtod(c->bandwidth, &end);

        if (!end || *end || end == c->bandwidth || !(v > 0) || v > 1e9) {
            g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                        _("--bandwidth needs a positive number of MiB/s, not '%s'"),
                        c->bandwidth);
            return FALSE;
        }
        o->bandwidth_mib = v;
    }
    o->tls_dir = c->tls_dir;
    o->verify = c->verify;
    return TRUE;
}

int
xm_cli_usage_error(const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    xm_mirror_fail("%s", msg);
    return XM_EXIT_USAGE;
}

struct _XmCliRun {
    XmMirrorJob *job;
    XmProgressOut *out;
    XmNbdServer *server;
    XmCliFinishFunc on_usr1;
    gpointer data;
    GMainLoop *loop;
    GThread *finisher;
    gboolean ok;
    gint done;
    XmMirrorResult result;
    GError *error;
    guint sources[4];
};
typedef struct _XmCliRun RunState;

static gboolean
finished_idle(gpointer data)
{
    RunState *rs = data;

    g_main_loop_quit(rs->loop);
    return G_SOURCE_REMOVE;
}

static gpointer
finisher_main(gpointer data)
{
    RunState *rs = data;

    if (rs->on_usr1)
        rs->ok = rs->on_usr1(rs->data, &rs->result, &rs->error);
    else
        rs->ok = xm_mirror_job_complete(rs->job, &rs->result, &rs->error);
    g_atomic_int_set(&rs->done, TRUE);
    g_idle_add(finished_idle, rs);
    return NULL;
}

static gboolean
on_tick(gpointer data)
{
    RunState *rs = data;
    XmMirrorProgress p;

    xm_mirror_job_get_progress(rs->job, &p);
    if (p.phase == XM_MIRROR_PHASE_FAILED || p.phase == XM_MIRROR_PHASE_CANCELLED) {
        /* the job ended on its own (mirror mode waits for SIGUSR1 else) */
        if (!rs->finisher) {
            if (rs->server)
                xm_nbd_server_stop(rs->server);
            rs->on_usr1 = NULL;
            rs->finisher = g_thread_new("xm-finish", finisher_main, rs);
        }
        return G_SOURCE_CONTINUE;
    }
    if (p.phase != XM_MIRROR_PHASE_DONE)
        xm_progress_out_update(rs->out, &p);
    return G_SOURCE_CONTINUE;
}

/* Signal sources dispatch only inside xm_cli_run_job(), when the job is
 * known; a signal that arrives earlier waits for it. */
static gboolean
on_cancel(gpointer data)
{
    RunState *rs = data;

    if (!rs->job)
        return G_SOURCE_CONTINUE;
    xm_mirror_job_cancel(rs->job);
    if (rs->server)
        xm_nbd_server_stop(rs->server);
    if (!rs->finisher) {
        rs->on_usr1 = NULL;
        rs->finisher = g_thread_new("xm-finish", finisher_main, rs);
    }
    return G_SOURCE_CONTINUE;
}

static gboolean
on_usr1(gpointer data)
{
    RunState *rs = data;

    if (rs->job && rs->on_usr1 && !rs->finisher)
        rs->finisher = g_thread_new("xm-finish", finisher_main, rs);
    return G_SOURCE_CONTINUE;
}

XmCliRun *
xm_cli_run_new(void)
{
    RunState *rs = g_new0(RunState, 1);

    rs->sources[0] = g_unix_signal_add(SIGINT, on_cancel, rs);
    rs->sources[1] = g_unix_signal_add(SIGTERM, on_cancel, rs);
    rs->sources[2] = g_unix_signal_add(SIGHUP, on_cancel, rs);
    rs->sources[3] = g_unix_signal_add(SIGUSR1, on_usr1, rs);
    return rs;
}

void
xm_cli_run_free(XmCliRun *rs)
{
    if (!rs)
        return;
    for (guint i = 0; i < G_N_ELEMENTS(rs->sources); i++)
        g_source_remove(rs->sources[i]);
    g_clear_error(&rs->error);
    g_free(rs);
}

gboolean
xm_cli_run_job(XmCliRun *rs, XmMirrorJob *job, XmProgressOut *out,
               XmNbdServer *server, XmCliFinishFunc usr1, gpointer data,
               XmMirrorResult *result, GError **error)
{
    guint tick;
    XmMirrorProgress p;

    rs->job = job;
    rs->out = out;
    rs->server = server;
    rs->on_usr1 = usr1;
    rs->data = data;
    rs->loop = g_main_loop_new(NULL, FALSE);
    tick = g_timeout_add(200, on_tick, rs);
    if (!usr1)
        rs->finisher = g_thread_new("xm-finish", finisher_main, rs);
    xm_mirror_job_get_progress(job, &p);
    xm_progress_out_update(out, &p);
    while (!g_atomic_int_get(&rs->done))
        g_main_loop_run(rs->loop);
    g_thread_join(rs->finisher);
    g_source_remove(tick);
    /* a pending idle may still point at rs: drain the default context */
    while (g_main_context_iteration(NULL, FALSE))
        ;
    g_main_loop_unref(rs->loop);

    if (rs->ok) {
        xm_mirror_job_get_progress(job, &p);
        xm_progress_out_update(out, &p);
    }
    xm_progress_out_finish(out);
    if (!rs->ok) {
        g_propagate_error(error, g_steal_pointer(&rs->error));
        return FALSE;
    }
    *result = rs->result;
    return TRUE;
}
