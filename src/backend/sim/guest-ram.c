/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sim guest's RAM: an anonymous mapping of min(max memory, cap) whose
 * first ram_pages pages are "in use". Every page starts with a pattern
 * derived from its index, so content is checkable; the worker dirties pages
 * by storing random words into them and marks them in the dirty bitmap that
 * the live save consumes.
 */
#include "config.h"

#include <string.h>
#include <sys/mman.h>
#include <xxhash.h>

#include "backend/sim/guest.h"
#include "util/util.h"

guint64
guest_rand(Guest *g)
{
    /* xorshift64*: cheap and good enough to pick pages and fill blocks */
    g->rng ^= g->rng >> 12;
    g->rng ^= g->rng << 25;
    g->rng ^= g->rng >> 27;
    return g->rng * 0x2545F4914F6CDD1DULL;
}

static size_t
pages_for(guint64 kib)
{
    guint64 cap = (guint64) XM_SIM_RAM_CAP_MIB * 1024;

    return MIN(kib, cap) * 1024 / XM_SIM_PAGE_SIZE;
}

void
guest_ram_fill(Guest *g, size_t first, size_t last)
{
    for (size_t p = first; p < last; p++) {
        guint64 *w = (guint64 *) (g->ram + p * XM_SIM_PAGE_SIZE);
        for (size_t i = 0; i < XM_SIM_PAGE_SIZE / 8; i++)
            w[i] = ((guint64) p << 32) | i;
    }
}

gboolean
guest_ram_init(Guest *g, GError **error)
{
    size_t bytes;

    g->ram_alloc_pages = MAX(pages_for(MAX(g->max_memory_kib, g->memory_kib)), 1);
    g->ram_pages = MIN(MAX(pages_for(g->memory_kib), 1), g->ram_alloc_pages);
    bytes = g->ram_alloc_pages * XM_SIM_PAGE_SIZE;
    g->ram = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (g->ram == MAP_FAILED) {
        g->ram = NULL;
        return xm_set_error_errno(error, errno, XM_ERR_NO_MEMORY,
                                  _("cannot allocate %zu bytes of guest RAM"), bytes);
    }
    g->dirty = g_new0(guint64, (g->ram_alloc_pages + 63) / 64);
    return TRUE;
}

gboolean
guest_ram_set_memory(Guest *g, guint64 kib, GError **error)
{
    size_t pages = MAX(pages_for(kib), 1);

    if (kib > g->max_memory_kib) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("memory %" G_GUINT64_FORMAT " KiB exceeds the maximum %"
                      G_GUINT64_FORMAT " KiB"), kib, g->max_memory_kib);
        return FALSE;
    }
    if (g->save_running) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                    _("cannot change memory while the domain is being saved"));
        return FALSE;
    }
    pages = MIN(pages, g->ram_alloc_pages);
    if (pages > g->ram_pages)
        guest_ram_fill(g, g->ram_pages, pages);
    else if (pages < g->ram_pages)
        madvise(g->ram + pages * XM_SIM_PAGE_SIZE,
                (g->ram_pages - pages) * XM_SIM_PAGE_SIZE, MADV_DONTNEED);
    g->ram_pages = pages;
    g->memory_kib = kib;
    return TRUE;
}

guint64
guest_ram_checksum(Guest *g)
{
    return XXH3_64bits(g->ram, g->ram_pages * XM_SIM_PAGE_SIZE);
}

void
guest_ram_dirty_some(Guest *g, guint64 npages)
{
    for (guint64 i = 0; i < npages; i++) {
        guint64 r = guest_rand(g);
        size_t page = r % g->ram_pages;
        guint64 *w = (guint64 *) (g->ram + page * XM_SIM_PAGE_SIZE);

        w[(r >> 40) % (XM_SIM_PAGE_SIZE / 8)] = guest_rand(g);
        g->dirty[page / 64] |= 1ULL << (page % 64);
    }
}
