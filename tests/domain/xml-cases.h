/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The data-driven domain tests run one GTest case per document in a
 * directory of the test data; this lists them in a stable order.
 */
#pragma once

#include <glib.h>

/* Adds a test "<prefix>/<case>" running @func for each <case>.xml in
 * @srcdir/@subdir, sorted by name, with "<case>" as its data. The returned
 * array owns those names and must outlive g_test_run(). */
GPtrArray *xm_test_add_xml_cases(const char *srcdir, const char *subdir,
                                 const char *prefix, GTestDataFunc func);
