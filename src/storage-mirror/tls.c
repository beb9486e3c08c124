/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "xenmig-tls"
#include "config.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xenmig/xenmig.h>
#include "util/util.h"
#include "storage-mirror/tls.h"

struct _XmTlsCreds {
    gint refs;
    gboolean server;
    gboolean verify_peer;
    gnutls_certificate_credentials_t cred;
};

struct _XmTlsSession {
    XmTlsCreds *creds;
    gnutls_session_t session;
    int fd;
    gboolean established;
};

static gboolean
set_gnutls_error(GError **error, int rc, const char *what)
{
    g_set_error(error, XM_ERROR, XM_ERR_GNUTLS_ERROR, "%s: %s", what,
                gnutls_strerror(rc));
    return FALSE;
}

static gboolean
need_file(const char *dir, const char *name, char **out, GError **error)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);

    if (access(path, R_OK) < 0)
        return xm_set_error_errno(error, errno, XM_ERR_OPEN_FAILED,
                                  _("Cannot read TLS file '%s'"), path);
    *out = g_steal_pointer(&path);
    return TRUE;
}

static gboolean
has_file(const char *dir, const char *name, char **out)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);

    if (access(path, R_OK) < 0)
        return FALSE;
    *out = g_steal_pointer(&path);
    return TRUE;
}

static XmTlsCreds *
creds_new(gboolean server)
{
    XmTlsCreds *c = g_new0(XmTlsCreds, 1);

    c->refs = 1;
    c->server = server;
    return c;
}

