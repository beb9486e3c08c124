/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Client of the per-domain datapath daemon (xenmig-datapath): spawning it
 * and talking to it over its control socket. Internal to libxenmig; the
 * protocol is described in the daemon's man page.
 *
 * Every request opens its own connection, sends one line, reads one reply
 * and closes, so every call is thread-safe and there is no handle.
 */
#pragma once

#include <sys/types.h>
#include <sys/un.h>

#include <gio/gio.h>
#include <xenmig/error.h>
#include <xenmig/mirror.h>

/* protocol version the client speaks and PING reports */
#define XM_DATAPATH_PROTOCOL_VERSION 1

typedef struct {
    const char *target;
    const char *image;
    const char *socket;
} XmDatapathDisk;

/* $XENMIG_DATAPATH, else the build tree's daemon if it exists, else
 * LIBEXECDIR/xenmig-datapath. */
char *xm_datapath_program(void);

/* Runs `xenmig-datapath --daemon ...` with stderr appended to @log_path
 * (NULL: discarded), waits up to 30 s for it to be ready and returns the
 * daemon's pid as read from @pid_file, or -1 with @error set (carrying the
 * daemon's own message when it printed one). */
pid_t xm_datapath_spawn(const char *control, const char *pid_file,
                        const char *log_path, const XmDatapathDisk *disks,
                        size_t n, GError **error);

/* Whether @pid is a live process whose command line names @control, i.e.
 * the daemon serving it (a pid read back from a pid file may have been
 * reused since). */
gboolean xm_datapath_pid_serves(pid_t pid, const char *control);

/* Where the sockets of daemons kept in @state_dir go: @state_dir itself
 * when a name of up to @name_max bytes after it fits a socket address,
 * else <runtime dir>/@kind/<hash of @state_dir> (/run as root, the user's
 * runtime directory otherwise), the same for the same @state_dir. */
char *xm_datapath_socket_dir(const char *state_dir, const char *kind, gsize name_max);
/* Creates @dir (0700) if needed; fails unless it is then a directory of
 * this user that nobody else may enter (no symbolic link). */
gboolean xm_datapath_make_private_dir(const char *dir, GError **error);
/* Stops the daemon @pid serving @control: QUIT lets it cancel its mirror
 * jobs and remove its sockets; one that does not answer or does not exit
 * within @wait_ms is killed. @pidfd (or -1) wakes the wait at its exit. */
void xm_datapath_stop(const char *control, pid_t pid, int pidfd, guint wait_ms);

gboolean xm_datapath_ping(const char *control, GError **error);
/* @opts must be tracked mode; @sync asks for synchronous mode at once (it
 * starts when the bulk copy ends). */
gboolean xm_datapath_mirror_start(const char *control, const char *target,
                                  const char *uri, const XmMirrorOptions *opts,
                                  gboolean sync, GError **error);
gboolean xm_datapath_get_progress(const char *control, const char *target,
                                  XmMirrorProgress *p, GError **error);
gboolean xm_datapath_set_bandwidth(const char *control, const char *target,
                                   double mib, GError **error);
gboolean xm_datapath_request_sync(const char *control, const char *target,
                                  GError **error);
/* Blocks until the daemon finished the job (no time limit). If
 * @cancellable fires, sends CANCEL on another connection, waits for the
 * job to end and fails with XM_ERR_OPERATION_ABORTED. */
gboolean xm_datapath_complete(const char *control, const char *target,
                              XmMirrorResult *res, GCancellable *cancellable,
                              GError **error);
/* Idempotent: OK when there is no job. */
gboolean xm_datapath_cancel(const char *control, const char *target,
                            GError **error);
gboolean xm_datapath_quit(const char *control, GError **error);

/* --- protocol helpers, shared with the daemon --- */

/* Percent-escapes every byte outside [A-Za-z0-9-._~]. */
char *xm_datapath_escape(const char *value);

/* Parses "key=value" words (values unescaped) into a new table; a word
 * without '=', an empty key, a duplicate key or a bad escape fails with
 * @code. */
GHashTable *xm_datapath_parse_fields(char **words, XmErrorCode code,
                                     GError **error);

/* Fills @sa for the unix socket @path; fails if the path is too long. */
gboolean xm_datapath_sockaddr(const char *path, struct sockaddr_un *sa,
                              GError **error);

/* Writes @line and a newline without raising SIGPIPE; returns 0 or an
 * errno value. */
int xm_datapath_write_line(int fd, const char *line);

/* Sends @line (without its newline) and returns the reply line (without
 * its newline). @timeout_ms < 0 waits without limit; @cancellable (may be
 * NULL) interrupts the wait with XM_ERR_OPERATION_ABORTED. A reply is not
 * interpreted here. */
char *xm_datapath_call_raw(const char *control, const char *line,
                           int timeout_ms, GCancellable *cancellable,
                           GError **error);
