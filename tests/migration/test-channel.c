/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The memory channel on loopback: the right secret gets in, a wrong one is
 * refused and counted, TLS with certificates from make-certs.sh works, a
 * peer from another CA is refused, nobody connecting times out, and a peer
 * that stops reading fails the sender's send after the send timeout.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <xenmig/error.h>
#include "migration/channel.h"
#include "migration/migration-private.h"

static char *pki, *other;

typedef struct {
    XmChannelListener *l;
    guint timeout_ms;
    XmChannel *ch;
    GError *err;
} AcceptJob;

static gpointer
accept_thread(gpointer data)
{
    AcceptJob *a = data;

    a->ch = xm_channel_accept(a->l, a->timeout_ms, NULL, &a->err);
    return NULL;
}

static XmChannelListener *
listen_local(const guint8 *secret, const char *tls_dir, guint *port)
{
    g_autoptr(GError) err = NULL;
    int fd = xm_migration_listen_in_range("127.0.0.1", 0, 0, port, &err);
    XmChannelListener *l;

    g_assert_no_error(err);
    l = xm_channel_listener_new(fd, secret, tls_dir, &err);
    g_assert_no_error(err);
    return l;
}

static void
exchange(XmChannel *client, XmChannel *server)
{
    g_autoptr(GError) err = NULL;
    g_autofree guint8 *buf = g_malloc(XM_CHANNEL_MAX_PAYLOAD);
    XmChannelRecord type;
    guint32 len;

    g_assert_true(xm_channel_send(client, XM_CHANNEL_DATA, "hello", 5, &err));
    g_assert_true(xm_channel_send(client, XM_CHANNEL_END, NULL, 0, &err));
    g_assert_no_error(err);
    g_assert_true(xm_channel_recv(server, &type, buf, &len, 5000, &err));
    g_assert_no_error(err);
    g_assert_cmpint(type, ==, XM_CHANNEL_DATA);
    g_assert_cmpmem(buf, len, "hello", 5);
    g_assert_true(xm_channel_recv(server, &type, buf, &len, 5000, &err));
    g_assert_cmpint(type, ==, XM_CHANNEL_END);
    g_assert_cmpuint(len, ==, 0);
}

/* A listener with a fresh secret (in @a) and a client that got in with it;
 * a->ch is the server's end. */
static XmChannel *
connect_pair(const char *tls_dir, AcceptJob *a)
{
    guint8 secret[XM_COOKIE_SECRET_BYTES];
    g_autoptr(GError) err = NULL;
    XmChannel *client;
    GThread *t;
    guint port;

    xm_channel_secret_generate(secret);
    a->timeout_ms = 10000;
    a->l = listen_local(secret, tls_dir, &port);
    t = g_thread_new("accept", accept_thread, a);
    client = xm_channel_connect("127.0.0.1", port, secret, tls_dir, 5000, NULL, &err);
    g_assert_no_error(err);
    g_thread_join(t);
    g_assert_no_error(a->err);
    g_assert_nonnull(a->ch);
    return client;
}

/* Skips the test unless main() could make the certificates. */
static gboolean
have_pki(void)
{
    if (!pki)
        g_test_skip("certtool is not installed");
    return pki != NULL;
}

static void
run_ok(const char *tls_dir)
{
    AcceptJob a = { 0 };
    g_autoptr(XmChannel) client = connect_pair(tls_dir, &a);

    g_assert_cmpint(xm_channel_is_tls(a.ch), ==, tls_dir != NULL);
    g_assert_cmpuint(xm_channel_listener_get_refused(a.l), ==, 0);
    exchange(client, a.ch);
    xm_channel_free(a.ch);
    xm_channel_listener_free(a.l);
}

static void
test_secret_ok(void)
{
    run_ok(NULL);
}

static void
test_tls_ok(void)
{
    if (have_pki())
        run_ok(pki);
}

/* A client with @client_secret (and @client_tls) is refused; then the
 * listener times out, having counted one refusal. */
