/* imap_cmd_list_test.c: the LIST pattern matcher of
 * src/imap/imap_cmd_list.c ('*', '%', INBOX in any case), its time on
 * patterns that make backtracking matchers exponential, and the set
 * and string writers of imap_cmd_util.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "imap/imap_cmd_list.c"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const struct {
	const char	*pat;
	const char	*name;
	bool		 want;
} cases[] = {
	{ "*", "INBOX", true },
	{ "*", "a/b/c", true },
	{ "%", "a", true },
	{ "%", "a/b", false },
	{ "a/%", "a/b", true },
	{ "a/%", "a/b/c", false },
	{ "a/*", "a/b/c", true },
	{ "a/*", "a", false },
	{ "a*", "ab", true },
	{ "a*", "a/b", true },
	{ "a%", "a/b", false },
	{ "%/%", "a/b", true },
	{ "%/%", "a/b/c", false },
	{ "*/c", "a/b/c", true },
	{ "%c", "abc", true },
	{ "%c", "a/c", false },
	{ "", "", true },
	{ "", "a", false },
	{ "a", "", false },
	{ "abc", "abc", true },
	{ "abc", "abd", false },
	{ "abc", "ABC", false },
	{ "*%*", "x", true },
	{ "%*%", "x/y", true },
	{ "%%", "x/y", false },
	{ "a**b", "a/x/b", true },
	{ "a%*b", "a/x/b", true },
	{ "a%%b", "a/x/b", false },
	/* INBOX in any case, as the first component only */
	{ "inbox", "INBOX", true },
	{ "InBoX/%", "INBOX/sub", true },
	{ "inb*", "INBOX", true },
	{ "inbox", "INBOXES", false },
	{ "x/inbox", "x/INBOX", false },
	/* UTF-8 bytes match as bytes */
	{ "\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9", true },
	{ "%t\xc3\xa9", "\xc3\xa9t\xc3\xa9", true },
};

static void
test_match(void **state)
{
	size_t i;
	bool got;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		got = imap_list_match(str_cstr(cases[i].pat), cases[i].name);
		if (got != cases[i].want)
			fail_msg("pattern \"%s\" name \"%s\": got %d",
			    cases[i].pat, cases[i].name, got);
	}
}

/* "*%*%...*%b" against a long name of 'a': exponential for a
 * backtracking matcher, a few million steps here. */
static void
test_match_time(void **state)
{
	char name[201], *pat;
	size_t i, n = 30000;
	clock_t t0;

	(void)state;
	memset(name, 'a', 200);
	name[200] = '\0';
	pat = xmalloc(2 * n + 2);
	for (i = 0; i < n; i++) {
		pat[2 * i] = '*';
		pat[2 * i + 1] = i % 2 ? '%' : 'a';
	}
	pat[2 * n] = 'b';
	pat[2 * n + 1] = '\0';
	t0 = clock();
	/* 15000 literal 'a's: more than the name holds, refused at once */
	assert_false(imap_list_match(str_cstr(pat), name));
	for (i = 0; i < 2 * n; i++)
		pat[i] = i % 2 ? '%' : '*';
	assert_false(imap_list_match(str_cstr(pat), name));
	pat[2 * n] = 'a';
	assert_true(imap_list_match(str_cstr(pat), name));
	for (i = 0; i < 398; i++)
		pat[i] = i % 2 ? 'a' : '%';
	memcpy(pat + 398, "*b", 3);
	assert_false(imap_list_match(str_cstr(pat), name));
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
	free(pat);
}

static void
test_set(void **state)
{
	uint32_t v[] = { 1, 2, 3, 5, 7, 8, 10 };
	uint32_t one[] = { 4294967295u };
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	imap_cmd_write_set(&b, v, NELEM(v));
	assert_int_equal(b.len, strlen("1:3,5,7:8,10"));
	assert_memory_equal(b.p, "1:3,5,7:8,10", b.len);
	buf_reset(&b);
	imap_cmd_write_set(&b, one, 1);
	assert_memory_equal(b.p, "4294967295", b.len);
	buf_reset(&b);
	imap_cmd_write_set(&b, v, 0);
	assert_int_equal(b.len, 0);
	imap_cmd_write_quoted(&b, str_cstr("a\"b\\c"));
	assert_int_equal(b.len, strlen("\"a\\\"b\\\\c\""));
	assert_memory_equal(b.p, "\"a\\\"b\\\\c\"", b.len);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_match_time),
		cmocka_unit_test(test_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
