/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GnuTLS x509 credentials loaded from a certificate directory in the layout
 * libvirt, QEMU, nbdkit and libnbd share (ca-cert.pem, ca-crl.pem,
 * server-cert.pem, server-key.pem, client-cert.pem, client-key.pem), and a
 * TLS session over a blocking file descriptor. Internal; used by the NBD
 * server and the migration memory channel.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

typedef struct _XmTlsCreds XmTlsCreds;
typedef struct _XmTlsSession XmTlsSession;

/* Loads dir/ca-cert.pem (trust), dir/ca-crl.pem (if present),
 * dir/server-cert.pem and dir/server-key.pem. With @verify_peer, sessions
 * made from these credentials require a client certificate signed by the
 * CA. */
XmTlsCreds *xm_tls_load_server_creds(const char *dir, gboolean verify_peer,
                                     GError **error);

/* Loads dir/ca-cert.pem (trust), dir/ca-crl.pem (if present) and, if both
 * exist, dir/client-cert.pem + dir/client-key.pem. Sessions verify the
 * server's certificate against the CA and, when a host name is given, its
 * name. */
XmTlsCreds *xm_tls_load_client_creds(const char *dir, GError **error);

XmTlsCreds *xm_tls_creds_ref(XmTlsCreds *creds);
void xm_tls_creds_unref(XmTlsCreds *creds);
gboolean xm_tls_creds_is_server(const XmTlsCreds *creds);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(XmTlsCreds, xm_tls_creds_unref)

/* Performs the TLS handshake on the connected blocking socket @fd (which
 * stays owned by the caller) and, for a server with verify_peer, checks the
 * client's certificate. @hostname is the name a client expects in the
 * server's certificate (NULL: only the CA is checked); ignored for
 * servers. @timeout_ms bounds the handshake (0: no bound). */
XmTlsSession *xm_tls_session_new(XmTlsCreds *creds, int fd,
                                 const char *hostname, guint timeout_ms,
                                 GError **error);

/* Reads up to @len bytes: returns the number read, 0 on a clean end of
 * stream, -1 with @error set on failure. */
gssize xm_tls_session_read(XmTlsSession *s, void *buf, gsize len,
                           GError **error);
/* Bytes already decrypted and buffered, readable without blocking. */
gsize xm_tls_session_pending(XmTlsSession *s);
/* Reads exactly @len bytes; an early end of stream is an error. */
gboolean xm_tls_session_read_full(XmTlsSession *s, void *buf, gsize len,
                                  GError **error);
gboolean xm_tls_session_write_full(XmTlsSession *s, const void *buf,
                                   gsize len, GError **error);
/* Collects several writes into as few TLS records as possible until
 * uncork, which sends them. */
void xm_tls_session_cork(XmTlsSession *s);
gboolean xm_tls_session_uncork(XmTlsSession *s, GError **error);
/* Distinguished name of the peer's certificate, or NULL. */
char *xm_tls_session_get_peer_dn(XmTlsSession *s);
/* Sends close_notify (best effort, no wait) and frees the session; the fd
 * is not closed. */
void xm_tls_session_free(XmTlsSession *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(XmTlsSession, xm_tls_session_free)
