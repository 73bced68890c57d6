/* pop3_parse_test.c: tables of valid and invalid inputs for every
 * tokenizer in src/pop3/pop3_parse.c.  The line finder and the RETR/TOP
 * transformer are also run split at every offset and fed byte by byte,
 * and must give exactly what they give when fed whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pop3/pop3_parse.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define S(x)	(x), sizeof(x) - 1
#define CHECK(cond, ...) do {						\
	if (!(cond))							\
		fail_msg(__VA_ARGS__);					\
} while (0)
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* --- the line finder ------------------------------------------------- */

static const struct line_case {
	const char	*in;
	size_t		 len;
	size_t		 max, long_max;
	bool		 sasl;
	const char	*want;	/* each line then '|'; "!" for too long */
	size_t		 wlen;	/* 0: strlen(want) */
} line_cases[] = {
	{ S("QUIT\r\n"), 512, 2048, false, "QUIT|" },
	{ S("QUIT\n"), 512, 2048, false, "QUIT|" },
	{ S("QUIT"), 512, 2048, false, "" },
	{ S("QUIT\r"), 512, 2048, false, "" },
	{ S(""), 512, 2048, false, "" },
	{ S("\r\n"), 512, 2048, false, "|" },
	{ S("A\r\nB\r\n"), 512, 2048, false, "A|B|" },
	{ S("A\nB\r\nC"), 512, 2048, false, "A|B|" },
	{ S("A\r\r\n"), 512, 2048, false, "A\r|" },
	{ S("1234567\n"), 8, 8, false, "1234567|" },
	{ S("123456\r\n"), 8, 8, false, "123456|" },
	{ S("1234567\r\n"), 8, 8, false, "!" },
	{ S("1234567\r\nNOOP\r\n"), 8, 8, false, "!NOOP|" },
	{ S("12345678"), 8, 8, false, "!" },
	{ S("12345678901234567890\r\nSTAT\r\n"), 8, 8, false, "!STAT|" },
	{ S("123456789012345678901234567890"), 8, 8, false, "!" },
	{ S("PASS 123456789\r\n"), 8, 32, false, "PASS 123456789|" },
	{ S("pass a b c d e f\r\n"), 8, 32, false, "pass a b c d e f|" },
	{ S("AUTH PLAIN AGFsaWNlAHB3\r\n"), 8, 32, false,
	    "AUTH PLAIN AGFsaWNlAHB3|" },
	{ S("PASS 1234567890123456789012345678\r\nQUIT\r\n"), 8, 32, false,
	    "!QUIT|" },
	{ S("USER 123456789\r\nQUIT\r\n"), 8, 32, false, "!QUIT|" },
	{ S("PASSX123456789\r\n"), 8, 32, false, "!" },
	{ S("AGFsaWNlAHB3\r\n"), 8, 32, true, "AGFsaWNlAHB3|" },
	{ S("AGFsaWNlAHB3\r\n"), 8, 32, false, "!" },
	{ S("A\0B\r\n"), 512, 2048, false, "A\0B|", 4 },
};

/* Process whatever is complete in buf, as the session does. */
static void
lex_drain(struct pop3_lexer *lx, char *buf, size_t *blen, char *out,
    size_t *olen)
{
	enum pop3_lex r;
	struct str line;
	size_t used;

	for (;;) {
		r = pop3_lex_line(lx, buf, *blen, &line, &used);
		if (r == POP3_LEX_LINE) {
			memcpy(out + *olen, line.p, line.len);
			*olen += line.len;
			out[(*olen)++] = '|';
		} else if (r == POP3_LEX_TOOLONG) {
			out[(*olen)++] = '!';
		}
		assert_true(used <= *blen);
		memmove(buf, buf + used, *blen - used);
		*blen -= used;
		if (r == POP3_LEX_MORE && used == 0)
			return;
	}
}

