/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Heartbeat record codec and the scanner that checks a sim guest's disk. */
#include "config.h"

#define G_LOG_DOMAIN "xenmig-sim"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "backend/sim-heartbeat.h"
#include "util/util.h"

guint64
xm_sim_hb_slots(guint64 disk_size)
{
    return MIN(disk_size, (guint64) XM_SIM_HB_AREA) / XM_SIM_HB_RECORD_SIZE;
}

guint64
xm_sim_hb_offset(guint64 seq, guint64 slots)
{
    return (seq % slots) * XM_SIM_HB_RECORD_SIZE;
}

static void
put_u64(uint8_t *p, guint64 v)
{
    v = GUINT64_TO_LE(v);
    memcpy(p, &v, 8);
}

static guint64
get_u64(const uint8_t *p)
{
    guint64 v;

    memcpy(&v, p, 8);
    return GUINT64_FROM_LE(v);
}

void
xm_sim_hb_encode(const XmSimHeartbeat *hb, uint8_t out[XM_SIM_HB_RECORD_SIZE])
{
    memset(out, 0, XM_SIM_HB_RECORD_SIZE);
    memcpy(out, XM_SIM_HB_MAGIC, 8);
    put_u64(out + 8, hb->seq);
    put_u64(out + 16, hb->time_ns);
    memcpy(out + 24, hb->uuid, 16);
    memcpy(out + 40, hb->host, strnlen(hb->host, XM_SIM_HB_HOST_LEN));
    memcpy(out + 80, hb->name, strnlen(hb->name, XM_SIM_HB_NAME_LEN));
    put_u64(out + 120, XXH64(out, 120, 0));
}

gboolean
xm_sim_hb_decode(const uint8_t in[XM_SIM_HB_RECORD_SIZE], XmSimHeartbeat *hb)
{
    if (memcmp(in, XM_SIM_HB_MAGIC, 8) != 0)
        return FALSE;
    if (get_u64(in + 120) != XXH64(in, 120, 0))
        return FALSE;
    memset(hb, 0, sizeof(*hb));
    hb->seq = get_u64(in + 8);
    hb->time_ns = get_u64(in + 16);
    memcpy(hb->uuid, in + 24, 16);
    memcpy(hb->host, in + 40, XM_SIM_HB_HOST_LEN);
    memcpy(hb->name, in + 80, XM_SIM_HB_NAME_LEN);
    return TRUE;
}

static int
cmp_seq(gconstpointer a, gconstpointer b)
{
    const XmSimHeartbeat *x = a, *y = b;

    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static gboolean
read_all_at(int fd, uint8_t *buf, size_t len, off_t off, size_t *got)
{
    size_t done = 0;

    while (done < len) {
        ssize_t r = pread(fd, buf + done, len - done, off + done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return FALSE;
        if (r == 0)
            break;
        done += r;
    }
    *got = done;
    return TRUE;
}

gboolean
xm_sim_hb_scan_file(const char *path, XmSimHeartbeatScan *scan, GError **error)
{
    g_autofree uint8_t *area = g_malloc(XM_SIM_HB_AREA);
    g_autoptr(GArray) recs = g_array_new(FALSE, FALSE, sizeof(XmSimHeartbeat));
    g_autoptr(GPtrArray) hosts = g_ptr_array_new_with_free_func(g_free);
    size_t got = 0;
    guint64 missing = 0, max_gap = 0;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return xm_set_error_errno(error, errno, XM_ERR_OPEN_FAILED,
                                  _("cannot open '%s'"), path);
    if (!read_all_at(fd, area, XM_SIM_HB_AREA, 0, &got)) {
        int errsv = errno;
        close(fd);
        return xm_set_error_errno(error, errsv, XM_ERR_READ_FAILED,
                                  _("cannot read '%s'"), path);
    }
    close(fd);

    for (size_t off = 0; off + XM_SIM_HB_RECORD_SIZE <= got;
         off += XM_SIM_HB_RECORD_SIZE) {
        XmSimHeartbeat hb;
        if (xm_sim_hb_decode(area + off, &hb))
            g_array_append_val(recs, hb);
    }
    g_array_sort(recs, cmp_seq);

    for (guint i = 0; i < recs->len; i++) {
        XmSimHeartbeat *hb = &g_array_index(recs, XmSimHeartbeat, i);
        gboolean known = FALSE;

        if (i > 0) {
            XmSimHeartbeat *prev = &g_array_index(recs, XmSimHeartbeat, i - 1);
            if (hb->seq > prev->seq + 1)
                missing += hb->seq - prev->seq - 1;
            if (hb->time_ns > prev->time_ns)
                max_gap = MAX(max_gap, hb->time_ns - prev->time_ns);
        }
        for (guint j = 0; j < hosts->len; j++)
            known |= strcmp(hosts->pdata[j], hb->host) == 0;
        if (!known)
            g_ptr_array_add(hosts, g_strdup(hb->host));
    }
    g_ptr_array_add(hosts, NULL);

    scan->n = recs->len;
    scan->records = (XmSimHeartbeat *) g_array_free(g_steal_pointer(&recs), FALSE);
    scan->missing = missing;
    scan->max_gap_ns = max_gap;
    scan->hosts = (char **) g_ptr_array_free(g_steal_pointer(&hosts), FALSE);
    return TRUE;
}

void
xm_sim_hb_scan_clear(XmSimHeartbeatScan *scan)
{
    g_clear_pointer(&scan->records, g_free);
    g_clear_pointer(&scan->hosts, g_strfreev);
    scan->n = 0;
}

char *
xm_sim_hb_scan_format(const XmSimHeartbeatScan *scan)
{
    g_autofree char *hosts = g_strjoinv(",", scan->hosts);

    return g_strdup_printf("records=%zu first=%" G_GUINT64_FORMAT
                           " last=%" G_GUINT64_FORMAT
                           " missing=%" G_GUINT64_FORMAT
                           " max_gap_ms=%" G_GUINT64_FORMAT " hosts=%s",
                           scan->n,
                           scan->n ? scan->records[0].seq : 0,
                           scan->n ? scan->records[scan->n - 1].seq : 0,
                           scan->missing, scan->max_gap_ns / 1000000,
                           hosts);
}
