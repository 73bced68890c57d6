/* connlimit_test.c: tests for src/net/connlimit.c.
 *
 * Each worker counts in its own row; limits hold for the sum of the
 * rows, across fork (the mapping is MAP_SHARED).  Buckets are a keyed
 * hash, so two addresses share one with a small chance: checks that
 * addresses count apart use ten of them and allow one collision. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/connlimit.h"

#define WHY_TOTAL	"too many connections"
#define WHY_IP		"too many connections from your address"

static struct sockaddr_storage
addr(const char *text)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(12345);
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(12345);
	}
	return ss;
}

#define ROWS	4

static bool
take_row(struct connlimit *cl, unsigned row, const char *a, unsigned total,
    unsigned per_ip, const char **why_r)
{
	struct sockaddr_storage ss = addr(a);
	const char *why = NULL;
	bool ok;

	ok = connlimit_take(cl, row, &ss, total, per_ip, &why);
	if (!ok)
		assert_non_null(why);
	if (why_r != NULL)
		*why_r = why;
	return ok;
}

static bool
take(struct connlimit *cl, const char *a, unsigned total, unsigned per_ip,
    const char **why_r)
{
	return take_row(cl, 0, a, total, per_ip, why_r);
}

static void
release_row(struct connlimit *cl, unsigned row, const char *a)
{
	struct sockaddr_storage ss = addr(a);

	connlimit_release(cl, row, &ss);
}

static void
release(struct connlimit *cl, const char *a)
{
	release_row(cl, 0, a);
}

static void
test_per_ip(void **state)
{
	struct connlimit *cl = connlimit_new(ROWS);
	const char *why;

	assert_non_null(cl);
	for (int i = 0; i < 3; i++)
		assert_true(take(cl, "192.0.2.1", 100, 3, NULL));
	assert_false(take(cl, "192.0.2.1", 100, 3, &why));
	assert_string_equal(why, WHY_IP);
	assert_false(take(cl, "192.0.2.1", 100, 3, &why));
	/* the port does not matter, the address does */
	{
		struct sockaddr_storage ss = addr("192.0.2.1");

		((struct sockaddr_in *)&ss)->sin_port = htons(1);
		assert_false(connlimit_take(cl, 0, &ss, 100, 3, &why));
	}
	/* a release makes room for exactly one */
	release(cl, "192.0.2.1");
	assert_true(take(cl, "192.0.2.1", 100, 3, NULL));
	assert_false(take(cl, "192.0.2.1", 100, 3, NULL));
	/* a higher limit for the same count */
	assert_true(take(cl, "192.0.2.1", 100, 4, NULL));
	assert_false(take(cl, "192.0.2.1", 100, 4, NULL));
	for (int i = 0; i < 4; i++)
		release(cl, "192.0.2.1");
	for (int i = 0; i < 3; i++)
		assert_true(take(cl, "192.0.2.1", 100, 3, NULL));
	assert_false(take(cl, "192.0.2.1", 100, 3, NULL));
}

/* Count how many of ten addresses get their one connection. */
static unsigned
ten_apart(struct connlimit *cl, const char *fmt)
{
	char a[64];
	unsigned ok = 0;

	for (unsigned i = 0; i < 10; i++) {
		snprintf(a, sizeof(a), fmt, i + 1);
		ok += take(cl, a, 1000, 1, NULL);
	}
	return ok;
}

static void
test_addresses_apart(void **state)
{
	struct connlimit *cl = connlimit_new(ROWS);
	unsigned a, b;

	a = ten_apart(cl, "192.0.2.%u");
	assert_true(a >= 9);
	b = ten_apart(cl, "2001:db8:%x::1");
	assert_true(b >= 9);
	/* the total counts everyone */
	assert_false(take(cl, "198.51.100.1", a + b, 100, NULL));
	assert_true(take(cl, "198.51.100.1", a + b + 1, 100, NULL));
}

/* IPv6 counts per /64: a client owns its whole /64. */
static void
test_ipv6_prefix(void **state)
{
	struct connlimit *cl = connlimit_new(ROWS);
	const char *why;

	assert_true(take(cl, "2001:db8:1:2::1", 100, 2, NULL));
	assert_true(take(cl, "2001:db8:1:2:ffff:ffff:ffff:ffff", 100, 2, NULL));
	assert_false(take(cl, "2001:db8:1:2:abcd::9", 100, 2, &why));
	assert_string_equal(why, WHY_IP);
	release(cl, "2001:db8:1:2::77");
	assert_true(take(cl, "2001:db8:1:2::88", 100, 2, NULL));
}

static void
test_total(void **state)
{
	struct connlimit *cl = connlimit_new(ROWS);
	char a[64];
	const char *why;

	for (unsigned i = 0; i < 5; i++) {
		snprintf(a, sizeof(a), "203.0.113.%u", i + 1);
		assert_true(take(cl, a, 5, 1000, NULL));
	}
	assert_false(take(cl, "203.0.113.200", 5, 1000, &why));
	assert_string_equal(why, WHY_TOTAL);
	/* refusals count nothing: a thousand of them change no count */
	for (unsigned i = 0; i < 1000; i++)
		assert_false(take(cl, "203.0.113.201", 5, 1000, NULL));
	release(cl, "203.0.113.3");
	assert_true(take(cl, "203.0.113.200", 5, 1000, NULL));
	assert_false(take(cl, "203.0.113.201", 5, 1000, &why));
	assert_string_equal(why, WHY_TOTAL);
	assert_true(take(cl, "203.0.113.201", 6, 1000, NULL));
	assert_false(take(cl, "203.0.113.201", 6, 1000, NULL));
}

