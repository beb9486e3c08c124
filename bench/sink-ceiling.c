/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The fastest writer into an NBD sink that this benchmark can think of: it
 * reads nothing and sends one static buffer. Even-numbered MiB of the image
 * are data (256 KiB WRITEs), odd-numbered ones WRITE_ZEROES, so the sink
 * gets as much data and as many zeroes as from the benchmark's image. Its
 * time and CPU are the ceiling of any copier into the same sink.
 *
 *   sink-ceiling URI SIZE-BYTES CONNECTIONS      (TLSDIR=DIR for nbds://)
 *
 * Built by mirror-vs-peers with cc and libnbd's pkg-config file; not a
 * test and not part of the build.
 */
#include <libnbd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MIB 1048576
#define REQ (256 * 1024)
#define DEPTH 64

static const char *uri;
static int64_t size;
static int nconn;
static char buf[REQ];

static void
die(const char *what)
{
    fprintf(stderr, "sink-ceiling: %s: %s\n", what, nbd_get_error());
    exit(1);
}

static void
room(struct nbd_handle *h)
{
    while (nbd_aio_in_flight(h) >= DEPTH)
        if (nbd_poll(h, -1) == -1)
            die("poll");
}

static void *
run(void *arg)
{
    int id = (int)(intptr_t)arg;
    struct nbd_handle *h = nbd_create();

    if (!h)
        die("create");
    if (getenv("TLSDIR") && nbd_set_tls_certificates(h, getenv("TLSDIR")) == -1)
        die("tls");
    if (nbd_connect_uri(h, uri) == -1)
        die("connect");
    /* 1 MiB stripes, round robin over the connections */
    for (int64_t mb = id; mb * MIB < size; mb += nconn) {
        int64_t off = mb * MIB, len = size - off < MIB ? size - off : MIB;

        if (mb % 2 == 0) {
            for (int64_t o = 0; o < len; o += REQ) {
                room(h);
                if (nbd_aio_pwrite(h, buf, len - o < REQ ? len - o : REQ, off + o,
                                   NBD_NULL_COMPLETION, 0) == -1)
                    die("write");
            }
        } else {
            room(h);
            if (nbd_aio_zero(h, len, off, NBD_NULL_COMPLETION, 0) == -1)
                die("zero");
        }
    }
    while (nbd_aio_in_flight(h) > 0)
        if (nbd_poll(h, -1) == -1)
            die("poll");
    if (nbd_shutdown(h, 0) == -1)
        die("shutdown");
    nbd_close(h);
    return NULL;
}

int
main(int argc, char **argv)
{
    pthread_t t[64];

    if (argc != 4) {
        fprintf(stderr, "usage: sink-ceiling URI SIZE-BYTES CONNECTIONS\n");
        return 2;
    }
    uri = argv[1];
    size = strtoll(argv[2], NULL, 10);
    nconn = atoi(argv[3]);
    if (size <= 0 || nconn < 1 || nconn > 64) {
        fprintf(stderr, "sink-ceiling: bad size or connection count\n");
        return 2;
    }
    for (size_t i = 0; i < REQ; i++)
        buf[i] = (char)(i * 7 + 1);
    for (int i = 0; i < nconn; i++)
        pthread_create(&t[i], NULL, run, (void *)(intptr_t)i);
    for (int i = 0; i < nconn; i++)
        pthread_join(t[i], NULL);
    return 0;
}
