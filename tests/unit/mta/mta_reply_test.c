/* mta_reply_test.c: tables of valid and invalid SMTP replies for
 * src/mta/mta_reply.c.  Every case also runs split at every offset (the
 * caller's buffer growing), and fed byte by byte with the checked lines
 * consumed as the SMTP client does, and must give the same result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mta/mta_reply.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define S(x)	(x), sizeof(x) - 1
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define ALL	0	/* ret: the whole input */

struct reply_case {
	const char	*in;
	size_t		 len;
	int		 ret;		/* ALL, -1 */
	int		 code;
	const char	*status;
	const char	*text;
	bool		 ehlo;
	unsigned	 flags;
	uint64_t	 size;
	unsigned	 auth;
};

static const struct reply_case cases[] = {
	{ S("220 mx.example.net ESMTP\r\n"), ALL, 220, "",
	    "mx.example.net ESMTP" },
	{ S("250 2.1.0 Ok\r\n"), ALL, 250, "2.1.0", "Ok" },
	{ S("250\r\n"), ALL, 250, "", "" },
	{ S("250 \r\n"), ALL, 250, "", "" },
	{ S("250 Ok\n"), ALL, 250, "", "Ok" },		/* bare LF */
	{ S("550-5.1.1 The email account\r\n550-5.1.1 does not\r\n"
	    "550 5.1.1 exist.\r\n"), ALL, 550, "5.1.1",
	    "The email account does not exist." },
	{ S("550-first\r\n550 second\r\n"), ALL, 550, "", "first second" },
	/* a status of another class is text */
	{ S("550 2.1.1 odd\r\n"), ALL, 550, "", "2.1.1 odd" },
	{ S("451 4.7.1234 no\r\n"), ALL, 451, "", "4.7.1234 no" },
	{ S("451 4.7.123 yes\r\n"), ALL, 451, "4.7.123", "yes" },
	{ S("421 4.4.2\r\n"), ALL, 421, "4.4.2", "" },
	{ S("354 go\r\n"), ALL, 354, "", "go" },
	{ S("250 a\tb\x01\r\n"), ALL, 250, "", "a b?" },
	/* errors */
	{ S("25O ok\r\n"), -1 },
	{ S("150 ok\r\n"), -1 },
	{ S("650 ok\r\n"), -1 },
	{ S("2500 ok\r\n"), -1 },
	{ S("25\r\n"), -1 },
	{ S("\r\n"), -1 },
	{ S("250-a\r\n251 b\r\n"), -1 },		/* codes differ */
	{ S("250_ok\r\n"), -1 },
	{ S("garbage\r\n"), -1 },
	/* EHLO */
	{ S("250-mx.example.net hello\r\n"
	    "250-PIPELINING\r\n"
	    "250-SIZE 10240000\r\n"
	    "250-8bitmime\r\n"
	    "250-SMTPUTF8\r\n"
	    "250-STARTTLS\r\n"
	    "250-AUTH PLAIN LOGIN XOAUTH2\r\n"
	    "250-DSN\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n"
	    "250 CHUNKING\r\n"), ALL, 250, "",
	    "mx.example.net hello PIPELINING SIZE 10240000 8bitmime SMTPUTF8 "
	    "STARTTLS AUTH PLAIN LOGIN XOAUTH2 DSN ENHANCEDSTATUSCODES "
	    "CHUNKING", true,
	    MTA_EXT_PIPELINING | MTA_EXT_SIZE | MTA_EXT_8BITMIME |
	    MTA_EXT_SMTPUTF8 | MTA_EXT_STARTTLS | MTA_EXT_AUTH | MTA_EXT_DSN |
	    MTA_EXT_ENHANCEDSTATUSCODES | MTA_EXT_CHUNKING, 10240000,
	    MTA_AUTH_PLAIN | MTA_AUTH_LOGIN },
	{ S("250-x\r\n250-AUTH=LOGIN CRAM-MD5\r\n250 SIZE\r\n"), ALL, 250, "",
	    "x AUTH=LOGIN CRAM-MD5 SIZE", true, MTA_EXT_AUTH | MTA_EXT_SIZE,
	    0, MTA_AUTH_LOGIN | MTA_AUTH_CRAM_MD5 },
	{ S("250-x\r\n250 SIZE 99999999999999999999999\r\n"), ALL, 250, "",
	    "x SIZE 99999999999999999999999", true, MTA_EXT_SIZE, 0 },
	{ S("250-x\r\n250 SIZE abc\r\n"), ALL, 250, "", "x SIZE abc", true,
	    MTA_EXT_SIZE, 0 },
	/* the first line's words are not keywords */
	{ S("250 PIPELINING\r\n"), ALL, 250, "", "PIPELINING", true, 0 },
	{ S("250-x\r\n250 PIPELININGX\r\n"), ALL, 250, "", "x PIPELININGX",
	    true, 0 },
};

static void
check(const struct reply_case *tc, const struct mta_reply *r, int ret,
    const char *how, size_t cut)
{
	int want = tc->ret == ALL ? (int)tc->len : tc->ret;

	if (ret != want)
		fail_msg("%s cut %zu: %.*s: ret %d, want %d", how, cut,
		    (int)tc->len, tc->in, ret, want);
	if (ret < 0)
		return;
	if (r->code != tc->code || strcmp(r->status, tc->status) != 0 ||
	    strcmp(r->text, tc->text) != 0)
		fail_msg("%s cut %zu: %.*s: got %d \"%s\" \"%s\"", how, cut,
		    (int)tc->len, tc->in, r->code, r->status, r->text);
	if (tc->ehlo && (r->ext.flags != tc->flags ||
	    r->ext.size_max != tc->size || r->ext.auth != tc->auth))
		fail_msg("%s: %.*s: ext %#x %llu %#x", how, (int)tc->len,
		    tc->in, r->ext.flags, (unsigned long long)r->ext.size_max,
		    r->ext.auth);
}

