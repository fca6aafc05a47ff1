/*
 * Plain-assert helpers shared by the C tests: each check prints where it failed and what the
 * library said, then exits non-zero. No test framework, so the tests need nothing but a C
 * compiler and the library.
 */
#ifndef GRIDSYNC_TEST_CHECK_H
#define GRIDSYNC_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridsync.h"

static inline const char *status_name(GsStatus s) {
    switch (s) {
    case GS_STATUS_OK: return "OK";
    case GS_STATUS_NULL_ARGUMENT: return "NULL_ARGUMENT";
    case GS_STATUS_INVALID_UTF8: return "INVALID_UTF8";
    case GS_STATUS_INVALID_JSON: return "INVALID_JSON";
    case GS_STATUS_INVALID_RECORD: return "INVALID_RECORD";
    case GS_STATUS_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case GS_STATUS_NOT_FOUND: return "NOT_FOUND";
    case GS_STATUS_ALREADY_EXISTS: return "ALREADY_EXISTS";
    case GS_STATUS_CORRUPT: return "CORRUPT";
    case GS_STATUS_STORAGE: return "STORAGE";
    case GS_STATUS_IO: return "IO";
    case GS_STATUS_WRONG_ACCOUNT: return "WRONG_ACCOUNT";
    case GS_STATUS_CLOSED: return "CLOSED";
    case GS_STATUS_INTERNAL: return "INTERNAL";
    case GS_STATUS_PANIC: return "PANIC";
    case GS_STATUS_NO_CONTACT_KEY: return "NO_CONTACT_KEY";
    case GS_STATUS_CONTACT_KEY_CHANGED: return "CONTACT_KEY_CHANGED";
    case GS_STATUS_NOT_WAITING: return "NOT_WAITING";
    case GS_STATUS_ALREADY_UPLOADED: return "ALREADY_UPLOADED";
    }
    return "unknown status";
}

/* The call must return `expected`; otherwise print both statuses and the library's message. */
#define EXPECT_STATUS(expected, call)                                                          \
    do {                                                                                       \
        GsStatus got_ = (call);                                                                \
        if (got_ != (expected)) {                                                              \
            fprintf(stderr, "%s:%d: %s\n  expected %s, got %s: %s\n", __FILE__, __LINE__,      \
                    #call, status_name(expected), status_name(got_), gs_last_error_message()); \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

#define CHECK_OK(call) EXPECT_STATUS(GS_STATUS_OK, call)

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);           \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

/* `haystack` must contain `needle`. */
#define CHECK_CONTAINS(haystack, needle)                                                       \
    do {                                                                                       \
        const char *h_ = (haystack);                                                           \
        if (h_ == NULL || strstr(h_, (needle)) == NULL) {                                      \
            fprintf(stderr, "%s:%d: expected %s to contain %s\n  it is: %s\n", __FILE__,       \
                    __LINE__, #haystack, (needle), h_ ? h_ : "(NULL)");                        \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

#define CHECK_NOT_CONTAINS(haystack, needle)                                                   \
    do {                                                                                       \
        const char *h_ = (haystack);                                                           \
        if (h_ == NULL || strstr(h_, (needle)) != NULL) {                                      \
            fprintf(stderr, "%s:%d: expected %s not to contain %s\n  it is: %s\n", __FILE__,   \
                    __LINE__, #haystack, (needle), h_ ? h_ : "(NULL)");                        \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

/* How many times `needle` occurs in `haystack`. */
static inline size_t count_occurrences(const char *haystack, const char *needle) {
    size_t n = 0;
    size_t len = strlen(needle);
    for (const char *p = strstr(haystack, needle); p != NULL; p = strstr(p + len, needle)) {
        n++;
    }
    return n;
}

/* `dir` + "/" + `name`, into `out`. */
static inline void join_path(char *out, size_t out_len, const char *dir, const char *name) {
    int n = snprintf(out, out_len, "%s/%s", dir, name);
    CHECK(n > 0 && (size_t)n < out_len);
}

#endif /* GRIDSYNC_TEST_CHECK_H */