/* Feed tc->in in pieces ending at cuts[] (then the rest). */
static size_t
lex_run(const struct line_case *tc, const size_t *cuts, size_t ncuts,
    char *out)
{
	struct pop3_lexer lx;
	char buf[4096];
	size_t blen = 0, olen = 0, pos = 0, end;

	pop3_lex_init(&lx, tc->max, tc->long_max);
	lx.sasl = tc->sasl;
	for (size_t k = 0; k <= ncuts; k++) {
		end = k < ncuts ? cuts[k] : tc->len;
		memcpy(buf + blen, tc->in + pos, end - pos);
		blen += end - pos;
		pos = end;
		lex_drain(&lx, buf, &blen, out, &olen);
	}
	return olen;
}

static void
test_lex(void **state)
{
	char out[4096], out2[4096];
	size_t cuts[4096];
	size_t i, n, n2, wl;

	for (i = 0; i < NELEM(line_cases); i++) {
		const struct line_case *tc = &line_cases[i];

		wl = tc->wlen != 0 ? tc->wlen : strlen(tc->want);
		n = lex_run(tc, NULL, 0, out);
		CHECK(n == wl && memcmp(out, tc->want, n) == 0,
		    "lex case %zu: got <%.*s> want <%s>", i, (int)n, out,
		    tc->want);
		for (size_t cut = 0; cut <= tc->len; cut++) {
			n2 = lex_run(tc, &cut, 1, out2);
			CHECK(n2 == n && memcmp(out, out2, n) == 0,
			    "lex case %zu split at %zu: <%.*s>", i, cut,
			    (int)n2, out2);
		}
		for (size_t k = 0; k < tc->len; k++)
			cuts[k] = k + 1;
		n2 = lex_run(tc, cuts, tc->len, out2);
		CHECK(n2 == n && memcmp(out, out2, n) == 0,
		    "lex case %zu byte by byte: <%.*s>", i, (int)n2, out2);
	}
}

static void
test_lex_reset(void **state)
{
	struct pop3_lexer lx;
	struct str line;
	size_t used;

	pop3_lex_init(&lx, 8, 8);
	assert_int_equal(pop3_lex_line(&lx, S("123456789"), &line, &used),
	    POP3_LEX_TOOLONG);
	assert_true(lx.skipping);
	pop3_lex_reset(&lx);	/* STLS: the buffer was thrown away */
	assert_int_equal(pop3_lex_line(&lx, S("CAPA\r\n"), &line, &used),
	    POP3_LEX_LINE);
	assert_int_equal(used, 6);
	assert_int_equal(line.len, 4);
	/* a tiny max is raised to something usable */
	pop3_lex_init(&lx, 1, 0);
	assert_int_equal(lx.max, 8);
	assert_int_equal(lx.long_max, 8);
}

/* --- command lines --------------------------------------------------- */

