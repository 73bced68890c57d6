/* buf_test.c: tests for src/core/buf.c.  The cap is the point of the
 * type: every way of adding bytes must stop at max and, when it
 * refuses, leave the buffer exactly as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

/* A snapshot to check that a refused operation changed nothing. */
struct buf_snap {
	char	*p;
	size_t	 len, cap, max;
	char	 bytes[8192];
};

static void
buf_snap_take(struct buf_snap *s, const struct buf *b)
{
	assert_true(b->len <= sizeof(s->bytes));
	s->p = b->p;
	s->len = b->len;
	s->cap = b->cap;
	s->max = b->max;
	if (b->len > 0)
		memcpy(s->bytes, b->p, b->len);
}

static void
buf_snap_check(const struct buf_snap *s, const struct buf *b)
{
	assert_ptr_equal(b->p, s->p);
	assert_int_equal(b->len, s->len);
	assert_int_equal(b->cap, s->cap);
	assert_int_equal(b->max, s->max);
	if (s->len > 0)
		assert_memory_equal(b->p, s->bytes, s->len);
}

/* The invariants every operation keeps. */
static void
buf_check(const struct buf *b)
{
	assert_true(b->len <= b->cap);
	assert_true(b->cap <= b->max);
	if (b->cap > 0)
		assert_non_null(b->p);
}

static void
test_init(void **state)
{
	struct buf b;

	memset(&b, 0xa5, sizeof(b));
	buf_init(&b, 100);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(b.max, 100);
	buf_free(&b);
	assert_null(b.p);
	/* freeing twice is harmless */
	buf_free(&b);
	assert_null(b.p);
}

static void
test_append_within(void **state)
{
	struct buf b;

	buf_init(&b, 64);
	assert_int_equal(buf_append(&b, "hello", 5), 0);
	assert_int_equal(buf_append(&b, " ", 1), 0);
	assert_int_equal(buf_append_str(&b, "world"), 0);
	assert_int_equal(b.len, 11);
	assert_memory_equal(b.p, "hello world", 11);
	buf_check(&b);
	/* zero bytes is fine, even with a NULL source */
	assert_int_equal(buf_append(&b, NULL, 0), 0);
	assert_int_equal(b.len, 11);
	buf_free(&b);
}

/* Exactly max bytes fit; one more does not. */
static void
test_append_exact_cap(void **state)
{
	char data[100];
	struct buf b;
	struct buf_snap s;

	memset(data, 'x', sizeof(data));
	buf_init(&b, 100);
	assert_int_equal(buf_append(&b, data, 100), 0);
	assert_int_equal(b.len, 100);
	buf_check(&b);
	buf_snap_take(&s, &b);
	assert_int_equal(buf_append(&b, "y", 1), -1);
	buf_snap_check(&s, &b);
	assert_int_equal(buf_append_str(&b, "y"), -1);
	buf_snap_check(&s, &b);
	/* still room for nothing */
	assert_int_equal(buf_append(&b, "y", 0), 0);
	buf_snap_check(&s, &b);
	buf_free(&b);
}

static void
test_append_over_cap(void **state)
{
	char data[200];
	struct buf b;
	struct buf_snap s;

	memset(data, 'x', sizeof(data));
	buf_init(&b, 100);
	/* from empty, too big at once: nothing allocated */
	assert_int_equal(buf_append(&b, data, 101), -1);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	/* partly full: over by one */
	assert_int_equal(buf_append(&b, "abc", 3), 0);
	buf_snap_take(&s, &b);
	assert_int_equal(buf_append(&b, data, 98), -1);
	buf_snap_check(&s, &b);
	/* a length that would wrap len + n around */
	assert_int_equal(buf_append(&b, data, SIZE_MAX), -1);
	buf_snap_check(&s, &b);
	assert_int_equal(buf_append(&b, data, SIZE_MAX - 2), -1);
	buf_snap_check(&s, &b);
	/* and what fits still fits */
	assert_int_equal(buf_append(&b, data, 97), 0);
	assert_int_equal(b.len, 100);
	assert_memory_equal(b.p, "abc", 3);
	buf_check(&b);
	buf_free(&b);
}

