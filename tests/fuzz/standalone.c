/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Runs a libFuzzer target over every file of a corpus directory without
 * libFuzzer, so the corpus is a regression test in ordinary builds.
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
main(int argc, char **argv)
{
    unsigned int n = 0;

    for (int i = 1; i < argc; i++) {
        g_autoptr(GDir) dir = g_dir_open(argv[i], 0, NULL);
        const char *name;

        if (!dir) {
            fprintf(stderr, "cannot open corpus %s\n", argv[i]);
            return 1;
        }
        while ((name = g_dir_read_name(dir))) {
            g_autofree char *path = g_build_filename(argv[i], name, NULL);
            g_autofree char *buf = NULL;
            gsize len;

            if (!g_file_get_contents(path, &buf, &len, NULL))
                continue;
            LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
            n++;
        }
    }
    if (n == 0) {
        fprintf(stderr, "empty corpus\n");
        return 1;
    }
    printf("%u inputs replayed\n", n);
    return 0;
}
