/* id_test.c: tests for src/core/id.c.
 *
 * getrandom() is interposed (defined here, forwarding to the system
 * call) to count how often id.c goes to the kernel: the pool exists so
 * that one call serves many ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/id.h"

#define DRAWS		100000
#define POOL_IDS	64	/* what one getrandom() call is meant to serve */

static unsigned	test_getrandom_calls;
static size_t	test_getrandom_bytes;

ssize_t
getrandom(void *buf, size_t len, unsigned int flags)
{
	test_getrandom_calls++;
	test_getrandom_bytes += len;
	return syscall(SYS_getrandom, buf, len, flags);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
test_nonzero_distinct(void **state)
{
	uint64_t *ids = malloc(DRAWS * sizeof(*ids));
	unsigned bits[64] = { 0 };

	assert_non_null(ids);
	for (size_t i = 0; i < DRAWS; i++) {
		ids[i] = id_new();
		assert_true(ids[i] != 0);
		for (unsigned b = 0; b < 64; b++)
			bits[b] += (ids[i] >> b) & 1;
	}
	qsort(ids, DRAWS, sizeof(*ids), cmp_u64);
	for (size_t i = 1; i < DRAWS; i++)
		if (ids[i] == ids[i - 1])
			fail_msg("id %016llx drawn twice",
			    (unsigned long long)ids[i]);
	/* every bit is used, about half the time (40..60%: 30+ sigma) */
	for (unsigned b = 0; b < 64; b++)
		if (bits[b] < DRAWS * 2 / 5 || bits[b] > DRAWS * 3 / 5)
			fail_msg("bit %u set in %u of %d ids", b, bits[b], DRAWS);
	free(ids);
}

/* One getrandom() call serves a pool of ids, not one. */
static void
test_batched(void **state)
{
	id_reset();
	test_getrandom_calls = 0;
	test_getrandom_bytes = 0;
	for (unsigned i = 0; i < 10 * POOL_IDS; i++)
		(void)id_new();
	if (test_getrandom_calls > 11)
		fail_msg("%u getrandom() calls (%zu bytes) for %u ids",
		    test_getrandom_calls, test_getrandom_bytes, 10 * POOL_IDS);
	assert_true(test_getrandom_calls >= 1);
}

static void
test_fmt(void **state)
{
	static const struct {
		uint64_t	 id;
		const char	*want;
	} cases[] = {
		{ 1, "0000000000000001" },
		{ 0x3f2a9c0d11e4b7a2ULL, "3f2a9c0d11e4b7a2" },
		{ 0xABCDEFULL, "0000000000abcdef" },
		{ UINT64_MAX, "ffffffffffffffff" },
		{ 0x8000000000000000ULL, "8000000000000000" },
	};
	char *buf;

	/* exactly 17 bytes on the heap: ASan sees any overrun */
	buf = malloc(17);
	assert_non_null(buf);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(buf, 'Z', 17);
		id_fmt(cases[i].id, buf);
		assert_string_equal(buf, cases[i].want);
	}
	for (unsigned i = 0; i < 1000; i++) {
		uint64_t id = id_new();

		id_fmt(id, buf);
		assert_int_equal(strlen(buf), 16);
		assert_int_equal(strspn(buf, "0123456789abcdef"), 16);
		assert_true(strtoull(buf, NULL, 16) == id);
	}
	free(buf);
}

#define FORK_IDS	200

/* The child draws FORK_IDS ids after id_reset() and sends them back. */
static void
draw_in_child(int wfd, int reset)
{
	uint64_t ids[FORK_IDS];
	size_t off = 0;
	ssize_t n;

	if (reset)
		id_reset();
	for (size_t i = 0; i < FORK_IDS; i++)
		ids[i] = id_new();
	while (off < sizeof(ids)) {
		n = write(wfd, (char *)ids + off, sizeof(ids) - off);
		if (n <= 0)
			_exit(2);
		off += (size_t)n;
	}
	_exit(0);
}

static void
test_fork_reset(void **state)
{
	uint64_t parent[FORK_IDS], child[FORK_IDS];
	size_t off = 0;
	ssize_t n;
	int p[2], st;
	pid_t pid;

	/* the pool is part full when we fork, as in a real server */
	for (unsigned i = 0; i < 10; i++)
		(void)id_new();
	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		close(p[0]);
		draw_in_child(p[1], 1);
	}
	assert_true(pid > 0);
	close(p[1]);
	for (size_t i = 0; i < FORK_IDS; i++)
		parent[i] = id_new();
	while (off < sizeof(child)) {
		n = read(p[0], (char *)child + off, sizeof(child) - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(off, sizeof(child));
	for (size_t i = 0; i < FORK_IDS; i++) {
		assert_true(child[i] != 0);
		for (size_t j = 0; j < FORK_IDS; j++)
			if (child[i] == parent[j])
				fail_msg("child id %zu == parent id %zu", i, j);
	}
}

#define TEST(name, fn)	{ "core/id/" name, fn, NULL, NULL, NULL }

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		TEST("nonzero_distinct", test_nonzero_distinct),
		TEST("batched", test_batched),
		TEST("fmt", test_fmt),
		TEST("fork_reset", test_fork_reset),
	};

	return cmocka_run_group_tests_name("core/id", tests, NULL, NULL);
}