/* One address, both limits: a refusal for either counts nothing. */
static void
test_both_limits(void **state)
{
	struct connlimit *cl = connlimit_new(ROWS);
	const char *why;

	for (int i = 0; i < 3; i++)
		assert_true(take(cl, "192.0.2.50", 3, 3, NULL));
	/* over both: the total is named */
	assert_false(take(cl, "192.0.2.50", 3, 3, &why));
	assert_string_equal(why, WHY_TOTAL);
	/* over the address only */
	assert_false(take(cl, "192.0.2.50", 10, 3, &why));
	assert_string_equal(why, WHY_IP);
	/* over the total only */
	assert_false(take(cl, "192.0.2.50", 3, 10, &why));
	assert_string_equal(why, WHY_TOTAL);
	/* none of that counted: exactly one more fits at 4/4 */
	assert_true(take(cl, "192.0.2.50", 4, 4, NULL));
	assert_false(take(cl, "192.0.2.50", 5, 4, &why));
	assert_string_equal(why, WHY_IP);
	assert_false(take(cl, "192.0.2.50", 4, 5, &why));
	assert_string_equal(why, WHY_TOTAL);
}

static void
test_zero_limits(void **state)
{
	struct connlimit *cl = connlimit_new(ROWS);
	const char *why;

	assert_false(take(cl, "192.0.2.1", 0, 10, &why));
	assert_string_equal(why, WHY_TOTAL);
	assert_false(take(cl, "192.0.2.1", 10, 0, &why));
	assert_string_equal(why, WHY_IP);
	/* nothing was counted */
	assert_true(take(cl, "192.0.2.1", 1, 1, NULL));
}

/* Limits hold for the sum of the rows (one row per worker). */
static void
test_rows_sum(void **state)
{
	struct connlimit *cl = connlimit_new(ROWS);
	const char *why;

	assert_int_equal(connlimit_rows(cl), ROWS);
	for (unsigned r = 0; r < ROWS; r++)
		assert_true(take_row(cl, r, "192.0.2.1", 100, ROWS, NULL));
	for (unsigned r = 0; r < ROWS; r++) {
		assert_false(take_row(cl, r, "192.0.2.1", 100, ROWS, &why));
		assert_string_equal(why, WHY_IP);
	}
	for (unsigned r = 0; r < ROWS; r++)
		assert_true(take_row(cl, r, "192.0.2.2", 2 * ROWS, 100, NULL));
	for (unsigned r = 0; r < ROWS; r++) {
		assert_false(take_row(cl, r, "192.0.2.3", 2 * ROWS, 100, &why));
		assert_string_equal(why, WHY_TOTAL);
	}
	/* a release in any row makes room for every row */
	release_row(cl, 2, "192.0.2.1");
	assert_true(take_row(cl, 0, "192.0.2.1", 100, ROWS, NULL));
	assert_false(take_row(cl, 3, "192.0.2.1", 100, ROWS, NULL));
}

/* A dead worker's row is cleared: its connections stop counting, the
 * other rows' still count. */
static void
test_clear_row(void **state)
{
	struct connlimit *cl = connlimit_new(ROWS);
	const char *why;

	for (int i = 0; i < 3; i++)
		assert_true(take_row(cl, 2, "192.0.2.1", 5, 5, NULL));
	assert_true(take_row(cl, 1, "192.0.2.1", 5, 5, NULL));
	assert_true(take_row(cl, 0, "192.0.2.1", 5, 5, NULL));
	assert_false(take_row(cl, 0, "192.0.2.1", 6, 5, &why));
	assert_string_equal(why, WHY_IP);
	connlimit_clear_row(cl, 2);
	/* room for three again, for the address and the total */
	for (int i = 0; i < 3; i++)
		assert_true(take_row(cl, 3, "192.0.2.1", 5, 5, NULL));
	assert_false(take_row(cl, 3, "192.0.2.1", 6, 5, &why));
	assert_string_equal(why, WHY_IP);
	assert_false(take_row(cl, 3, "192.0.2.1", 5, 6, &why));
	assert_string_equal(why, WHY_TOTAL);
	/* the rows that were not cleared still hold theirs */
	connlimit_clear_row(cl, 3);
	assert_true(take_row(cl, 0, "192.0.2.1", 3, 3, NULL));
	assert_false(take_row(cl, 0, "192.0.2.1", 3, 3, NULL));
}

/* The counts live in a shared mapping: a forked worker's connections
 * count for the parent and the other way round. */
