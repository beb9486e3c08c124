/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The TLS helpers shared by the NBD server and the memory channel:
 * credentials from a certificate directory and sessions over a socketpair.
 * Certificates come from make-certs.sh (certtool).
 */
#include "config.h"

#include <string.h>
#include <glib/gstdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xenmig/error.h>
#include "storage-mirror/tls.h"

#define PAYLOAD (1024 * 1024 + 17)

static char *pki;        /* CA "xenmig test CA", server and client certs */
static char *other;      /* an unrelated CA with its own certs */
static char *anon;       /* only pki's ca-cert.pem */

typedef struct {
    int fd;
    gboolean verify_peer;
    gboolean ok;
    char *peer_dn;
} ServerSide;

static gpointer
server_thread(gpointer data)
{
    ServerSide *ss = data;
    g_autoptr(GError) err = NULL;
    g_autoptr(XmTlsCreds) creds = xm_tls_load_server_creds(pki,
                                                           ss->verify_peer,
                                                           &err);
    g_autoptr(XmTlsSession) s = NULL;
    g_autofree char *buf = g_malloc(PAYLOAD);

    g_assert_no_error(err);
    s = xm_tls_session_new(creds, ss->fd, NULL, 10000, &err);
    if (!s) {
        g_test_message("server: %s", err->message);
        /* let the client see the failure instead of waiting */
        shutdown(ss->fd, SHUT_RDWR);
        return NULL;
    }
    ss->peer_dn = xm_tls_session_get_peer_dn(s);
    /* echo one payload */
    if (!xm_tls_session_read_full(s, buf, PAYLOAD, &err) ||
        !xm_tls_session_write_full(s, buf, PAYLOAD, &err)) {
        g_test_message("server: %s", err->message);
        return NULL;
    }
    ss->ok = TRUE;
    return NULL;
}

/* Runs a client with the certificates in @dir expecting @hostname against
 * a server thread; returns the client's error, NULL on success. */
static GError *
run_pair(const char *dir, const char *hostname, gboolean verify_peer,
         ServerSide *ss)
{
    g_autoptr(XmTlsCreds) creds = NULL;
    g_autoptr(XmTlsSession) s = NULL;
    g_autofree char *out = g_malloc(PAYLOAD);
    g_autofree char *in = g_malloc(PAYLOAD);
    GError *err = NULL;
    GThread *t;
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                    ==, 0);
    *ss = (ServerSide){ .fd = sv[1], .verify_peer = verify_peer };
    t = g_thread_new("tls-server", server_thread, ss);

    creds = xm_tls_load_client_creds(dir, &err);
    g_assert_no_error(err);
    g_assert_false(xm_tls_creds_is_server(creds));
    s = xm_tls_session_new(creds, sv[0], hostname, 10000, &err);
    if (s) {
        for (gsize i = 0; i < PAYLOAD; i++)
            out[i] = (char)(i * 7);
        if (xm_tls_session_write_full(s, out, PAYLOAD, &err) &&
            xm_tls_session_read_full(s, in, PAYLOAD, &err)) {
            g_assert_cmpmem(in, PAYLOAD, out, PAYLOAD);
            /* the server's session ends with close_notify: a clean EOF */
            g_assert_cmpint(xm_tls_session_read(s, in, 1, &err), ==, 0);
        }
    }
    if (err)
        shutdown(sv[0], SHUT_RDWR);
    g_thread_join(t);
    g_clear_pointer(&s, xm_tls_session_free);
    close(sv[0]);
    close(sv[1]);
    return err;
}

static void
test_roundtrip(void)
{
    ServerSide ss;
    GError *err = run_pair(pki, "localhost", TRUE, &ss);

    g_assert_no_error(err);
    g_assert_true(ss.ok);
    g_assert_nonnull(ss.peer_dn);
    g_assert_nonnull(strstr(ss.peer_dn, "CN=localhost"));
    g_free(ss.peer_dn);
}

static void
test_ip_address(void)
{
    ServerSide ss;
    GError *err = run_pair(pki, "127.0.0.1", TRUE, &ss);

    g_assert_no_error(err);
    g_assert_true(ss.ok);
    g_free(ss.peer_dn);
}

