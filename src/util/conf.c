/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A parser for libvirt's configuration-file syntax, and the driver config. */
#define G_LOG_DOMAIN "xenmig-conf"
#include "config.h"

#include <errno.h>
#include <string.h>

#include "util/conf.h"
#include "util/util.h"


struct _XmConf {
    GPtrArray *entries;     /* of XmConfEntry * */
    char *filename;         /* for messages */
};

typedef struct {
    const char *p;
    const char *filename;
    guint line;
} Parser;

static void
conf_value_free(XmConfValue *v)
{
    if (!v)
        return;
    g_free(v->str);
    if (v->list)
        g_ptr_array_unref(v->list);
    g_free(v);
}

static void
conf_entry_free(XmConfEntry *e)
{
    g_free(e->key);
    conf_value_free(e->value);
    g_free(e);
}

void
xm_conf_free(XmConf *conf)
{
    if (!conf)
        return;
    g_ptr_array_unref(conf->entries);
    g_free(conf->filename);
    g_free(conf);
}

static gboolean G_GNUC_PRINTF(3, 4)
syntax_error(Parser *ps, GError **error, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, XM_ERROR, XM_ERR_CONF_SYNTAX,
                _("%s:%u: %s"), ps->filename, ps->line, msg);
    return FALSE;
}

/* Skips blanks, comments and (when @newlines) line ends. */
static void
skip_space(Parser *ps, gboolean newlines)
{
    for (;;) {
        char c = *ps->p;
        if (c == ' ' || c == '\t' || c == '\r') {
            ps->p++;
        } else if (c == '#') {
            while (*ps->p && *ps->p != '\n')
                ps->p++;
        } else if (c == '\n' && newlines) {
            ps->line++;
            ps->p++;
        } else {
            return;
        }
    }
}

static XmConfValue *
parse_scalar(Parser *ps, GError **error)
{
    char c = *ps->p;

    if (g_str_has_prefix(ps->p, "\"\"\"")) {
        /* a triple-quoted string may span lines */
        const char *start = ps->p + 3;
        const char *end = strstr(start, "\"\"\"");
        if (!end) {
            syntax_error(ps, error, _("unterminated string"));
            return NULL;
        }
        XmConfValue *v = g_new0(XmConfValue, 1);
        v->type = XM_CONF_STRING;
        v->str = g_strndup(start, end - start);
        for (const char *q = start; q < end; q++)
            ps->line += *q == '\n';
        ps->p = end + 3;
        return v;
    }
    if (c == '"' || c == '\'') {
        const char *start = ++ps->p;
        while (*ps->p && *ps->p != c && *ps->p != '\n')
            ps->p++;
        if (*ps->p != c) {
            syntax_error(ps, error, _("unterminated string"));
            return NULL;
        }
        XmConfValue *v = g_new0(XmConfValue, 1);
        v->type = XM_CONF_STRING;
        v->str = g_strndup(start, ps->p - start);
        ps->p++;
        return v;
    }
    if (c == '-' || c == '+' || g_ascii_isdigit(c)) {
        char *end = NULL;
        gint64 n;

        errno = 0;
        n = g_ascii_strtoll(ps->p, &end, 10);
        if (end == ps->p || errno == ERANGE ||
            g_ascii_isalpha(*end) || *end == '_' || *end == '.') {
            syntax_error(ps, error, _("invalid number"));
            return NULL;
        }
        XmConfValue *v = g_new0(XmConfValue, 1);
        v->type = XM_CONF_INT;
        v->num = n;
        ps->p = end;
        return v;
    }
    if (c == '\0' || c == '\n')
        syntax_error(ps, error, _("expecting a value"));
    else
        syntax_error(ps, error, _("expecting a value, found '%c'"), c);
    return NULL;
}

