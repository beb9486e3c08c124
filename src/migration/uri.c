/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Migration URIs and the migration port range.
 *
 * Callers send a zoo of forms: libvirt's tcp://host:port, CloudStack's
 * "tcp:" + ip, nova's bare host names, and IPv6 literals in brackets. They
 * all reduce to (host, optional port); anything else is refused rather than
 * guessed at.
 */
#define G_LOG_DOMAIN "xenmig-migration"

#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netdb.h>

#include "migration/migration-private.h"

static gboolean
parse_port(const char *s, guint *port)
{
    guint64 v;

    if (!s || !*s || !g_ascii_isdigit(*s))
        return FALSE;
    if (!g_ascii_string_to_unsigned(s, 10, 1, 65535, &v, NULL))
        return FALSE;
    *port = (guint) v;
    return TRUE;
}

static gboolean
host_chars_ok(const char *h)
{
    if (!*h || strlen(h) > 253)
        return FALSE;
    for (const char *p = h; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '.' && *p != '-' && *p != '_')
            return FALSE;
    }
    return TRUE;
}

static gboolean
uri_fail(GError **error, const char *uri, const char *why)
{
    g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                _("invalid migration URI '%s': %s"), uri, why);
    return FALSE;
}

gboolean
xm_migration_uri_parse(const char *uri, char **host, guint *port,
                       GError **error)
{
    const char *rest;
    g_autofree char *h = NULL;
    guint p = 0;

    if (!uri || !*uri)
        return uri_fail(error, uri ? uri : "", _("empty"));

    if (g_str_has_prefix(uri, "tcp://")) {
        rest = uri + 6;
        /* a trailing "/" (libvirt accepts tcp://host/) carries nothing */
    } else if (g_str_has_prefix(uri, "tcp:")) {
        rest = uri + 4;
    } else if (strstr(uri, "://") != NULL) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("unsupported migration URI scheme in '%s' (only tcp is supported)"),
                    uri);
        return FALSE;
    } else {
        static const char *const schemes[] = { "unix", "rdma", "fd", "exec", "file",
                                               "vsock", "channel", "udp", NULL };
        const char *colon = strchr(uri, ':');
        g_autofree char *head = colon ? g_strndup(uri, colon - uri) : NULL;
        /* "scheme:..." where scheme is not tcp and the rest is not a port;
         * migration schemes of QEMU/libvirt are refused even when a port
         * could follow ("fd:3") */
        if (colon && uri[0] != '[' &&
            ((strchr(colon + 1, ':') == NULL && !parse_port(colon + 1, &p)) ||
             g_strv_contains(schemes, head))) {
            g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                        _("unsupported migration URI scheme in '%s' (only tcp is supported)"),
                        uri);
            return FALSE;
        }
        rest = uri;
        p = 0;
    }

    g_autofree char *work = g_strdup(rest);
    size_t len = strlen(work);
    if (len > 0 && work[len - 1] == '/')
        work[len - 1] = '\0';
    if (strchr(work, '/') || strchr(work, '?') || strchr(work, '@'))
        return uri_fail(error, uri, _("only a host and a port may be given"));

    if (work[0] == '[') {
        char *end = strchr(work, ']');
        struct in6_addr a6;
        if (!end)
            return uri_fail(error, uri, _("unterminated '['"));
        *end = '\0';
        h = g_strdup(work + 1);
        if (inet_pton(AF_INET6, h, &a6) != 1)
            return uri_fail(error, uri, _("bad IPv6 address"));
        if (end[1] == ':') {
            if (!parse_port(end + 2, &p))
                return uri_fail(error, uri, _("bad port"));
        } else if (end[1] != '\0') {
            return uri_fail(error, uri, _("junk after ']'"));
        }
    } else {
        char *colon = strchr(work, ':');
        if (colon && strchr(colon + 1, ':'))
            return uri_fail(error, uri,
                            _("IPv6 addresses must be written in brackets"));
        if (colon) {
            *colon = '\0';
            if (!parse_port(colon + 1, &p))
                return uri_fail(error, uri, _("bad port"));
        }
        h = g_strdup(work);
        if (!host_chars_ok(h))
            return uri_fail(error, uri, _("bad host name"));
    }

    *host = g_steal_pointer(&h);
    *port = p;
    return TRUE;
}

char *
xm_migration_uri_format(const char *host, guint port)
{
    if (strchr(host, ':'))
        return g_strdup_printf("tcp://[%s]:%u", host, port);
    return g_strdup_printf("tcp://%s:%u", host, port);
}

/*
 * Binds a listening TCP socket to @host on the first free port of
 * [min, max]. Binding is the only race-free way to know a port is free:
 * the socket is kept and handed to the caller.
 */
int
xm_migration_listen_in_range(const char *host, guint min, guint max,
                             guint *port_out, GError **error)
{
    struct addrinfo hints = { 0 }, *res = NULL;
    int rc;

    if (min == 0)
        min = XM_MIGRATION_PORT_MIN;
    if (max == 0)
        max = XM_MIGRATION_PORT_MAX;
    if (min > max || max > 65535) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("invalid migration port range %u-%u"), min, max);
        return -1;
    }

    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_ADDRCONFIG;
    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        /* retry without AI_ADDRCONFIG: loopback-only hosts drop ::1 */
        hints.ai_flags = AI_PASSIVE;
        rc = getaddrinfo(host, NULL, &hints, &res);
    }
    if (rc != 0) {
        g_set_error(error, XM_ERROR, XM_ERR_UNKNOWN_HOST,
                    _("cannot resolve migration listen address '%s': %s"),
                    host, gai_strerror(rc));
        return -1;
    }

    for (guint port = min; port <= max; port++) {
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
            int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
            int one = 1;
            if (fd < 0)
                continue;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            if (ai->ai_family == AF_INET6)
                ((struct sockaddr_in6 *) ai->ai_addr)->sin6_port = htons(port);
            else if (ai->ai_family == AF_INET)
                ((struct sockaddr_in *) ai->ai_addr)->sin_port = htons(port);
            else {
                close(fd);
                continue;
            }
            if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
                listen(fd, 8) == 0) {
                freeaddrinfo(res);
                *port_out = port;
                g_debug("listening for the migration on %s port %u", host, port);
                return fd;
            }
            close(fd);
        }
    }
    freeaddrinfo(res);
    g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                _("no free port in the migration port range %u-%u on '%s'"),
                min, max, host);
    return -1;
}

/* Finds a free port for a listener we cannot hand an fd to (the NBD
 * server binds by itself): probe with a bind, then let it bind. A race
 * with another process is caught by the NBD server's own bind error. */
gboolean
xm_migration_probe_port(const char *host, guint min, guint max, guint skip,
                        guint *port_out, GError **error)
{
    for (guint from = min ? min : XM_MIGRATION_PORT_MIN;;) {
        guint port;
        int fd = xm_migration_listen_in_range(host, from, max, &port, error);
        if (fd < 0)
            return FALSE;
        close(fd);
        if (port == skip) {
            from = port + 1;
            if (from > (max ? max : XM_MIGRATION_PORT_MAX)) {
                g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                            _("no free port in the migration port range %u-%u on '%s'"),
                            min, max, host);
                return FALSE;
            }
            continue;
        }
        *port_out = port;
        return TRUE;
    }
}
