/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The migrations in progress on this host, reachable without the domain's
 * lock: Perform and Finish hold that lock for the whole transfer, while
 * virsh's progress display, domjobabort and migrate-setspeed come in on
 * other connections and must not wait for it.
 *
 * Also the per-domain tuning set before a migration starts
 * (migrate-setspeed, migrate-setmaxdowntime), which the next migration of
 * the domain picks up, and the statistics of the last finished migration.
 */
#define G_LOG_DOMAIN "xenmig-driver"
#include "config.h"

#include <string.h>

#include "driver-migrate.h"
#include "driver-save.h"

typedef struct {
    guint64 bandwidth_mib;
    guint64 max_downtime_ms;
    /* last finished migration */
    gboolean have_done;
    gboolean done_ok;
    XmMigrateSide done_side;
    XmMigrationStats done;
} Tuning;

static GMutex reg_lock;
static GHashTable *reg_entries;   /* "uuid/side" -> XmMigrateEntry * */
static GHashTable *reg_tuning;    /* uuid (16 bytes, owned) -> Tuning * */

static guint
uuid_hash(gconstpointer p)
{
    guint h = 5381;
    for (int i = 0; i < 16; i++)
        h = h * 33 + ((const guint8 *)p)[i];
    return h;
}

static gboolean
uuid_equal(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, 16) == 0;
}

static char *
entry_key(const uint8_t *uuid, XmMigrateSide side)
{
    char s[37];

    xm_uuid_format(uuid, s);
    return g_strdup_printf("%s/%d", s, side);
}

static void
entry_free(XmMigrateEntry *e)
{
    if (!e)
        return;
    xm_migration_free(e->job);
    if (e->dom)
        xm_dom_unref(e->dom);
    g_free(e->persist_xml);
    xm_domain_def_free(e->offline_def);
    g_free(e);
}

static void
reg_init_locked(void)
{
    if (!reg_entries) {
        reg_entries = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        reg_tuning = g_hash_table_new_full(uuid_hash, uuid_equal, g_free, g_free);
    }
}

static Tuning *
tuning_locked(const uint8_t *uuid)
{
    Tuning *t;

    reg_init_locked();
    t = g_hash_table_lookup(reg_tuning, uuid);
    if (!t) {
        t = g_new0(Tuning, 1);
        g_hash_table_insert(reg_tuning, g_memdup2(uuid, 16), t);
    }
    return t;
}

/* The source side's entry wins when both sides of one domain are on this
 * host (a migration to the same host is refused anyway). */
static XmMigrateEntry *
find_any_locked(const uint8_t *uuid)
{
    g_autofree char *out = entry_key(uuid, XM_MIGRATE_OUT);
    g_autofree char *in = entry_key(uuid, XM_MIGRATE_IN);
    XmMigrateEntry *e;

    reg_init_locked();
    e = g_hash_table_lookup(reg_entries, out);
    return e ? e : g_hash_table_lookup(reg_entries, in);
}

gboolean
xm_migrate_register(XmMigrateEntry *entry)
{
    char *key = entry_key(entry->uuid, entry->side);
    gboolean ok;

    g_mutex_lock(&reg_lock);
    reg_init_locked();
    ok = !g_hash_table_contains(reg_entries, key);
    if (ok) {
        Tuning *t = tuning_locked(entry->uuid);
        entry->start_us = g_get_monotonic_time();
        g_hash_table_insert(reg_entries, key, entry);
        /* settings made before the job started apply to it */
        if (entry->job && t->bandwidth_mib &&
            xm_migration_get_bandwidth(entry->job) == 0)
            xm_migration_set_bandwidth(entry->job, t->bandwidth_mib);
        if (entry->job && t->max_downtime_ms)
            xm_migration_set_max_downtime(entry->job, t->max_downtime_ms);
    } else {
        g_free(key);
    }
    g_mutex_unlock(&reg_lock);
    return ok;
}

XmMigrateEntry *
xm_migrate_lookup(const uint8_t *uuid, XmMigrateSide side)
{
    g_autofree char *key = entry_key(uuid, side);
    XmMigrateEntry *e;

    g_mutex_lock(&reg_lock);
    reg_init_locked();
    e = g_hash_table_lookup(reg_entries, key);
    g_mutex_unlock(&reg_lock);
    return e;
}

