/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Migration flags and typed parameters: what libvirt's clients send (virsh,
 * nova, CloudStack through virDomainMigrate2, libvirt's own client side,
 * which adds destination_xml and destination_name), checked strictly and
 * mapped onto XmMigrationParams.
 */
#define G_LOG_DOMAIN "xenmig-driver"
#include "config.h"

#include <string.h>

#include "driver-migrate.h"

typedef enum {
    P_URI,
    P_DEST_NAME,
    P_DEST_XML,
    P_PERSIST_XML,
    P_BANDWIDTH,
    P_MIGRATE_DISKS,
    P_DISKS_PORT,
    P_DISKS_URI,
    P_LISTEN_ADDRESS,
    P_AC_INITIAL,
    P_AC_INCREMENT,
} ParamId;

static const struct {
    const char *name;
    int type;
    gboolean multiple;
} known_params[] = {
    [P_URI] = { VIR_MIGRATE_PARAM_URI, VIR_TYPED_PARAM_STRING, FALSE },
    [P_DEST_NAME] = { VIR_MIGRATE_PARAM_DEST_NAME, VIR_TYPED_PARAM_STRING, FALSE },
    [P_DEST_XML] = { VIR_MIGRATE_PARAM_DEST_XML, VIR_TYPED_PARAM_STRING, FALSE },
    [P_PERSIST_XML] = { VIR_MIGRATE_PARAM_PERSIST_XML, VIR_TYPED_PARAM_STRING, FALSE },
    [P_BANDWIDTH] = { VIR_MIGRATE_PARAM_BANDWIDTH, VIR_TYPED_PARAM_ULLONG, FALSE },
    [P_MIGRATE_DISKS] = { VIR_MIGRATE_PARAM_MIGRATE_DISKS, VIR_TYPED_PARAM_STRING, TRUE },
    [P_DISKS_PORT] = { VIR_MIGRATE_PARAM_DISKS_PORT, VIR_TYPED_PARAM_INT, FALSE },
    [P_DISKS_URI] = { VIR_MIGRATE_PARAM_DISKS_URI, VIR_TYPED_PARAM_STRING, FALSE },
    [P_LISTEN_ADDRESS] = { VIR_MIGRATE_PARAM_LISTEN_ADDRESS, VIR_TYPED_PARAM_STRING, FALSE },
    /* Tuning of auto-converge: the passes already change strategy when
     * they stop converging, so these values are accepted and not needed. */
    [P_AC_INITIAL] = { VIR_MIGRATE_PARAM_AUTO_CONVERGE_INITIAL, VIR_TYPED_PARAM_INT, FALSE },
    [P_AC_INCREMENT] = { VIR_MIGRATE_PARAM_AUTO_CONVERGE_INCREMENT, VIR_TYPED_PARAM_INT, FALSE },
};

void
xm_migrate_args_clear(XmMigrateArgs *args)
{
    if (args->migrate_disks)
        g_ptr_array_unref(args->migrate_disks);
    memset(args, 0, sizeof(*args));
}

static gboolean
check_flags(unsigned int flags)
{
    if ((flags & VIR_MIGRATE_NON_SHARED_DISK) && (flags & VIR_MIGRATE_NON_SHARED_INC)) {
        XM_REPORT(VIR_ERR_INVALID_ARG, "%s",
                  _("migration flags NON_SHARED_DISK and NON_SHARED_INC are mutually exclusive"));
        return FALSE;
    }
    if (flags & VIR_MIGRATE_OFFLINE) {
        if (flags & VIR_MIGRATE_LIVE) {
            XM_REPORT(VIR_ERR_INVALID_ARG, "%s",
                      _("offline migration cannot be live"));
            return FALSE;
        }
        if (flags & (VIR_MIGRATE_NON_SHARED_DISK | VIR_MIGRATE_NON_SHARED_INC)) {
            XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s",
                      _("offline migration cannot copy storage"));
            return FALSE;
        }
        if (!(flags & VIR_MIGRATE_PERSIST_DEST)) {
            XM_REPORT(VIR_ERR_INVALID_ARG, "%s",
                      _("offline migration requires the persistent flag"));
            return FALSE;
        }
    }
    if ((flags & VIR_MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES) &&
        !(flags & (VIR_MIGRATE_NON_SHARED_DISK | VIR_MIGRATE_NON_SHARED_INC))) {
        XM_REPORT(VIR_ERR_INVALID_ARG, "%s",
                  _("synchronous writes need a migration that copies storage"));
        return FALSE;
    }
    return TRUE;
}

