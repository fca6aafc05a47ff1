/*
 * A worker's day without signal: open a store, create three records, patch one, add a note,
 * list with filters, attach photos (bytes and a file), upload them in ranges through a broken
 * link, and build the sync request that will go out when the phone is back online.
 *
 * Usage: offline_flow WORK_DIR
 */
#include "check.h"

#define PHOTO_LEN 10000

static const char *COMPLAINT_1 =
    "{\"kind\":\"complaint\",\"title\":\"Streetlight out\",\"category\":\"lighting\","
    "\"location\":{\"lon\":116.397,\"lat\":39.909,\"accuracy_m\":6.5,\"crs\":\"wgs84\"},"
    "\"claimed_grid\":\"G-01\"}";
static const char *COMPLAINT_2 =
    "{\"kind\":\"complaint\",\"title\":\"Blocked drain\",\"claimed_grid\":\"G-02\","
    "\"complainant\":{\"anonymous\":false,\"type\":\"person\",\"name\":\"Zhao\","
    "\"phone\":\"13800000000\"}}";
/* Two servers' contact keys, as a login answer gives them (32 bytes, base64). */
static const char *SERVER_KEY = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
static const char *OTHER_KEY = "3p7bfXt9wbTTW1cJ5lWrT6mYI0FwIyaCNB9U7dOWd3U=";
static const char *INSPECTION =
    "{\"kind\":\"risk_inspection\",\"title\":\"Gas meter room\",\"claimed_grid\":\"G-01\","
    "\"inspection\":{\"hazard_type\":\"gas\",\"risk_level\":\"high\",\"findings\":\"\","
    "\"rectification\":\"\"}}";

