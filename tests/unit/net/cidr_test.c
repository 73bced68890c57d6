/* cidr_test.c: prefixes parsed and matched. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "net/cidr.h"

static struct sockaddr_storage
addr(const char *text)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
	}
	return ss;
}

static void
test_parse(void **state)
{
	static const char *good[] = { "127.0.0.0/8", "192.0.2.1", "0.0.0.0/0",
	    "2001:db8::/32", "::1", "::/0", "10.1.2.3/32" };
	static const char *bad[] = { "", "127.0.0.0/", "127.0.0.0/33",
	    "1.2.3", "::1/129", "a.b.c.d", "10.0.0.0/8x", "10.0.0.0/-1",
	    "10.0.0.0//8" };
	struct cidr c;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(cidr_parse(good[i], strlen(good[i]), &c), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cidr_parse(bad[i], strlen(bad[i]), &c), -1);
}

static void
test_match(void **state)
{
	static const struct { const char *net, *ip; bool want; } cases[] = {
		{ "127.0.0.0/8", "127.1.2.3", true },
		{ "127.0.0.0/8", "128.0.0.1", false },
		{ "192.0.2.0/25", "192.0.2.127", true },
		{ "192.0.2.0/25", "192.0.2.128", false },
		{ "192.0.2.7", "192.0.2.7", true },
		{ "192.0.2.7", "192.0.2.6", false },
		{ "0.0.0.0/0", "203.0.113.9", true },
		{ "2001:db8::/32", "2001:db8:1::5", true },
		{ "2001:db8::/32", "2001:db9::5", false },
		{ "::1", "::1", true },
		{ "127.0.0.0/8", "::1", false },	/* families differ */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cidr c;
		struct sockaddr_storage ss = addr(cases[i].ip);

		assert_int_equal(cidr_parse(cases[i].net, strlen(cases[i].net),
		    &c), 0);
		assert_int_equal(cidr_match(&c, &ss), cases[i].want);
	}
}

static void
test_list(void **state)
{
	struct cidr *cs;
	size_t n;
	struct sockaddr_storage a = addr("10.9.8.7"), b = addr("11.0.0.1");

	assert_int_equal(cidr_parse_list("127.0.0.0/8  10.0.0.0/8", &cs, &n),
	    0);
	assert_int_equal(n, 2);
	assert_true(cidr_match_any(cs, n, &a));
	assert_false(cidr_match_any(cs, n, &b));
	free(cs);
	assert_int_equal(cidr_parse_list(NULL, &cs, &n), 0);
	assert_int_equal(n, 0);
	assert_false(cidr_match_any(cs, n, &a));
	assert_int_equal(cidr_parse_list("10.0.0.0/8 bogus", &cs, &n), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_list),
	};

	return cmocka_run_group_tests_name("net/cidr", tests, NULL, NULL);
}
