/*
 * What a grid worker's app does with gridsync, in C: the shape to copy into a JNI bridge
 * (Android) or call from Swift (iOS).
 *
 *   1. Open the store once, at login, for the account and this device.
 *   2. Offline: create a complaint, attach a photo, add a note. Everything is saved at once.
 *   3. When the network is back: sync (one POST per round, repeated while the summary says
 *      `"more":true`), then upload photos in ranges, resuming after a broken link from what
 *      the server says it holds.
 *   4. Close the store at logout.
 *
 * The two transport functions below stand in for the app's HTTP stack (OkHttp, URLSession).
 * Here the sync endpoint is unreachable (the phone is still offline, so records simply wait)
 * and the blob endpoint is simulated in memory, dropping the link once mid-upload. A full
 * sync against the real server is in ffi/tests/c/server_sync.c.
 *
 * Build (from the repository root, after `cargo build -p gridsync-ffi`):
 *   cc -std=c11 -I ffi/include ffi/examples/app_flow.c -L target/debug -lgridsync \
 *      -Wl,-rpath,target/debug -o app_flow && ./app_flow /tmp
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridsync.h"

/* ---- the app's transport (replace with real HTTP) ---------------------------------------- */

enum { NET_OK = 0, NET_OFFLINE = -1 };

/* POST /api/v1/sync with `body`; on success `*response` is malloc'd and owned by the caller. */
static int post_sync(const uint8_t *body, size_t len, uint8_t **response, size_t *response_len) {
    (void)body;
    (void)len;
    *response = NULL;
    *response_len = 0;
    return NET_OFFLINE;
}

/* A pretend blob server: what it holds of one photo, and a link that breaks once. */
static uint8_t server_blob[1 << 16];
static uint64_t server_holds = 0;
static int link_breaks_after_bytes = 20000;

/* PUT /api/v1/blobs/{sha256} with Content-Range: bytes offset..offset+len-1/total. */
static int put_range(const char *sha256, uint64_t offset, const uint8_t *bytes, size_t len) {
    (void)sha256;
    if (offset != server_holds) {
        return NET_OFFLINE; /* a real server answers 416 with what it holds */
    }
    size_t sent = len;
    int broke = 0;
    if (link_breaks_after_bytes >= 0 && (uint64_t)link_breaks_after_bytes < offset + len) {
        sent = (size_t)link_breaks_after_bytes - (size_t)offset; /* part arrived, then the link dropped */
        link_breaks_after_bytes = -1;
        broke = 1;
    }
    memcpy(server_blob + offset, bytes, sent);
    server_holds = offset + sent;
    return broke ? NET_OFFLINE : NET_OK;
}

/* HEAD /api/v1/blobs/{sha256}: how many bytes the server holds. */
static uint64_t head_blob(const char *sha256) {
    (void)sha256;
    return server_holds;
}

/* ---- the app ------------------------------------------------------------------------------ */

/* Logs a failed call with the library's message; returns whether the call succeeded. */
static int ok(GsStatus status, const char *what) {
    if (status != GS_STATUS_OK) {
        fprintf(stderr, "%s failed (status %d): %s\n", what, (int)status, gs_last_error_message());
        return 0;
    }
    return 1;
}

/* One sync: rounds until the summary says nothing more is waiting, or the network fails. */
static int sync_now(GsStore *store) {
    for (int round = 0; round < 10; round++) {
        GsBytes request = {NULL, 0};
        if (!ok(gs_sync_prepare(store, 16 * 1024, &request), "gs_sync_prepare")) {
            return 0;
        }
        uint8_t *response = NULL;
        size_t response_len = 0;
        int net = post_sync(request.ptr, request.len, &response, &response_len);
        gs_bytes_free(&request);
        if (net != NET_OK) {
            printf("sync: offline, local changes stay queued\n");
            return 0;
        }
        char *summary = NULL;
        GsStatus status = gs_sync_apply(store, response, response_len, &summary);
        free(response);
        if (!ok(status, "gs_sync_apply")) {
            return 0; /* a garbled response: try again later, nothing was applied */
        }
        printf("sync: %s\n", summary);
        int more = strstr(summary, "\"more\":true") != NULL;
        gs_string_free(summary);
        if (!more) {
            return 1;
        }
    }
    return 1;
}

