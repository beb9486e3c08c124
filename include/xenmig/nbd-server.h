/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An NBD server exporting one raw image file or block device over TCP or a
 * unix socket: fixed newstyle handshake, structured replies, base:allocation
 * block status, WRITE_ZEROES/TRIM/FLUSH/FUA, multi-conn and STARTTLS with an
 * x509 certificate directory. Writes can be observed through a hook (used by
 * the mirror engine for dirty tracking and synchronous mirroring).
 */
#pragma once

#include <glib.h>
#include <gio/gio.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * XmNbdServer:
 *
 * An opaque NBD server over one image. Create it with xm_nbd_server_new(),
 * add listeners, then xm_nbd_server_start(). All functions are thread-safe
 * unless said otherwise.
 */
typedef struct _XmNbdServer XmNbdServer;

/**
 * XmNbdServerConfig:
 * @image_path: raw image file or block device to export
 * @export_name: the export's name; NULL means "". Clients asking for
 *   another name are refused.
 * @readonly: export read-only; writes fail with EPERM
 * @tls_dir: NULL for plaintext; else a directory holding ca-cert.pem,
 *   server-cert.pem and server-key.pem (and optionally ca-crl.pem), and
 *   TLS is mandatory for every client
 * @tls_verify_peer: require a client certificate signed by ca-cert.pem
 *   (recommended: TRUE)
 * @max_connections: maximum number of simultaneous clients; 0 means 16
 * @handshake_timeout_ms: time a client has from connecting to the start of
 *   transmission (TLS handshake included) before it is dropped; 0 means
 *   30 seconds
 *
 * Configuration of a server; copied by xm_nbd_server_new().
 */
typedef struct {
    const char *image_path;
    const char *export_name;
    gboolean readonly;
    const char *tls_dir;
    gboolean tls_verify_peer;
    guint max_connections;
    guint handshake_timeout_ms;
} XmNbdServerConfig;

/**
 * XmNbdWriteKind:
 * @XM_NBD_WRITE: data was written (NBD_CMD_WRITE)
 * @XM_NBD_WRITE_ZEROES: a range was zeroed (NBD_CMD_WRITE_ZEROES)
 * @XM_NBD_TRIM: a range was discarded (NBD_CMD_TRIM)
 *
 * What a write hook is told about.
 */
typedef enum {
    XM_NBD_WRITE,
    XM_NBD_WRITE_ZEROES,
    XM_NBD_TRIM,
} XmNbdWriteKind;

/**
 * XmNbdWriteHook:
 * @user_data: as given to xm_nbd_server_set_write_hook()
 * @kind: the kind of modification
 * @offset: first byte modified
 * @length: number of bytes modified
 * @data: the written bytes for %XM_NBD_WRITE, NULL otherwise
 * @error: return location for an error
 *
 * Runs in the connection's thread AFTER the local write, zero or trim
 * succeeded and BEFORE the reply is sent. It may block (the synchronous
 * mirror writes to its destination inside it) and is called concurrently,
 * from several connections and for several requests of one connection
 * (requests in flight together are served in parallel, as NBD allows),
 * so it must be thread-safe.
 *
 * A trim the image cannot perform (discard is advisory) leaves the data
 * in place and is not reported. A write, zero or trim that failed on the
 * image may still have changed part of its range: it is reported as
 * %XM_NBD_TRIM (contents unknown, read them back) and the client gets
 * the error whatever the hook returns.
 *
 * Returns: TRUE on success; FALSE makes the client get EIO for the request.
 */
typedef gboolean (*XmNbdWriteHook)(gpointer user_data, XmNbdWriteKind kind,
                                   guint64 offset, guint64 length,
                                   const void *data, GError **error);

/**
 * xm_nbd_server_new:
 * @config: the configuration (copied)
 * @error: return location for an error
 *
 * Opens the image (read-write unless @config->readonly) and, with a
 * @config->tls_dir, loads the server's x509 credentials. Nothing listens
 * yet.
 *
 * Returns: (transfer full): a new server, or NULL with @error set.
 */
XmNbdServer *xm_nbd_server_new(const XmNbdServerConfig *config, GError **error);

/**
 * xm_nbd_server_listen_tcp:
 * @s: a server that is not started yet
 * @host: address or host name to bind (NULL: every address)
 * @port: TCP port; 0 picks an ephemeral port
 * @bound_port: (out) (optional): the port actually bound
 * @error: return location for an error
 *
 * Binds and listens on every address @host resolves to (all on the same
 * port).
 *
 * Returns: TRUE on success.
 */
gboolean xm_nbd_server_listen_tcp(XmNbdServer *s, const char *host,
                                  guint16 port, guint16 *bound_port,
                                  GError **error);

/**
 * xm_nbd_server_listen_unix:
 * @s: a server that is not started yet
 * @path: path of the unix socket to create; a stale socket there is
 *   replaced, one another process listens on or any other file is an
 *   error
 * @error: return location for an error
 *
 * Listens on a unix socket, removed again by xm_nbd_server_stop().
 *
 * Returns: TRUE on success.
 */
gboolean xm_nbd_server_listen_unix(XmNbdServer *s, const char *path,
                                   GError **error);

