/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Client of xenmig-datapath: one connection per request on the daemon's
 * control socket ("COMMAND key=value ..." -> "OK key=value ..." or
 * "ERR CODE message"), and starting the daemon detached.
 */
#include "config.h"

#define G_LOG_DOMAIN "xenmig-datapath"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "storage-mirror/datapath-client.h"
#include "util/util.h"

#define REQUEST_TIMEOUT_MS 30000
#define MAX_REPLY 65536

char *
xm_datapath_program(void)
{
    return xm_helper_program("XENMIG_DATAPATH", "tools/datapath", "xenmig-datapath");
}

char *
xm_datapath_escape(const char *value)
{
    return g_uri_escape_string(value, NULL, FALSE);
}

GHashTable *
xm_datapath_parse_fields(char **words, XmErrorCode code, GError **error)
{
    g_autoptr(GHashTable) fields = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                         g_free, g_free);

    for (; *words; words++) {
        const char *eq = strchr(*words, '=');
        g_autofree char *key = NULL;
        g_autofree char *value = NULL;

        if (!eq || eq == *words) {
            g_set_error(error, XM_ERROR, code, _("malformed field '%s'"), *words);
            return NULL;
        }
        key = g_strndup(*words, eq - *words);
        value = g_uri_unescape_string(eq + 1, NULL);
        if (!value) {
            g_set_error(error, XM_ERROR, code, _("bad escape in field '%s'"), *words);
            return NULL;
        }
        if (g_hash_table_contains(fields, key)) {
            g_set_error(error, XM_ERROR, code, _("field '%s' given twice"), key);
            return NULL;
        }
        g_hash_table_insert(fields, g_steal_pointer(&key), g_steal_pointer(&value));
    }
    return g_steal_pointer(&fields);
}

/* ------------------------------------------------------------------ */
/* one exchange on the control socket */

gboolean
xm_datapath_sockaddr(const char *path, struct sockaddr_un *sa, GError **error)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path)) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("socket path '%s' is too long"), path);
        return FALSE;
    }
    strcpy(sa->sun_path, path);
    return TRUE;
}

int
xm_datapath_write_line(int fd, const char *line)
{
    g_autofree char *buf = g_strconcat(line, "\n", NULL);
    size_t len = strlen(buf), off = 0;

    while (off < len) {
        /* a peer gone away is an error to report, not a reason to die */
        ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        off += n;
    }
    return 0;
}

static int
connect_control(const char *control, GError **error)
{
    struct sockaddr_un sa;
    int fd;

    if (!xm_datapath_sockaddr(control, &sa, error))
        return -1;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR, "socket");
        return -1;
    }
    if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
        int errsv = errno;

        close(fd);
        xm_set_error_errno(error, errsv, XM_ERR_OPERATION_FAILED,
                           _("cannot reach the datapath daemon at %s"), control);
        return -1;
    }
    return fd;
}