static const struct cmd_case {
	const char	*line;
	size_t		 len;
	int		 ret;
	enum pop3_verb	 verb;
	size_t		 argc;
	const char	*a0, *a1;
	bool		 too_many;
	const char	*rest;
} cmd_cases[] = {
	{ S("QUIT"), 0, POP3_VERB_QUIT, 0, NULL, NULL, false, "" },
	{ S("quit"), 0, POP3_VERB_QUIT, 0, NULL, NULL, false, "" },
	{ S("CaPa"), 0, POP3_VERB_CAPA, 0, NULL, NULL, false, "" },
	{ S("LIST 1"), 0, POP3_VERB_LIST, 1, "1", NULL, false, "1" },
	{ S("LIST  1 "), 0, POP3_VERB_LIST, 1, "1", NULL, false, " 1 " },
	{ S("TOP 1 10"), 0, POP3_VERB_TOP, 2, "1", "10", false, "1 10" },
	{ S("TOP 1 10 5"), 0, POP3_VERB_TOP, 2, "1", "10", true, "1 10 5" },
	{ S("STAT "), 0, POP3_VERB_STAT, 0, NULL, NULL, false, "" },
	{ S("UIDL"), 0, POP3_VERB_UIDL, 0, NULL, NULL, false, "" },
	{ S("RETR 7"), 0, POP3_VERB_RETR, 1, "7", NULL, false, "7" },
	{ S("DELE 7"), 0, POP3_VERB_DELE, 1, "7", NULL, false, "7" },
	{ S("RSET"), 0, POP3_VERB_RSET, 0 },
	{ S("NOOP"), 0, POP3_VERB_NOOP, 0 },
	{ S("STLS"), 0, POP3_VERB_STLS, 0 },
	{ S("APOP a b"), 0, POP3_VERB_APOP, 2, "a", "b", false, "a b" },
	{ S("USER alice@example.test"), 0, POP3_VERB_USER, 1,
	    "alice@example.test", NULL, false, "alice@example.test" },
	{ S("USER \xc3\xa9t\xc3\xa9"), 0, POP3_VERB_USER, 1,
	    "\xc3\xa9t\xc3\xa9", NULL, false, "\xc3\xa9t\xc3\xa9" },
	{ S("PASS a b  c "), 0, POP3_VERB_PASS, 0, NULL, NULL, false,
	    "a b  c " },
	{ S("PASS  x"), 0, POP3_VERB_PASS, 0, NULL, NULL, false, " x" },
	{ S("PASS "), 0, POP3_VERB_PASS, 0, NULL, NULL, false, "" },
	{ S("PASS"), 0, POP3_VERB_PASS, 0, NULL, NULL, false, "" },
	{ S("PASS a\tb"), 0, POP3_VERB_PASS, 0, NULL, NULL, false, "a\tb" },
	{ S("PASS a\0b"), -1 },
	{ S("PASS a\rb"), -1 },
	{ S("AUTH PLAIN AGFsaWNlAHB3"), 0, POP3_VERB_AUTH, 2, "PLAIN",
	    "AGFsaWNlAHB3", false, "PLAIN AGFsaWNlAHB3" },
	{ S("AUTH"), 0, POP3_VERB_AUTH, 0 },
	{ S("XTND"), 0, POP3_VERB_UNKNOWN, 0 },
	{ S("TOP"), 0, POP3_VERB_TOP, 0 },
	{ S("LAST"), 0, POP3_VERB_UNKNOWN, 0 },
	{ S("A"), 0, POP3_VERB_UNKNOWN, 0 },
	{ S(""), -1 },
	{ S(" LIST"), -1 },
	{ S("LISTX"), -1 },
	{ S("LI5T"), -1 },
	{ S("LIST\t1"), -1 },
	{ S("LIST 1\t"), -1 },
	{ S("USER a\x01"), -1 },
	{ S("RETR 1\0"), -1 },
	{ S("NOOP \x7f"), -1 },
	{ S("\xc3\xa9"), -1 },
};

static void
test_cmd(void **state)
{
	struct pop3_cmdline cl;
	int ret;

	for (size_t i = 0; i < NELEM(cmd_cases); i++) {
		const struct cmd_case *tc = &cmd_cases[i];

		ret = pop3_parse_cmd(str_make(tc->line, tc->len), &cl);
		CHECK(ret == tc->ret, "cmd case %zu: ret %d", i, ret);
		if (ret == -1)
			continue;
		CHECK(cl.verb == tc->verb, "cmd case %zu: verb %d", i, cl.verb);
		CHECK(cl.argc == tc->argc, "cmd case %zu: argc %zu", i,
		    cl.argc);
		CHECK(cl.too_many == tc->too_many, "cmd case %zu: too_many",
		    i);
		if (tc->argc > 0)
			CHECK(str_eq(cl.argv[0], str_cstr(tc->a0)),
			    "cmd case %zu: argv[0]", i);
		if (tc->argc > 1)
			CHECK(str_eq(cl.argv[1], str_cstr(tc->a1)),
			    "cmd case %zu: argv[1]", i);
		if (tc->rest != NULL)
			CHECK(str_eq(cl.rest, str_cstr(tc->rest)),
			    "cmd case %zu: rest <%.*s>", i, (int)cl.rest.len,
			    cl.rest.p);
	}
	assert_string_equal(pop3_verb_name(POP3_VERB_RETR), "RETR");
	assert_string_equal(pop3_verb_name(POP3_VERB_UNKNOWN), "?");
}