void
xm_migrate_unregister(const uint8_t *uuid, XmMigrateSide side, gboolean ok)
{
    g_autofree char *key = entry_key(uuid, side);
    XmMigrateEntry *e;
    gboolean keep_record = FALSE;

    g_mutex_lock(&reg_lock);
    reg_init_locked();
    e = g_hash_table_lookup(reg_entries, key);
    if (e) {
        Tuning *t = tuning_locked(uuid);
        keep_record = e->keep_record;
        g_hash_table_remove(reg_entries, key);
        if (e->job) {
            xm_migration_get_stats(e->job, &t->done);
        } else {
            /* offline: nothing was copied */
            memset(&t->done, 0, sizeof(t->done));
            t->done.elapsed_ms = (g_get_monotonic_time() - e->start_us) / 1000;
        }
        t->have_done = TRUE;
        t->done_ok = ok;
        t->done_side = side;
        /* freed under the lock: job info may be reading the job */
        entry_free(e);
    }
    g_mutex_unlock(&reg_lock);
    /* Finish or the teardown is done: the images are the guest's now, or
     * removed */
    if (side == XM_MIGRATE_IN)
        xm_migrate_record_clear(uuid);
    else if (!keep_record)
        xm_migrate_outrec_clear(uuid);  /* the guest is resumed, or gone */
}

gboolean
xm_migrate_get_stats(const uint8_t *uuid, XmMigrationStats *stats,
                     XmMigrateSide *side)
{
    XmMigrateEntry *e;
    gboolean found;

    g_mutex_lock(&reg_lock);
    e = find_any_locked(uuid);
    found = e != NULL;
    if (e) {
        if (e->job) {
            xm_migration_get_stats(e->job, stats);
        } else {
            memset(stats, 0, sizeof(*stats));
            stats->elapsed_ms = (g_get_monotonic_time() - e->start_us) / 1000;
        }
        *side = e->side;
    }
    g_mutex_unlock(&reg_lock);
    return found;
}

gboolean
xm_migrate_get_completed(const uint8_t *uuid, XmMigrationStats *stats,
                         gboolean *ok, XmMigrateSide *side, gboolean clear)
{
    gboolean found = FALSE;
    Tuning *t;

    g_mutex_lock(&reg_lock);
    reg_init_locked();
    t = g_hash_table_lookup(reg_tuning, uuid);
    if (t && t->have_done) {
        *stats = t->done;
        *ok = t->done_ok;
        *side = t->done_side;
        found = TRUE;
        if (clear)
            t->have_done = FALSE;
    }
    g_mutex_unlock(&reg_lock);
    return found;
}

gboolean
xm_migrate_cancel(const uint8_t *uuid)
{
    XmMigrateEntry *e;

    g_mutex_lock(&reg_lock);
    e = find_any_locked(uuid);
    if (e && e->job)
        xm_migration_cancel(e->job);
    g_mutex_unlock(&reg_lock);
    return e != NULL;
}

gboolean
xm_migrate_set_bandwidth(const uint8_t *uuid, guint64 mib)
{
    XmMigrateEntry *e;

    g_mutex_lock(&reg_lock);
    tuning_locked(uuid)->bandwidth_mib = mib;
    e = find_any_locked(uuid);
    if (e && e->job)
        xm_migration_set_bandwidth(e->job, mib);
    g_mutex_unlock(&reg_lock);
    return e != NULL;
}

gboolean
xm_migrate_get_bandwidth(const uint8_t *uuid, guint64 *mib)
{
    XmMigrateEntry *e;

    g_mutex_lock(&reg_lock);
    e = find_any_locked(uuid);
    if (e && e->job)
        *mib = xm_migration_get_bandwidth(e->job);
    else
        *mib = tuning_locked(uuid)->bandwidth_mib;
    g_mutex_unlock(&reg_lock);
    return e != NULL;
}

gboolean
xm_migrate_set_max_downtime(const uint8_t *uuid, guint64 ms)
{
    XmMigrateEntry *e;

    g_mutex_lock(&reg_lock);
    tuning_locked(uuid)->max_downtime_ms = ms;
    e = find_any_locked(uuid);
    if (e && e->job)
        xm_migration_set_max_downtime(e->job, ms);
    g_mutex_unlock(&reg_lock);
    return e != NULL;
}

static guint64
get_max_downtime(const uint8_t *uuid)
{
    XmMigrateEntry *e;
    guint64 ms;

    g_mutex_lock(&reg_lock);
    e = find_any_locked(uuid);
    if (e && e->job) {
        XmMigrationStats st;
        xm_migration_get_stats(e->job, &st);
        ms = st.max_downtime_ms;
    } else {
        ms = tuning_locked(uuid)->max_downtime_ms;
    }
    g_mutex_unlock(&reg_lock);
    /* the library's budget when nobody set one */
    return ms ? ms : 300;
}

