/* tests/test.h: the few checks every C test uses. Each failed check prints its file and
 * line; test_done() prints a summary and gives main's exit status. */
#ifndef CN_TEST_H
#define CN_TEST_H

#include <math.h>
#include <stdio.h>

static int test_checks, test_failures;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        test_checks++;                                                          \
        if (!(cond)) {                                                          \
            test_failures++;                                                    \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
        }                                                                       \
    } while (0)

/* |a - b| <= atol + rtol * |b| */
#define CHECK_CLOSE(a, b, atol, rtol, what)                                     \
    do {                                                                        \
        double a_ = (a), b_ = (b);                                              \
        CHECK(fabs(a_ - b_) <= (atol) + (rtol) * fabs(b_), "%s: got %.9g, expected %.9g", (what), a_, b_); \
    } while (0)

static inline int test_done(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, test_checks, test_failures);
    return test_failures ? 1 : 0;
}

#endif
