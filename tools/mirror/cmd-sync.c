/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xenmig-mirror sync: scan-based re-sync onto an existing copy. The first
 * pass reads the destination (or the --state file) and sends only blocks
 * that differ; see xm_mirror_scan_command() in cmd-copy.c.
 */
#include "config.h"

#include "commands.h"
#include "progress.h"

int
xm_mirror_cmd_sync(int argc, char **argv)
{
    return xm_mirror_scan_command(argc, argv, TRUE);
}
