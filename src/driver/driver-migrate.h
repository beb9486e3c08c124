/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Live migration at the libvirt edge: the V3 "params" entry points on both
 * sides, peer-to-peer, job info/abort/tuning while a migration runs, and the
 * migrate hook. The migration itself is src/migration's XmMigration job;
 * these files translate libvirt's flags and typed parameters for it, keep the
 * job reachable between the phases and keep the domain objects and events in
 * step with it.
 */
#pragma once

#include <xenmig/migration.h>

#include "driver.h"
#include "driver-migrate-recfile.h"

/* Flags the entry points accept (anything else: VIR_ERR_INVALID_ARG). */
#define XM_MIGRATE_FLAGS \
    (VIR_MIGRATE_LIVE | VIR_MIGRATE_OFFLINE | VIR_MIGRATE_PEER2PEER | \
     VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE | \
     VIR_MIGRATE_PAUSED | VIR_MIGRATE_NON_SHARED_DISK | \
     VIR_MIGRATE_NON_SHARED_INC | VIR_MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES | \
     VIR_MIGRATE_TLS | VIR_MIGRATE_AUTO_CONVERGE | \
     VIR_MIGRATE_CHANGE_PROTECTION | VIR_MIGRATE_ABORT_ON_ERROR)

/* What the typed parameters of one call said (driver-migrate-params.c).
 * The strings point into the caller's parameter array. */
typedef struct {
    const char *uri;
    const char *dest_name;
    const char *dest_xml;
    const char *persist_xml;
    const char *disks_uri;
    const char *listen_address;
    guint64 bandwidth_mib;
    gboolean has_bandwidth;
    int disks_port;
    GPtrArray *migrate_disks;   /* of const char *, NULL-terminated; NULL: none given */
} XmMigrateArgs;

void xm_migrate_args_clear(XmMigrateArgs *args);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(XmMigrateArgs, xm_migrate_args_clear)

/* Checks @flags' combinations and parses @params (unknown names, wrong
 * types and repeated single-valued names are VIR_ERR_INVALID_ARG), reporting
 * the error to libvirt. */
gboolean xm_migrate_args_parse(virTypedParameterPtr params, int nparams,
                               unsigned int flags, XmMigrateArgs *args);

/* Fills @p for the library from @flags, @args and the driver configuration;
 * @p's strings point into @args and the configuration. Reports to libvirt
 * and returns FALSE if TLS is asked (or forced) and not configured. */
gboolean xm_migrate_fill_params(XmMigrationParams *p, unsigned int flags,
                                const XmMigrateArgs *args);

/* ---- the jobs between phases (driver-migrate-jobs.c) ---- */

typedef enum {
    XM_MIGRATE_OUT,     /* this host is the source */
    XM_MIGRATE_IN,      /* this host is the destination */
} XmMigrateSide;

/*
 * One migration in progress on this host. The registry owns it; phases find
 * it by the domain's UUID. @job is freed only after the entry left the
 * registry, under the registry lock, so job info and abort (which take that
 * lock, never the domain's) always see a live job.
 */
typedef struct {
    uint8_t uuid[16];
    XmMigrateSide side;
    XmMigration *job;
    /* source: Perform runs with the domain unlocked (lookups of the domain
     * must not wait for the whole transfer); set and read under the domain
     * lock, it keeps the other phases off the job meanwhile */
    gboolean busy;
    unsigned int flags;
    gint64 start_us;
    /* destination: the object made by Prepare (referenced) and whether
     * Prepare added it to the list (else it existed, inactive) */
    XmDomObj *dom;
    gboolean added;
    char *persist_xml;
    /* destination, offline: the definition Finish defines */
    XmDomainDef *offline_def;
    /* source: the guest is still suspended by this migration although it
     * is over (the completion record may or may not have arrived, or the
     * resume failed): unregistering keeps <state_dir>/migrate-out/<uuid>,
     * so a restarted libvirtd still knows what suspended it */
    gboolean keep_record;
} XmMigrateEntry;

/* Adds @entry (taking it); FALSE if a migration of that domain on that side
 * is registered already. */
gboolean xm_migrate_register(XmMigrateEntry *entry);
/* The registered entry, still owned by the registry, or NULL. Only the
 * thread running the domain's phases may use the result (under the domain
 * lock). */
XmMigrateEntry *xm_migrate_lookup(const uint8_t *uuid, XmMigrateSide side);
/* Removes the entry, keeps its final statistics for
 * VIR_DOMAIN_JOB_STATS_COMPLETED and frees it with its job. */
void xm_migrate_unregister(const uint8_t *uuid, XmMigrateSide side, gboolean ok);
/* Job statistics of a running migration of @uuid; FALSE if there is none. */
gboolean xm_migrate_get_stats(const uint8_t *uuid, XmMigrationStats *stats,
                              XmMigrateSide *side);
/* Statistics of the last finished migration; FALSE if none. @clear drops
 * them. */
gboolean xm_migrate_get_completed(const uint8_t *uuid, XmMigrationStats *stats,
                                  gboolean *ok, XmMigrateSide *side, gboolean clear);
/* Cancels the running migration of @uuid; FALSE if there is none. */
gboolean xm_migrate_cancel(const uint8_t *uuid);
gboolean xm_migrate_set_bandwidth(const uint8_t *uuid, guint64 mib);
gboolean xm_migrate_get_bandwidth(const uint8_t *uuid, guint64 *mib);
gboolean xm_migrate_set_max_downtime(const uint8_t *uuid, guint64 ms);

/* Job info/stats for a migration; FALSE if @vdom has none (running, or
 * with COMPLETED a finished one), so the caller answers for its own jobs. */
