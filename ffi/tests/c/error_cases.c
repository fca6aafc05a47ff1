/*
 * Everything an app can get wrong gives a status and a message, never a crash: NULL arguments
 * to every function, invalid UTF-8, invalid JSON, records that break the schema, unknown ids,
 * garbage sync bytes, unreadable files, and a store handle used after it was closed. One handle
 * is also shared by several threads.
 *
 * Usage: error_cases WORK_DIR
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "check.h"

/* A sentinel that must be replaced by NULL when a call fails. */
#define POISON ((char *)"poison")

static const char *VALID = "{\"kind\":\"complaint\",\"title\":\"Pothole\"}";
static const char *UNKNOWN_ID = "01890a5d-ac96-774b-bcce-b302099a8057";

/* A failed call with a string out-parameter leaves it NULL. */
#define EXPECT_FAILS_WITH_NULL_OUT(expected, out, call)                                        \
    do {                                                                                       \
        out = POISON;                                                                          \
        EXPECT_STATUS(expected, call);                                                         \
        CHECK(out == NULL);                                                                    \
        CHECK(strlen(gs_last_error_message()) > 0);                                            \
    } while (0)

static void null_arguments(GsStore *store, const char *id) {
    char *out = NULL;
    GsStore *opened = NULL;
    GsBytes bytes = {NULL, 0};
    const unsigned char photo[] = {1, 2, 3};

    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_store_open(NULL, "a", "d", &opened));
    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_store_open("x.db", NULL, "d", &opened));
    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_store_open("x.db", "a", NULL, &opened));
    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_store_open("x.db", "a", "d", NULL));
    CHECK(opened == NULL);
    CHECK_CONTAINS(gs_last_error_message(), "out_store is NULL");

    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_NULL_ARGUMENT, out, gs_record_create(NULL, VALID, &out));
    CHECK_CONTAINS(gs_last_error_message(), "store is NULL");
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_NULL_ARGUMENT, out, gs_record_create(store, NULL, &out));
    CHECK_CONTAINS(gs_last_error_message(), "json is NULL");
    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_record_create(store, VALID, NULL));

    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_record_update(NULL, id, "{}"));
    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_record_update(store, NULL, "{}"));
    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_record_update(store, id, NULL));

    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_record_add_note(NULL, id, "n"));
    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_record_add_note(store, NULL, "n"));
    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_store_pin_contact_key(NULL, "k"));
    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_store_pin_contact_key(store, NULL));
    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_record_add_note(store, id, NULL));

    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_NULL_ARGUMENT, out, gs_record_get(NULL, id, &out));
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_NULL_ARGUMENT, out, gs_record_get(store, NULL, &out));
    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_record_get(store, id, NULL));

    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_NULL_ARGUMENT, out, gs_record_list(NULL, "{}", &out));
    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_record_list(store, "{}", NULL));

    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_NULL_ARGUMENT, out, gs_rejected_list(NULL, &out));
    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_rejected_list(store, NULL));

    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_NULL_ARGUMENT, out,
                               gs_photo_attach_bytes(NULL, id, photo, 3, "image/png", NULL, &out));
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_NULL_ARGUMENT, out,
                               gs_photo_attach_bytes(store, NULL, photo, 3, "image/png", NULL, &out));
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_NULL_ARGUMENT, out,
                               gs_photo_attach_bytes(store, id, NULL, 3, "image/png", NULL, &out));
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_NULL_ARGUMENT, out,
                               gs_photo_attach_bytes(store, id, photo, 3, NULL, NULL, &out));
    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT,
                  gs_photo_attach_bytes(store, id, photo, 3, "image/png", NULL, NULL));

    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_NULL_ARGUMENT, out,
                               gs_photo_attach_file(NULL, id, "p.jpg", "image/jpeg", NULL, &out));
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_NULL_ARGUMENT, out,
                               gs_photo_attach_file(store, NULL, "p.jpg", "image/jpeg", NULL, &out));
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_NULL_ARGUMENT, out,
                               gs_photo_attach_file(store, id, NULL, "image/jpeg", NULL, &out));
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_NULL_ARGUMENT, out,
                               gs_photo_attach_file(store, id, "p.jpg", NULL, NULL, &out));
    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT,
                  gs_photo_attach_file(store, id, "p.jpg", "image/jpeg", NULL, NULL));

    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_NULL_ARGUMENT, out, gs_upload_next(NULL, 10, &out, &bytes));
    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_upload_next(store, 10, NULL, &bytes));
    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_upload_next(store, 10, &out, NULL));

    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_upload_ack(NULL, "abc", 1));
    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_upload_ack(store, NULL, 1));

    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_sync_prepare(NULL, 1024, &bytes));
    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_sync_prepare(store, 1024, NULL));
    CHECK(bytes.ptr == NULL && bytes.len == 0);

    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_NULL_ARGUMENT, out, gs_sync_apply(NULL, photo, 3, &out));
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_NULL_ARGUMENT, out, gs_sync_apply(store, NULL, 3, &out));
    EXPECT_STATUS(GS_STATUS_NULL_ARGUMENT, gs_sync_apply(store, photo, 3, NULL));

    /* The frees and close accept NULL. */
    gs_string_free(NULL);
    gs_bytes_free(NULL);
    CHECK_OK(gs_store_close(NULL));
}