static void
run_refused(const char *server_tls, const char *client_tls, gboolean wrong_secret)
{
    guint8 secret[XM_COOKIE_SECRET_BYTES], guess[XM_COOKIE_SECRET_BYTES];
    g_autoptr(GError) err = NULL;
    AcceptJob a = { .timeout_ms = 1200 };
    g_autoptr(XmChannel) client = NULL;
    GThread *t;
    guint port;

    xm_channel_secret_generate(secret);
    memcpy(guess, secret, sizeof(guess));
    if (wrong_secret)
        guess[XM_COOKIE_SECRET_BYTES - 1] ^= 1;
    a.l = listen_local(secret, server_tls, &port);
    t = g_thread_new("accept", accept_thread, &a);
    client = xm_channel_connect("127.0.0.1", port, guess, client_tls, 5000, NULL, &err);
    g_assert_null(client);
    g_assert_nonnull(err);
    g_assert_true(err->domain == XM_ERROR);
    g_thread_join(t);
    g_assert_null(a.ch);
    g_assert_error(a.err, XM_ERROR, XM_ERR_OPERATION_TIMEOUT);
    g_assert_cmpuint(xm_channel_listener_get_refused(a.l), ==, 1);
    g_clear_error(&a.err);
    xm_channel_listener_free(a.l);
}

typedef enum { CERTS_NONE, CERTS_OURS, CERTS_OTHER_CA } Certs;

typedef struct {
    Certs server, client;
    gboolean wrong_secret;
} RefusedCase;

static const char *
certs_dir(Certs c)
{
    return c == CERTS_OURS ? pki : c == CERTS_OTHER_CA ? other : NULL;
}

static void
test_refused(gconstpointer data)
{
    const RefusedCase *rc = data;

    if ((rc->server != CERTS_NONE || rc->client != CERTS_NONE) && !have_pki())
        return;
    run_refused(certs_dir(rc->server), certs_dir(rc->client), rc->wrong_secret);
}

static const RefusedCase wrong_secret = { CERTS_NONE, CERTS_NONE, TRUE };
static const RefusedCase tls_wrong_secret = { CERTS_OURS, CERTS_OURS, TRUE };
static const RefusedCase tls_wrong_ca = { CERTS_OURS, CERTS_OTHER_CA, FALSE };
/* a plaintext client talking to a TLS listener gets nowhere */
static const RefusedCase tls_plain_client = { CERTS_OURS, CERTS_NONE, FALSE };

static void
test_timeout(void)
{
    guint8 secret[XM_COOKIE_SECRET_BYTES] = { 0 };
    g_autoptr(GError) err = NULL;
    guint port;
    XmChannelListener *l = listen_local(secret, NULL, &port);
    gint64 t0 = g_get_monotonic_time();

    g_assert_null(xm_channel_accept(l, 300, NULL, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_TIMEOUT);
    g_assert_cmpint(g_get_monotonic_time() - t0, >=, 250000);
    xm_channel_listener_free(l);
}

/* The peer authenticates and then never reads nor closes: sending fails
 * with a timeout once a record makes no end for the send timeout, instead
 * of blocking for ever (under TLS the send would retry endlessly). */
static void
run_stalled_reader(const char *tls_dir)
{
    g_autoptr(GError) err = NULL;
    g_autofree guint8 *buf = g_malloc0(XM_CHANNEL_MAX_PAYLOAD);
    AcceptJob a = { 0 };
    g_autoptr(XmChannel) client = connect_pair(tls_dir, &a);
    gint64 t0, last = 0;
    gboolean ok = TRUE;
    guint sent = 0;

    xm_channel_set_send_timeout(client, 1000);

    t0 = g_get_monotonic_time();
    /* the socket buffers take some MiB; then a send blocks */
    while (ok && sent < 512) {
        last = g_get_monotonic_time();
        ok = xm_channel_send(client, XM_CHANNEL_DATA, buf, XM_CHANNEL_MAX_PAYLOAD, &err);
        sent++;
    }
    g_assert_false(ok);
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_TIMEOUT);
    g_test_message("failed after %u records, %" G_GINT64_FORMAT " ms", sent,
                   (g_get_monotonic_time() - t0) / 1000);
    /* the failing send itself took about the timeout, not more */
    g_assert_cmpint(g_get_monotonic_time() - last, >=, 900000);
    g_assert_cmpint(g_get_monotonic_time() - last, <, 5000000);
    /* fast sends never trip it: the peer was fine for the first records */
    g_assert_cmpuint(sent, >, 1);
    g_clear_error(&err);
    g_assert_false(xm_channel_send(client, XM_CHANNEL_PING, NULL, 0, &err));
    g_assert_nonnull(err);
    xm_channel_free(a.ch);
    xm_channel_listener_free(a.l);
}