static void
test_max_zero(void **state)
{
	struct buf b;
	char *s;

	buf_init(&b, 0);
	assert_int_equal(buf_append(&b, "a", 1), -1);
	assert_int_equal(buf_printf(&b, "%s", "a"), -1);
	assert_int_equal(buf_reserve(&b, 1), -1);
	assert_int_equal(buf_reserve(&b, 0), 0);
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_int_equal(b.len, 0);
	assert_true(b.cap <= b.max);
	buf_consume(&b, 5);
	assert_int_equal(b.len, 0);
	s = (char *)buf_cstr(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	buf_shrink(&b);
	buf_free(&b);
	assert_null(b.p);
}

static void
test_printf(void **state)
{
	struct buf b;

	buf_init(&b, 1024);
	assert_int_equal(buf_printf(&b, "%d-%s", 42, "abc"), 0);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.p, "42-abc", 6);
	assert_int_equal(buf_printf(&b, "[%.*s]", 2, "xyz"), 0);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.p, "42-abc[xy]", 10);
	/* an empty result adds nothing */
	assert_int_equal(buf_printf(&b, "%s", ""), 0);
	assert_int_equal(b.len, 10);
	assert_string_equal(buf_cstr(&b), "42-abc[xy]");
	buf_check(&b);
	buf_free(&b);
}

/* Larger than the first allocation: the va_list is reused correctly. */
static void
test_printf_large(void **state)
{
	struct buf b;
	char want[3001];

	memset(want, 'q', 3000);
	want[3000] = '\0';
	buf_init(&b, 1 << 20);
	assert_int_equal(buf_printf(&b, "%s|%d", want, 7), 0);
	assert_int_equal(b.len, 3002);
	assert_memory_equal(b.p, want, 3000);
	assert_memory_equal(b.p + 3000, "|7", 2);
	buf_check(&b);
	buf_free(&b);
}

static void
test_printf_over_cap(void **state)
{
	struct buf b;
	struct buf_snap s;

	buf_init(&b, 10);
	assert_int_equal(buf_append(&b, "12345", 5), 0);
	buf_snap_take(&s, &b);
	assert_int_equal(buf_printf(&b, "%s", "abcdefgh"), -1);
	buf_snap_check(&s, &b);
	assert_int_equal(buf_printf(&b, "%d", 123456), -1);
	buf_snap_check(&s, &b);
	assert_int_equal(buf_printf(&b, "%s", "abcd"), 0);
	assert_int_equal(b.len, 9);
	assert_memory_equal(b.p, "12345abcd", 9);
	buf_check(&b);
	buf_free(&b);
}

static struct buf	exact_b;	/* freed by the teardown if a check fails */

/* buf_printf and buf_append agree on what fits: output that fills the
 * buffer exactly to max is accepted by both (the terminator vsnprintf
 * writes goes into the byte buf_reserve always keeps for buf_cstr). */
static void
test_printf_exact_cap(void **state)
{
	struct buf *b = &exact_b;

	buf_init(b, 10);
	assert_int_equal(buf_append(b, "12345", 5), 0);
	assert_int_equal(buf_printf(b, "%s", "abcde"), 0);
	assert_int_equal(b->len, 10);
	assert_memory_equal(b->p, "12345abcde", 10);
	buf_check(b);
	buf_free(b);

	buf_init(b, 5);
	assert_int_equal(buf_printf(b, "%d", 12345), 0);
	assert_int_equal(b->len, 5);
	assert_string_equal(buf_cstr(b), "12345");
	buf_free(b);

	/* nothing into nothing */
	buf_init(b, 0);
	assert_int_equal(buf_printf(b, "%s", ""), 0);
	assert_int_equal(b->len, 0);
	buf_free(b);
}

static int
exact_teardown(void **state)
{
	buf_free(&exact_b);
	return 0;
}