static void invalid_strings_and_json(GsStore *store, const char *id) {
    char *out = NULL;
    const char *bad_utf8 = "{\"kind\":\"complaint\",\"title\":\"\xff\xfe\"}";

    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_INVALID_UTF8, out, gs_record_create(store, bad_utf8, &out));
    CHECK_CONTAINS(gs_last_error_message(), "json is not valid UTF-8");
    EXPECT_STATUS(GS_STATUS_INVALID_UTF8, gs_record_add_note(store, id, "caf\xe9"));
    EXPECT_STATUS(GS_STATUS_INVALID_UTF8, gs_record_update(store, "\xc3\x28", "{}"));
    GsStore *opened = NULL;
    EXPECT_STATUS(GS_STATUS_INVALID_UTF8, gs_store_open("x.db", "\xff", "d", &opened));
    EXPECT_STATUS(GS_STATUS_STORAGE, gs_store_open("/no/such/dir/x.db", "a", "d", &opened));
    CHECK(opened == NULL);

    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_INVALID_JSON, out, gs_record_create(store, "{not json", &out));
    CHECK_CONTAINS(gs_last_error_message(), "invalid json");
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_INVALID_JSON, out, gs_record_create(store, "", &out));
    /* Fields a device may not set are refused, not ignored. */
    EXPECT_FAILS_WITH_NULL_OUT(
        GS_STATUS_INVALID_JSON, out,
        gs_record_create(store, "{\"kind\":\"complaint\",\"title\":\"t\",\"owner_grid\":\"G\"}", &out));
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_INVALID_JSON, out,
                               gs_record_create(store, "{\"kind\":\"parking\",\"title\":\"t\"}", &out));
    EXPECT_STATUS(GS_STATUS_INVALID_JSON, gs_record_update(store, id, "{\"workflow\":{}}"));
    EXPECT_STATUS(GS_STATUS_INVALID_JSON, gs_record_update(store, id, "[1,2]"));
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_INVALID_JSON, out, gs_record_list(store, "{\"grid\":7}", &out));
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_INVALID_JSON, out,
                               gs_record_list(store, "{\"colour\":\"red\"}", &out));

    /* Well-formed JSON that breaks the schema. */
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_INVALID_RECORD, out,
                               gs_record_create(store, "{\"kind\":\"complaint\",\"title\":\"  \"}", &out));
    EXPECT_FAILS_WITH_NULL_OUT(
        GS_STATUS_INVALID_RECORD, out,
        gs_record_create(store,
                         "{\"kind\":\"complaint\",\"title\":\"t\",\"location\":"
                         "{\"lon\":10,\"lat\":200,\"crs\":\"wgs84\"}}",
                         &out));
    CHECK_CONTAINS(gs_last_error_message(), "location.lat");
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_INVALID_RECORD, out,
                               gs_record_create(store, "{\"kind\":\"risk_inspection\",\"title\":\"t\"}", &out));
    EXPECT_STATUS(GS_STATUS_INVALID_RECORD, gs_record_update(store, id, "{\"findings\":\"x\"}"));
    EXPECT_STATUS(GS_STATUS_INVALID_RECORD, gs_record_update(store, id, "{\"title\":\"\"}"));

    /* A failed patch changed nothing. */
    CHECK_OK(gs_record_get(store, id, &out));
    CHECK_CONTAINS(out, "\"title\":\"Pothole\"");
    gs_string_free(out);
}