/* Reads one line; @timeout_ms < 0: no limit; @cancel_fd < 0: none. */
static char *
read_line(int fd, const char *control, int timeout_ms, int cancel_fd,
          GError **error)
{
    g_autoptr(GString) buf = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;

    for (;;) {
        struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN },
                                 { .fd = cancel_fd, .events = POLLIN } };
        int wait_ms = -1;
        char chunk[1024];
        char *nl;
        ssize_t n;

        if (timeout_ms >= 0) {
            gint64 left = deadline - g_get_monotonic_time();

            if (left <= 0) {
                g_set_error(error, XM_ERROR, XM_ERR_OPERATION_TIMEOUT,
                            _("no reply from the datapath daemon at %s within %d s"),
                            control, timeout_ms / 1000);
                return NULL;
            }
            wait_ms = (int) (left / 1000) + 1;
        }
        if (poll(pfd, cancel_fd >= 0 ? 2 : 1, wait_ms) < 0) {
            if (errno == EINTR)
                continue;
            xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR, "poll");
            return NULL;
        }
        if (cancel_fd >= 0 && pfd[1].revents) {
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_ABORTED,
                        _("the operation was cancelled"));
            return NULL;
        }
        if (!pfd[0].revents)
            continue;
        n = recv(fd, chunk, sizeof(chunk), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            xm_set_error_errno(error, errno, XM_ERR_OPERATION_FAILED,
                               _("cannot read from the datapath daemon at %s"),
                               control);
            return NULL;
        }
        if (n == 0) {
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                        _("the datapath daemon at %s closed the connection without a reply"),
                        control);
            return NULL;
        }
        g_string_append_len(buf, chunk, n);
        nl = memchr(buf->str, '\n', buf->len);
        if (nl) {
            g_string_truncate(buf, nl - buf->str);
            break;
        }
        if (buf->len > MAX_REPLY) {
            g_set_error(error, XM_ERROR, XM_ERR_INTERNAL_ERROR,
                        _("reply from the datapath daemon at %s is too long"), control);
            return NULL;
        }
    }
    if (memchr(buf->str, '\0', buf->len)) {
        g_set_error(error, XM_ERROR, XM_ERR_INTERNAL_ERROR,
                    _("reply from the datapath daemon at %s contains a NUL byte"),
                    control);
        return NULL;
    }
    return g_string_free(g_steal_pointer(&buf), FALSE);
}

/* Sends @line. If that fails, a reply the daemon sent before closing (it
 * refuses connections beyond its limit that way) is returned in
 * *@early_reply instead of an error, as it says more than EPIPE. */
static gboolean
send_line(int fd, const char *control, const char *line, char **early_reply,
          GError **error)
{
    int errsv = xm_datapath_write_line(fd, line);

    if (!errsv)
        return TRUE;
    *early_reply = read_line(fd, control, 1000, -1, NULL);
    if (!*early_reply)
        xm_set_error_errno(error, errsv, XM_ERR_OPERATION_FAILED,
                           _("cannot send to the datapath daemon at %s"), control);
    return FALSE;
}

char *
xm_datapath_call_raw(const char *control, const char *line, int timeout_ms,
                     GCancellable *cancellable, GError **error)
{
    int cancel_fd = cancellable ? g_cancellable_get_fd(cancellable) : -1;
    char *reply = NULL;
    int fd;

    if (strchr(line, '\n')) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("a datapath request is one line"));
        return NULL;
    }
    fd = connect_control(control, error);
    if (fd >= 0 && send_line(fd, control, line, &reply, error))
        reply = read_line(fd, control, timeout_ms, cancel_fd, error);
    if (fd >= 0)
        close(fd);
    if (cancellable)
        g_cancellable_release_fd(cancellable);
    return reply;
}

/* Interprets a reply line: the fields of "OK ...", or the error of "ERR". */
static GHashTable *
parse_reply(const char *control, const char *reply, GError **error)
{
    g_auto(GStrv) words = NULL;
    guint64 code;

    if (g_str_equal(reply, "OK") || g_str_has_prefix(reply, "OK ")) {
        g_autoptr(GError) err = NULL;
        GHashTable *fields;

        words = g_strsplit(reply[2] ? reply + 3 : "", " ", -1);
        fields = xm_datapath_parse_fields(words, XM_ERR_INTERNAL_ERROR, &err);
        if (!fields)
            g_set_error(error, XM_ERROR, XM_ERR_INTERNAL_ERROR,
                        _("malformed reply from the datapath daemon at %s: %s"),
                        control, err->message);
        return fields;
    }
    if (g_str_has_prefix(reply, "ERR ")) {
        words = g_strsplit(reply + 4, " ", 2);
        if (words[0] && words[1] &&
            g_ascii_string_to_unsigned(words[0], 10, 1, G_MAXINT, &code, NULL)) {
            g_set_error_literal(error, XM_ERROR, (int) code, words[1]);
            return NULL;
        }
    }
    g_set_error(error, XM_ERROR, XM_ERR_INTERNAL_ERROR,
                _("malformed reply from the datapath daemon at %s: '%s'"),
                control, reply);
    return NULL;
}

