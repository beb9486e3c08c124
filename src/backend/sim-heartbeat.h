/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Heartbeat records of sim guests. A sim guest appends one record every
 * heartbeat period to a ring at the start of its first disk, so that a test
 * can prove after a migration (or a save/restore) that no heartbeat was lost
 * and measure the longest pause.
 *
 * On-disk layout: the first XM_SIM_HB_AREA bytes of the disk are a ring of
 * XM_SIM_HB_RECORD_SIZE-byte slots; record number N lives in slot
 * N % nslots. Each record is little-endian:
 *   0   magic      "XMSIMHB1" (8 bytes)
 *   8   seq        u64, starts at 1, +1 per heartbeat, never reset
 *   16  time_ns    u64, CLOCK_REALTIME when written
 *   24  uuid       16 bytes, the domain's UUID
 *   40  host       40 bytes, NUL-padded host name
 *   80  name       40 bytes, NUL-padded domain name
 *   120 checksum   u64, XXH64 (seed 0) of bytes 0..119
 * Random guest writes never touch the area.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

#define XM_SIM_HB_MAGIC "XMSIMHB1"
#define XM_SIM_HB_RECORD_SIZE 128
#define XM_SIM_HB_AREA (4u * 1024 * 1024)
#define XM_SIM_HB_HOST_LEN 40
#define XM_SIM_HB_NAME_LEN 40

typedef struct {
    guint64 seq;
    guint64 time_ns;
    uint8_t uuid[16];
    char host[XM_SIM_HB_HOST_LEN + 1];
    char name[XM_SIM_HB_NAME_LEN + 1];
} XmSimHeartbeat;

typedef struct {
    XmSimHeartbeat *records;     /* valid records, sorted by seq */
    size_t n;
    guint64 missing;             /* seq numbers absent between first and last */
    guint64 max_gap_ns;          /* longest time between consecutive records */
    char **hosts;                /* distinct host names in order of first seq */
} XmSimHeartbeatScan;

/* Number of ring slots for a disk of @disk_size bytes (0 when too small). */
guint64 xm_sim_hb_slots(guint64 disk_size);
/* Byte offset of record @seq in a ring of @slots slots. */
guint64 xm_sim_hb_offset(guint64 seq, guint64 slots);

void xm_sim_hb_encode(const XmSimHeartbeat *hb, uint8_t out[XM_SIM_HB_RECORD_SIZE]);
/* FALSE when the slot holds no valid record (bad magic or checksum). */
gboolean xm_sim_hb_decode(const uint8_t in[XM_SIM_HB_RECORD_SIZE], XmSimHeartbeat *hb);

/* Reads the heartbeat area of the image at @path (a file or block device). */
gboolean xm_sim_hb_scan_file(const char *path, XmSimHeartbeatScan *scan,
                             GError **error);
void xm_sim_hb_scan_clear(XmSimHeartbeatScan *scan);
/* One line: "records=N first=S last=S missing=M max_gap_ms=G hosts=a,b". */
char *xm_sim_hb_scan_format(const XmSimHeartbeatScan *scan);