static void
test_wrong_hostname(void)
{
    ServerSide ss;
    g_autoptr(GError) err = run_pair(pki, "otherhost", TRUE, &ss);

    g_assert_error(err, XM_ERROR, XM_ERR_AUTH_FAILED);
    g_assert_false(ss.ok);
    g_free(ss.peer_dn);
}

static void
test_wrong_ca(void)
{
    ServerSide ss;
    g_autoptr(GError) err = run_pair(other, "localhost", TRUE, &ss);

    g_assert_nonnull(err);
    g_assert_false(ss.ok);
    g_free(ss.peer_dn);
}

static void
test_no_client_cert(void)
{
    ServerSide ss;
    g_autoptr(GError) err = run_pair(anon, "localhost", TRUE, &ss);

    g_assert_nonnull(err);
    g_assert_false(ss.ok);
    g_free(ss.peer_dn);

    /* without verify_peer an anonymous client is fine */
    g_clear_error(&err);
    err = run_pair(anon, "localhost", FALSE, &ss);
    g_assert_no_error(err);
    g_assert_true(ss.ok);
    g_assert_null(ss.peer_dn);
}

static void
test_missing_files(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *empty = g_dir_make_tmp("xenmig-tls-XXXXXX", NULL);

    g_assert_null(xm_tls_load_server_creds(empty, TRUE, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_OPEN_FAILED);
    g_assert_nonnull(strstr(err->message, "ca-cert.pem"));
    g_clear_error(&err);
    g_assert_null(xm_tls_load_client_creds(empty, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_OPEN_FAILED);
    g_clear_error(&err);
    /* a CA alone is enough for a client, not for a server */
    g_assert_null(xm_tls_load_server_creds(anon, TRUE, &err));
    g_assert_nonnull(strstr(err->message, "server-cert.pem"));
    rmdir(empty);
}

static void
run(const char *script, const char *dir, const char *name)
{
    g_autofree char *cmd = g_strdup_printf("'%s' '%s' '%s' >/dev/null",
                                           script, dir, name);

    if (system(cmd) != 0)
        g_error("%s failed", cmd);
}

int
main(int argc, char **argv)
{
    const char *srcdir = g_getenv("XENMIG_SRCDIR");
    g_autofree char *tmp = NULL;
    g_autofree char *script = NULL;
    g_autofree char *cmd = NULL;
    g_autofree char *certtool = g_find_program_in_path("certtool");
    int rc;

    g_test_init(&argc, &argv, NULL);
    if (!srcdir || !certtool) {
        g_test_skip("needs XENMIG_SRCDIR and certtool");
        return 77;
    }
    script = g_build_filename(srcdir, "tests", "storage-mirror",
                              "make-certs.sh", NULL);
    tmp = g_dir_make_tmp("xenmig-tls-XXXXXX", NULL);
    pki = g_build_filename(tmp, "pki", NULL);
    other = g_build_filename(tmp, "other", NULL);
    anon = g_build_filename(tmp, "anon", NULL);
    run(script, pki, "xenmig test CA");
    run(script, other, "unrelated CA");
    g_mkdir(anon, 0700);
    cmd = g_strdup_printf("cp '%s/ca-cert.pem' '%s/'", pki, anon);
    g_assert_cmpint(system(cmd), ==, 0);

    g_test_add_func("/tls/session/roundtrip", test_roundtrip);
    g_test_add_func("/tls/session/ip-address", test_ip_address);
    g_test_add_func("/tls/session/wrong-hostname", test_wrong_hostname);
    g_test_add_func("/tls/session/wrong-ca", test_wrong_ca);
    g_test_add_func("/tls/session/no-client-cert", test_no_client_cert);
    g_test_add_func("/tls/creds/missing-files", test_missing_files);
    rc = g_test_run();

    g_free(cmd);
    cmd = g_strdup_printf("rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        g_warning("cannot remove %s", tmp);
    g_free(pki);
    g_free(other);
    g_free(anon);
    return rc;
}