static GHashTable *
request_timeout(const char *control, const char *line, int timeout_ms,
                GError **error)
{
    g_autofree char *reply = xm_datapath_call_raw(control, line, timeout_ms,
                                                  NULL, error);

    return reply ? parse_reply(control, reply, error) : NULL;
}

static GHashTable *
request(const char *control, const char *line, GError **error)
{
    return request_timeout(control, line, REQUEST_TIMEOUT_MS, error);
}

/* Appends " key=escaped(value)". */
static void
add_field(GString *line, const char *key, const char *value)
{
    g_autofree char *escaped = xm_datapath_escape(value);

    g_string_append_printf(line, " %s=%s", key, escaped);
}

static GString *
target_request(const char *command, const char *target)
{
    GString *line = g_string_new(command);

    add_field(line, "target", target);
    return line;
}

/* Sends COMMAND target=T and expects a plain OK. */
static gboolean
simple_request(const char *control, const char *command, const char *target,
               GError **error)
{
    g_autoptr(GString) line = target ? target_request(command, target)
                                     : g_string_new(command);
    g_autoptr(GHashTable) fields = request(control, line->str, error);

    return fields != NULL;
}

static gboolean
reply_u64(const char *control, GHashTable *fields, const char *key,
          guint64 *out, GError **error)
{
    const char *v = g_hash_table_lookup(fields, key);

    if (!v || !g_ascii_string_to_unsigned(v, 10, 0, G_MAXUINT64, out, NULL)) {
        g_set_error(error, XM_ERROR, XM_ERR_INTERNAL_ERROR,
                    _("malformed reply from the datapath daemon at %s: bad or missing '%s'"),
                    control, key);
        return FALSE;
    }
    return TRUE;
}

/* ------------------------------------------------------------------ */
/* requests */

gboolean
xm_datapath_ping(const char *control, GError **error)
{
    g_autoptr(GHashTable) fields = request(control, "PING", error);
    guint64 version;

    if (!fields || !reply_u64(control, fields, "version", &version, error))
        return FALSE;
    if (version != XM_DATAPATH_PROTOCOL_VERSION) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_UNSUPPORTED,
                    _("the datapath daemon at %s speaks protocol version %llu, not %d"),
                    control, (unsigned long long) version,
                    XM_DATAPATH_PROTOCOL_VERSION);
        return FALSE;
    }
    return TRUE;
}

static void
add_double(GString *line, const char *key, double value)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    add_field(line, key, g_ascii_dtostr(buf, sizeof(buf), value));
}

static void
add_u64(GString *line, const char *key, guint64 value)
{
    g_autofree char *s = g_strdup_printf("%" G_GUINT64_FORMAT, value);

    add_field(line, key, s);
}

gboolean
xm_datapath_mirror_start(const char *control, const char *target,
                         const char *uri, const XmMirrorOptions *opts,
                         gboolean sync, GError **error)
{
    XmMirrorOptions defaults = { .mode = XM_MIRROR_TRACKED };
    g_autoptr(GString) line = target_request("MIRROR", target);
    g_autoptr(GHashTable) fields = NULL;

    if (!opts)
        opts = &defaults;
    if (opts->mode != XM_MIRROR_TRACKED || opts->compare_dest || opts->state_file) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("the datapath runs tracked mirror jobs only"));
        return FALSE;
    }
    add_field(line, "uri", uri);
    if (opts->tls_dir)
        add_field(line, "tls_dir", opts->tls_dir);
    if (opts->bandwidth_mib > 0)
        add_double(line, "bandwidth", opts->bandwidth_mib);
    if (sync)
        add_field(line, "sync", "1");
    if (opts->auto_sync)
        add_field(line, "auto_sync", "1");
    if (opts->auto_sync_ratio > 0)
        add_double(line, "auto_sync_ratio", opts->auto_sync_ratio);
    if (opts->granularity)
        add_u64(line, "granularity", opts->granularity);
    if (opts->connections)
        add_u64(line, "connections", opts->connections);
    if (opts->verify)
        add_field(line, "verify", "1");
    if (opts->timeout_s)
        add_u64(line, "timeout", opts->timeout_s);
    if (opts->max_request)
        add_u64(line, "max_request", opts->max_request);
    if (opts->max_in_flight)
        add_u64(line, "max_in_flight", opts->max_in_flight);
    /* the daemon connects to the destination before it answers, which
     * may take the job's own timeout (30 s by default) */
    fields = request_timeout(control, line->str,
                             (opts->timeout_s ? opts->timeout_s : 30) * 1000 +
                             REQUEST_TIMEOUT_MS, error);
    return fields != NULL;
}