static void upload_everything(GsStore *store, const unsigned char *photo) {
    /* The first range of the first photo. */
    char *plan = NULL;
    GsBytes bytes = {NULL, 0};
    CHECK_OK(gs_upload_next(store, 4096, &plan, &bytes));
    CHECK_CONTAINS(plan, "\"offset\":0,\"len\":4096,\"total\":10000");
    CHECK_CONTAINS(plan, "\"mime_type\":\"image/jpeg\"");
    CHECK(bytes.len == 4096 && memcmp(bytes.ptr, photo, 4096) == 0);
    /* The sha256 is the first field of the plan: {"sha256":"<64 hex>",... */
    char sha[65];
    CHECK(strncmp(plan, "{\"sha256\":\"", 11) == 0);
    memcpy(sha, plan + 11, 64);
    sha[64] = '\0';
    gs_string_free(plan);
    gs_bytes_free(&bytes);
    CHECK(bytes.ptr == NULL && bytes.len == 0);

    /* The link broke: a HEAD says the server kept 3000 bytes. The next range starts there. */
    CHECK_OK(gs_upload_ack(store, sha, 3000));
    CHECK_OK(gs_upload_next(store, 4096, &plan, &bytes));
    CHECK_CONTAINS(plan, "\"offset\":3000,\"len\":4096");
    CHECK(memcmp(bytes.ptr, photo + 3000, 4096) == 0);
    gs_string_free(plan);
    gs_bytes_free(&bytes);

    /* Send the rest, acknowledging each range as the server confirms it. */
    size_t server_holds = 3000;
    int ranges = 0;
    for (;;) {
        CHECK_OK(gs_upload_next(store, 4096, &plan, &bytes));
        if (plan == NULL) {
            CHECK(bytes.ptr == NULL && bytes.len == 0);
            break;
        }
        ranges++;
        CHECK(ranges < 20);
        if (strstr(plan, sha) != NULL) {
            CHECK(memcmp(bytes.ptr, photo + server_holds, bytes.len) == 0);
            server_holds += bytes.len;
            CHECK_OK(gs_upload_ack(store, sha, server_holds));
        } else {
            /* The second photo (the file): whole in one range. */
            CHECK_CONTAINS(plan, "\"offset\":0,\"len\":5,\"total\":5");
            CHECK(bytes.len == 5 && memcmp(bytes.ptr, "\xff\xd8\xff\xe0!", 5) == 0);
            char other[65];
            memcpy(other, plan + 11, 64);
            other[64] = '\0';
            CHECK_OK(gs_upload_ack(store, other, 5));
        }
        gs_string_free(plan);
        gs_bytes_free(&bytes);
    }
    CHECK(server_holds == PHOTO_LEN);
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    const char *dir = argv[1];
    char db[4096];
    join_path(db, sizeof db, dir, "offline.db");

    CHECK(strlen(gs_version()) > 0);
    CHECK(gs_protocol_version() == 3);
    CHECK(GS_ABI_VERSION == 1);

    GsStore *store = NULL;
    CHECK_OK(gs_store_open(db, "wang", "phone-1", &store));
    CHECK(store != NULL);

    /* Three records, made offline. */
    char *id1 = NULL, *id2 = NULL, *id3 = NULL;
    CHECK_OK(gs_record_create(store, COMPLAINT_1, &id1));
    /* A complainant's details are sealed with the server's key: none before a login pins it. */
    EXPECT_STATUS(GS_STATUS_NO_CONTACT_KEY, gs_record_create(store, COMPLAINT_2, &id2));
    CHECK(id2 == NULL);
    CHECK_OK(gs_store_pin_contact_key(store, SERVER_KEY));
    CHECK_OK(gs_store_pin_contact_key(store, SERVER_KEY));
    EXPECT_STATUS(GS_STATUS_CONTACT_KEY_CHANGED, gs_store_pin_contact_key(store, OTHER_KEY));
    EXPECT_STATUS(GS_STATUS_INVALID_ARGUMENT, gs_store_pin_contact_key(store, "not base64!"));
    CHECK_OK(gs_record_create(store, COMPLAINT_2, &id2));
    /* The record says there are details; it never holds them. */
    char *sealed = NULL;
    CHECK_OK(gs_record_get(store, id2, &sealed));
    CHECK_CONTAINS(sealed, "\"has_contact\":true");
    CHECK_NOT_CONTAINS(sealed, "Zhao");
    CHECK_NOT_CONTAINS(sealed, "13800000000");
    gs_string_free(sealed);
    CHECK_OK(gs_record_create(store, INSPECTION, &id3));
    CHECK(strlen(id1) == 36 && strlen(id2) == 36 && strlen(id3) == 36);
    CHECK(strcmp(id1, id2) != 0 && strcmp(id2, id3) != 0);

    /* Patch text fields and an inspection field; add a note. */
    CHECK_OK(gs_record_update(store, id1,
                              "{\"description\":\"Dark since Monday\",\"category\":\"lights\"}"));
    CHECK_OK(gs_record_update(store, id3,
                              "{\"findings\":\"Valve corroded\",\"risk_level\":\"critical\"}"));
    CHECK_OK(gs_record_add_note(store, id1, "Called the lighting depot"));

    char *json = NULL;
    CHECK_OK(gs_record_get(store, id1, &json));
    CHECK_CONTAINS(json, "\"title\":\"Streetlight out\"");
    CHECK_CONTAINS(json, "\"description\":\"Dark since Monday\"");
    CHECK_CONTAINS(json, "\"category\":\"lights\"");
    CHECK_CONTAINS(json, "\"kind\":\"note\"");
    CHECK_CONTAINS(json, "Called the lighting depot");
    CHECK_CONTAINS(json, "\"user\":\"wang\"");
    gs_string_free(json);
    CHECK_OK(gs_record_get(store, id3, &json));
    CHECK_CONTAINS(json, "\"findings\":\"Valve corroded\"");
    CHECK_CONTAINS(json, "\"risk_level\":\"critical\"");
    gs_string_free(json);

    /* Listing: everything, then by grid, kind and change time. */
    char *list = NULL;
    CHECK_OK(gs_record_list(store, NULL, &list));
    CHECK(count_occurrences(list, "\"id\":") == 3);
    CHECK_CONTAINS(list, "\"pending_upload\":true");
    gs_string_free(list);
    CHECK_OK(gs_record_list(store, "{\"grid\":\"G-01\"}", &list));
    CHECK(count_occurrences(list, "\"id\":") == 2);
    CHECK_CONTAINS(list, id1);
    CHECK_CONTAINS(list, id3);
    CHECK_NOT_CONTAINS(list, id2);
    gs_string_free(list);
    CHECK_OK(gs_record_list(store, "{\"kind\":\"risk_inspection\",\"status\":\"received\"}", &list));
    CHECK(count_occurrences(list, "\"id\":") == 1);
    CHECK_CONTAINS(list, id3);
    gs_string_free(list);
    CHECK_OK(gs_record_list(store, "{\"changed_since\":4102444800000}", &list)); /* year 2100 */
    CHECK(strcmp(list, "[]") == 0);
    gs_string_free(list);
    CHECK_OK(gs_record_list(store, "{\"limit\":1}", &list));
    CHECK(count_occurrences(list, "\"id\":") == 1);
    gs_string_free(list);

    /* Nothing was refused: nothing was sent yet. */
    CHECK_OK(gs_rejected_list(store, &list));
    CHECK(strcmp(list, "[]") == 0);
    gs_string_free(list);

    /* A photo from the camera's buffer, and one from a file. */
    unsigned char photo[PHOTO_LEN];
    for (size_t i = 0; i < PHOTO_LEN; i++) {
        photo[i] = (unsigned char)(i % 251);
    }
    char *sha = NULL;
    CHECK_OK(gs_photo_attach_bytes(store, id1, photo, PHOTO_LEN, "image/jpeg", "north side", &sha));
    CHECK(strlen(sha) == 64);
    CHECK_OK(gs_record_get(store, id1, &json));
    CHECK_CONTAINS(json, sha);
    CHECK_CONTAINS(json, "\"caption\":\"north side\"");
    CHECK_CONTAINS(json, "\"kind\":\"photo\"");
    gs_string_free(json);
    gs_string_free(sha);

    char file[4096];
    join_path(file, sizeof file, dir, "drain.jpg");
    FILE *f = fopen(file, "wb");
    CHECK(f != NULL);
    CHECK(fwrite("\xff\xd8\xff\xe0!", 1, 5, f) == 5);
    CHECK(fclose(f) == 0);
    CHECK_OK(gs_photo_attach_file(store, id2, file, "image/jpeg", NULL, &sha));
    CHECK(strlen(sha) == 64);

    /* Where the phone stands before any signal: three records and two photos wait. */
    char *status = NULL;
    CHECK_OK(gs_sync_status(store, &status));
    CHECK_CONTAINS(status, "\"pending_records\":3");
    CHECK_CONTAINS(status, "\"pending_photos\":2,\"pending_photo_bytes\":10005");
    CHECK_CONTAINS(status, "\"last_sync_at\":null");
    CHECK_CONTAINS(status, "\"local_has_more\":true,\"up_to_date\":false");
    gs_string_free(status);

    /* The worker puts the drain photo first, then pauses it: the queue offers the other. */
    char *plan = NULL;
    GsBytes range = {NULL, 0};
    CHECK_OK(gs_upload_order(store, sha, 10, 0));
    CHECK_OK(gs_upload_next(store, 4096, &plan, &range));
    CHECK_CONTAINS(plan, sha);
    gs_string_free(plan);
    gs_bytes_free(&range);
    CHECK_OK(gs_upload_order(store, sha, 10, 1));
    CHECK_OK(gs_record_uploads(store, id2, &json));
    CHECK_CONTAINS(json, "\"state\":\"paused\",\"uploaded\":0,\"size\":5,\"priority\":10");
    gs_string_free(json);
    CHECK_OK(gs_upload_next(store, 4096, &plan, &range));
    CHECK_NOT_CONTAINS(plan, sha);
    gs_string_free(plan);
    gs_bytes_free(&range);
    CHECK_OK(gs_upload_order(store, sha, 0, 0));
    EXPECT_STATUS(GS_STATUS_NOT_FOUND,
                  gs_upload_order(store, "0000000000000000000000000000000000000000000000000000000000000000", 1, 0));
    gs_string_free(sha);

    upload_everything(store, photo);

    CHECK_OK(gs_record_uploads(store, id1, &json));
    CHECK_CONTAINS(json, "\"state\":\"uploaded\",\"uploaded\":10000,\"size\":10000");
    gs_string_free(json);
    CHECK_OK(gs_sync_status(store, &status));
    CHECK_CONTAINS(status, "\"pending_photos\":0,\"pending_photo_bytes\":0,\"paused_photos\":0");
    gs_string_free(status);

    /* A wrong picture is dropped before it goes up; one the server holds whole stays. */
    static const uint8_t wrong[] = {0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3};
    char *dropped = NULL;
    CHECK_OK(gs_photo_attach_bytes(store, id2, wrong, sizeof wrong, "image/jpeg", NULL, &dropped));
    CHECK_OK(gs_photo_drop(store, id2, dropped));
    CHECK_OK(gs_record_uploads(store, id2, &json));
    CHECK_NOT_CONTAINS(json, dropped);
    gs_string_free(json);
    EXPECT_STATUS(GS_STATUS_NOT_FOUND, gs_photo_drop(store, id2, dropped));
    gs_string_free(dropped);
    char *sent = NULL;
    CHECK_OK(gs_photo_attach_bytes(store, id2, photo, PHOTO_LEN, "image/jpeg", NULL, &sent));
    EXPECT_STATUS(GS_STATUS_ALREADY_UPLOADED, gs_photo_drop(store, id2, sent));
    CHECK_OK(gs_record_uploads(store, id2, &json));
    CHECK_CONTAINS(json, sent);
    gs_string_free(json);
    gs_string_free(sent);

    /* The request that goes out when the phone is back online. */
    GsBytes request = {NULL, 0};
    CHECK_OK(gs_sync_prepare(store, 64 * 1024, &request));
    CHECK(request.len > 100);
    CHECK(request.ptr[0] == 'G' && request.ptr[1] == 'S');
    gs_bytes_free(&request);
    gs_bytes_free(&request); /* freeing the same struct twice is harmless */

    CHECK_OK(gs_store_close(store));
    store = NULL;

    /* Everything was committed: reopening finds the records; another account may not open. */
    CHECK_OK(gs_store_open(db, "wang", "phone-1", &store));
    CHECK_OK(gs_record_list(store, "{}", &list));
    CHECK(count_occurrences(list, "\"id\":") == 3);
    gs_string_free(list);
    CHECK_OK(gs_store_close(store));
    store = NULL;
    GsStore *other = (GsStore *)&store; /* any non-NULL value: it must be reset to NULL */
    EXPECT_STATUS(GS_STATUS_WRONG_ACCOUNT, gs_store_open(db, "li", "phone-1", &other));
    CHECK(other == NULL);
    CHECK_CONTAINS(gs_last_error_message(), "belongs to account");

    gs_string_free(id1);
    gs_string_free(id2);
    gs_string_free(id3);
    printf("offline flow: ok\n");
    return 0;
}