static gboolean
load_trust(XmTlsCreds *c, const char *dir, GError **error)
{
    g_autofree char *ca = NULL;
    g_autofree char *crl = NULL;
    int rc;

    if (!need_file(dir, "ca-cert.pem", &ca, error))
        return FALSE;
    rc = gnutls_certificate_set_x509_trust_file(c->cred, ca,
                                                GNUTLS_X509_FMT_PEM);
    if (rc < 0) {
        g_set_error(error, XM_ERROR, XM_ERR_GNUTLS_ERROR,
                    _("Cannot load CA certificate '%s': %s"), ca,
                    gnutls_strerror(rc));
        return FALSE;
    }
    if (rc == 0) {
        g_set_error(error, XM_ERROR, XM_ERR_GNUTLS_ERROR,
                    _("No CA certificate found in '%s'"), ca);
        return FALSE;
    }
    if (has_file(dir, "ca-crl.pem", &crl)) {
        rc = gnutls_certificate_set_x509_crl_file(c->cred, crl,
                                                  GNUTLS_X509_FMT_PEM);
        if (rc < 0) {
            g_set_error(error, XM_ERROR, XM_ERR_GNUTLS_ERROR,
                        _("Cannot load CRL '%s': %s"), crl,
                        gnutls_strerror(rc));
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
load_key_pair(XmTlsCreds *c, const char *cert, const char *key,
              GError **error)
{
    int rc = gnutls_certificate_set_x509_key_file(c->cred, cert, key,
                                                  GNUTLS_X509_FMT_PEM);
    if (rc < 0) {
        g_set_error(error, XM_ERROR, XM_ERR_GNUTLS_ERROR,
                    _("Cannot load certificate '%s' with key '%s': %s"),
                    cert, key, gnutls_strerror(rc));
        return FALSE;
    }
    return TRUE;
}

XmTlsCreds *
xm_tls_load_server_creds(const char *dir, gboolean verify_peer,
                         GError **error)
{
    g_autoptr(XmTlsCreds) c = creds_new(TRUE);
    g_autofree char *cert = NULL;
    g_autofree char *key = NULL;
    int rc;

    xm_init();
    c->verify_peer = verify_peer;
    rc = gnutls_certificate_allocate_credentials(&c->cred);
    if (rc < 0) {
        set_gnutls_error(error, rc, _("Cannot allocate TLS credentials"));
        return NULL;
    }
    if (!load_trust(c, dir, error) ||
        !need_file(dir, "server-cert.pem", &cert, error) ||
        !need_file(dir, "server-key.pem", &key, error) ||
        !load_key_pair(c, cert, key, error))
        return NULL;
    g_debug("loaded server TLS credentials from %s (verify peer: %d)",
            dir, verify_peer);
    return g_steal_pointer(&c);
}

XmTlsCreds *
xm_tls_load_client_creds(const char *dir, GError **error)
{
    g_autoptr(XmTlsCreds) c = creds_new(FALSE);
    g_autofree char *cert = NULL;
    g_autofree char *key = NULL;
    int rc;

    xm_init();
    c->verify_peer = TRUE;
    rc = gnutls_certificate_allocate_credentials(&c->cred);
    if (rc < 0) {
        set_gnutls_error(error, rc, _("Cannot allocate TLS credentials"));
        return NULL;
    }
    if (!load_trust(c, dir, error))
        return NULL;
    /* A client certificate is optional: servers that do not verify peers
     * accept anonymous clients. */
    if (has_file(dir, "client-cert.pem", &cert) &&
        has_file(dir, "client-key.pem", &key) &&
        !load_key_pair(c, cert, key, error))
        return NULL;
    g_debug("loaded client TLS credentials from %s (client cert: %s)",
            dir, cert && key ? "yes" : "no");
    return g_steal_pointer(&c);
}

XmTlsCreds *
xm_tls_creds_ref(XmTlsCreds *creds)
{
    g_atomic_int_inc(&creds->refs);
    return creds;
}

void
xm_tls_creds_unref(XmTlsCreds *creds)
{
    if (!creds || !g_atomic_int_dec_and_test(&creds->refs))
        return;
    if (creds->cred)
        gnutls_certificate_free_credentials(creds->cred);
    g_free(creds);
}

gboolean
xm_tls_creds_is_server(const XmTlsCreds *creds)
{
    return creds->server;
}

static void
session_fail(XmTlsSession *s, int rc, GError **error)
{
    unsigned int status = gnutls_session_get_verify_cert_status(s->session);

    if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR && status != 0) {
        gnutls_datum_t out = { 0 };

        if (gnutls_certificate_verification_status_print(
                status, GNUTLS_CRT_X509, &out, 0) == 0) {
            g_set_error(error, XM_ERROR, XM_ERR_AUTH_FAILED,
                        _("TLS peer certificate rejected: %s"), out.data);
            gnutls_free(out.data);
            return;
        }
    }
    if (rc == GNUTLS_E_NO_CERTIFICATE_FOUND ||
        rc == GNUTLS_E_CERTIFICATE_REQUIRED ||
        rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
        g_set_error(error, XM_ERROR, XM_ERR_AUTH_FAILED,
                    _("TLS handshake failed: %s"), gnutls_strerror(rc));
        return;
    }
    g_set_error(error, XM_ERROR, XM_ERR_GNUTLS_ERROR,
                _("TLS handshake failed: %s"), gnutls_strerror(rc));
}

XmTlsSession *
xm_tls_session_new(XmTlsCreds *creds, int fd, const char *hostname,
                   guint timeout_ms, GError **error)
{
    g_autoptr(XmTlsSession) s = g_new0(XmTlsSession, 1);
    unsigned int flags = (creds->server ? GNUTLS_SERVER : GNUTLS_CLIENT) |
                         GNUTLS_NO_SIGNAL;
    int rc;

    s->fd = fd;
    rc = gnutls_init(&s->session, flags);
    if (rc < 0) {
        s->session = NULL;
        set_gnutls_error(error, rc, _("Cannot create TLS session"));
        return NULL;
    }
    s->creds = xm_tls_creds_ref(creds);
    rc = gnutls_set_default_priority(s->session);
    if (rc == 0)
        rc = gnutls_credentials_set(s->session, GNUTLS_CRD_CERTIFICATE,
                                    creds->cred);
    if (rc < 0) {
        set_gnutls_error(error, rc, _("Cannot set up TLS session"));
        return NULL;
    }
    if (creds->server) {
        if (creds->verify_peer) {
            gnutls_certificate_server_set_request(s->session,
                                                  GNUTLS_CERT_REQUIRE);
            gnutls_session_set_verify_cert(s->session, NULL, 0);
        }
    } else {
        if (hostname && *hostname &&
            !g_hostname_is_ip_address(hostname))
            gnutls_server_name_set(s->session, GNUTLS_NAME_DNS, hostname,
                                   strlen(hostname));
        /* IP addresses are matched against the certificate's IP SANs by
         * the same call. */
        gnutls_session_set_verify_cert(s->session,
                                       hostname && *hostname ? hostname
                                                             : NULL, 0);
    }
    gnutls_transport_set_int(s->session, fd);
    if (timeout_ms)
        gnutls_handshake_set_timeout(s->session, timeout_ms);

    do {
        rc = gnutls_handshake(s->session);
    } while (rc < 0 && !gnutls_error_is_fatal(rc));
    if (rc < 0) {
        session_fail(s, rc, error);
        return NULL;
    }
    s->established = TRUE;
    if (!g_log_writer_default_would_drop(G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN)) {
        char *desc = gnutls_session_get_desc(s->session);

        g_debug("TLS handshake done on fd %d (%s): %s", fd,
                creds->server ? "server" : "client", desc ? desc : "?");
        gnutls_free(desc);
    }
    return g_steal_pointer(&s);
}

gssize
xm_tls_session_read(XmTlsSession *s, void *buf, gsize len, GError **error)
{
    ssize_t n;

    do {
        n = gnutls_record_recv(s->session, buf, len);
    } while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
    if (n == GNUTLS_E_PREMATURE_TERMINATION)
        return 0;   /* peer closed the socket without close_notify */
    if (n < 0) {
        g_set_error(error, XM_ERROR, XM_ERR_GNUTLS_ERROR,
                    _("TLS read failed: %s"), gnutls_strerror((int)n));
        return -1;
    }
    return n;
}

gsize
xm_tls_session_pending(XmTlsSession *s)
{
    return gnutls_record_check_pending(s->session);
}

gboolean
xm_tls_session_read_full(XmTlsSession *s, void *buf, gsize len,
                         GError **error)
{
    char *p = buf;

    while (len > 0) {
        gssize n = xm_tls_session_read(s, p, len, error);

        if (n < 0)
            return FALSE;
        if (n == 0) {
            g_set_error(error, XM_ERROR, XM_ERR_READ_FAILED,
                        _("TLS peer closed the connection"));
            return FALSE;
        }
        p += n;
        len -= n;
    }
    return TRUE;
}

gboolean
xm_tls_session_write_full(XmTlsSession *s, const void *buf, gsize len,
                          GError **error)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = gnutls_record_send(s->session, p, len);

        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
            continue;
        if (n < 0) {
            g_set_error(error, XM_ERROR, XM_ERR_GNUTLS_ERROR,
                        _("TLS write failed: %s"), gnutls_strerror((int)n));
            return FALSE;
        }
        p += n;
        len -= n;
    }
    return TRUE;
}