/* ---- job info and stats ---- */

gboolean
xm_migrate_job_info(virDomainPtr vdom, virDomainJobInfoPtr info)
{
    XmMigrationStats st;
    XmMigrateSide side;
    XmDomObj *dom = xm_dom_get_unlocked(vdom);
    gboolean found;

    if (!dom)
        return FALSE;
    found = xm_migrate_get_stats(dom->uuid, &st, &side);
    xm_dom_unref(dom);
    if (!found)
        return FALSE;
    memset(info, 0, sizeof(*info));
    info->type = VIR_DOMAIN_JOB_UNBOUNDED;
    info->timeElapsed = st.elapsed_ms;
    info->dataTotal = st.data_total;
    info->dataProcessed = st.data_processed;
    info->dataRemaining = st.data_remaining;
    info->memTotal = st.memory_total;
    info->memProcessed = st.memory_processed;
    info->memRemaining = st.memory_remaining;
    info->fileTotal = st.disk_total;
    info->fileProcessed = st.disk_processed;
    info->fileRemaining = st.disk_remaining;
    return TRUE;
}

static void
add_ullong(virTypedParameterPtr p, int *n, const char *field, unsigned long long v)
{
    g_strlcpy(p[*n].field, field, VIR_TYPED_PARAM_FIELD_LENGTH);
    p[*n].type = VIR_TYPED_PARAM_ULLONG;
    p[*n].value.ul = v;
    (*n)++;
}

static virTypedParameterPtr
stats_params(const XmMigrationStats *st, gboolean completed, XmMigrateSide side,
             int *np)
{
    virTypedParameterPtr p = g_new0(virTypedParameter, 28);
    int n = 0;

    g_strlcpy(p[n].field, VIR_DOMAIN_JOB_OPERATION, VIR_TYPED_PARAM_FIELD_LENGTH);
    p[n].type = VIR_TYPED_PARAM_INT;
    p[n++].value.i = side == XM_MIGRATE_OUT ? VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT
                                            : VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN;
    add_ullong(p, &n, VIR_DOMAIN_JOB_TIME_ELAPSED, st->elapsed_ms);
    add_ullong(p, &n, VIR_DOMAIN_JOB_DATA_TOTAL, st->data_total);
    add_ullong(p, &n, VIR_DOMAIN_JOB_DATA_PROCESSED, st->data_processed);
    add_ullong(p, &n, VIR_DOMAIN_JOB_DATA_REMAINING, st->data_remaining);
    add_ullong(p, &n, VIR_DOMAIN_JOB_MEMORY_TOTAL, st->memory_total);
    add_ullong(p, &n, VIR_DOMAIN_JOB_MEMORY_PROCESSED, st->memory_processed);
    add_ullong(p, &n, VIR_DOMAIN_JOB_MEMORY_REMAINING, st->memory_remaining);
    add_ullong(p, &n, VIR_DOMAIN_JOB_MEMORY_BPS, st->memory_bps);
    add_ullong(p, &n, VIR_DOMAIN_JOB_DISK_TOTAL, st->disk_total);
    add_ullong(p, &n, VIR_DOMAIN_JOB_DISK_PROCESSED, st->disk_processed);
    add_ullong(p, &n, VIR_DOMAIN_JOB_DISK_REMAINING, st->disk_remaining);
    add_ullong(p, &n, VIR_DOMAIN_JOB_DISK_BPS, st->disk_bps);
    add_ullong(p, &n, VIR_DOMAIN_JOB_MEMORY_ITERATION, st->passes);
    if (st->setup_time_ms || completed)
        add_ullong(p, &n, VIR_DOMAIN_JOB_SETUP_TIME, st->setup_time_ms);
    /* the downtime is known only once the guest was suspended */
    if (st->downtime_ms || completed)
        add_ullong(p, &n, VIR_DOMAIN_JOB_DOWNTIME, st->downtime_ms);
    /* not in libvirt's list, so virsh shows none of them; python's
     * jobStats() and virDomainGetJobStats() callers see them all */
    add_ullong(p, &n, "xenmig.disk_sent", st->disk_sent);
    if (side == XM_MIGRATE_OUT) {
        add_ullong(p, &n, "xenmig.disks_tracked", st->disks_tracked);
        add_ullong(p, &n, "xenmig.disks_synchronous", st->disks_synchronous);
        if (st->disk_drain_ms || completed)
            add_ullong(p, &n, "xenmig.disk_downtime", st->disk_drain_ms);
    }
    *np = n;
    return p;
}

