/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Dirty bitmap of the mirror engine, with an in-flight bitmap beside it.
 *
 * A granule is dirty when the destination may differ from the source there.
 * Claiming a run for copying clears its dirty bits and sets its in-flight
 * bits, so a write that lands while the copy is in flight dirties the range
 * again and the next pass copies it once more. Releasing a failed copy
 * re-dirties the range. All functions are thread-safe.
 */
#pragma once

#include <glib.h>

typedef struct _XmBitmap XmBitmap;

/* @granularity must be a power of two (>= 512). */
XmBitmap *xm_bitmap_new(guint64 size, guint64 granularity, GError **error);
void xm_bitmap_free(XmBitmap *bm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(XmBitmap, xm_bitmap_free)

guint64 xm_bitmap_get_size(XmBitmap *bm);
guint64 xm_bitmap_get_granularity(XmBitmap *bm);

/* Every granule touching [offset, offset + length) becomes dirty. */
void xm_bitmap_mark_dirty(XmBitmap *bm, guint64 offset, guint64 length);
void xm_bitmap_mark_all(XmBitmap *bm);
void xm_bitmap_clear_dirty(XmBitmap *bm, guint64 offset, guint64 length);
/* TRUE if any granule touching the range is dirty. */
gboolean xm_bitmap_test_dirty(XmBitmap *bm, guint64 offset, guint64 length);
/* Bytes covered by dirty granules (the last granule clipped to the size). */
guint64 xm_bitmap_count_dirty(XmBitmap *bm);
guint64 xm_bitmap_count_inflight(XmBitmap *bm);

/* Finds the next dirty run at or after *cursor; stores the next run of at
 * most @max_len bytes (granule aligned, clipped to the size) in
 * offset/length and advances the cursor past it. Returns FALSE when no
 * dirty granule is left after the cursor. Does not change any bit. */
gboolean xm_bitmap_next_dirty(XmBitmap *bm, guint64 *cursor, guint64 max_len,
                              guint64 *offset, guint64 *length);

/* Like xm_bitmap_next_dirty() but only over granules that are dirty and
 * not in flight, and it claims the run: dirty cleared, in flight set. The
 * cursor is read and written under the bitmap's lock, so several threads
 * can sweep one pass together. */
gboolean xm_bitmap_claim_dirty(XmBitmap *bm, guint64 *cursor, guint64 max_len,
                               guint64 *offset, guint64 *length);

/* Waits until no granule touching the range is in flight, then marks them
 * in flight. Returns TRUE if it had to wait (someone else was copying an
 * overlapping range). */
gboolean xm_bitmap_begin_inflight(XmBitmap *bm, guint64 offset, guint64 length);

/* Ends an in-flight range; with @redirty (the copy failed, or it may have
 * raced with a write) its granules become dirty again. Wakes waiters. */
void xm_bitmap_end_inflight(XmBitmap *bm, guint64 offset, guint64 length,
                            gboolean redirty);
