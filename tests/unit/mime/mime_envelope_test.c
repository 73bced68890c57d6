/* mime_envelope_test.c: tests for src/mime/mime_envelope.c: RFC 5322
 * address lists (the RFC's own appendix A examples among them) as IMAP
 * address structures, and whole ENVELOPEs.  Expected text uses ` for ". */
#include "mime_testlib.c"

#include "mime/mime_envelope.h"

struct mime_addr_case {
	const char	*in;
	const char	*want;
};

static const struct mime_addr_case mime_addr_cases[] = {
	{ "user@domain", "((NIL NIL `user` `domain`))" },
	{ "<user@domain>", "((NIL NIL `user` `domain`))" },
	{ "foo bar <user@domain>", "((`foo bar` NIL `user` `domain`))" },
	{ "\"foo bar\" <user@domain>", "((`foo bar` NIL `user` `domain`))" },
	{ "<@route:user@domain>", "((NIL `@route` `user` `domain`))" },
	{ "<@a@b@c@d@e@f:u@h>", "((NIL `@a,@b,@c,@d,@e,@f` `u` `h`))" },
	{ "<@route@route2:user@domain>",
	  "((NIL `@route,@route2` `user` `domain`))" },
	{ "hello <@route ,@route2:user@domain>",
	  "((`hello` `@route,@route2` `user` `domain`))" },
	{ "user (hello)", "((`hello` NIL `user` `MISSING_DOMAIN`))" },
	{ "hello <user>", "((`hello` NIL `user` `MISSING_DOMAIN`))" },
	{ "@domain", "((NIL NIL `MISSING_MAILBOX` `domain`))" },
	{ "<>", "((NIL NIL `MISSING_MAILBOX` `MISSING_DOMAIN`))" },
	{ "user@domain (Real Name)", "((`Real Name` NIL `user` `domain`))" },
	{ "group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;",
	  "((NIL NIL `group` NIL)(NIL NIL `g1` `d1.org`)(NIL NIL `g2` "
	  "`d2.org`)(NIL NIL NIL NIL)(NIL NIL `group2` NIL)(NIL NIL `g3` "
	  "`d3.org`)(NIL NIL NIL NIL))" },
	{ "group:;, group2: (foo) ;",
	  "((NIL NIL `group` NIL)(NIL NIL NIL NIL)(NIL NIL `group2` NIL)"
	  "(NIL NIL NIL NIL))" },
	{ "undisclosed-recipients:;",
	  "((NIL NIL `undisclosed-recipients` NIL)(NIL NIL NIL NIL))" },
	/* RFC 5322 A.1.2 */
	{ "Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
	  "((`Mary Smith` NIL `mary` `x.test`)(NIL NIL `jdoe` `example.org`)"
	  "(`Who?` NIL `one` `y.test`))" },
	{ "<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
	  "((NIL NIL `boss` `nil.test`)(`Giant; \\`Big\\` Box` NIL "
	  "`sysservices` `example.net`))" },
	/* RFC 5322 A.1.3 */
	{ "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
	  "((NIL NIL `A Group` NIL)(`Ed Jones` NIL `c` `a.test`)(NIL NIL `joe` "
	  "`where.test`)(`John` NIL `jdoe` `one.test`)(NIL NIL NIL NIL))" },
	/* RFC 5322 A.5 */
	{ "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
	  "((`Pete` NIL `pete` `silly.test`))" },
	{ "A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public"
	  ".example>,\r\n         joe@example.org,\r\n  John <jdoe@one.test> "
	  "(my dear friend); (the end of the group)",
	  "((NIL NIL `A Group` NIL)(`Chris Jones` NIL `c` `public.example`)"
	  "(NIL NIL `joe` `example.org`)(`John` NIL `jdoe` `one.test`)"
	  "(NIL NIL NIL NIL))" },
	/* RFC 5322 A.6.3 (obsolete white space and comments) */
	{ "John Q. Public <jqp@example.com>",
	  "((`John Q. Public` NIL `jqp` `example.com`))" },
	{ "Joe Q. Public <john.q.public@example.com>, Mary Smith <@node.test:"
	  "mary@example.net>, , jdoe@test  . example",
	  "((`Joe Q. Public` NIL `john.q.public` `example.com`)(`Mary Smith` "
	  "`@node.test` `mary` `example.net`)(NIL NIL `jdoe` `test.example`))" },
	{ "a.b . c@d", "((NIL NIL `a.b.c` `d`))" },
	{ "\"john \\\"jd\\\" doe\"@example.com",
	  "((NIL NIL `\\`john \\\\\\`jd\\\\\\` doe\\`` `example.com`))" },
	{ "=?utf-8?q?J=C3=B6rg?= <j@x.de>",
	  "((`=?utf-8?q?J=C3=B6rg?=` NIL `j` `x.de`))" },
	{ "J\xc3\xb6rg <j@x.de>", "(({5}\r\nJ\xc3\xb6rg NIL `j` `x.de`))" },
	{ "a@b; c@d", "((NIL NIL `a` `b`)(NIL NIL `c` `d`))" },
	{ "a@[192.0.2.1]", "((NIL NIL `a` `[192.0.2.1]`))" },
	{ "\"\" <a@b>", "((NIL NIL `a` `b`))" },
	{ "\"unterminated <a@b>",
	  "((NIL NIL `\\`unterminated <a@b>` `MISSING_DOMAIN`))" },
	{ "a@b>junk, c@d", "((NIL NIL `a` `b`)(NIL NIL `c` `d`))" },
	{ "<a@b", "((NIL NIL `a` `b`))" },
	{ "Fred", "((NIL NIL `Fred` `MISSING_DOMAIN`))" },
	{ "", "NIL" },
	{ ",, ,", "NIL" },
	{ "  (just a comment)  ", "NIL" },
	{ ";", "NIL" },
	{ "g: a@b", "((NIL NIL `g` NIL)(NIL NIL `a` `b`)(NIL NIL NIL NIL))" },
	{ "g: h: a@b;", "((NIL NIL `g` NIL)(NIL NIL `h:a` `b`)"
	  "(NIL NIL NIL NIL))" },
	{ "(((", "NIL" },
	{ "a@b (c", "((`c` NIL `a` `b`))" },
	{ "<<<>>>", "((NIL NIL `MISSING_MAILBOX` `MISSING_DOMAIN`))" },
};

