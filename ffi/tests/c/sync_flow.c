/*
 * A phone syncing through its app's own transport, in three runs of this program (as the app
 * would be, between restarts). The test harness plays the network and the server: it reads
 * the request file this program writes, answers it, and writes the response file back.
 *
 *   sync_flow DIR offline   create three records offline, write DIR/request-1.bin
 *   sync_flow DIR online    apply DIR/response-1.bin (two acks with the server's owner grid,
 *                           one refusal), write DIR/request-2.bin
 *   sync_flow DIR later     apply DIR/response-2.bin: a dispatcher's change arrives
 *
 * DIR/ids.txt carries the record ids between runs.
 */
#include "check.h"

#define BUDGET (16 * 1024)

static void path_in(char *out, size_t len, const char *dir, const char *name) {
    join_path(out, len, dir, name);
}

static void write_file(const char *path, const void *bytes, size_t len) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(bytes, 1, len, f) == len);
    CHECK(fclose(f) == 0);
}

/* Reads a whole file into a malloc'd buffer. */
static unsigned char *read_file(const char *path, size_t *len) {
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
    *len = (size_t)size;
    return bytes;
}

/* A copy of the array that is the value of `key` in `json` (a flat array of strings), for
 * checking membership without depending on order. Free with free(). */
static char *json_array(const char *json, const char *key) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":[", key);
    const char *start = strstr(json, pattern);
    CHECK(start != NULL);
    start += strlen(pattern) - 1;
    const char *end = strchr(start, ']');
    CHECK(end != NULL);
    size_t len = (size_t)(end - start) + 1;
    char *copy = malloc(len + 1);
    CHECK(copy != NULL);
    memcpy(copy, start, len);
    copy[len] = '\0';
    return copy;
}

/* Writes the next request; a `response_budget` of 0 asks back as much as goes up. */
static void write_request(GsStore *store, const char *dir, const char *name,
                          size_t response_budget) {
    GsBytes request = {NULL, 0};
    if (response_budget == 0) {
        CHECK_OK(gs_sync_prepare(store, BUDGET, &request));
    } else {
        CHECK_OK(gs_sync_prepare_with(store, BUDGET, response_budget, &request));
    }
    CHECK(request.len > 0);
    char path[4096];
    path_in(path, sizeof path, dir, name);
    write_file(path, request.ptr, request.len);
    gs_bytes_free(&request);
}

/* Applies the response file and returns the summary JSON (free with gs_string_free). */
static char *apply_response(GsStore *store, const char *dir, const char *name) {
    char path[4096];
    path_in(path, sizeof path, dir, name);
    size_t len = 0;
    unsigned char *response = read_file(path, &len);
    char *summary = NULL;
    CHECK_OK(gs_sync_apply(store, response, len, &summary));
    /* Applying the same response again is harmless. */
    char *again = NULL;
    CHECK_OK(gs_sync_apply(store, response, len, &again));
    gs_string_free(again);
    free(response);
    return summary;
}

#define IDS_LEN (3 * 37)

static void read_ids(const char *dir, char id1[37], char id2[37], char id3[37]) {
    char path[4096];
    path_in(path, sizeof path, dir, "ids.txt");
    size_t len = 0;
    unsigned char *text = read_file(path, &len);
    CHECK(len == IDS_LEN);
    char *ids[3] = {id1, id2, id3};
    for (int i = 0; i < 3; i++) {
        memcpy(ids[i], text + 37 * i, 36);
        ids[i][36] = '\0';
    }
    free(text);
}

static void offline(GsStore *store, const char *dir) {
    char *id1 = NULL, *id2 = NULL, *id3 = NULL;
    CHECK_OK(gs_record_create(store,
                              "{\"kind\":\"complaint\",\"title\":\"Streetlight out\","
                              "\"location\":{\"lon\":116.397,\"lat\":39.909,\"crs\":\"wgs84\"},"
                              "\"claimed_grid\":\"G-01\"}",
                              &id1));
    CHECK_OK(gs_record_create(store, "{\"kind\":\"complaint\",\"title\":\"Blocked drain\"}", &id2));
    /* The harness's server refuses this one. */
    CHECK_OK(gs_record_create(store, "{\"kind\":\"complaint\",\"title\":\"Not allowed here\"}", &id3));
    CHECK_OK(gs_record_add_note(store, id1, "Seen on the evening round"));
    char ids[IDS_LEN + 1];
    snprintf(ids, sizeof ids, "%s\n%s\n%s\n", id1, id2, id3);
    char path[4096];
    path_in(path, sizeof path, dir, "ids.txt");
    write_file(path, ids, IDS_LEN);
    write_request(store, dir, "request-1.bin", 0);
    gs_string_free(id1);
    gs_string_free(id2);
    gs_string_free(id3);
}

