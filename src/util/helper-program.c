/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Finding the project's helper programs: the one rule for all of them. */
#include "config.h"

#include "util/util.h"

char *
xm_helper_program(const char *env_name, const char *build_subdir, const char *name)
{
    const char *env = g_getenv(env_name);
    g_autofree char *built = g_build_filename(BUILDDIR, build_subdir, name, NULL);

    if (env && *env)
        return g_strdup(env);
    /* a build tree's copy wins, so that its tests run what it built */
    if (g_file_test(built, G_FILE_TEST_IS_EXECUTABLE))
        return g_steal_pointer(&built);
    return g_build_filename(LIBEXECDIR, name, NULL);
}