gboolean xm_migrate_job_info(virDomainPtr vdom, virDomainJobInfoPtr info);
gboolean xm_migrate_job_stats(virDomainPtr vdom, int *type,
                              virTypedParameterPtr *params, int *nparams,
                              unsigned int flags, int *ret);

/* ---- images an incoming migration created (driver-migrate-record.c) ---- */

/* Adds the image Prepare has just created (the file @dev/@ino at @path) to
 * the record of migration @uuid, on disk before Prepare goes on. */
gboolean xm_migrate_record_image(const uint8_t *uuid, const char *path,
                                 guint64 dev, guint64 ino, GError **error);
void xm_migrate_record_clear(const uint8_t *uuid);
/* At start-up: removes the images of incoming migrations a killed libvirtd
 * left behind. */
void xm_migrate_recover(void);

/* ---- the stage an outgoing migration reached (driver-migrate-outrec.c) ---- */

/* XmMigrationOutFunc of the source's jobs; @user_data is the UUID. */
gboolean xm_migrate_outrec_stage(XmMigrationOutStage stage, gpointer user_data,
                                 GError **error);
void xm_migrate_outrec_clear(const uint8_t *uuid);
/* At start-up: resumes the guests outgoing migrations a killed libvirtd
 * left suspended before their completion record; warns about the others. */
void xm_migrate_outrec_recover(void);

/* ---- the migrate hook (driver-migrate-hook.c) ---- */

/*
 * Runs the configured hook as "<hook> <name> migrate begin -" with @xml on
 * its standard input, as libvirt's libxl driver does on the destination.
 * A missing hook is success. A non-zero exit refuses the migration
 * (VIR_ERR_HOOK_SCRIPT_FAILED with its output). Non-blank output replaces
 * the XML: *@xml_out is set to it, else to NULL.
 */
gboolean xm_migrate_run_hook(const char *name, const char *xml, char **xml_out);

/* ---- the source side's local phases, shared by the client-driven and the
 * peer-to-peer paths (driver-migrate-src.c) ---- */

/* ---- entry points ---- */

/* driver-migrate-src.c */
char *xmDomainMigrateBegin3Params(virDomainPtr vdom, virTypedParameterPtr params,
                                  int nparams, char **cookieout, int *cookieoutlen,
                                  unsigned int flags);
int xmDomainMigratePerform3Params(virDomainPtr vdom, const char *dconnuri,
                                  virTypedParameterPtr params, int nparams,
                                  const char *cookiein, int cookieinlen,
                                  char **cookieout, int *cookieoutlen,
                                  unsigned int flags);
int xmDomainMigrateConfirm3Params(virDomainPtr vdom, virTypedParameterPtr params,
                                  int nparams, const char *cookiein,
                                  int cookieinlen, unsigned int flags,
                                  int cancelled);

/* driver-migrate-dst.c */
int xmDomainMigratePrepare3Params(virConnectPtr dconn, virTypedParameterPtr params,
                                  int nparams, const char *cookiein,
                                  int cookieinlen, char **cookieout,
                                  int *cookieoutlen, char **uri_out,
                                  unsigned int flags);
virDomainPtr xmDomainMigrateFinish3Params(virConnectPtr dconn,
                                          virTypedParameterPtr params, int nparams,
                                          const char *cookiein, int cookieinlen,
                                          char **cookieout, int *cookieoutlen,
                                          unsigned int flags, int cancelled);

/* driver-migrate-compat.c */
char *xmDomainMigrateBegin3(virDomainPtr vdom, const char *xmlin, char **cookieout,
                            int *cookieoutlen, unsigned long flags, const char *dname,
                            unsigned long resource);
int xmDomainMigratePrepare3(virConnectPtr dconn, const char *cookiein, int cookieinlen,
                            char **cookieout, int *cookieoutlen, const char *uri_in,
                            char **uri_out, unsigned long flags, const char *dname,
                            unsigned long resource, const char *dom_xml);
int xmDomainMigratePerform3(virDomainPtr vdom, const char *xmlin, const char *cookiein,
                            int cookieinlen, char **cookieout, int *cookieoutlen,
                            const char *dconnuri, const char *uri, unsigned long flags,
                            const char *dname, unsigned long resource);
virDomainPtr xmDomainMigrateFinish3(virConnectPtr dconn, const char *dname,
                                    const char *cookiein, int cookieinlen,
                                    char **cookieout, int *cookieoutlen,
                                    const char *dconnuri, const char *uri,
                                    unsigned long flags, int cancelled);
int xmDomainMigrateConfirm3(virDomainPtr vdom, const char *cookiein, int cookieinlen,
                            unsigned long flags, int cancelled);

/* driver-migrate-jobs.c */
int xmDomainAbortJobAny(virDomainPtr vdom);
int xmDomainGetJobInfoAny(virDomainPtr vdom, virDomainJobInfoPtr info);
int xmDomainGetJobStatsAny(virDomainPtr vdom, int *type, virTypedParameterPtr *params,
                           int *nparams, unsigned int flags);
int xmDomainMigrateSetMaxDowntime(virDomainPtr vdom, unsigned long long downtime,
                                  unsigned int flags);
int xmDomainMigrateGetMaxDowntime(virDomainPtr vdom, unsigned long long *downtime,
                                  unsigned int flags);
int xmDomainMigrateSetMaxSpeed(virDomainPtr vdom, unsigned long bandwidth,
                               unsigned int flags);
int xmDomainMigrateGetMaxSpeed(virDomainPtr vdom, unsigned long *bandwidth,
                               unsigned int flags);

/* migrate_tls_x509_cert_dir when libxl.conf does not set it */
#define XM_MIGRATE_DEFAULT_TLS_DIR "/etc/pki/libvirt-migrate"