/**
 * xm_nbd_server_start:
 * @s: a server with at least one listener
 * @error: return location for an error
 *
 * Starts accepting clients from a thread of its own; each client is served
 * by its own thread.
 *
 * Returns: TRUE on success.
 */
gboolean xm_nbd_server_start(XmNbdServer *s, GError **error);

/**
 * xm_nbd_server_stop:
 * @s: a server
 *
 * Closes the listeners and every connection and joins all threads. A
 * request being processed finishes first (including its write hook).
 * Idempotent, and safe to call from several threads: each call returns
 * once the server is stopped. A stopped server cannot be started again.
 * Must not be called from a write hook.
 */
void xm_nbd_server_stop(XmNbdServer *s);

/**
 * xm_nbd_server_free:
 * @s: (nullable): a server
 *
 * Stops the server if needed and frees it.
 */
void xm_nbd_server_free(XmNbdServer *s);

/**
 * xm_nbd_server_get_size:
 * @s: a server
 *
 * Returns: the size of the exported image in bytes.
 */
guint64 xm_nbd_server_get_size(XmNbdServer *s);

/**
 * xm_nbd_server_get_connection_count:
 * @s: a server
 *
 * Returns: the number of clients connected right now.
 */
guint xm_nbd_server_get_connection_count(XmNbdServer *s);

/**
 * xm_nbd_server_set_write_hook:
 * @s: a server
 * @hook: (nullable): the hook, or NULL to remove it
 * @user_data: passed to @hook
 *
 * Installs or replaces the write hook; allowed while serving. When this
 * returns, no call of the previous hook is running any more, and every
 * modification whose hook call was skipped or went to the previous hook
 * has completed on the image. Must not be called from inside a hook.
 */
void xm_nbd_server_set_write_hook(XmNbdServer *s, XmNbdWriteHook hook,
                                  gpointer user_data);

/**
 * xm_digest_chunk_size:
 * @image_size: the image's size in bytes
 *
 * The chunk of the image digests (xm_nbd_server_image_digest(),
 * #XmMirrorResult's checksums, the migration's image checksum): 256 KiB,
 * doubled while the image would have more than 2^20 chunks (images over
 * 256 GiB), so a small write makes little stale and the per-chunk state
 * of a huge disk stays bounded. It depends only on @image_size, so both
 * sides of a migration agree.
 *
 * Returns: a power of two of at least 256 KiB
 */
guint64 xm_digest_chunk_size(guint64 image_size);

/**
 * xm_nbd_server_enable_chunk_hashes:
 * @s: a server (started or not)
 * @chunk: chunk size in bytes: a power of two between 64 KiB and 1 GiB;
 *   only xm_digest_chunk_size() of the image's size spares
 *   xm_nbd_server_image_digest() its reads (the digest's chunks)
 * @error: return location for an error
 *
 * From now on every READ the server answers that covers exactly one whole
 * aligned chunk (the last one may be shorter: the image's tail) records
 * the xxh3-128 hash of the bytes it sent. Each chunk has a generation
 * counter that every WRITE, WRITE_ZEROES and TRIM touching the chunk
 * increments once its data is in the image; a recorded hash is valid only
 * while the generation is the one read before the READ read the image,
 * so a hash of bytes a concurrent write may have changed is never used.
 * Changes made to the image behind the server's back are not seen.
 * Calling it again with the same @chunk does nothing.
 *
 * Returns: TRUE on success; FALSE with %XM_ERR_INVALID_ARG for a bad
 * @chunk or one different from an earlier call.
 */
gboolean xm_nbd_server_enable_chunk_hashes(XmNbdServer *s, guint64 chunk,
                                           GError **error);

/**
 * xm_nbd_server_image_digest:
 * @s: a server
 * @cancellable: (nullable): checked before each chunk
 * @out: (out): 32 lowercase hex digits and a NUL
 * @error: return location for an error
 *
 * The digest of the whole image: xxh3-128 over the canonical (big-endian)
 * xxh3-128 hashes of its chunks in order, printed as 32 lowercase hex
 * digits; the chunks are xm_digest_chunk_size() of the image's size, so
 * it equals xm_migration_image_checksum() and #XmMirrorResult's checksums
 * of the same data. Chunks with a valid recorded hash (see
 * xm_nbd_server_enable_chunk_hashes() with that chunk size) are not read
 * again; the others are read from the image (and their hashes recorded).
 * Without such chunk hashes the whole image is read. Call it
 * once the image no longer changes (clients stopped writing).
 *
 * Returns: TRUE with @out set, or FALSE with @error set.
 */
gboolean xm_nbd_server_image_digest(XmNbdServer *s, GCancellable *cancellable,
                                    char out[33], GError **error);

/**
 * xm_nbd_server_get_chunk_hash_stats:
 * @s: a server
 * @valid_chunks: (out) (optional): chunks whose recorded hash is valid now
 * @digest_read_bytes: (out) (optional): bytes xm_nbd_server_image_digest()
 *   read from the image so far (over all its calls)
 *
 * How much of the image the chunk hashes cover; both are 0 while chunk
 * hashes are off (except @digest_read_bytes).
 */
void xm_nbd_server_get_chunk_hash_stats(XmNbdServer *s, guint64 *valid_chunks,
                                        guint64 *digest_read_bytes);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(XmNbdServer, xm_nbd_server_free)

#ifdef __cplusplus
}
#endif
