/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sim guest's control protocol, shared by the backend (client) and the
 * guest program (server).
 *
 * One request per connection on the unix socket state_dir/sim/<domid>.sock:
 * the client sends one line, the guest answers one line and closes.
 *   request:  "<command> [args]\n" (save carries the stream fd as SCM_RIGHTS)
 *   reply:    "ok [key=value ...]\n" or "error <code> <message>\n" where
 *             <code> is an XmErrorCode (e.g. 55 = OPERATION_INVALID for
 *             pausing a paused guest)
 * Commands: info, pause, unpause, shutdown, reboot, poweroff, crash,
 * set-memory <kib>, save [live], save-cancel, resume, ram-checksum.
 *
 * The guest's configuration is a GKeyFile, group "guest" (keys below).
 */
#pragma once

#include <gio/gio.h>

#define XM_SIM_CONFIG_GROUP "guest"
#define XM_SIM_PAGE_SIZE 4096u
/* The guest allocates at most this much RAM, whatever the domain's memory
 * size: enough to exercise the memory stream, small enough for CI. */
#define XM_SIM_RAM_CAP_MIB 256u

struct sockaddr_un;
/* Fills @sa for @path. Paths longer than sun_path are reached through
 * /proc/self/fd/N/<name> with N an O_PATH fd of the directory, returned in
 * *@dirfd (else -1) for the caller to close after bind/connect. */
gboolean xm_sim_sockaddr(const char *path, struct sockaddr_un *sa, int *dirfd,
                         GError **error);

/* Sends @line (a '\n' is appended) on a new connection to @socket_path,
 * passing @fd (or -1) with it, and reads the reply. With @cancel_fd >= 0
 * the wait ends when that fd becomes readable (XM_ERR_OPERATION_ABORTED).
 * An "error CODE MESSAGE" reply becomes that XM_ERROR code and message.
 * On success *@reply holds what follows "ok" (maybe ""). */
gboolean xm_sim_ctl_call(const char *socket_path, const char *line, int fd,
                         int cancel_fd, int timeout_ms, char **reply,
                         GError **error);

/* Looks up "key=value" in a reply; returns a new string or NULL. */
char *xm_sim_reply_get(const char *reply, const char *key);
guint64 xm_sim_reply_get_u64(const char *reply, const char *key, guint64 dflt);