static void
mime_want(const struct buf *got, const char *want_q, const char *in)
{
	char *want = mime_test_q(want_q);

	if (got->len != strlen(want) || memcmp(got->p, want, got->len) != 0) {
		fprintf(stderr, "in:   %s\ngot:  %.*s\nwant: %s\n", in,
		    (int)got->len, got->p, want);
		fail();
	}
	free(want);
}

static void
test_addresses(void **state)
{
	struct buf b;
	size_t i;

	buf_init(&b, 64 * 1024);
	for (i = 0; i < sizeof(mime_addr_cases) / sizeof(mime_addr_cases[0]);
	    i++) {
		const struct mime_addr_case *tc = &mime_addr_cases[i];

		buf_reset(&b);
		assert_int_equal(mime_envelope_addresses(&b,
		    str_cstr(tc->in)), 0);
		mime_want(&b, tc->want, tc->in);
	}
	buf_free(&b);
}

/* Every prefix of every case: never a crash, always a list or NIL. */
static void
test_address_prefixes(void **state)
{
	struct buf b;
	size_t i, n;

	buf_init(&b, 64 * 1024);
	for (i = 0; i < sizeof(mime_addr_cases) / sizeof(mime_addr_cases[0]);
	    i++) {
		const char *in = mime_addr_cases[i].in;

		for (n = 0; n <= strlen(in); n++) {
			buf_reset(&b);
			assert_int_equal(mime_envelope_addresses(&b,
			    str_make(in, n)), 0);
			assert_true(b.len >= 3);
			assert_true(b.p[0] == '(' || memcmp(b.p, "NIL", 3) == 0);
		}
	}
	buf_free(&b);
}

struct mime_env_case {
	const char	*msg;
	const char	*want;
};

static const struct mime_env_case mime_env_cases[] = {
	{ "From: a@b\nSender:\nReply-To: (nobody)\nTo: c@d\n\n",
	  "(NIL NIL ((NIL NIL `a` `b`)) ((NIL NIL `a` `b`)) ((NIL NIL `a` `b`)) "
	  "((NIL NIL `c` `d`)) NIL NIL NIL NIL)" },
	{ "Sender: s@x\nReply-To: r@x\n\n",
	  "(NIL NIL NIL ((NIL NIL `s` `x`)) ((NIL NIL `r` `x`)) NIL NIL NIL NIL "
	  "NIL)" },
	{ "Subject: say \"hi\" \\ back\nDate:   Mon, 1 Jan 2024 00:00:00 "
	  "+0000\nMessage-ID: <a@b>\nIn-Reply-To: <x@y> <z@w>\nBcc:\n\n",
	  "(`Mon, 1 Jan 2024 00:00:00 +0000` `say \\`hi\\` \\\\ back` NIL NIL NIL"
	  " NIL NIL NIL `<x@y> <z@w>` `<a@b>`)" },
	{ "Subject:\nSubject: second\nFrom: first@x\nFrom: second@x\n\n",
	  "(NIL `` ((NIL NIL `first` `x`)) ((NIL NIL `first` `x`)) ((NIL NIL "
	  "`first` `x`)) NIL NIL NIL NIL NIL)" },
	{ "Subject: folded\n\tline\n  two\nCc: a@b,\n c@d\n\n",
	  "(NIL `folded\tline  two` NIL NIL NIL NIL ((NIL NIL `a` `b`)(NIL NIL "
	  "`c` `d`)) NIL NIL NIL)" },
	{ "Subject: a\rb\n\n", "(NIL {3}\r\na\rb NIL NIL NIL NIL NIL NIL NIL "
	  "NIL)" },
	{ "subject : spaced\nFROM: UP@CASE\n\n",
	  "(NIL `spaced` ((NIL NIL `UP` `CASE`)) ((NIL NIL `UP` `CASE`)) ((NIL "
	  "NIL `UP` `CASE`)) NIL NIL NIL NIL NIL)" },
};

static void
test_envelopes(void **state)
{
	struct mime_message *msg;
	struct buf b;
	size_t i, len;
	char *data;

	buf_init(&b, 64 * 1024);
	for (i = 0; i < sizeof(mime_env_cases) / sizeof(mime_env_cases[0]);
	    i++) {
		data = mime_test_crlf(mime_env_cases[i].msg, &len);
		msg = mime_parse_buffer(data, len);
		buf_reset(&b);
		assert_int_equal(mime_envelope_write(&b, msg->root), 0);
		mime_want(&b, mime_env_cases[i].want, mime_env_cases[i].msg);
		mime_parse_message_free(&msg);
		free(data);
	}
	buf_free(&b);
}

/* The output cap is honoured. */
static void
test_cap(void **state)
{
	struct buf b;

	buf_init(&b, 10);
	assert_int_equal(mime_envelope_addresses(&b,
	    STR_LIT("someone@example.org")), -1);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_address_prefixes),
		cmocka_unit_test(test_envelopes),
		cmocka_unit_test(test_cap),
	};

	return cmocka_run_group_tests_name("mime/mime_envelope", tests, NULL,
	    NULL);
}
