/*
 * A phone program's side of a sync the test harness relays: the program writes each request
 * to a file in its directory, the harness POSTs it to the real server and writes the answer
 * back, and the next run of the program applies it. Shared by the C programs that talk to the
 * server this way.
 */
#ifndef GRIDSYNC_TEST_RELAY_H
#define GRIDSYNC_TEST_RELAY_H

#include "check.h"

/* The response budget every relayed request asks for. */
#define RELAY_BUDGET (64 * 1024)

static inline void write_file(const char *path, const void *bytes, size_t len) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(bytes, 1, len, f) == len);
    CHECK(fclose(f) == 0);
}

/* A whole file in a malloc'd buffer, with a NUL after its last byte. */
static inline unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    CHECK(fseek(f, 0, SEEK_END) == 0);
    long size = ftell(f);
    CHECK(size >= 0);
    CHECK(fseek(f, 0, SEEK_SET) == 0);
    unsigned char *bytes = malloc((size_t)size + 1);
    CHECK(bytes != NULL);
    CHECK(fread(bytes, 1, (size_t)size, f) == (size_t)size);
    CHECK(fclose(f) == 0);
    bytes[size] = '\0';
    *len = (size_t)size;
    return bytes;
}

/* Builds the next sync request and writes it to DIR/NAME for the harness to send. */
static inline void write_request(GsStore *store, const char *dir, const char *name) {
    GsBytes request = {NULL, 0};
    CHECK_OK(gs_sync_prepare(store, RELAY_BUDGET, &request));
    char path[4096];
    join_path(path, sizeof path, dir, name);
    write_file(path, request.ptr, request.len);
    gs_bytes_free(&request);
}

/* Applies the server's answer the harness wrote to DIR/NAME; the summary (free it with
 * gs_string_free). */
static inline char *apply_response(GsStore *store, const char *dir, const char *name) {
    char path[4096];
    join_path(path, sizeof path, dir, name);
    size_t len = 0;
    unsigned char *response = read_file(path, &len);
    char *summary = NULL;
    CHECK_OK(gs_sync_apply(store, response, len, &summary));
    free(response);
    return summary;
}

/* The record id an earlier run wrote to DIR/id.txt (malloc'd). */
static inline char *read_id(const char *dir) {
    char path[4096];
    join_path(path, sizeof path, dir, "id.txt");
    size_t len = 0;
    char *id = (char *)read_file(path, &len);
    CHECK(len == 36);
    return id;
}

#endif /* GRIDSYNC_TEST_RELAY_H */