static void unknown_and_malformed_ids(GsStore *store) {
    char *out = NULL;
    const unsigned char photo[] = {1, 2, 3};
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_NOT_FOUND, out, gs_record_get(store, UNKNOWN_ID, &out));
    CHECK_CONTAINS(gs_last_error_message(), UNKNOWN_ID);
    EXPECT_STATUS(GS_STATUS_NOT_FOUND, gs_record_update(store, UNKNOWN_ID, "{\"title\":\"x\"}"));
    EXPECT_STATUS(GS_STATUS_NOT_FOUND, gs_record_add_note(store, UNKNOWN_ID, "n"));
    EXPECT_FAILS_WITH_NULL_OUT(
        GS_STATUS_NOT_FOUND, out,
        gs_photo_attach_bytes(store, UNKNOWN_ID, photo, 3, "image/png", NULL, &out));
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_INVALID_ARGUMENT, out, gs_record_get(store, "nope", &out));
    CHECK_CONTAINS(gs_last_error_message(), "not a record id");

    /* A photo for an unknown record was not queued either. */
    GsBytes bytes = {NULL, 0};
    CHECK_OK(gs_upload_next(store, 1024, &out, &bytes));
    CHECK(out == NULL && bytes.ptr == NULL);
}

static void bad_photos(GsStore *store, const char *id, const char *dir) {
    char *out = NULL;
    const unsigned char photo[] = {1, 2, 3};
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_INVALID_RECORD, out,
                               gs_photo_attach_bytes(store, id, NULL, 0, "image/png", NULL, &out));
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_INVALID_RECORD, out,
                               gs_photo_attach_bytes(store, id, photo, 3, "png", NULL, &out));
    char missing[4096];
    join_path(missing, sizeof missing, dir, "no-such-photo.jpg");
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_IO, out,
                               gs_photo_attach_file(store, id, missing, "image/jpeg", NULL, &out));
    CHECK_CONTAINS(gs_last_error_message(), "no-such-photo.jpg");
    EXPECT_STATUS(GS_STATUS_NOT_FOUND,
                  gs_upload_ack(store, "0000000000000000000000000000000000000000000000000000000000000000", 5));
}

static void garbage_sync_bytes(GsStore *store) {
    char *out = NULL;
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_CORRUPT, out, gs_sync_apply(store, NULL, 0, &out));
    const unsigned char text[] = "<html>502 Bad Gateway</html>";
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_CORRUPT, out, gs_sync_apply(store, text, sizeof text, &out));

    unsigned char noise[4096];
    unsigned int x = 12345;
    for (size_t i = 0; i < sizeof noise; i++) {
        x = x * 1103515245u + 12345u;
        noise[i] = (unsigned char)(x >> 16);
    }
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_CORRUPT, out, gs_sync_apply(store, noise, sizeof noise, &out));
    /* Noise behind a valid-looking start. */
    noise[0] = 'G';
    noise[1] = 'S';
    noise[2] = 1;
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_CORRUPT, out, gs_sync_apply(store, noise, sizeof noise, &out));

    /* A request is not a response; every truncation of it is refused too. */
    GsBytes request = {NULL, 0};
    CHECK_OK(gs_sync_prepare(store, 16 * 1024, &request));
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_CORRUPT, out, gs_sync_apply(store, request.ptr, request.len, &out));
    for (size_t len = 0; len < request.len; len += 7) {
        EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_CORRUPT, out, gs_sync_apply(store, request.ptr, len, &out));
    }
    gs_bytes_free(&request);

    /* The store is unharmed. */
    CHECK_OK(gs_record_list(store, NULL, &out));
    CHECK_CONTAINS(out, "Pothole");
    gs_string_free(out);
}

