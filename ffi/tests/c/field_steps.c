/*
 * A worker's phone in the hazard loop, against the real gridsync server over HTTP, in four runs
 * of this program. Between runs the test harness moves the sync bytes over HTTP and has the
 * grid's leader return the report.
 *
 *   field_steps DIR offline LON LAT  record a risk inspection at LON,LAT; write request-1.bin
 *   field_steps DIR synced           apply response-1.bin (acknowledged, nothing waits);
 *                                    write request-2.bin
 *   field_steps DIR returned         apply response-2.bin: the returned report needs the
 *                                    worker; amend it and resubmit it offline; write
 *                                    request-3.bin
 *   field_steps DIR resubmitted      apply response-3.bin: the server took the step
 *
 * DIR/id.txt carries the record id between runs.
 */
#include "relay.h"

/* The records that wait for this worker (malloc'd JSON). */
static char *waiting(GsStore *store) {
    char *list = NULL;
    CHECK_OK(gs_record_list(store, "{\"needs_action\":true}", &list));
    return list;
}

int main(int argc, char **argv) {
    CHECK(argc >= 3);
    const char *dir = argv[1];
    const char *phase = argv[2];
    char db[4096];
    join_path(db, sizeof db, dir, "phone.db");
    GsStore *store = NULL;
    CHECK_OK(gs_store_open(db, "wang", "wang-phone", &store));
    char expected[256];

    if (strcmp(phase, "offline") == 0 && argc == 5) {
        char json[768];
        snprintf(json, sizeof json,
                 "{\"kind\":\"risk_inspection\",\"title\":\"楼道堆放杂物\","
                 "\"location\":{\"lon\":%s,\"lat\":%s,\"accuracy_m\":5.0,\"crs\":\"wgs84\"},"
                 "\"inspection\":{\"hazard_type\":\"fire\",\"risk_level\":\"high\","
                 "\"findings\":\"楼道堆放纸箱\",\"rectification\":\"\"}}",
                 argv[3], argv[4]);
        char *id = NULL;
        CHECK_OK(gs_record_create(store, json, &id));
        char path[4096];
        join_path(path, sizeof path, dir, "id.txt");
        write_file(path, id, strlen(id));
        gs_string_free(id);
        write_request(store, dir, "request-1.bin");
    } else if (strcmp(phase, "synced") == 0 && argc == 3) {
        char *id = read_id(dir);
        char *summary = apply_response(store, dir, "response-1.bin");
        snprintf(expected, sizeof expected, "\"acknowledged\":[\"%s\"]", id);
        CHECK_CONTAINS(summary, expected);
        CHECK_CONTAINS(summary, "\"needs_action\":[]");
        gs_string_free(summary);
        char *list = waiting(store);
        CHECK(strcmp(list, "[]") == 0);
        gs_string_free(list);
        /* A report that was not returned cannot be resubmitted. */
        EXPECT_STATUS(GS_STATUS_NOT_WAITING, gs_record_take_step(store, id, "resubmit", ""));
        free(id);
        write_request(store, dir, "request-2.bin");
    } else if (strcmp(phase, "returned") == 0 && argc == 3) {
        char *id = read_id(dir);
        char *summary = apply_response(store, dir, "response-2.bin");
        snprintf(expected, sizeof expected, "\"needs_action\":[\"%s\"]", id);
        CHECK_CONTAINS(summary, expected);
        gs_string_free(summary);
        char *list = waiting(store);
        CHECK_CONTAINS(list, id);
        CHECK_CONTAINS(list, "\"status\":\"returned\"");
        CHECK_CONTAINS(list, "\"task\":\"amend\"");
        gs_string_free(list);

        /* Amend offline, then submit again; wrong steps change nothing. */
        EXPECT_STATUS(GS_STATUS_INVALID_ARGUMENT, gs_record_take_step(store, id, "verify", ""));
        EXPECT_STATUS(GS_STATUS_NOT_WAITING,
                      gs_record_take_step(store, id, "reinspected_fixed", ""));
        CHECK_OK(gs_record_update(store, id, "{\"findings\":\"3号楼2单元楼道堆放纸箱\"}"));
        CHECK_OK(gs_record_take_step(store, id, "resubmit", "已补充楼栋号"));
        list = waiting(store);
        CHECK(strcmp(list, "[]") == 0);
        gs_string_free(list);
        EXPECT_STATUS(GS_STATUS_NOT_WAITING, gs_record_take_step(store, id, "resubmit", ""));
        free(id);
        write_request(store, dir, "request-3.bin");
    } else if (strcmp(phase, "resubmitted") == 0 && argc == 3) {
        char *id = read_id(dir);
        char *summary = apply_response(store, dir, "response-3.bin");
        snprintf(expected, sizeof expected, "\"acknowledged\":[\"%s\"]", id);
        CHECK_CONTAINS(summary, expected);
        CHECK_CONTAINS(summary, "\"rejected\":[]");
        gs_string_free(summary);
        char *json = NULL;
        CHECK_OK(gs_record_get(store, id, &json));
        CHECK_CONTAINS(json, "\"status\":\"received\"");
        CHECK_CONTAINS(json, "\"kind\":\"resubmitted\"");
        CHECK_CONTAINS(json, "3号楼2单元楼道堆放纸箱");
        gs_string_free(json);
        char *list = waiting(store);
        CHECK(strcmp(list, "[]") == 0);
        gs_string_free(list);
        free(id);
    } else {
        fprintf(stderr, "usage: field_steps DIR offline LON LAT | synced | returned | resubmitted\n");
        return 2;
    }
    CHECK_OK(gs_store_close(store));
    printf("field steps %s: ok\n", phase);
    return 0;
}
