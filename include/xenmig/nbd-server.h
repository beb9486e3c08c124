/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Filled in by the storage-mirror component. */