static void messages_follow_the_last_call(GsStore *store) {
    char *out = NULL;
    EXPECT_STATUS(GS_STATUS_INVALID_JSON, gs_record_list(store, "{", &out));
    const char *message = gs_last_error_message();
    CHECK(strlen(message) > 0);
    CHECK(gs_last_error_message() == message); /* reading it again does not change it */
    CHECK_OK(gs_record_list(store, NULL, &out));
    gs_string_free(out);
    CHECK(strcmp(gs_last_error_message(), "") == 0);
}

#define THREADS 4
#define RECORDS_PER_THREAD 10

static void *create_records(void *store) {
    for (int i = 0; i < RECORDS_PER_THREAD; i++) {
        char *id = NULL;
        if (gs_record_create((GsStore *)store, "{\"kind\":\"complaint\",\"title\":\"From a thread\"}",
                             &id) != GS_STATUS_OK) {
            fprintf(stderr, "thread create failed: %s\n", gs_last_error_message());
            return (void *)1;
        }
        gs_string_free(id);
    }
    return NULL;
}

static void one_handle_shared_by_threads(GsStore *store) {
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        CHECK(pthread_create(&threads[i], NULL, create_records, store) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *result = NULL;
        CHECK(pthread_join(threads[i], &result) == 0);
        CHECK(result == NULL);
    }
    char *list = NULL;
    CHECK_OK(gs_record_list(store, "{\"limit\":1000}", &list));
    CHECK(count_occurrences(list, "From a thread") == THREADS * RECORDS_PER_THREAD);
    gs_string_free(list);
}

static void use_after_close_is_reported(const char *db) {
    GsStore *store = NULL;
    CHECK_OK(gs_store_open(db, "wang", "phone-1", &store));
    CHECK_OK(gs_store_close(store));
    char *out = NULL;
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_CLOSED, out, gs_record_list(store, NULL, &out));
    CHECK_CONTAINS(gs_last_error_message(), "closed");
    EXPECT_STATUS(GS_STATUS_CLOSED, gs_record_add_note(store, UNKNOWN_ID, "late"));
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_CLOSED, out, gs_rejected_list(store, &out));
    EXPECT_STATUS(GS_STATUS_CLOSED, gs_store_close(store));
    /* A handle is never handed out twice: after another open, the closed one still reaches
       nothing, and the new one is a different handle. */
    GsStore *again = NULL;
    CHECK_OK(gs_store_open(db, "wang", "phone-1", &again));
    CHECK(again != store);
    EXPECT_FAILS_WITH_NULL_OUT(GS_STATUS_CLOSED, out, gs_record_list(store, NULL, &out));
    CHECK_OK(gs_record_list(again, NULL, &out));
    gs_string_free(out);
    out = NULL;
    CHECK_OK(gs_store_close(again));
    /* A pointer the library never made is refused the same way, without being read. */
    int not_a_store = 0;
    EXPECT_STATUS(GS_STATUS_CLOSED, gs_store_close((GsStore *)&not_a_store));
    EXPECT_STATUS(GS_STATUS_CLOSED, gs_record_list((GsStore *)&not_a_store, NULL, &out));
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    const char *dir = argv[1];
    char db[4096];
    join_path(db, sizeof db, dir, "errors.db");

    GsStore *store = NULL;
    CHECK_OK(gs_store_open(db, "wang", "phone-1", &store));
    char *id = NULL;
    CHECK_OK(gs_record_create(store, VALID, &id));

    null_arguments(store, id);
    invalid_strings_and_json(store, id);
    unknown_and_malformed_ids(store);
    bad_photos(store, id, dir);
    garbage_sync_bytes(store);
    messages_follow_the_last_call(store);
    one_handle_shared_by_threads(store);

    gs_string_free(id);
    CHECK_OK(gs_store_close(store));
    use_after_close_is_reported(db);
    printf("error cases: ok\n");
    return 0;
}