static XmConfValue *
parse_value(Parser *ps, GError **error)
{
    if (*ps->p != '[')
        return parse_scalar(ps, error);

    ps->p++;
    g_autoptr(GPtrArray) items =
        g_ptr_array_new_with_free_func((GDestroyNotify)conf_value_free);
    for (;;) {
        skip_space(ps, TRUE);
        if (*ps->p == ']') {
            ps->p++;
            break;
        }
        if (*ps->p == '\0')
            return syntax_error(ps, error, _("unterminated list")), NULL;
        XmConfValue *item = parse_scalar(ps, error);
        if (!item)
            return NULL;
        g_ptr_array_add(items, item);
        skip_space(ps, TRUE);
        if (*ps->p == ',') {
            ps->p++;
        } else if (*ps->p != ']') {
            syntax_error(ps, error, _("expecting ',' or ']' in a list"));
            return NULL;
        }
    }
    XmConfValue *v = g_new0(XmConfValue, 1);
    v->type = XM_CONF_LIST;
    v->list = g_steal_pointer(&items);
    return v;
}

XmConf *
xm_conf_parse(const char *text, const char *filename, GError **error)
{
    Parser ps = { .p = text, .filename = filename ? filename : "<conf>", .line = 1 };
    g_autoptr(GPtrArray) entries =
        g_ptr_array_new_with_free_func((GDestroyNotify)conf_entry_free);

    for (;;) {
        skip_space(&ps, TRUE);
        if (*ps.p == '\0')
            break;
        if (!g_ascii_isalpha(*ps.p) && *ps.p != '_') {
            syntax_error(&ps, error, _("expecting a key name"));
            return NULL;
        }
        const char *start = ps.p;
        while (g_ascii_isalnum(*ps.p) || *ps.p == '_' || *ps.p == '.')
            ps.p++;
        g_autofree char *key = g_strndup(start, ps.p - start);
        guint line = ps.line;

        skip_space(&ps, FALSE);
        if (*ps.p != '=') {
            syntax_error(&ps, error, _("expecting '=' after '%s'"), key);
            return NULL;
        }
        ps.p++;
        skip_space(&ps, FALSE);
        XmConfValue *value = parse_value(&ps, error);
        if (!value)
            return NULL;

        XmConfEntry *e = g_new0(XmConfEntry, 1);
        e->key = g_steal_pointer(&key);
        e->value = value;
        e->line = line;
        g_ptr_array_add(entries, e);

        skip_space(&ps, FALSE);
        if (*ps.p == ';')
            ps.p++;
        skip_space(&ps, FALSE);
        if (*ps.p != '\n' && *ps.p != '\0') {
            syntax_error(&ps, error, _("unexpected text after the value of '%s'"),
                         e->key);
            return NULL;
        }
    }

    XmConf *conf = g_new0(XmConf, 1);
    conf->entries = g_steal_pointer(&entries);
    conf->filename = g_strdup(ps.filename);
    return conf;
}

XmConf *
xm_conf_load_file(const char *path, GError **error)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;

    if (!g_file_get_contents(path, &text, NULL, &err)) {
        g_set_error(error, XM_ERROR,
                    g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT)
                        ? XM_ERR_OPEN_FAILED : XM_ERR_READ_FAILED,
                    _("cannot read configuration file: %s"), err->message);
        return NULL;
    }
    return xm_conf_parse(text, path, error);
}

guint
xm_conf_n_entries(const XmConf *conf)
{
    return conf->entries->len;
}

const XmConfEntry *
xm_conf_entry(const XmConf *conf, guint i)
{
    g_return_val_if_fail(i < conf->entries->len, NULL);
    return g_ptr_array_index(conf->entries, i);
}

const XmConfEntry *
xm_conf_lookup(const XmConf *conf, const char *key)
{
    for (guint i = conf->entries->len; i > 0; i--) {
        const XmConfEntry *e = g_ptr_array_index(conf->entries, i - 1);
        if (g_str_equal(e->key, key))
            return e;
    }
    return NULL;
}

