/*
 * test_grow.c: the vector helper of src/util/util.h. ks_grow keeps the
 * elements already there and makes room for exactly one more; a count or
 * size that would overflow aborts rather than returning a short array.
 */
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/util/util.h"

typedef struct pair {
    int a;
    double b;
} pair_t;

static void grow_keeps_the_elements_and_adds_room_for_one(void **state)
{
    (void)state;
    pair_t *v = NULL;
    int n = 0;
    for (int i = 0; i < 1000; i++) {
        KS_GROW(v, n);
        v[n++] = (pair_t){i, i * 0.5};
    }
    assert_int_equal(n, 1000);
    for (int i = 0; i < n; i++) {
        assert_int_equal(v[i].a, i);
        assert_true(v[i].b == i * 0.5);
    }
    free(v);
}

static void grow_of_an_array_of_pointers_uses_the_pointer_size(void **state)
{
    (void)state;
    char **names = NULL;
    int n = 0;
    const char *want[] = {"a", "bb", "ccc"};
    for (int i = 0; i < 3; i++) {
        KS_GROW(names, n);
        names[n++] = ks_xstrdup(want[i]);
    }
    for (int i = 0; i < 3; i++) {
        assert_string_equal(names[i], want[i]);
        free(names[i]);
    }
    free(names);
}

/* Runs ks_grow(NULL, n, elem) in a child; returns the signal that ended it, 0 when it returned. */
static int grow_in_child(int n, size_t elem)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Only reached when ks_grow returns; it aborts for these arguments. */
        free(ks_grow(NULL, n, elem));
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

static void grow_aborts_when_the_count_or_the_size_would_overflow(void **state)
{
    (void)state;
    assert_int_equal(grow_in_child(INT_MAX, 1), SIGABRT);
    assert_int_equal(grow_in_child(-1, 1), SIGABRT);
    assert_int_equal(grow_in_child(1 << 20, SIZE_MAX / 1024), SIGABRT);
    assert_int_equal(grow_in_child(3, sizeof(int)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grow_keeps_the_elements_and_adds_room_for_one),
        cmocka_unit_test(grow_of_an_array_of_pointers_uses_the_pointer_size),
        cmocka_unit_test(grow_aborts_when_the_count_or_the_size_would_overflow),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
