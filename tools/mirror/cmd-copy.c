/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* xenmig-mirror copy / sync: one scan pass from an image to an NBD URI. */
#include "config.h"

#include <stdio.h>

#include <xenmig/mirror.h>
#include "util/util.h"
#include "commands.h"
#include "progress.h"

int
xm_mirror_scan_command(int argc, char **argv, gboolean resync)
{
    XmCliCommon common = { 0 };
    g_autofree char *block_size = NULL;
    g_autofree char *state = NULL;
    GOptionEntry sync_entries[] = {
        { "block-size", 0, 0, G_OPTION_ARG_STRING, &block_size,
          N_("Compare blocks of BYTES bytes (power of two, default 65536)"),
          N_("BYTES") },
        { "state", 0, 0, G_OPTION_ARG_FILENAME, &state,
          N_("Keep the block hashes in FILE so the next sync need not read "
             "the destination"), N_("FILE") },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new(
        resync ? _("SRC DEST-URI - re-sync an existing copy, sending only changed blocks")
               : _("SRC DEST-URI - copy an image to an NBD destination"));
    g_autoptr(XmCliRun) run = xm_cli_run_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(XmProgressOut) out = NULL;
    g_autoptr(XmMirrorJob) job = NULL;
    XmMirrorOptions opts = { .mode = XM_MIRROR_SCAN };
    XmMirrorResult result = { 0 };
    XmMirrorProgress p;
    int rc = XM_EXIT_ERROR;

    g_option_context_set_main_group(ctx, xm_cli_common_group(&common));
    if (resync)
        g_option_context_add_main_entries(ctx, sync_entries, GETTEXT_PACKAGE);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        rc = xm_cli_usage_error("%s", err->message);
        goto out;
    }
    if (argc != 3) {
        rc = xm_cli_usage_error(_("%s needs SRC and DEST-URI (see --help)"), argv[0]);
        goto out;
    }
    if (!xm_cli_common_apply(&common, &opts, &err)) {
        rc = xm_cli_usage_error("%s", err->message);
        goto out;
    }
    if (block_size) {
        guint64 bs;

        if (!g_ascii_string_to_unsigned(block_size, 10, 512, 64 * 1024 * 1024, &bs, NULL) ||
            (bs & (bs - 1))) {
            rc = xm_cli_usage_error(_("--block-size must be a power of two between "
                                      "512 and 67108864, not '%s'"), block_size);
            goto out;
        }
        opts.granularity = bs;
    }
    opts.compare_dest = resync;
    opts.state_file = state;
    out = xm_progress_out_new(common.progress, &err);
    if (!out && err) {
        rc = xm_cli_usage_error("%s", err->message);
        goto out;
    }

    job = xm_mirror_job_new(argv[1], argv[2], &opts, &err);
    if (!job || !xm_mirror_job_start(job, &err) ||
        !xm_cli_run_job(run, job, out, NULL, NULL, NULL, &result, &err)) {
        xm_progress_out_finish(out);
        xm_mirror_fail("%s", err->message);
        goto out;
    }
    xm_mirror_job_get_progress(job, &p);
    if (resync)
        fprintf(stderr, "sync: scanned %" G_GUINT64_FORMAT " bytes, sent %"
                G_GUINT64_FORMAT " bytes (%" G_GUINT64_FORMAT " blocks)\n",
                p.scanned, p.sent, p.blocks_sent);
    else
        fprintf(stderr, "copy: copied %" G_GUINT64_FORMAT " bytes, sent %"
                G_GUINT64_FORMAT " bytes of data\n", p.total, p.sent);
    if (result.verified)
        fprintf(stderr, _("verified: source and destination checksums match "
                          "(xxh3-128 %s)\n"), result.source_checksum);
    rc = 0;

 out:
    xm_cli_common_clear(&common);
    return rc;
}

int
xm_mirror_cmd_copy(int argc, char **argv)
{
    return xm_mirror_scan_command(argc, argv, FALSE);
}