static void
test_stalled_reader(void)
{
    run_stalled_reader(NULL);
}

static void
test_tls_stalled_reader(void)
{
    if (have_pki())
        run_stalled_reader(pki);
}

static void
test_secret_hex(void)
{
    guint8 s[XM_COOKIE_SECRET_BYTES], back[XM_COOKIE_SECRET_BYTES];
    g_autofree char *hex = NULL;

    xm_channel_secret_generate(s);
    hex = xm_channel_secret_to_hex(s);
    g_assert_cmpuint(strlen(hex), ==, XM_COOKIE_SECRET_HEX);
    g_assert_true(xm_channel_secret_from_hex(hex, back));
    g_assert_cmpmem(s, sizeof(s), back, sizeof(back));
    hex[3] = 'g';
    g_assert_false(xm_channel_secret_from_hex(hex, back));
    g_assert_false(xm_channel_secret_from_hex("00", back));
}

static void
make_certs(const char *script, const char *dir, const char *ca)
{
    g_autofree char *cmd = g_strdup_printf("'%s' '%s' '%s'", script, dir, ca);
    g_assert_cmpint(system(cmd), ==, 0);
}

int
main(int argc, char **argv)
{
    const char *srcdir = g_getenv("XENMIG_SRCDIR");
    g_autofree char *certtool = g_find_program_in_path("certtool");
    g_autofree char *tmp = NULL;
    int rc;

    g_test_init(&argc, &argv, NULL);
    tmp = g_dir_make_tmp("xenmig-chan-XXXXXX", NULL);
    if (srcdir && certtool) {
        g_autofree char *script = g_build_filename(srcdir, "tests", "storage-mirror",
                                                   "make-certs.sh", NULL);
        pki = g_build_filename(tmp, "pki", NULL);
        other = g_build_filename(tmp, "other", NULL);
        make_certs(script, pki, "xenmig test CA");
        make_certs(script, other, "unrelated CA");
    }
    g_test_add_func("/migration/channel/secret-ok", test_secret_ok);
    g_test_add_data_func("/migration/channel/wrong-secret", &wrong_secret, test_refused);
    g_test_add_func("/migration/channel/tls-ok", test_tls_ok);
    g_test_add_data_func("/migration/channel/tls-wrong-secret", &tls_wrong_secret,
                         test_refused);
    g_test_add_data_func("/migration/channel/tls-wrong-ca", &tls_wrong_ca, test_refused);
    g_test_add_data_func("/migration/channel/tls-plain-client", &tls_plain_client,
                         test_refused);
    g_test_add_func("/migration/channel/timeout", test_timeout);
    g_test_add_func("/migration/channel/stalled-reader", test_stalled_reader);
    g_test_add_func("/migration/channel/tls-stalled-reader", test_tls_stalled_reader);
    g_test_add_func("/migration/channel/secret-hex", test_secret_hex);
    rc = g_test_run();
    {
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmp);
        if (system(cmd) != 0)
            g_warning("cannot remove %s", tmp);
    }
    g_free(pki);
    g_free(other);
    return rc;
}
