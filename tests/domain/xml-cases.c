/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "xml-cases.h"

static int
compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

GPtrArray *
xm_test_add_xml_cases(const char *srcdir, const char *subdir,
                      const char *prefix, GTestDataFunc func)
{
    g_autoptr(GDir) dir = NULL;
    g_autofree char *path = g_build_filename(srcdir, subdir, NULL);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *entry;

    dir = g_dir_open(path, 0, NULL);
    g_assert_nonnull(dir);
    while ((entry = g_dir_read_name(dir))) {
        if (g_str_has_suffix(entry, ".xml"))
            g_ptr_array_add(names, g_strndup(entry, strlen(entry) - 4));
    }
    g_assert_cmpuint(names->len, >, 0);
    g_ptr_array_sort(names, compare_names);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *test = g_strdup_printf("%s/%s", prefix,
                                                (char *)names->pdata[i]);

        g_test_add_data_func(test, names->pdata[i], func);
    }
    return names;
}