static void
test_whole(void **state)
{
	for (size_t i = 0; i < NELEM(cases); i++) {
		const struct reply_case *tc = &cases[i];
		struct mta_reply r;

		mta_reply_init(&r);
		r.ehlo = tc->ehlo;
		check(tc, &r, mta_reply_parse(&r, tc->in, tc->len), "whole", 0);
	}
}

/* The buffer grows: the first part, then all of it. */
static void
test_split(void **state)
{
	for (size_t i = 0; i < NELEM(cases); i++) {
		const struct reply_case *tc = &cases[i];

		for (size_t cut = 0; cut < tc->len; cut++) {
			struct mta_reply r;
			int ret;

			mta_reply_init(&r);
			r.ehlo = tc->ehlo;
			ret = mta_reply_parse(&r, tc->in, cut);
			if (ret == -1 && tc->ret == -1)
				continue;	/* seen early: fine */
			if (ret != 0)
				fail_msg("split %zu: %.*s: early %d", cut,
				    (int)tc->len, tc->in, ret);
			check(tc, &r, mta_reply_parse(&r, tc->in, tc->len),
			    "split", cut);
		}
	}
}

/* Byte by byte, consuming the checked lines like the SMTP client. */
static void
test_trickle(void **state)
{
	for (size_t i = 0; i < NELEM(cases); i++) {
		const struct reply_case *tc = &cases[i];
		struct mta_reply r;
		char buf[1024];
		size_t have = 0, used = 0;
		int ret = 0;

		mta_reply_init(&r);
		r.ehlo = tc->ehlo;
		for (size_t k = 0; k < tc->len; k++) {
			buf[have++] = tc->in[k];
			ret = mta_reply_parse(&r, buf, have);
			if (ret != 0)
				break;
			memmove(buf, buf + r.off, have - r.off);
			used += r.off;
			have -= r.off;
			r.off = 0;
		}
		if (ret > 0)
			ret += (int)used;
		check(tc, &r, ret, "trickle", 0);
	}
}

static void
test_limits(void **state)
{
	static char big[MTA_REPLY_LINE_MAX + 16];
	struct mta_reply r;
	char *many;
	size_t n = 0;

	/* a line past the limit, even without its end */
	memset(big, 'a', sizeof(big));
	memcpy(big, "250 ", 4);
	mta_reply_init(&r);
	assert_int_equal(mta_reply_parse(&r, big, sizeof(big)), -1);
	mta_reply_init(&r);
	assert_int_equal(mta_reply_parse(&r, big, MTA_REPLY_LINE_MAX), 0);
	/* exactly the limit is fine */
	memcpy(big + MTA_REPLY_LINE_MAX, "\r\n", 2);
	mta_reply_init(&r);
	assert_int_equal(mta_reply_parse(&r, big, MTA_REPLY_LINE_MAX + 2),
	    MTA_REPLY_LINE_MAX + 2);
	assert_int_equal(strlen(r.text), MTA_REPLY_TEXT_MAX - 1);
	/* too many lines */
	many = malloc((MTA_REPLY_LINES_MAX + 1) * 8);
	assert_non_null(many);
	for (size_t i = 0; i < MTA_REPLY_LINES_MAX; i++) {
		memcpy(many + n, "250-xx\r\n", 8);
		n += 8;
	}
	memcpy(many + n, "250 xx\r\n", 8);
	mta_reply_init(&r);
	assert_int_equal(mta_reply_parse(&r, many, n + 8), -1);
	mta_reply_init(&r);
	assert_int_equal(mta_reply_parse(&r, many + 8, n), (int)n);
	free(many);
}

static void
test_line_and_status(void **state)
{
	struct mta_reply r;
	char line[600];

	mta_reply_init(&r);
	assert_true(mta_reply_parse(&r, S("550-5.1.1 a\r\n550 5.1.1 b\r\n")) >
	    0);
	mta_reply_line(&r, line, sizeof(line));
	assert_string_equal(line, "550 5.1.1 a b");
	mta_reply_init(&r);
	assert_true(mta_reply_parse(&r, S("250\r\n")) > 0);
	mta_reply_line(&r, line, sizeof(line));
	assert_string_equal(line, "250");
	assert_int_equal(mta_reply_status_len(S("5.1.1"), '5'), 5);
	assert_int_equal(mta_reply_status_len(S("5.1.1 x"), 0), 5);
	assert_int_equal(mta_reply_status_len(S("5.1.1x"), 0), 0);
	assert_int_equal(mta_reply_status_len(S("4.1.1"), '5'), 0);
	assert_int_equal(mta_reply_status_len(S("3.1.1"), 0), 0);
	assert_int_equal(mta_reply_status_len(S("5..1"), 0), 0);
	assert_int_equal(mta_reply_status_len(S("5.123.456"), 0), 9);
	assert_int_equal(mta_reply_status_len(S("5.1234.4"), 0), 0);
	/* a second reply after the first is left for later */
	mta_reply_init(&r);
	assert_int_equal(mta_reply_parse(&r, S("250 a\r\n250 b\r\n")), 7);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_trickle),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_line_and_status),
	};

	return cmocka_run_group_tests_name("mta/mta_reply", tests, NULL, NULL);
}
