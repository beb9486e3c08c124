/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The migrate hook, called on the destination before an incoming
 * migration is prepared, the way libvirt's libxl driver calls
 * /etc/libvirt/hooks/libxl (docs/hooks.rst): arguments "<domain> migrate
 * begin -", the domain XML on standard input; a non-zero exit refuses the
 * migration; XML on standard output replaces the domain's definition.
 */
#define G_LOG_DOMAIN "xenmig-driver"
#include "config.h"

#include <unistd.h>

#include "driver-migrate.h"

gboolean
xm_migrate_run_hook(const char *name, const char *xml, char **xml_out)
{
    const char *hook = xm_driver->cfg->migrate_hook;
    g_autoptr(GSubprocess) proc = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *out = NULL;
    g_autofree char *errout = NULL;
    const char *argv[] = { hook, name, "migrate", "begin", "-", NULL };

    *xml_out = NULL;
    /* as libvirt: a hook that is not there, or not executable, is no hook */
    if (!hook || access(hook, X_OK) != 0)
        return TRUE;
    proc = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                   G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                   G_SUBPROCESS_FLAGS_STDERR_PIPE, &err);
    if (!proc || !g_subprocess_communicate_utf8(proc, xml, NULL, &out, &errout, &err)) {
        XM_REPORT(VIR_ERR_HOOK_SCRIPT_FAILED, _("cannot run the migrate hook %s: %s"),
                  hook, err->message);
        return FALSE;
    }
    if (!g_subprocess_get_if_exited(proc) || g_subprocess_get_exit_status(proc) != 0) {
        g_strstrip(errout);
        XM_REPORT(VIR_ERR_HOOK_SCRIPT_FAILED,
                  _("the migrate hook %s refused the migration of '%s': %s"),
                  hook, name, *errout ? errout : _("(no message)"));
        return FALSE;
    }
    if (out && *g_strstrip(out))
        *xml_out = g_steal_pointer(&out);
    return TRUE;
}