static const struct num_case {
	const char	*in;
	int		 ret;
	uint32_t	 n;
} num_cases[] = {
	{ "1", 0, 1 }, { "0", 0, 0 }, { "01", 0, 1 }, { "42", 0, 42 },
	{ "4294967295", 0, 4294967295U }, { "4294967296", -1 },
	{ "99999999999", -1 }, { "", -1 }, { "-1", -1 }, { "+1", -1 },
	{ "1a", -1 }, { "a", -1 }, { " 1", -1 }, { "1 ", -1 },
};

static void
test_num(void **state)
{
	uint32_t n;

	for (size_t i = 0; i < NELEM(num_cases); i++) {
		const struct num_case *tc = &num_cases[i];

		n = 12345;
		CHECK(pop3_parse_num(str_cstr(tc->in), &n) == tc->ret,
		    "num <%s>", tc->in);
		if (tc->ret == 0)
			CHECK(n == tc->n, "num <%s>: %u", tc->in, n);
	}
}

/* --- SASL ------------------------------------------------------------ */

static const struct b64_case {
	const char	*in;
	int		 ret;
	const char	*out;
	size_t		 outlen;
} b64_cases[] = {
	{ "", 0, S("") },
	{ "dGVzdA==", 0, S("test") },
	{ "dA==", 0, S("t") },
	{ "dGU=", 0, S("te") },
	{ "dGVz", 0, S("tes") },
	{ "AGFsaWNlAHB3", 0, S("\0alice\0pw") },
	{ "+/+/", 0, S("\xfb\xff\xbf") },
	{ "dGVzdA=", -1 },
	{ "dGVzdA", -1 },
	{ "dGV zdA==", -1 },
	{ "====", -1 },
	{ "d===", -1 },
	{ "d=Vz", -1 },
	{ "dG=z", -1 },
	{ "dGVzdA==dGVz", -1 },
	{ "dGVz\r\n", -1 },
	{ "dGV-", -1 },
	{ "*", -1 },
	{ "=", -1 },
};

static void
test_base64(void **state)
{
	unsigned char out[64];
	size_t len;

	for (size_t i = 0; i < NELEM(b64_cases); i++) {
		const struct b64_case *tc = &b64_cases[i];

		CHECK(pop3_parse_base64(str_cstr(tc->in), out, sizeof(out),
		    &len) == tc->ret, "b64 <%s>", tc->in);
		if (tc->ret == 0)
			CHECK(len == tc->outlen &&
			    memcmp(out, tc->out, len) == 0, "b64 <%s>: out",
			    tc->in);
	}
	/* the output never overruns */
	assert_int_equal(pop3_parse_base64(str_cstr("dGVz"), out, 2, &len),
	    -1);
	assert_int_equal(pop3_parse_base64(str_cstr("dGVz"), out, 3, &len),
	    0);
}

static const struct plain_case {
	const char	*in;
	size_t		 len;
	int		 ret;
	const char	*authz, *authc, *pass;
} plain_cases[] = {
	{ S("\0alice\0pw"), 0, "", "alice", "pw" },
	{ S("bob\0alice\0pw"), 0, "bob", "alice", "pw" },
	{ S("\0alice\0p w"), 0, "", "alice", "p w" },
	{ S("\0\0pw"), -1 },
	{ S("\0alice\0"), -1 },
	{ S("alice\0pw"), -1 },
	{ S("\0a\0b\0c"), -1 },
	{ S(""), -1 },
	{ S("\0"), -1 },
};

