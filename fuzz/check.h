/* Shared by the fuzz targets: a property check that holds in every build (assert
 * would vanish under NDEBUG) and reports which property broke before aborting,
 * which libFuzzer turns into a crash with the input saved. */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__,          \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* A heap copy of exactly n bytes, so that ASan sees any read past the end
 * (a zero-length copy still gets its own allocation). */
static inline char *exact_copy(const void *p, size_t n)
{
    char *copy = malloc(n ? n : 1);
    CHECK(copy != NULL);
    if (n)
        memcpy(copy, p, n);
    return copy;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

#endif