gboolean
xm_migrate_job_stats(virDomainPtr vdom, int *type, virTypedParameterPtr *params,
                     int *nparams, unsigned int flags, int *ret)
{
    XmMigrationStats st;
    XmMigrateSide side;
    gboolean ok = TRUE;
    XmDomObj *dom = xm_dom_get_unlocked(vdom);
    gboolean completed = (flags & VIR_DOMAIN_JOB_STATS_COMPLETED) != 0;
    gboolean found;

    if (!dom)
        return FALSE;
    if (completed)
        found = xm_migrate_get_completed(dom->uuid, &st, &ok, &side,
                                         !(flags & VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED));
    else
        found = xm_migrate_get_stats(dom->uuid, &st, &side);
    xm_dom_unref(dom);
    if (!found)
        return FALSE;
    *type = completed ? (ok ? VIR_DOMAIN_JOB_COMPLETED : VIR_DOMAIN_JOB_FAILED)
                      : VIR_DOMAIN_JOB_UNBOUNDED;
    *params = stats_params(&st, completed, side, nparams);
    *ret = 0;
    return TRUE;
}

/* ---- entry points ---- */

/* The job entry points: a migration's, else the save/restore job's. */

int
xmDomainAbortJobAny(virDomainPtr vdom)
{
    XmDomObj *dom = xm_dom_get_unlocked(vdom);
    gboolean found;

    if (!dom)
        return -1;
    found = xm_migrate_cancel(dom->uuid);
    xm_dom_unref(dom);
    return found ? 0 : xmDomainAbortJob(vdom);
}

int
xmDomainGetJobInfoAny(virDomainPtr vdom, virDomainJobInfoPtr info)
{
    if (xm_migrate_job_info(vdom, info))
        return 0;
    return xmDomainGetJobInfo(vdom, info);
}

int
xmDomainGetJobStatsAny(virDomainPtr vdom, int *type, virTypedParameterPtr *params,
                       int *nparams, unsigned int flags)
{
    int ret = -1;

    XM_CHECK_FLAGS(VIR_DOMAIN_JOB_STATS_COMPLETED |
                   VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED, -1);
    if (xm_migrate_job_stats(vdom, type, params, nparams, flags, &ret))
        return ret;
    return xmDomainGetJobStats(vdom, type, params, nparams, flags);
}

int
xmDomainMigrateSetMaxDowntime(virDomainPtr vdom, unsigned long long downtime,
                              unsigned int flags)
{
    XmDomObj *dom;

    XM_CHECK_FLAGS(0, -1);
    if (downtime == 0) {
        XM_REPORT(VIR_ERR_INVALID_ARG, "%s", _("the maximum downtime must be positive"));
        return -1;
    }
    if (!(dom = xm_dom_get_unlocked(vdom)))
        return -1;
    xm_migrate_set_max_downtime(dom->uuid, downtime);
    xm_dom_unref(dom);
    return 0;
}

int
xmDomainMigrateGetMaxDowntime(virDomainPtr vdom, unsigned long long *downtime,
                              unsigned int flags)
{
    XmDomObj *dom;

    XM_CHECK_FLAGS(0, -1);
    if (!(dom = xm_dom_get_unlocked(vdom)))
        return -1;
    *downtime = get_max_downtime(dom->uuid);
    xm_dom_unref(dom);
    return 0;
}

int
xmDomainMigrateSetMaxSpeed(virDomainPtr vdom, unsigned long bandwidth,
                           unsigned int flags)
{
    XmDomObj *dom;

    /* post-copy has no separate speed here */
    XM_CHECK_FLAGS(0, -1);
    if (!(dom = xm_dom_get_unlocked(vdom)))
        return -1;
    xm_migrate_set_bandwidth(dom->uuid, bandwidth);
    xm_dom_unref(dom);
    return 0;
}

int
xmDomainMigrateGetMaxSpeed(virDomainPtr vdom, unsigned long *bandwidth,
                           unsigned int flags)
{
    XmDomObj *dom;
    guint64 mib;

    XM_CHECK_FLAGS(0, -1);
    if (!(dom = xm_dom_get_unlocked(vdom)))
        return -1;
    xm_migrate_get_bandwidth(dom->uuid, &mib);
    xm_dom_unref(dom);
    /* libvirt reports "unlimited" as the largest value, as for QEMU */
    *bandwidth = mib ? mib : G_MAXULONG / (1024 * 1024);
    return 0;
}