static void
test_shared_with_child(void **state)
{
	struct connlimit *cl = connlimit_new(ROWS);
	const char *why;
	pid_t pid;
	int st;

	assert_true(take_row(cl, 0, "192.0.2.9", 4, 3, NULL));
	if ((pid = fork()) == 0) {
		/* the parent's connection counts here */
		int ok = take_row(cl, 1, "192.0.2.9", 4, 3, NULL) &&
		    take_row(cl, 1, "192.0.2.9", 4, 3, NULL) &&
		    !take_row(cl, 1, "192.0.2.9", 4, 3, NULL) &&
		    take_row(cl, 1, "192.0.2.10", 4, 100, NULL);
		_exit(ok ? 0 : 1);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* the child's three connections count here */
	assert_false(take_row(cl, 0, "192.0.2.9", 4, 3, &why));
	assert_false(take_row(cl, 0, "192.0.2.11", 4, 100, &why));
	assert_string_equal(why, WHY_TOTAL);
	/* a child releases; the parent sees it */
	if ((pid = fork()) == 0) {
		release_row(cl, 1, "192.0.2.9");
		release_row(cl, 1, "192.0.2.10");
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(take_row(cl, 0, "192.0.2.9", 4, 3, NULL));
	assert_true(take_row(cl, 0, "192.0.2.11", 4, 100, NULL));
	assert_false(take_row(cl, 0, "192.0.2.12", 4, 100, NULL));
	/* the parent clears a dead child's row */
	connlimit_clear_row(cl, 1);
	assert_true(take_row(cl, 0, "192.0.2.12", 4, 100, NULL));
}

/* Four worker processes take and release concurrently, each in its
 * row: the counts come back to zero, exactly. */
static void
test_concurrent_processes(void **state)
{
	struct connlimit *cl = connlimit_new(ROWS);
	pid_t pids[ROWS];
	int st;

	for (unsigned p = 0; p < ROWS; p++) {
		if ((pids[p] = fork()) == 0) {
			char ca[64];

			for (int i = 0; i < 20000; i++) {
				snprintf(ca, sizeof(ca), "198.51.100.%d",
				    i % 3 + 1);
				if (take_row(cl, p, ca, 1000000, 1000000, NULL))
					release_row(cl, p, ca);
				else
					_exit(1);
			}
			_exit(0);
		}
		assert_true(pids[p] > 0);
	}
	for (unsigned p = 0; p < ROWS; p++) {
		assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	/* the counts are zero again (each take counts in the total) */
	assert_true(take(cl, "198.51.100.1", 1, 1, NULL));
	assert_false(take(cl, "198.51.100.1", 2, 1, NULL));
	assert_false(take(cl, "198.51.100.2", 1, 100, NULL));
}

/* Workers racing for the last places: never more admitted than the
 * limit, however the takes interleave. */
static void
test_race_never_over(void **state)
{
	struct connlimit *cl = connlimit_new(ROWS);
	unsigned held[ROWS], sum = 0;
	int go[2], res[2], st;
	pid_t pids[ROWS];
	char c = 'g';

	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(res), 0);
	for (unsigned p = 0; p < ROWS; p++) {
		if ((pids[p] = fork()) == 0) {
			unsigned n = 0;

			close(go[1]);
			if (read(go[0], &c, 1) != 1)
				_exit(2);
			for (int i = 0; i < 20000; i++)
				n += take_row(cl, p, "203.0.113.9", 10, 1000,
				    NULL);
			if (write(res[1], &n, sizeof(n)) != sizeof(n))
				_exit(2);
			_exit(0);
		}
		assert_true(pids[p] > 0);
	}
	close(go[0]);
	for (unsigned p = 0; p < ROWS; p++)
		assert_int_equal(write(go[1], &c, 1), 1);
	close(go[1]);
	for (unsigned p = 0; p < ROWS; p++) {
		assert_int_equal(read(res[0], &held[p], sizeof(held[p])),
		    sizeof(held[p]));
		sum += held[p];
	}
	for (unsigned p = 0; p < ROWS; p++) {
		assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	close(res[0]);
	close(res[1]);
	if (sum > 10 || sum == 0)
		fail_msg("%u connections admitted with max_total 10", sum);
	/* what the shared counts say agrees */
	for (unsigned i = sum; i < 10; i++)
		assert_true(take(cl, "192.0.2.200", 10, 1000, NULL));
	assert_false(take(cl, "192.0.2.200", 10, 1000, NULL));
}

#define TEST(name, fn)	{ "net/connlimit/" name, fn, NULL, NULL, NULL }

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		TEST("per_ip", test_per_ip),
		TEST("addresses_apart", test_addresses_apart),
		TEST("ipv6_prefix", test_ipv6_prefix),
		TEST("total", test_total),
		TEST("both_limits", test_both_limits),
		TEST("zero_limits", test_zero_limits),
		TEST("rows/sum", test_rows_sum),
		TEST("rows/clear", test_clear_row),
		TEST("shared_with_child", test_shared_with_child),
		TEST("concurrent_processes", test_concurrent_processes),
		TEST("race_never_over", test_race_never_over),
	};

	return cmocka_run_group_tests_name("net/connlimit", tests, NULL, NULL);
}