static void
test_plain(void **state)
{
	struct str z, c, p;

	for (size_t i = 0; i < NELEM(plain_cases); i++) {
		const struct plain_case *tc = &plain_cases[i];

		CHECK(pop3_parse_plain((const unsigned char *)tc->in, tc->len,
		    &z, &c, &p) == tc->ret, "plain case %zu", i);
		if (tc->ret == -1)
			continue;
		CHECK(str_eq(z, str_cstr(tc->authz)) &&
		    str_eq(c, str_cstr(tc->authc)) &&
		    str_eq(p, str_cstr(tc->pass)), "plain case %zu: parts", i);
	}
}

/* --- Maildir names --------------------------------------------------- */

static const struct md_case {
	const char	*name;
	const char	*base;
	bool		 has_size;
	uint64_t	 size;
	bool		 has_info;
	const char	*flags;
	uint64_t	 secs, usecs;
} md_cases[] = {
	{ "1700000000.M123P45Q1Rab.host,S=1234",
	    "1700000000.M123P45Q1Rab.host", true, 1234, false, "",
	    1700000000, 123 },
	{ "1700000000.M123P45Q1Rab.host,S=1234:2,S",
	    "1700000000.M123P45Q1Rab.host", true, 1234, true, "S",
	    1700000000, 123 },
	{ "1700000000.M9P1.h,S=1234,W=1260:2,RS", "1700000000.M9P1.h",
	    true, 1234, true, "RS", 1700000000, 9 },
	{ "1700000000.M9P1.h,W=1260,S=7:2,", "1700000000.M9P1.h",
	    true, 7, true, "", 1700000000, 9 },
	{ "name:2,", "name", false, 0, true, "", 0, 0 },
	{ "name", "name", false, 0, false, "", 0, 0 },
	{ "x,S=abc", "x", false, 0, false, "", 0, 0 },
	{ "x,S=12a", "x", false, 0, false, "", 0, 0 },
	{ "x,S=", "x", false, 0, false, "", 0, 0 },
	{ "x,S=99999999999999999999", "x", false, 0, false, "", 0, 0 },
	{ "x:1,foo", "x", false, 0, false, "", 0, 0 },
	{ "x:2,S:T", "x", false, 0, true, "S:T", 0, 0 },
	{ "1700.M5", "1700.M5", false, 0, false, "", 1700, 5 },
	{ "1700.Mx", "1700.Mx", false, 0, false, "", 1700, 0 },
	{ "1700", "1700", false, 0, false, "", 1700, 0 },
	{ "", "", false, 0, false, "", 0, 0 },
	{ ":2,S", "", false, 0, true, "S", 0, 0 },
	{ "a:2,S,S=5", "a", false, 0, true, "S,S=5", 0, 0 },
};

static void
test_mdname(void **state)
{
	struct pop3_mdname md;

	for (size_t i = 0; i < NELEM(md_cases); i++) {
		const struct md_case *tc = &md_cases[i];

		pop3_parse_mdname(str_cstr(tc->name), &md);
		CHECK(str_eq(md.base, str_cstr(tc->base)), "md <%s>: base "
		    "<%.*s>", tc->name, (int)md.base.len, md.base.p);
		CHECK(md.has_size == tc->has_size && md.size == tc->size,
		    "md <%s>: size", tc->name);
		CHECK(md.has_info == tc->has_info, "md <%s>: info", tc->name);
		CHECK(str_eq(md.flags, str_cstr(tc->flags)), "md <%s>: flags",
		    tc->name);
		CHECK(md.secs == tc->secs && md.usecs == tc->usecs,
		    "md <%s>: time %llu.%llu", tc->name,
		    (unsigned long long)md.secs, (unsigned long long)md.usecs);
	}
}

static void
uidl_check_charset(const char *u, size_t n)
{
	assert_true(n >= 1 && n <= POP3_UIDL_MAX);
	assert_int_equal(strlen(u), n);
	for (size_t i = 0; i < n; i++)
		assert_true(u[i] >= 0x21 && u[i] <= 0x7e);
}