static gboolean
parse_phase(const char *name, XmMirrorPhase *phase)
{
    for (int i = XM_MIRROR_PHASE_INIT; i <= XM_MIRROR_PHASE_CANCELLED; i++) {
        if (name && g_str_equal(name, xm_mirror_phase_to_string(i))) {
            *phase = i;
            return TRUE;
        }
    }
    return FALSE;
}

gboolean
xm_datapath_get_progress(const char *control, const char *target,
                         XmMirrorProgress *p, GError **error)
{
    g_autoptr(GString) line = target_request("PROGRESS", target);
    g_autoptr(GHashTable) fields = request(control, line->str, error);
    XmMirrorProgress r = { 0 };
    guint64 pass;

    if (!fields)
        return FALSE;
    if (!parse_phase(g_hash_table_lookup(fields, "phase"), &r.phase)) {
        g_set_error(error, XM_ERROR, XM_ERR_INTERNAL_ERROR,
                    _("malformed reply from the datapath daemon at %s: bad or missing '%s'"),
                    control, "phase");
        return FALSE;
    }
    if (!reply_u64(control, fields, "pass", &pass, error) ||
        !reply_u64(control, fields, "total", &r.total, error) ||
        !reply_u64(control, fields, "done", &r.done, error) ||
        !reply_u64(control, fields, "remaining", &r.remaining, error) ||
        !reply_u64(control, fields, "dirty", &r.dirty, error) ||
        !reply_u64(control, fields, "sent", &r.sent, error) ||
        !reply_u64(control, fields, "blocks_sent", &r.blocks_sent, error) ||
        !reply_u64(control, fields, "rate", &r.rate, error) ||
        !reply_u64(control, fields, "verified", &r.verified, error) ||
        !reply_u64(control, fields, "verify_read_source", &r.verify_read_source, error) ||
        !reply_u64(control, fields, "verify_read_dest", &r.verify_read_dest, error))
        return FALSE;
    if (pass > G_MAXUINT) {
        g_set_error(error, XM_ERROR, XM_ERR_INTERNAL_ERROR,
                    _("malformed reply from the datapath daemon at %s: bad or missing '%s'"),
                    control, "pass");
        return FALSE;
    }
    r.pass = (guint) pass;
    *p = r;
    return TRUE;
}

gboolean
xm_datapath_set_bandwidth(const char *control, const char *target, double mib,
                          GError **error)
{
    g_autoptr(GString) line = target_request("BANDWIDTH", target);
    g_autoptr(GHashTable) fields = NULL;

    if (!(mib >= 0)) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("bandwidth must not be negative"));
        return FALSE;
    }
    add_double(line, "mib", mib);
    fields = request(control, line->str, error);
    return fields != NULL;
}

gboolean
xm_datapath_request_sync(const char *control, const char *target, GError **error)
{
    return simple_request(control, "SYNC", target, error);
}

gboolean
xm_datapath_cancel(const char *control, const char *target, GError **error)
{
    return simple_request(control, "CANCEL", target, error);
}