static gboolean
type_error(const XmConf *conf, const XmConfEntry *e, const char *want,
           GError **error)
{
    g_set_error(error, XM_ERROR, XM_ERR_CONF_SYNTAX,
                _("%s:%u: '%s' must be %s"), conf->filename, e->line, e->key, want);
    return FALSE;
}

gboolean
xm_conf_get_string(const XmConf *conf, const char *key, char **out,
                   GError **error)
{
    const XmConfEntry *e = xm_conf_lookup(conf, key);

    if (!e)
        return TRUE;
    if (e->value->type != XM_CONF_STRING)
        return type_error(conf, e, _("a string"), error);
    g_free(*out);
    *out = g_strdup(e->value->str);
    return TRUE;
}

gboolean
xm_conf_get_uint64(const XmConf *conf, const char *key, guint64 *out,
                   GError **error)
{
    const XmConfEntry *e = xm_conf_lookup(conf, key);

    if (!e)
        return TRUE;
    if (e->value->type != XM_CONF_INT || e->value->num < 0)
        return type_error(conf, e, _("a non-negative integer"), error);
    *out = e->value->num;
    return TRUE;
}

gboolean
xm_conf_get_uint(const XmConf *conf, const char *key, guint max, guint *out,
                 GError **error)
{
    const XmConfEntry *e = xm_conf_lookup(conf, key);

    if (!e)
        return TRUE;
    if (e->value->type != XM_CONF_INT || e->value->num < 0 ||
        e->value->num > (gint64)max) {
        g_autofree char *want = g_strdup_printf(_("an integer from 0 to %u"), max);
        return type_error(conf, e, want, error);
    }
    *out = e->value->num;
    return TRUE;
}

/* ---- the driver configuration ---- */

XmDriverConfig *
xm_driver_config_new(void)
{
    XmDriverConfig *cfg = g_new0(XmDriverConfig, 1);

    cfg->backend = g_strdup("libxl");
    cfg->state_dir = g_strdup(RUNSTATEDIR "/libvirt/libxl");
    cfg->config_dir = g_strdup(SYSCONFDIR "/libvirt/libxl");
    cfg->autostart_dir = g_strdup(SYSCONFDIR "/libvirt/libxl/autostart");
    cfg->save_dir = g_strdup(LOCALSTATEDIR "/lib/libvirt/libxl/save");
    cfg->sim_host_memory_mib = 8192;
    cfg->sim_host_cpus = 4;
    cfg->sim_disk_datapath = g_strdup("nbd");
    cfg->xen_disk_datapath = g_strdup("direct");
    cfg->migration_port_min = 49152;
    cfg->migration_port_max = 49215;
    cfg->migration_drain_timeout = 10;
    cfg->migrate_hook = g_strdup(SYSCONFDIR "/libvirt/hooks/libxl");
    return cfg;
}

void
xm_driver_config_free(XmDriverConfig *cfg)
{
    if (!cfg)
        return;
    g_free(cfg->backend);
    g_free(cfg->state_dir);
    g_free(cfg->config_dir);
    g_free(cfg->autostart_dir);
    g_free(cfg->save_dir);
    g_free(cfg->sim_host_name);
    g_free(cfg->sim_disk_datapath);
    g_free(cfg->xen_disk_datapath);
    g_free(cfg->migrate_tls_x509_cert_dir);
    g_free(cfg->migration_address);
    g_free(cfg->migrate_hook);
    g_free(cfg);
}

const char *
xm_driver_config_path(void)
{
    const char *env = g_getenv("XENMIG_CONF");

    return env && *env ? env : SYSCONFDIR "/libvirt/libxl.conf";
}

static gboolean
check_absolute(const XmConf *conf, const char *key, const char *value,
               GError **error)
{
    if (value && !g_path_is_absolute(value)) {
        const XmConfEntry *e = xm_conf_lookup(conf, key);
        g_set_error(error, XM_ERROR, XM_ERR_CONF_SYNTAX,
                    _("%s:%u: '%s' must be an absolute path"),
                    conf->filename, e ? e->line : 0, key);
        return FALSE;
    }
    return TRUE;
}