void
xm_tls_session_cork(XmTlsSession *s)
{
    gnutls_record_cork(s->session);
}

gboolean
xm_tls_session_uncork(XmTlsSession *s, GError **error)
{
    int rc;

    do {
        rc = gnutls_record_uncork(s->session, GNUTLS_RECORD_WAIT);
    } while (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED);
    if (rc < 0) {
        g_set_error(error, XM_ERROR, XM_ERR_GNUTLS_ERROR,
                    _("TLS write failed: %s"), gnutls_strerror(rc));
        return FALSE;
    }
    return TRUE;
}

char *
xm_tls_session_get_peer_dn(XmTlsSession *s)
{
    const gnutls_datum_t *certs;
    unsigned int n = 0;
    gnutls_x509_crt_t crt;
    gnutls_datum_t dn = { 0 };
    char *ret = NULL;

    certs = gnutls_certificate_get_peers(s->session, &n);
    if (!certs || n == 0)
        return NULL;
    if (gnutls_x509_crt_init(&crt) < 0)
        return NULL;
    if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0 &&
        gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0) {
        ret = g_strndup((const char *)dn.data, dn.size);
        gnutls_free(dn.data);
    }
    gnutls_x509_crt_deinit(crt);
    return ret;
}

void
xm_tls_session_free(XmTlsSession *s)
{
    if (!s)
        return;
    if (s->session) {
        /* GNUTLS_SHUT_WR does not wait for the peer's answer, so a dead
         * peer cannot stall us here. */
        if (s->established)
            gnutls_bye(s->session, GNUTLS_SHUT_WR);
        gnutls_deinit(s->session);
    }
    if (s->creds)
        xm_tls_creds_unref(s->creds);
    g_free(s);
}
