/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xenmig: live migration of Xen guests with local storage.
 *
 * Umbrella header: include this one, not the component headers.
 */
#pragma once

#include <xenmig/error.h>
#include <xenmig/domain.h>
#include <xenmig/backend.h>
#include <xenmig/nbd-server.h>
#include <xenmig/mirror.h>
#include <xenmig/migration.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * xm_version_string:
 *
 * Returns: the library's version, e.g. "0.1.0". Static storage.
 */
const char *xm_version_string(void);

/**
 * xm_init:
 *
 * Binds the library's message catalogue. Safe to call more than once and
 * from several threads; every entry point that reports translated messages
 * calls it, so applications need not.
 */
void xm_init(void);

#ifdef __cplusplus
}
#endif