static void
test_uidl(void **state)
{
	char u[POP3_UIDL_MAX + 1], v[POP3_UIDL_MAX + 1], in[300];
	size_t n;

	n = pop3_parse_uidl(str_cstr("1700000000.M1P2.host"), u);
	assert_string_equal(u, "1700000000.M1P2.host");
	assert_int_equal(n, 20);
	pop3_parse_uidl(str_cstr("a b"), u);
	assert_string_equal(u, "a%20b");
	pop3_parse_uidl(str_cstr("a%b~c"), u);
	assert_string_equal(u, "a%25b%7Ec");
	pop3_parse_uidl(str_make("\x01\xff", 2), u);
	assert_string_equal(u, "%01%FF");
	/* exactly 70: kept; 71: hashed */
	memset(in, 'x', 71);
	n = pop3_parse_uidl(str_make(in, 70), u);
	assert_int_equal(n, 70);
	assert_memory_equal(u, in, 70);
	n = pop3_parse_uidl(str_make(in, 71), u);
	assert_int_equal(n, 70);
	assert_memory_equal(u, in, 37);
	assert_int_equal(u[37], '~');
	uidl_check_charset(u, n);
	/* stable, and distinct for distinct long names */
	pop3_parse_uidl(str_make(in, 71), v);
	assert_string_equal(u, v);
	in[70] = 'y';
	pop3_parse_uidl(str_make(in, 71), v);
	assert_string_not_equal(u, v);
	/* 24 escaped bytes: 72 > 70, hashed; the prefix holds whole escapes */
	memset(in, 1, 24);
	n = pop3_parse_uidl(str_make(in, 24), u);
	assert_int_equal(n, 36 + 1 + 32);
	assert_int_equal(u[36], '~');
	uidl_check_charset(u, n);
	/* 23 escaped bytes: 69, kept */
	n = pop3_parse_uidl(str_make(in, 23), u);
	assert_int_equal(n, 69);
	/* empty base name: a hash still (1 to 70 characters) */
	n = pop3_parse_uidl(str_make("", 0), u);
	assert_int_equal(n, 33);
	assert_int_equal(u[0], '~');
	uidl_check_charset(u, n);
}

static void
test_add_seen(void **state)
{
	static const char *cases[][2] = {
		{ "", "S" }, { "RT", "RST" }, { "FR", "FRS" }, { "S", "S" },
		{ "a", "Sa" }, { "FTa", "FSTa" }, { "DFPRST", "DFPRST" },
		{ "T", "ST" },
	};
	char out[16];

	for (size_t i = 0; i < NELEM(cases); i++) {
		assert_int_equal(pop3_parse_add_seen(str_cstr(cases[i][0]), out,
		    sizeof(out)), 0);
		assert_string_equal(out, cases[i][1]);
	}
	assert_int_equal(pop3_parse_add_seen(str_cstr("RT"), out, 3), -1);
	assert_int_equal(pop3_parse_add_seen(str_cstr("RT"), out, 4), 0);
}

/* --- RETR and TOP ---------------------------------------------------- */