static void
test_reserve(void **state)
{
	struct buf b;
	struct buf_snap s;

	buf_init(&b, 1000);
	assert_int_equal(buf_reserve(&b, 10), 0);
	assert_int_equal(b.len, 0);
	assert_true(b.cap >= 10);
	buf_check(&b);
	/* the reserved room is writable (ASan checks) */
	memset(b.p, 'r', 10);
	/* a reservation within cap does not move the buffer */
	buf_snap_take(&s, &b);
	assert_int_equal(buf_reserve(&b, b.cap), 0);
	buf_snap_check(&s, &b);
	/* reserve all of max */
	assert_int_equal(buf_reserve(&b, 1000), 0);
	assert_int_equal(b.cap, 1000);
	memset(b.p, 'r', 1000);
	buf_check(&b);
	buf_snap_take(&s, &b);
	assert_int_equal(buf_reserve(&b, 1001), -1);
	buf_snap_check(&s, &b);
	assert_int_equal(buf_append(&b, "abcd", 4), 0);
	assert_int_equal(buf_reserve(&b, 996), 0);
	assert_int_equal(buf_reserve(&b, 997), -1);
	assert_int_equal(buf_reserve(&b, SIZE_MAX), -1);
	assert_int_equal(b.len, 4);
	buf_free(&b);
}

static void
test_consume(void **state)
{
	struct buf b;

	buf_init(&b, 100);
	assert_int_equal(buf_append_str(&b, "0123456789"), 0);
	buf_consume(&b, 0);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.p, "0123456789", 10);
	buf_consume(&b, 3);
	assert_int_equal(b.len, 7);
	assert_memory_equal(b.p, "3456789", 7);
	buf_consume(&b, 6);
	assert_int_equal(b.len, 1);
	assert_memory_equal(b.p, "9", 1);
	buf_consume(&b, 1);
	assert_int_equal(b.len, 0);
	/* consuming from empty, and more than held */
	buf_consume(&b, 1);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_append_str(&b, "abc"), 0);
	buf_consume(&b, 1000);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_append_str(&b, "xy"), 0);
	buf_consume(&b, SIZE_MAX);
	assert_int_equal(b.len, 0);
	/* room comes back after consume */
	assert_int_equal(buf_append(&b, "0123456789012345678901234567890123"
	    "456789012345678901234567890123456789012345678901234567890123"
	    "456789", 100), 0);
	assert_int_equal(buf_append(&b, "z", 1), -1);
	buf_consume(&b, 1);
	assert_int_equal(buf_append(&b, "z", 1), 0);
	assert_int_equal(b.len, 100);
	assert_int_equal(b.p[98], '9');
	assert_int_equal(b.p[99], 'z');
	buf_free(&b);

	/* consume on a never-allocated buffer */
	buf_init(&b, 10);
	buf_consume(&b, 0);
	buf_consume(&b, 5);
	assert_int_equal(b.len, 0);
	assert_null(b.p);
	buf_free(&b);
}

static void
test_reset(void **state)
{
	struct buf b;
	size_t cap;

	buf_init(&b, 50);
	assert_int_equal(buf_append_str(&b, "data"), 0);
	cap = b.cap;
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, cap);
	assert_int_equal(b.max, 50);
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(buf_append_str(&b, "more"), 0);
	assert_string_equal(buf_cstr(&b), "more");
	buf_free(&b);
	/* reset on an empty buffer */
	buf_init(&b, 50);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void