gboolean
xm_datapath_quit(const char *control, GError **error)
{
    return simple_request(control, "QUIT", NULL, error);
}

static gboolean
is_checksum(const char *s, gboolean verified)
{
    if (!s)
        return FALSE;
    if (!verified && !*s)
        return TRUE;
    if (strlen(s) != 32)
        return FALSE;
    for (; *s; s++)
        if (!g_ascii_isxdigit(*s))
            return FALSE;
    return TRUE;
}

static gboolean
parse_result(const char *control, GHashTable *fields, XmMirrorResult *res,
             GError **error)
{
    const char *verified = g_hash_table_lookup(fields, "verified");
    const char *src = g_hash_table_lookup(fields, "source");
    const char *dst = g_hash_table_lookup(fields, "dest");
    gboolean v;

    if (!verified || (!g_str_equal(verified, "0") && !g_str_equal(verified, "1"))) {
        g_set_error(error, XM_ERROR, XM_ERR_INTERNAL_ERROR,
                    _("malformed reply from the datapath daemon at %s: bad or missing '%s'"),
                    control, "verified");
        return FALSE;
    }
    v = verified[0] == '1';
    if (!is_checksum(src, v) || !is_checksum(dst, v)) {
        g_set_error(error, XM_ERROR, XM_ERR_INTERNAL_ERROR,
                    _("malformed reply from the datapath daemon at %s: bad checksums"),
                    control);
        return FALSE;
    }
    if (res) {
        memset(res, 0, sizeof(*res));
        res->verified = v;
        g_strlcpy(res->source_checksum, src, sizeof(res->source_checksum));
        g_strlcpy(res->dest_checksum, dst, sizeof(res->dest_checksum));
    }
    return TRUE;
}

gboolean
xm_datapath_complete(const char *control, const char *target,
                     XmMirrorResult *res, GCancellable *cancellable,
                     GError **error)
{
    g_autoptr(GString) line = target_request("COMPLETE", target);
    g_autoptr(GError) err = NULL;
    g_autoptr(GHashTable) fields = NULL;
    g_autofree char *reply = NULL;
    int cancel_fd = cancellable ? g_cancellable_get_fd(cancellable) : -1;
    int fd = connect_control(control, error);
    gboolean ok = FALSE;

    if (fd < 0)
        goto out;
    if (send_line(fd, control, line->str, &reply, error))
        reply = read_line(fd, control, -1, cancel_fd, &err);
    else if (!reply)
        goto out;
    if (!reply && g_error_matches(err, XM_ERROR, XM_ERR_OPERATION_ABORTED) &&
        cancel_fd >= 0) {
        g_autoptr(GError) cancel_err = NULL;
        g_autofree char *late = NULL;

        /* the daemon frees the job once its COMPLETE returns: wait for
         * that so that the caller may start another job at once */
        if (!xm_datapath_cancel(control, target, &cancel_err))
            g_debug("cancelling the job of %s at %s: %s", target, control,
                    cancel_err->message);
        else
            late = read_line(fd, control, REQUEST_TIMEOUT_MS, -1, NULL);
        g_propagate_error(error, g_steal_pointer(&err));
        goto out;
    }
    if (!reply) {
        g_propagate_error(error, g_steal_pointer(&err));
        goto out;
    }
    fields = parse_reply(control, reply, error);
    ok = fields && parse_result(control, fields, res, error);
    if (ok)
        g_debug("%s at %s: COMPLETE took %s ms, sent %s bytes, verification read %s + %s bytes",
                target, control, (char *) g_hash_table_lookup(fields, "ms"),
                (char *) g_hash_table_lookup(fields, "sent"),
                (char *) g_hash_table_lookup(fields, "verify_read_source"),
                (char *) g_hash_table_lookup(fields, "verify_read_dest"));

 out:
    if (fd >= 0)
        close(fd);
    if (cancellable)
        g_cancellable_release_fd(cancellable);
    return ok;
}