gboolean
xm_migrate_args_parse(virTypedParameterPtr params, int nparams,
                      unsigned int flags, XmMigrateArgs *args)
{
    gboolean seen[G_N_ELEMENTS(known_params)] = { FALSE };

    memset(args, 0, sizeof(*args));
    if (!check_flags(flags))
        return FALSE;
    if (nparams < 0 || (nparams > 0 && !params)) {
        XM_REPORT(VIR_ERR_INVALID_ARG, "%s", _("invalid migration parameters"));
        return FALSE;
    }
    for (int i = 0; i < nparams; i++) {
        const virTypedParameter *p = &params[i];
        guint id;

        for (id = 0; id < G_N_ELEMENTS(known_params); id++) {
            if (g_str_equal(p->field, known_params[id].name))
                break;
        }
        if (id == G_N_ELEMENTS(known_params)) {
            XM_REPORT(VIR_ERR_INVALID_ARG, _("unsupported migration parameter '%s'"),
                      p->field);
            goto fail;
        }
        if (p->type != known_params[id].type) {
            XM_REPORT(VIR_ERR_INVALID_ARG,
                      _("invalid type of migration parameter '%s'"), p->field);
            goto fail;
        }
        if (seen[id] && !known_params[id].multiple) {
            XM_REPORT(VIR_ERR_INVALID_ARG,
                      _("migration parameter '%s' may be given only once"), p->field);
            goto fail;
        }
        seen[id] = TRUE;
        if (p->type == VIR_TYPED_PARAM_STRING && (!p->value.s || !*p->value.s) &&
            id != P_MIGRATE_DISKS) {
            XM_REPORT(VIR_ERR_INVALID_ARG,
                      _("migration parameter '%s' is empty"), p->field);
            goto fail;
        }
        switch ((ParamId)id) {
        case P_URI: args->uri = p->value.s; break;
        case P_DEST_NAME: args->dest_name = p->value.s; break;
        case P_DEST_XML: args->dest_xml = p->value.s; break;
        case P_PERSIST_XML: args->persist_xml = p->value.s; break;
        case P_DISKS_URI: args->disks_uri = p->value.s; break;
        case P_LISTEN_ADDRESS: args->listen_address = p->value.s; break;
        case P_BANDWIDTH:
            args->bandwidth_mib = p->value.ul;
            args->has_bandwidth = TRUE;
            break;
        case P_DISKS_PORT:
            if (p->value.i < 0 || p->value.i > 65535) {
                XM_REPORT(VIR_ERR_INVALID_ARG, _("invalid disks port %d"), p->value.i);
                goto fail;
            }
            args->disks_port = p->value.i;
            break;
        case P_MIGRATE_DISKS:
            /* nova sends an empty list as one empty string: no disk */
            if (!args->migrate_disks)
                args->migrate_disks = g_ptr_array_new();
            if (p->value.s && *p->value.s)
                g_ptr_array_add(args->migrate_disks, p->value.s);
            break;
        case P_AC_INITIAL:
        case P_AC_INCREMENT:
            if (!(flags & VIR_MIGRATE_AUTO_CONVERGE)) {
                XM_REPORT(VIR_ERR_INVALID_ARG,
                          _("migration parameter '%s' needs the auto-converge flag"),
                          p->field);
                goto fail;
            }
            break;
        }
    }
    if (args->migrate_disks) {
        if (!(flags & (VIR_MIGRATE_NON_SHARED_DISK | VIR_MIGRATE_NON_SHARED_INC))) {
            XM_REPORT(VIR_ERR_INVALID_ARG, "%s",
                      _("migrate_disks needs a migration that copies storage (NON_SHARED_DISK or NON_SHARED_INC)"));
            goto fail;
        }
        g_ptr_array_add(args->migrate_disks, NULL);
    }
    return TRUE;

 fail:
    xm_migrate_args_clear(args);
    return FALSE;
}

gboolean
xm_migrate_fill_params(XmMigrationParams *p, unsigned int flags,
                       const XmMigrateArgs *args)
{
    const XmDriverConfig *cfg = xm_driver->cfg;

    memset(p, 0, sizeof(*p));
    p->live = (flags & VIR_MIGRATE_LIVE) != 0;
    p->offline = (flags & VIR_MIGRATE_OFFLINE) != 0;
    p->paused = (flags & VIR_MIGRATE_PAUSED) != 0;
    p->persist_dest = (flags & VIR_MIGRATE_PERSIST_DEST) != 0;
    p->undefine_source = (flags & VIR_MIGRATE_UNDEFINE_SOURCE) != 0;
    p->non_shared_disk = (flags & VIR_MIGRATE_NON_SHARED_DISK) != 0;
    p->non_shared_inc = (flags & VIR_MIGRATE_NON_SHARED_INC) != 0;
    p->sync_writes = (flags & VIR_MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES) != 0;
    p->tls = (flags & VIR_MIGRATE_TLS) != 0 || cfg->migrate_tls_force;
    p->auto_converge = (flags & VIR_MIGRATE_AUTO_CONVERGE) != 0;
    p->uri = args->uri;
    p->dest_name = args->dest_name;
    p->bandwidth_mib = args->bandwidth_mib;
    p->migrate_disks = args->migrate_disks
                           ? (const char *const *)args->migrate_disks->pdata : NULL;
    p->disks_port = args->disks_port;
    p->disks_uri = args->disks_uri;
    p->listen_address = args->listen_address ? args->listen_address
                                             : cfg->migration_address;
    p->tls_dir = cfg->migrate_tls_x509_cert_dir ? cfg->migrate_tls_x509_cert_dir
                                                : XM_MIGRATE_DEFAULT_TLS_DIR;
    p->port_min = cfg->migration_port_min;
    p->port_max = cfg->migration_port_max;
    p->drain_timeout_s = cfg->migration_drain_timeout;
    p->host_name = NULL;      /* the machine's host name */
    if (p->tls && !g_file_test(p->tls_dir, G_FILE_TEST_IS_DIR)) {
        XM_REPORT(VIR_ERR_OPERATION_INVALID,
                  _("TLS migration needs the certificate directory '%s' (migrate_tls_x509_cert_dir)"),
                  p->tls_dir);
        return FALSE;
    }
    if (!p->tls)
        g_message("migration without TLS: memory and disk data travel unencrypted");
    return TRUE;
}
