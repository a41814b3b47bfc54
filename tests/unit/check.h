/*
 * check.h - the tiny unit-test harness: TEST(name) functions with typed asserts.
 *
 * Each test file links with check_main.c. ctest runs every test in its own process
 * (`test_<module> <name>`), so a crash fails one test, not the file; CMake finds the
 * tests by scanning for TEST( lines. Run a test binary with no argument to run all.
 */
#ifndef SOTTO_CHECK_H
#define SOTTO_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*check_fn)(void);
void check_register(const char *name, check_fn fn);
/* Directory for generated fixtures (SOTTO_FIXTURES env or the build tree's fixtures/). */
const char *check_fixtures_dir(void);
/* A fresh temporary directory for this test (removed at exit). */
const char *check_tmpdir(void);

#define TEST(name)                                                                         \
    static void test_##name(void);                                                         \
    __attribute__((constructor)) static void register_##name(void)                         \
    {                                                                                      \
        check_register(#name, test_##name);                                                \
    }                                                                                      \
    static void test_##name(void)

#define CHECK_FAIL(...)                                                                    \
    do {                                                                                   \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                    \
        fprintf(stderr, __VA_ARGS__);                                                      \
        fputc('\n', stderr);                                                               \
        exit(1);                                                                           \
    } while (0)

#define ASSERT_TRUE(c)                                                                     \
    do {                                                                                   \
        if (!(c))                                                                          \
            CHECK_FAIL("expected true: %s", #c);                                           \
    } while (0)
#define ASSERT_EQ(a, b)                                                                    \
    do {                                                                                   \
        long long a_ = (long long)(a), b_ = (long long)(b);                                \
        if (a_ != b_)                                                                      \
            CHECK_FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_);                          \
    } while (0)
#define ASSERT_OK(expr)                                                                    \
    do {                                                                                   \
        int rc_ = (expr);                                                                  \
        if (rc_ != 0)                                                                      \
            CHECK_FAIL("%s failed: %d (%s)", #expr, rc_, sotto_last_error());             \
    } while (0)
#define ASSERT_STR_EQ(a, b)                                                                \
    do {                                                                                   \
        const char *a_ = (a), *b_ = (b);                                                   \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                             \
            CHECK_FAIL("%s == %s:\n  got:      \"%s\"\n  expected: \"%s\"", #a, #b,       \
                       a_ ? a_ : "(null)", b_ ? b_ : "(null)");                            \
    } while (0)
#define ASSERT_STR_CONTAINS(hay, needle)                                                   \
    do {                                                                                   \
        const char *h_ = (hay), *n_ = (needle);                                            \
        if (!h_ || !strstr(h_, n_))                                                        \
            CHECK_FAIL("%s does not contain \"%s\":\n  \"%s\"", #hay, n_, h_ ? h_ : "(null)"); \
    } while (0)
#define ASSERT_NEAR(a, b, tol)                                                             \
    do {                                                                                   \
        double a_ = (a), b_ = (b);                                                         \
        if (!(fabs(a_ - b_) <= (tol)))                                                     \
            CHECK_FAIL("%s ~= %s: %g vs %g (tol %g)", #a, #b, a_, b_, (double)(tol));      \
    } while (0)

#endif