static const struct stuff_case {
	const char	*in;
	size_t		 len;
	bool		 top;
	uint64_t	 lines;
	const char	*want;
	size_t		 wlen;	/* 0: strlen(want) */
} stuff_cases[] = {
	{ S(""), false, 0, ".\r\n" },
	{ S("a\r\n"), false, 0, "a\r\n.\r\n" },
	{ S("a"), false, 0, "a\r\n.\r\n" },
	{ S("a\r"), false, 0, "a\r\n.\r\n" },
	{ S(".a\r\n"), false, 0, "..a\r\n.\r\n" },
	{ S("a\r\n.\r\n"), false, 0, "a\r\n..\r\n.\r\n" },
	{ S("a\r\n..\r\nb"), false, 0, "a\r\n...\r\nb\r\n.\r\n" },
	{ S("a\n.b\n"), false, 0, "a\r\n..b\r\n.\r\n" },
	{ S("a\rb\r\n"), false, 0, "a\rb\r\n.\r\n" },
	{ S("a\r.b\r\n"), false, 0, "a\r.b\r\n.\r\n" },
	{ S("x.y\r\n"), false, 0, "x.y\r\n.\r\n" },
	{ S("\r\n\r\n"), false, 0, "\r\n\r\n.\r\n" },
	{ S("a\0b\r\n"), false, 0, "a\0b\r\n.\r\n", 8 },
	{ S("H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n"), true, 0,
	    "H: 1\r\nH: 2\r\n\r\n.\r\n" },
	{ S("H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n"), true, 2,
	    "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\n.\r\n" },
	{ S("H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n"), true, 10,
	    "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n.\r\n" },
	{ S("H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3"), true, 3,
	    "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n.\r\n" },
	{ S("H: 1\r\n"), true, 0, "H: 1\r\n.\r\n" },
	{ S("H\n\nb\nc\n"), true, 1, "H\r\n\r\nb\r\n.\r\n" },
	{ S("H\r\n\r\n.b\r\n.c\r\n"), true, 1, "H\r\n\r\n..b\r\n.\r\n" },
	{ S("\r\nbody\r\n"), true, 0, "\r\n.\r\n" },
	{ S("H\r\n\r\n\r\n\r\nx\r\n"), true, 2, "H\r\n\r\n\r\n\r\n.\r\n" },
	{ S("H\r\n\r\nb1"), true, 1, "H\r\n\r\nb1\r\n.\r\n" },
};

/* Feed in pieces ending at cuts[] (then the rest). */
static size_t
stuff_run(const struct stuff_case *tc, const size_t *cuts, size_t ncuts,
    char *out)
{
	struct pop3_stuffer st;
	size_t o = 0, pos = 0, end, used;

	pop3_stuff_init(&st, tc->top, tc->lines);
	for (size_t k = 0; k <= ncuts && !st.done; k++) {
		end = k < ncuts ? cuts[k] : tc->len;
		o += pop3_stuff(&st, tc->in + pos, end - pos, out + o, &used);
		assert_true(used <= end - pos);
		if (!st.done)
			assert_int_equal(used, end - pos);
		pos = end;
	}
	o += pop3_stuff_end(&st, out + o);
	return o;
}

static void
test_stuff(void **state)
{
	char out[1024], out2[1024];
	size_t cuts[256], n, n2, wl;

	for (size_t i = 0; i < NELEM(stuff_cases); i++) {
		const struct stuff_case *tc = &stuff_cases[i];

		wl = tc->wlen != 0 ? tc->wlen : strlen(tc->want);
		n = stuff_run(tc, NULL, 0, out);
		CHECK(n == wl && memcmp(out, tc->want, n) == 0,
		    "stuff case %zu: got <%.*s>", i, (int)n, out);
		assert_true(n <= 2 * tc->len + 5);
		for (size_t cut = 0; cut <= tc->len; cut++) {
			n2 = stuff_run(tc, &cut, 1, out2);
			CHECK(n2 == n && memcmp(out, out2, n) == 0,
			    "stuff case %zu split at %zu", i, cut);
		}
		for (size_t k = 0; k < tc->len; k++)
			cuts[k] = k + 1;
		n2 = stuff_run(tc, cuts, tc->len, out2);
		CHECK(n2 == n && memcmp(out, out2, n) == 0,
		    "stuff case %zu byte by byte", i);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lex),
		cmocka_unit_test(test_lex_reset),
		cmocka_unit_test(test_cmd),
		cmocka_unit_test(test_num),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_mdname),
		cmocka_unit_test(test_uidl),
		cmocka_unit_test(test_add_seen),
		cmocka_unit_test(test_stuff),
	};

	return cmocka_run_group_tests_name("pop3/pop3_parse", tests, NULL,
	    NULL);
}