static void online(GsStore *store, const char *dir) {
    char id1[37], id2[37], id3[37];
    read_ids(dir, id1, id2, id3);
    char *summary = apply_response(store, dir, "response-1.bin");
    /* Two uploads acknowledged (in no particular order); the third refused with a reason and
     * removed from the phone. */
    char *acknowledged = json_array(summary, "acknowledged");
    CHECK_CONTAINS(acknowledged, id1);
    CHECK_CONTAINS(acknowledged, id2);
    CHECK_NOT_CONTAINS(acknowledged, id3);
    free(acknowledged);
    char expected[256];
    snprintf(expected, sizeof expected,
             "\"rejected\":[{\"id\":\"%s\",\"code\":\"forbidden\",\"reason\":\"grid workers may "
             "not file this\"}]",
             id3);
    CHECK_CONTAINS(summary, expected);
    snprintf(expected, sizeof expected, "\"removed\":[\"%s\"]", id3);
    CHECK_CONTAINS(summary, expected);
    CHECK_CONTAINS(summary, "\"more\":false");
    gs_string_free(summary);

    char *rejected = NULL;
    CHECK_OK(gs_rejected_list(store, &rejected));
    CHECK_CONTAINS(rejected, id3);
    CHECK_CONTAINS(rejected, "\"code\":\"forbidden\"");
    gs_string_free(rejected);
    char *gone = NULL;
    EXPECT_STATUS(GS_STATUS_NOT_FOUND, gs_record_get(store, id3, &gone));

    char *json = NULL;
    CHECK_OK(gs_record_get(store, id1, &json));
    CHECK_CONTAINS(json, "\"owner_grid\":{\"code\":\"G-07\"");
    CHECK_CONTAINS(json, "Seen on the evening round");
    gs_string_free(json);

    /* The owner grid decides the listing, and nothing waits for upload any more. */
    char *list = NULL;
    CHECK_OK(gs_record_list(store, "{\"grid\":\"G-07\"}", &list));
    CHECK(count_occurrences(list, "\"id\":") == 2);
    CHECK_NOT_CONTAINS(list, "\"pending_upload\":true");
    gs_string_free(list);

    /* Nothing waits to go up; what comes down is kept to 8 KiB (the link is slow). */
    char *status = NULL;
    CHECK_OK(gs_sync_status(store, &status));
    CHECK_CONTAINS(status, "\"pending_records\":0");
    CHECK_NOT_CONTAINS(status, "\"last_sync_at\":null");
    gs_string_free(status);
    write_request(store, dir, "request-2.bin", 8 * 1024);
}

static void later(GsStore *store, const char *dir) {
    char id1[37], id2[37], id3[37];
    read_ids(dir, id1, id2, id3);
    char *summary = apply_response(store, dir, "response-2.bin");
    /* The dispatcher's change to the first record arrives; the second is untouched. */
    CHECK_CONTAINS(summary, "\"changed\":[\"");
    CHECK_CONTAINS(summary, id1);
    CHECK_NOT_CONTAINS(summary, id2);
    CHECK_CONTAINS(summary, "\"rejected\":[]");
    gs_string_free(summary);

    char *json = NULL;
    CHECK_OK(gs_record_get(store, id1, &json));
    CHECK_CONTAINS(json, "\"status\":\"dispatched\"");
    CHECK_CONTAINS(json, "\"department\":\"Street Lighting Office\"");
    gs_string_free(json);

    char *list = NULL;
    CHECK_OK(gs_record_list(store, "{\"status\":\"dispatched\"}", &list));
    CHECK(count_occurrences(list, "\"id\":") == 1);
    CHECK_CONTAINS(list, id1);
    gs_string_free(list);

    char *status = NULL;
    CHECK_OK(gs_sync_status(store, &status));
    CHECK_CONTAINS(status, "\"server_has_more\":false,\"local_has_more\":false,\"up_to_date\":true");
    gs_string_free(status);
}

int main(int argc, char **argv) {
    CHECK(argc == 3);
    const char *dir = argv[1];
    const char *phase = argv[2];
    char db[4096];
    path_in(db, sizeof db, dir, "phone.db");

    GsStore *store = NULL;
    CHECK_OK(gs_store_open(db, "wang", "phone-1", &store));
    if (strcmp(phase, "offline") == 0) {
        offline(store, dir);
    } else if (strcmp(phase, "online") == 0) {
        online(store, dir);
    } else if (strcmp(phase, "later") == 0) {
        later(store, dir);
    } else {
        fprintf(stderr, "unknown phase %s\n", phase);
        return 2;
    }
    CHECK_OK(gs_store_close(store));
    printf("sync flow %s: ok\n", phase);
    return 0;
}