test_cstr(void **state)
{
	struct buf b;
	const char *s;
	char full[32];

	/* never allocated */
	buf_init(&b, 32);
	s = buf_cstr(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	assert_int_equal(b.len, 0);
	/* after the terminator-only allocation, appends still work */
	assert_int_equal(buf_append_str(&b, "abc"), 0);
	assert_string_equal(buf_cstr(&b), "abc");
	assert_int_equal(b.len, 3);
	/* the terminator is not part of the bytes */
	assert_int_equal(buf_append_str(&b, "d"), 0);
	assert_string_equal(buf_cstr(&b), "abcd");
	/* a full buffer still has room for the terminator */
	memset(full, 'f', sizeof(full));
	buf_reset(&b);
	assert_int_equal(buf_append(&b, full, 32), 0);
	s = buf_cstr(&b);
	assert_int_equal(strlen(s), 32);
	assert_int_equal(b.len, 32);
	/* embedded NUL: bytes are still all there */
	buf_reset(&b);
	assert_int_equal(buf_append(&b, "a\0b", 3), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(buf_cstr(&b), "a\0b", 4);
	buf_free(&b);
}

static void
test_shrink(void **state)
{
	struct buf b;
	char *big;

	big = malloc(10000);
	assert_non_null(big);
	memset(big, 'b', 10000);
	buf_init(&b, 1 << 20);
	assert_int_equal(buf_append(&b, big, 10000), 0);
	assert_true(b.cap > 4096);
	/* not empty: kept */
	buf_shrink(&b);
	assert_non_null(b.p);
	assert_int_equal(b.len, 10000);
	assert_memory_equal(b.p, big, 10000);
	/* empty and big: given back */
	buf_reset(&b);
	buf_shrink(&b);
	assert_null(b.p);
	assert_int_equal(b.cap, 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 1 << 20);
	/* and usable again */
	assert_int_equal(buf_append_str(&b, "again"), 0);
	assert_string_equal(buf_cstr(&b), "again");
	/* a small empty buffer is kept (no churn) */
	buf_reset(&b);
	buf_shrink(&b);
	assert_non_null(b.p);
	buf_free(&b);
	/* shrink on nothing */
	buf_init(&b, 10);
	buf_shrink(&b);
	assert_null(b.p);
	buf_free(&b);
	free(big);
}

/* Growth doubles but never allocates past max, for caps that are and
 * are not powers of two, under and over the first allocation size. */
static void
test_growth_never_passes_max(void **state)
{
	static const size_t maxes[] = { 1, 7, 255, 256, 257, 1000, 4096,
	    5000, 65536, 100003 };
	char chunk[777];

	memset(chunk, 'g', sizeof(chunk));
	for (size_t i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
		struct buf b;
		size_t prev_cap = 0, n;

		buf_init(&b, maxes[i]);
		for (size_t step = 1; ; step = step * 3 % 777 + 1) {
			n = step;
			if (buf_append(&b, chunk, n) == -1) {
				assert_true(n > b.max - b.len);
				break;
			}
			buf_check(&b);
			assert_true(b.cap >= prev_cap);
			prev_cap = b.cap;
		}
		/* fill up to exactly max one byte at a time */
		while (b.len < b.max)
			assert_int_equal(buf_append(&b, "z", 1), 0);
		assert_int_equal(b.len, maxes[i]);
		assert_int_equal(b.cap, maxes[i]);
		assert_int_equal(buf_append(&b, "z", 1), -1);
		/* every byte is addressable up to cap (ASan) */
		memset(b.p, 0, b.cap);
		(void)buf_cstr(&b);
		buf_free(&b);
	}
}

static void
test_many_small_appends(void **state)
{
	const size_t max = 300000;
	struct buf b;
	size_t n = 0;
	char c;

	buf_init(&b, max);
	for (;;) {
		c = (char)('a' + n % 26);
		if (buf_append(&b, &c, 1) == -1)
			break;
		n++;
	}
	assert_int_equal(n, max);
	assert_int_equal(b.len, max);
	assert_int_equal(b.cap, max);
	for (size_t i = 0; i < max; i++)
		if (b.p[i] != (char)('a' + i % 26))
			fail_msg("byte %zu is %c", i, b.p[i]);
	/* a queue: consume from the front while appending at the back */
	for (size_t i = 0; i < 1000; i++) {
		buf_consume(&b, 3);
		assert_int_equal(buf_append(&b, "abc", 3), 0);
	}
	assert_int_equal(b.len, max);
	assert_memory_equal(b.p + max - 3, "abc", 3);
	buf_free(&b);
}

#define TEST(name, fn)	{ "core/buf/" name, fn, NULL, NULL, NULL }

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		TEST("init", test_init),
		TEST("append/within", test_append_within),
		TEST("append/exact_cap", test_append_exact_cap),
		TEST("append/over_cap", test_append_over_cap),
		TEST("max_zero", test_max_zero),
		TEST("printf", test_printf),
		TEST("printf/large", test_printf_large),
		TEST("printf/over_cap", test_printf_over_cap),
		{ "core/buf/printf/exact_cap", test_printf_exact_cap, NULL,
		    exact_teardown, NULL },
		TEST("reserve", test_reserve),
		TEST("consume", test_consume),
		TEST("reset", test_reset),
		TEST("cstr", test_cstr),
		TEST("shrink", test_shrink),
		TEST("growth/never_passes_max", test_growth_never_passes_max),
		TEST("append/many_small", test_many_small_appends),
	};

	return cmocka_run_group_tests_name("core/buf", tests, NULL, NULL);
}