gboolean
xm_driver_config_load(XmDriverConfig *cfg, const char *path, GError **error)
{
    g_autoptr(XmConf) conf = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *backend = g_strdup(cfg->backend);
    g_autofree char *state_dir = g_strdup(cfg->state_dir);
    g_autofree char *config_dir = g_strdup(cfg->config_dir);
    g_autofree char *autostart_dir = NULL;
    g_autofree char *save_dir = g_strdup(cfg->save_dir);
    g_autofree char *sim_host_name = g_strdup(cfg->sim_host_name);
    g_autofree char *tls_dir = g_strdup(cfg->migrate_tls_x509_cert_dir);
    guint64 sim_mem = cfg->sim_host_memory_mib;
    guint sim_cpus = cfg->sim_host_cpus;
    g_autofree char *sim_datapath = g_strdup(cfg->sim_disk_datapath);
    g_autofree char *xen_datapath = g_strdup(cfg->xen_disk_datapath);
    guint port_min = cfg->migration_port_min;
    guint drain_timeout = cfg->migration_drain_timeout;
    guint port_max = cfg->migration_port_max;
    guint tls_force = cfg->migrate_tls_force;
    g_autofree char *mig_address = g_strdup(cfg->migration_address);
    g_autofree char *mig_hook = g_strdup(cfg->migrate_hook);

    conf = xm_conf_load_file(path, &err);
    if (!conf) {
        if (g_error_matches(err, XM_ERROR, XM_ERR_OPEN_FAILED)) {
            g_debug("%s: no such file, using defaults", path);
            return TRUE;
        }
        g_propagate_error(error, g_steal_pointer(&err));
        return FALSE;
    }

    if (!xm_conf_get_string(conf, "backend", &backend, &err) ||
        !xm_conf_get_string(conf, "state_dir", &state_dir, &err) ||
        !xm_conf_get_string(conf, "config_dir", &config_dir, &err) ||
        !xm_conf_get_string(conf, "autostart_dir", &autostart_dir, &err) ||
        !xm_conf_get_string(conf, "save_dir", &save_dir, &err) ||
        !xm_conf_get_string(conf, "sim_host_name", &sim_host_name, &err) ||
        !xm_conf_get_uint64(conf, "sim_host_memory_mib", &sim_mem, &err) ||
        !xm_conf_get_uint(conf, "sim_host_cpus", 4096, &sim_cpus, &err) ||
        !xm_conf_get_string(conf, "sim_disk_datapath", &sim_datapath, &err) ||
        !xm_conf_get_string(conf, "xen_disk_datapath", &xen_datapath, &err) ||
        !xm_conf_get_uint(conf, "migration_port_min", 65535, &port_min, &err) ||
        !xm_conf_get_uint(conf, "migration_port_max", 65535, &port_max, &err) ||
        !xm_conf_get_uint(conf, "migration_drain_timeout", 3600, &drain_timeout, &err) ||
        !xm_conf_get_string(conf, "migrate_tls_x509_cert_dir", &tls_dir, &err) ||
        !xm_conf_get_uint(conf, "migrate_tls_force", 1, &tls_force, &err) ||
        !xm_conf_get_string(conf, "migration_address", &mig_address, &err) ||
        !xm_conf_get_string(conf, "migrate_hook", &mig_hook, &err))
        goto fail;

    if (!g_str_equal(backend, "libxl") && !g_str_equal(backend, "sim")) {
        const XmConfEntry *e = xm_conf_lookup(conf, "backend");
        g_set_error(&err, XM_ERROR, XM_ERR_CONF_SYNTAX,
                    _("%s:%u: unknown backend '%s' (expected \"libxl\" or \"sim\")"),
                    path, e->line, backend);
        goto fail;
    }
    if (!check_absolute(conf, "state_dir", state_dir, &err) ||
        !check_absolute(conf, "config_dir", config_dir, &err) ||
        !check_absolute(conf, "autostart_dir", autostart_dir, &err) ||
        !check_absolute(conf, "save_dir", save_dir, &err) ||
        !check_absolute(conf, "migrate_tls_x509_cert_dir", tls_dir, &err) ||
        !check_absolute(conf, "migrate_hook", mig_hook, &err))
        goto fail;
    if (sim_cpus == 0 || sim_mem == 0) {
        g_set_error(&err, XM_ERROR, XM_ERR_CONF_SYNTAX,
                    _("%s: sim_host_cpus and sim_host_memory_mib must be positive"),
                    path);
        goto fail;
    }
    if (sim_datapath && !g_str_equal(sim_datapath, "nbd") &&
        !g_str_equal(sim_datapath, "direct")) {
        const XmConfEntry *e = xm_conf_lookup(conf, "sim_disk_datapath");
        g_set_error(&err, XM_ERROR, XM_ERR_CONF_SYNTAX,
                    _("%s:%u: unknown sim_disk_datapath '%s' (expected \"nbd\" or \"direct\")"),
                    path, e ? e->line : 0, sim_datapath);
        goto fail;
    }
    if (xen_datapath && !g_str_equal(xen_datapath, "nbd") &&
        !g_str_equal(xen_datapath, "direct")) {
        const XmConfEntry *e = xm_conf_lookup(conf, "xen_disk_datapath");
        g_set_error(&err, XM_ERROR, XM_ERR_CONF_SYNTAX,
                    _("%s:%u: unknown xen_disk_datapath '%s' (expected \"direct\" or \"nbd\")"),
                    path, e ? e->line : 0, xen_datapath);
        goto fail;
    }
    if (port_min == 0 || port_min > port_max) {
        g_set_error(&err, XM_ERROR, XM_ERR_CONF_SYNTAX,
                    _("%s: migration_port_min (%u) must be positive and not above migration_port_max (%u)"),
                    path, port_min, port_max);
        goto fail;
    }
    for (guint i = 0; i < xm_conf_n_entries(conf); i++)
        g_debug("%s:%u: key '%s'", path, xm_conf_entry(conf, i)->line,
                xm_conf_entry(conf, i)->key);

    /* autostart_dir follows config_dir unless set on its own */
    if (!autostart_dir)
        autostart_dir = g_build_filename(config_dir, "autostart", NULL);

    g_free(cfg->backend);
    cfg->backend = g_steal_pointer(&backend);
    g_free(cfg->state_dir);
    cfg->state_dir = g_steal_pointer(&state_dir);
    g_free(cfg->config_dir);
    cfg->config_dir = g_steal_pointer(&config_dir);
    g_free(cfg->autostart_dir);
    cfg->autostart_dir = g_steal_pointer(&autostart_dir);
    g_free(cfg->save_dir);
    cfg->save_dir = g_steal_pointer(&save_dir);
    g_free(cfg->sim_host_name);
    cfg->sim_host_name = g_steal_pointer(&sim_host_name);
    g_free(cfg->migrate_tls_x509_cert_dir);
    cfg->migrate_tls_x509_cert_dir = g_steal_pointer(&tls_dir);
    cfg->sim_host_memory_mib = sim_mem;
    cfg->sim_host_cpus = sim_cpus;
    g_free(cfg->sim_disk_datapath);
    cfg->sim_disk_datapath = g_steal_pointer(&sim_datapath);
    g_free(cfg->xen_disk_datapath);
    cfg->xen_disk_datapath = g_steal_pointer(&xen_datapath);
    cfg->migration_port_min = port_min;
    cfg->migration_port_max = port_max;
    cfg->migration_drain_timeout = drain_timeout;
    cfg->migrate_tls_force = tls_force;
    g_free(cfg->migration_address);
    cfg->migration_address = g_steal_pointer(&mig_address);
    g_free(cfg->migrate_hook);
    cfg->migrate_hook = g_steal_pointer(&mig_hook);
    return TRUE;

 fail:
    g_propagate_error(error, g_steal_pointer(&err));
    return FALSE;
}
