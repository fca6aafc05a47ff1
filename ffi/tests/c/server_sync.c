/*
 * A phone syncing with the real gridsync server over HTTP, in three runs of this program. The
 * test harness starts the server, moves the bytes over HTTP as the app's HTTP stack would
 * (POST /api/v1/sync with the worker's token), and has a dispatcher change the record between
 * the second and third runs.
 *
 *   server_sync DIR offline LON LAT   create a complaint at LON,LAT; write DIR/request-1.bin
 *   server_sync DIR online GRID       apply DIR/response-1.bin: acknowledged, owner grid GRID;
 *                                     write DIR/request-2.bin
 *   server_sync DIR later STATUS      apply DIR/response-2.bin: the dispatcher's STATUS arrives
 *
 * DIR/id.txt carries the record id between runs.
 */
#include "relay.h"

int main(int argc, char **argv) {
    CHECK(argc >= 3);
    const char *dir = argv[1];
    const char *phase = argv[2];
    char db[4096];
    join_path(db, sizeof db, dir, "phone.db");
    GsStore *store = NULL;
    CHECK_OK(gs_store_open(db, "wang", "wang-phone", &store));

    if (strcmp(phase, "offline") == 0 && argc == 5) {
        char json[512];
        snprintf(json, sizeof json,
                 "{\"kind\":\"complaint\",\"title\":\"Streetlight out\",\"category\":\"municipal\","
                 "\"location\":{\"lon\":%s,\"lat\":%s,\"accuracy_m\":5.0,\"crs\":\"wgs84\"}}",
                 argv[3], argv[4]);
        char *id = NULL;
        CHECK_OK(gs_record_create(store, json, &id));
        CHECK_OK(gs_record_add_note(store, id, "Seen on the evening round"));
        char path[4096];
        join_path(path, sizeof path, dir, "id.txt");
        write_file(path, id, strlen(id));
        gs_string_free(id);
        write_request(store, dir, "request-1.bin");
    } else if (strcmp(phase, "online") == 0 && argc == 4) {
        char *id = read_id(dir);
        char *summary = apply_response(store, dir, "response-1.bin");
        char expected[128];
        snprintf(expected, sizeof expected, "\"acknowledged\":[\"%s\"]", id);
        CHECK_CONTAINS(summary, expected);
        CHECK_CONTAINS(summary, "\"rejected\":[]");
        gs_string_free(summary);

        /* The server decided the owner grid from the location, in the same round trip. */
        char *json = NULL;
        CHECK_OK(gs_record_get(store, id, &json));
        snprintf(expected, sizeof expected, "\"owner_grid\":{\"code\":\"%s\"", argv[3]);
        CHECK_CONTAINS(json, expected);
        gs_string_free(json);
        char filter[128];
        snprintf(filter, sizeof filter, "{\"grid\":\"%s\"}", argv[3]);
        char *list = NULL;
        CHECK_OK(gs_record_list(store, filter, &list));
        CHECK_CONTAINS(list, id);
        CHECK_CONTAINS(list, "\"pending_upload\":false");
        gs_string_free(list);
        free(id);
        write_request(store, dir, "request-2.bin");
    } else if (strcmp(phase, "later") == 0 && argc == 4) {
        char *id = read_id(dir);
        char *summary = apply_response(store, dir, "response-2.bin");
        char expected[128];
        snprintf(expected, sizeof expected, "\"changed\":[\"%s\"]", id);
        CHECK_CONTAINS(summary, expected);
        gs_string_free(summary);
        char *json = NULL;
        CHECK_OK(gs_record_get(store, id, &json));
        snprintf(expected, sizeof expected, "\"status\":\"%s\"", argv[3]);
        CHECK_CONTAINS(json, expected);
        CHECK_CONTAINS(json, "Seen on the evening round");
        gs_string_free(json);
        free(id);
    } else {
        fprintf(stderr, "usage: server_sync DIR offline LON LAT | online GRID | later STATUS\n");
        return 2;
    }
    CHECK_OK(gs_store_close(store));
    printf("server sync %s: ok\n", phase);
    return 0;
}