/* Uploads every queued photo in ranges of `range` bytes, resuming after a broken link. */
static int upload_photos(GsStore *store, uint64_t range) {
    for (int attempts = 0; attempts < 100; attempts++) {
        char *plan = NULL;
        GsBytes bytes = {NULL, 0};
        if (!ok(gs_upload_next(store, range, &plan, &bytes), "gs_upload_next")) {
            return 0;
        }
        if (plan == NULL) {
            printf("upload: every photo is on the server\n");
            return 1;
        }
        /* The plan is {"sha256":"<64 hex>","mime_type":..,"offset":..,"len":..,"total":..};
         * an app parses it with its JSON library. */
        char sha[65] = {0};
        memcpy(sha, plan + strlen("{\"sha256\":\""), 64);
        unsigned long long offset = strtoull(strstr(plan, "\"offset\":") + 9, NULL, 10);
        printf("upload: bytes %llu+%zu of %.12s...\n", offset, bytes.len, sha);
        if (put_range(sha, offset, bytes.ptr, bytes.len) == NET_OK) {
            ok(gs_upload_ack(store, sha, offset + bytes.len), "gs_upload_ack");
        } else {
            /* The link broke mid-range: ask the server what it kept and resume from there. */
            uint64_t holds = head_blob(sha);
            printf("upload: link broke, server holds %llu bytes\n", (unsigned long long)holds);
            ok(gs_upload_ack(store, sha, holds), "gs_upload_ack");
        }
        gs_string_free(plan);
        gs_bytes_free(&bytes);
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[4096];
    snprintf(path, sizeof path, "%s/gridsync-example.db", dir);
    printf("gridsync %s, protocol %u\n", gs_version(), gs_protocol_version());

    GsStore *store = NULL;
    if (!ok(gs_store_open(path, "wang", "phone-1", &store), "gs_store_open")) {
        return 1;
    }

    /* Offline: a complaint with a photo and a note. */
    char *id = NULL;
    if (!ok(gs_record_create(store,
                             "{\"kind\":\"complaint\",\"title\":\"Broken railing on the bridge\","
                             "\"category\":\"public_facilities\",\"claimed_grid\":\"G-03\","
                             "\"location\":{\"lon\":121.47,\"lat\":31.23,\"crs\":\"wgs84\"}}",
                             &id),
            "gs_record_create")) {
        return 1;
    }
    static uint8_t photo[50000];
    for (size_t i = 0; i < sizeof photo; i++) {
        photo[i] = (uint8_t)(i * 7);
    }
    char *sha = NULL;
    ok(gs_photo_attach_bytes(store, id, photo, sizeof photo, "image/jpeg", "east end", &sha),
       "gs_photo_attach_bytes");
    ok(gs_record_add_note(store, id, "Taped off, needs welding"), "gs_record_add_note");
    printf("created %s with photo %.12s...\n", id, sha ? sha : "(none)");

    char *list = NULL;
    if (ok(gs_record_list(store, "{\"grid\":\"G-03\"}", &list), "gs_record_list")) {
        printf("list: %s\n", list);
    }

    /* Online again. */
    sync_now(store);
    int uploaded = upload_photos(store, 16 * 1024);
    int same = server_holds == sizeof photo && memcmp(server_blob, photo, sizeof photo) == 0;
    printf("server copy of the photo is %s\n", same ? "complete and identical" : "WRONG");

    gs_string_free(list);
    gs_string_free(sha);
    gs_string_free(id);
    ok(gs_store_close(store), "gs_store_close");
    store = NULL;
    return uploaded && same ? 0 : 1;
}
