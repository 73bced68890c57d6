/* smtp_parse_test.c: tables of valid and invalid inputs for every
 * tokenizer in src/smtp/smtp_parse.c.  Every DATA and BDAT case also runs
 * split at every offset and fed byte by byte, and must give the same
 * output, status, consumed count and flags as when fed whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "smtp/smtp_parse.h"

/* The case tables leave trailing fields out: they are zero. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define S(x)	(x), sizeof(x) - 1
#define CHECK(cond, ...) do {						\
	if (!(cond))							\
		fail_msg(__VA_ARGS__);					\
} while (0)
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* --- lines and verbs ------------------------------------------------- */

static const struct line_case {
	const char	*in;
	size_t		 len;
	size_t		 max;
	int		 ret;
	const char	*line;
} line_cases[] = {
	{ S("QUIT\r\n"), 512, 6, "QUIT" },
	{ S("QUIT\n"), 512, 5, "QUIT" },
	{ S("QUIT"), 512, 0, NULL },
	{ S("QUIT\r"), 512, 0, NULL },
	{ S(""), 512, 0, NULL },
	{ S("\r\n"), 512, 2, "" },
	{ S("\n"), 512, 1, "" },
	{ S("A\r\nB\r\n"), 512, 3, "A" },
	{ S("A\r\r\n"), 512, 4, "A\r" },
	{ S("A\0B\r\n"), 512, 5, "A\0B" },
	{ S("AB\r\n"), 4, 4, "AB" },		/* exactly max, CRLF included */
	{ S("AB\r\n"), 3, -1, NULL },
	{ S("ABC"), 3, -1, NULL },
	{ S("ABC"), 4, 0, NULL },
	{ S("ABCD\r\n"), 4, -1, NULL },
	{ S(""), 0, -1, NULL },
};

static void
test_line(void **state)
{
	const struct line_case *tc;
	struct str line;
	size_t i;
	int ret;

	for (i = 0; i < NELEM(line_cases); i++) {
		tc = &line_cases[i];
		line = str_make(NULL, 0);
		ret = smtp_parse_line(tc->in, tc->len, tc->max, &line);
		CHECK(ret == tc->ret, "line case %zu: ret %d want %d", i, ret,
		    tc->ret);
		if (ret <= 0)
			continue;
		CHECK(line.p == tc->in && line.len == strlen(tc->line) +
		    (memchr(tc->in, '\0', tc->len) ? 2 : 0) &&
		    memcmp(line.p, tc->line, line.len) == 0,
		    "line case %zu: wrong line", i);
	}
}

static void
test_skip_line(void **state)
{
	size_t n = 99;

	assert_int_equal(smtp_parse_skip_line("abc", 3, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(smtp_parse_skip_line("ab\ncd", 5, &n), 3);
	assert_int_equal(n, 3);
	assert_int_equal(smtp_parse_skip_line("\r\n", 2, &n), 2);
	assert_int_equal(n, 2);
	assert_int_equal(smtp_parse_skip_line(NULL, 0, &n), 0);
	assert_int_equal(n, 0);
}

static const struct verb_case {
	const char	*line;
	enum smtp_verb	 verb;
	const char	*args;
} verb_cases[] = {
	{ "QUIT", SMTP_VERB_QUIT, "" },
	{ "quit", SMTP_VERB_QUIT, "" },
	{ "QUIT ", SMTP_VERB_QUIT, "" },
	{ "MAIL FROM:<a@b>", SMTP_VERB_MAIL, "FROM:<a@b>" },
	{ "mail   FROM:<a@b>   ", SMTP_VERB_MAIL, "FROM:<a@b>" },
	{ "Rcpt TO:<a@b> NOTIFY=NEVER", SMTP_VERB_RCPT,
	    "TO:<a@b> NOTIFY=NEVER" },
	{ "STARTTLS", SMTP_VERB_STARTTLS, "" },
	{ "StartTLS", SMTP_VERB_STARTTLS, "" },
	{ "EHLO mx.example.org", SMTP_VERB_EHLO, "mx.example.org" },
	{ "HELO", SMTP_VERB_HELO, "" },
	{ "BDAT 100 LAST", SMTP_VERB_BDAT, "100 LAST" },
	{ "AUTH PLAIN AGEAYg==", SMTP_VERB_AUTH, "PLAIN AGEAYg==" },
	{ "DATA", SMTP_VERB_DATA, "" },
	{ "RSET", SMTP_VERB_RSET, "" },
	{ "NOOP x", SMTP_VERB_NOOP, "x" },
	{ "HELP", SMTP_VERB_HELP, "" },
	{ "VRFY a", SMTP_VERB_VRFY, "a" },
	{ "EXPN a", SMTP_VERB_EXPN, "a" },
	{ "MAILFROM:<>", SMTP_VERB_UNKNOWN, "" },
	{ "", SMTP_VERB_UNKNOWN, "" },
	{ " QUIT", SMTP_VERB_UNKNOWN, "QUIT" },
	{ "QUITX", SMTP_VERB_UNKNOWN, "" },
	{ "QUI", SMTP_VERB_UNKNOWN, "" },
	{ "DATA\r", SMTP_VERB_UNKNOWN, "" },
	{ "MAIL\tFROM:<>", SMTP_VERB_UNKNOWN, "" },
	{ "X-FOO bar  baz ", SMTP_VERB_UNKNOWN, "bar  baz" },
	{ "     ", SMTP_VERB_UNKNOWN, "" },
};

static void
test_verb(void **state)
{
	const struct verb_case *tc;
	struct str args;
	enum smtp_verb v;
	size_t i;

	for (i = 0; i < NELEM(verb_cases); i++) {
		tc = &verb_cases[i];
		v = smtp_parse_verb(str_cstr(tc->line), &args);
		CHECK(v == tc->verb, "verb <%s>: %d want %d", tc->line, v,
		    tc->verb);
		CHECK(str_eq(args, str_cstr(tc->args)), "verb <%s>: args "
		    "<%.*s> want <%s>", tc->line, (int)args.len, args.p,
		    tc->args);
	}
	v = smtp_parse_verb(str_make(NULL, 0), &args);
	assert_int_equal(v, SMTP_VERB_UNKNOWN);
	assert_int_equal(args.len, 0);
}

static void
test_verb_name(void **state)
{
	struct str args;
	int v;

	for (v = SMTP_VERB_HELO; v <= SMTP_VERB_AUTH; v++)
		assert_int_equal(smtp_parse_verb(
		    str_cstr(smtp_verb_name((enum smtp_verb)v)), &args), v);
	assert_string_equal(smtp_verb_name(SMTP_VERB_STARTTLS), "STARTTLS");
	assert_string_equal(smtp_verb_name(SMTP_VERB_UNKNOWN), "UNKNOWN");
	assert_string_equal(smtp_verb_name((enum smtp_verb)1000), "UNKNOWN");
	assert_string_equal(smtp_verb_name((enum smtp_verb)-1), "UNKNOWN");
}

/* --- MAIL and RCPT --------------------------------------------------- */

#define X10	"xxxxxxxxxx"
#define X60	X10 X10 X10 X10 X10 X10
#define L63	X60 "abc"
#define D189	L63 "." L63 "." X60 "a"		/* 189 bytes */
#define MAXU64	UINT64_MAX

static const struct mail_ok_case {
	const char	*args;
	const char	*addr;
	size_t		 local_len;
	bool		 utf8;
	bool		 has_size;
	uint64_t	 size;
	enum smtp_body	 body;
	bool		 smtputf8;
	enum smtp_ret	 ret;
	const char	*envid;
	const char	*auth;
} mail_ok[] = {
	{ "FROM:<>", "", 0 },
	{ "FROM:<a@b.c>", "a@b.c", 1 },
	{ "from:<a@b.c>", "a@b.c", 1 },
	{ "FROM: <a@b.c>", "a@b.c", 1 },
	{ "FROM:   <a@b.c>   ", "a@b.c", 1 },
	{ "FROM:<user@localhost>", "user@localhost", 4 },
	{ "FROM:<a.b.c+tag@x-y.example>", "a.b.c+tag@x-y.example", 9 },
	{ "FROM:<!#$%&'*+-/=?^_`{|}~@x>", "!#$%&'*+-/=?^_`{|}~@x", 19 },
	{ "FROM:<\"a b\"@x.org>", "\"a b\"@x.org", 5 },
	{ "FROM:<\"\"@x.org>", "\"\"@x.org", 2 },
	{ "FROM:<\"a\\\"b>c\"@x.org>", "\"a\\\"b>c\"@x.org", 8 },
	{ "FROM:<\"a@b\"@x.org>", "\"a@b\"@x.org", 5 },
	{ "FROM:<@r1.example,@r2.example:u@x.org>", "u@x.org", 1 },
	{ "FROM:<@r1.example:u@x.org>", "u@x.org", 1 },
	{ "FROM:<u@[192.0.2.1]>", "u@[192.0.2.1]", 1 },
	{ "FROM:<u@[IPv6:2001:db8::1]>", "u@[IPv6:2001:db8::1]", 1 },
	{ "FROM:<u@[ipv6:1:2:3:4:5:6:7:8]>", "u@[ipv6:1:2:3:4:5:6:7:8]", 1 },
	{ "FROM:<u@[IPv6:::ffff:192.0.2.1]>", "u@[IPv6:::ffff:192.0.2.1]",
	    1 },
	{ "FROM:<u@[IPv6:1:2:3:4:5:6:1.2.3.4]>",
	    "u@[IPv6:1:2:3:4:5:6:1.2.3.4]", 1 },
	{ "FROM:<u@[IPv6:::]>", "u@[IPv6:::]", 1 },
	{ "FROM:<u@[IPv6:1::]>", "u@[IPv6:1::]", 1 },
	{ "FROM:<u@xn--bcher-kva.example>", "u@xn--bcher-kva.example", 1 },
	{ "FROM:<u@1.2.3.4>", "u@1.2.3.4", 1 },
	{ "FROM:<" X60 "abcd@x>", X60 "abcd@x", 64 },
	{ "FROM:<" X60 "abcd@" D189 ">", X60 "abcd@" D189, 64 },
	{ "FROM:<a@b> SIZE=1000", "a@b", 1, false, true, 1000 },
	{ "FROM:<a@b> size=0", "a@b", 1, false, true, 0 },
	{ "FROM:<a@b> SIZE=18446744073709551615", "a@b", 1, false, true,
	    MAXU64 },
	{ "FROM:<a@b> SIZE=18446744073709551616", "a@b", 1, false, true,
	    MAXU64 },
	{ "FROM:<a@b> SIZE=99999999999999999999", "a@b", 1, false, true,
	    MAXU64 },
	{ "FROM:<a@b> SIZE=00000000000000000042", "a@b", 1, false, true, 42 },
	{ "FROM:<a@b> BODY=8BITMIME", "a@b", 1, false, false, 0,
	    SMTP_BODY_8BITMIME },
	{ "FROM:<a@b> body=7bit", "a@b", 1, false, false, 0,
	    SMTP_BODY_7BIT },
	{ "FROM:<a@b>  SIZE=1   BODY=BINARYMIME  ", "a@b", 1, false, true, 1,
	    SMTP_BODY_BINARYMIME },
	{ "FROM:<a@b> RET=hdrs ENVID=QQ+2Bx AUTH=<>", "a@b", 1, false, false,
	    0, 0, false, SMTP_RET_HDRS, "QQ+2Bx", "<>" },
	{ "FROM:<a@b> RET=FULL AUTH=e+3Dmc2@example.com", "a@b", 1, false,
	    false, 0, 0, false, SMTP_RET_FULL, "", "e+3Dmc2@example.com" },
	{ "FROM:<a@b> ENVID=" X60 "0123456789012345678901234567890123456789",
	    "a@b", 1, false, false, 0, 0, false, 0,
	    X60 "0123456789012345678901234567890123456789" },
	{ "FROM:<j\xc3\xbcrgen@b\xc3\xbc" "cher.example> SMTPUTF8",
	    "j\xc3\xbcrgen@b\xc3\xbc" "cher.example", 7, true, false, 0, 0,
	    true },
	{ "FROM:<\"\xe2\x82\xac x\"@x> smtputf8 BODY=8BITMIME",
	    "\"\xe2\x82\xac x\"@x", 7, true, false, 0, SMTP_BODY_8BITMIME,
	    true },
	{ "FROM:<\xf0\x9f\x93\xa7@x> SMTPUTF8", "\xf0\x9f\x93\xa7@x", 4,
	    true, false, 0, 0, true },
	{ "FROM:<a@b> SMTPUTF8", "a@b", 1, false, false, 0, 0, true },
};

static void
check_mail_ok(const struct mail_ok_case *tc)
{
	struct smtp_mail_args m;
	struct smtp_parse_err err = { 0 };
	int ret;

	ret = smtp_parse_mail(str_cstr(tc->args), &m, &err);
	CHECK(ret == 0, "MAIL <%s>: %d %s %s", tc->args, err.code, err.ecode,
	    err.text);
	CHECK(strcmp(m.path.addr, tc->addr) == 0, "MAIL <%s>: addr <%s>",
	    tc->args, m.path.addr);
	CHECK(m.path.local_len == tc->local_len && m.path.utf8 == tc->utf8,
	    "MAIL <%s>: local_len %zu utf8 %d", tc->args, m.path.local_len,
	    m.path.utf8);
	CHECK(m.has_size == tc->has_size && m.size == tc->size,
	    "MAIL <%s>: size %d %llu", tc->args, m.has_size,
	    (unsigned long long)m.size);
	CHECK(m.body == tc->body && m.smtputf8 == tc->smtputf8 &&
	    m.ret == tc->ret, "MAIL <%s>: body/smtputf8/ret", tc->args);
	CHECK(strcmp(m.envid, tc->envid ? tc->envid : "") == 0,
	    "MAIL <%s>: envid <%s>", tc->args, m.envid);
	CHECK(strcmp(m.auth, tc->auth ? tc->auth : "") == 0,
	    "MAIL <%s>: auth <%s>", tc->args, m.auth);
}

static void
test_mail_ok(void **state)
{
	size_t i;

	for (i = 0; i < NELEM(mail_ok); i++)
		check_mail_ok(&mail_ok[i]);
}

static const struct bad_case {
	const char	*args;
	int		 code;
	const char	*ecode;
} mail_bad[] = {
	{ "", 501, "5.5.4" },
	{ "FROM", 501, "5.5.4" },
	{ "FROM:", 501, "5.5.4" },
	{ "TO:<a@b>", 501, "5.5.4" },
	{ "FROM :<a@b>", 501, "5.5.4" },
	{ "FROM:a@b", 501, "5.5.4" },
	{ "FROM:\t<a@b>", 501, "5.5.4" },
	{ "FROM:<a@b>x", 501, "5.5.4" },
	{ "FROM:<a@b><c@d>", 501, "5.5.4" },
	{ "FROM:<a@b", 501, "5.1.7" },
	{ "FROM:<\"a@b>", 501, "5.1.7" },
	{ "FROM:<a>", 501, "5.1.7" },
	{ "FROM:<postmaster>", 501, "5.1.7" },
	{ "FROM:<a@>", 501, "5.1.7" },
	{ "FROM:<@x>", 501, "5.1.7" },
	{ "FROM:<@x.org>", 501, "5.1.7" },
	{ "FROM:<@x.org,u@y>", 501, "5.1.7" },
	{ "FROM:<@,@x:u@y>", 501, "5.1.7" },
	{ "FROM:<@x..y:u@y>", 501, "5.1.7" },
	{ "FROM:<a..b@x>", 501, "5.1.7" },
	{ "FROM:<.a@x>", 501, "5.1.7" },
	{ "FROM:<a.@x>", 501, "5.1.7" },
	{ "FROM:<a b@x>", 501, "5.1.7" },
	{ "FROM:<a\"b\"@x>", 501, "5.1.7" },
	{ "FROM:<\"a\"b@x>", 501, "5.1.7" },
	{ "FROM:<\"a\x01\"@x>", 501, "5.1.7" },
	{ "FROM:<\"a\\\x01\"@x>", 501, "5.1.7" },
	{ "FROM:<a(b)@x>", 501, "5.1.7" },
	{ "FROM:<a@b@c>", 501, "5.1.7" },
	{ "FROM:<a@-x.org>", 501, "5.1.7" },
	{ "FROM:<a@x-.org>", 501, "5.1.7" },
	{ "FROM:<a@x..org>", 501, "5.1.7" },
	{ "FROM:<a@.x.org>", 501, "5.1.7" },
	{ "FROM:<a@x.org.>", 501, "5.1.7" },
	{ "FROM:<a@x_y.org>", 501, "5.1.7" },
	{ "FROM:<a@x y>", 501, "5.1.7" },
	{ "FROM:<a@" L63 "d.x>", 501, "5.1.7" },
	{ "FROM:<a@[1.2.3.256]>", 501, "5.1.7" },
	{ "FROM:<a@[1.2.3]>", 501, "5.1.7" },
	{ "FROM:<a@[1.2.3.4.5]>", 501, "5.1.7" },
	{ "FROM:<a@[1.2.3.0004]>", 501, "5.1.7" },
	{ "FROM:<a@[1.2.3.4>", 501, "5.1.7" },
	{ "FROM:<a@[]>", 501, "5.1.7" },
	{ "FROM:<a@[IPv6:1:2:3]>", 501, "5.1.7" },
	{ "FROM:<a@[IPv6:1::2::3]>", 501, "5.1.7" },
	{ "FROM:<a@[IPv6:1:2:3:4:5:6:7:8:9]>", 501, "5.1.7" },
	{ "FROM:<a@[IPv6:1:2:3:4:5:6:7::8]>", 501, "5.1.7" },
	{ "FROM:<a@[IPv6:12345::1]>", 501, "5.1.7" },
	{ "FROM:<a@[IPv6::1]>", 501, "5.1.7" },
	{ "FROM:<a@[IPv6:1:]>", 501, "5.1.7" },
	{ "FROM:<a@[IPv6:g::1]>", 501, "5.1.7" },
	{ "FROM:<a@[IPv6:1:2:3:4:5:6:7:1.2.3.4]>", 501, "5.1.7" },
	{ "FROM:<a@[IPv6:1.2.3.4]>", 501, "5.1.7" },
	{ "FROM:<a@[foo:bar]>", 501, "5.1.7" },
	{ "FROM:<a@[x]>", 501, "5.1.7" },
	{ "FROM:<" X60 "abcde@x>", 501, "5.1.7" },		/* local 65 */
	{ "FROM:<a@" D189 "." D189 ">", 501, "5.1.7" },	/* domain 379 */
	{ "FROM:<" X60 "abcd@" D189 "x>", 501, "5.1.7" },	/* 255 */
	{ "FROM:<j\xc3\xbcrgen@x>", 553, "5.6.7" },
	{ "FROM:<a@b\xc3\xbc" "cher.example>", 553, "5.6.7" },
	{ "FROM:<\xc3\x28@x> SMTPUTF8", 501, "5.1.7" },
	{ "FROM:<\xc0\xaf@x> SMTPUTF8", 501, "5.1.7" },
	{ "FROM:<\xed\xa0\x80@x> SMTPUTF8", 501, "5.1.7" },
	{ "FROM:<\xf4\x90\x80\x80@x> SMTPUTF8", 501, "5.1.7" },
	{ "FROM:<\xe2\x82@x> SMTPUTF8", 501, "5.1.7" },
	{ "FROM:<\xff@x> SMTPUTF8", 501, "5.1.7" },
	{ "FROM:<a@b> FOO=bar", 555, "5.5.4" },
	{ "FROM:<a@b> NOTIFY=NEVER", 555, "5.5.4" },
	{ "FROM:<a@b> ORCPT=rfc822;a@b", 555, "5.5.4" },
	{ "FROM:<a@b> SIZE", 501, "5.5.4" },
	{ "FROM:<a@b> SIZE=", 501, "5.5.4" },
	{ "FROM:<a@b> SIZE=12a", 501, "5.5.4" },
	{ "FROM:<a@b> SIZE=-1", 501, "5.5.4" },
	{ "FROM:<a@b> SIZE=123456789012345678901", 501, "5.5.4" },
	{ "FROM:<a@b> SIZE=1 SIZE=2", 501, "5.5.4" },
	{ "FROM:<a@b> size=1 SIZE=1", 501, "5.5.4" },
	{ "FROM:<a@b> BODY=9BIT", 501, "5.5.4" },
	{ "FROM:<a@b> BODY", 501, "5.5.4" },
	{ "FROM:<a@b> BODY=7BIT BODY=7BIT", 501, "5.5.4" },
	{ "FROM:<a@b> SMTPUTF8=yes", 501, "5.5.4" },
	{ "FROM:<a@b> SMTPUTF8 SMTPUTF8", 501, "5.5.4" },
	{ "FROM:<a@b> RET=ALL", 501, "5.5.4" },
	{ "FROM:<a@b> RET", 501, "5.5.4" },
	{ "FROM:<a@b> ENVID=a+zz", 501, "5.5.4" },
	{ "FROM:<a@b> ENVID=a+4", 501, "5.5.4" },
	{ "FROM:<a@b> ENVID=a+", 501, "5.5.4" },
	{ "FROM:<a@b> ENVID", 501, "5.5.4" },
	{ "FROM:<a@b> ENVID=\xc3\xbc", 501, "5.5.4" },
	{ "FROM:<a@b> ENVID=" X60 X10 X10 X10 X10 "x", 501, "5.5.4" },
	{ "FROM:<a@b> AUTH=", 501, "5.5.4" },
	{ "FROM:<a@b> AUTH", 501, "5.5.4" },
	{ "FROM:<a@b> AUTH=a=b", 501, "5.5.4" },
	{ "FROM:<a@b> -SIZE=1", 501, "5.5.4" },
	{ "FROM:<a@b> =1", 501, "5.5.4" },
	{ "FROM:<a@b> S_ZE=1", 501, "5.5.4" },
	{ "FROM:<a@b> SIZE=1\x01", 501, "5.5.4" },
	{ "FROM:<a@b> SIZE=1\t", 501, "5.5.4" },
	{ "FROM:<a@b> SIZE=\xc3", 501, "5.5.4" },
	/* parameters are judged before the path */
	{ "FROM:<a..b@x> FOO=1", 555, "5.5.4" },
};

static void
check_bad(const struct bad_case *tc, bool rcpt, bool utf8_ok)
{
	struct smtp_mail_args m;
	struct smtp_rcpt_args r;
	struct smtp_parse_err err = { 0 };
	int ret;

	if (rcpt)
		ret = smtp_parse_rcpt(str_cstr(tc->args), utf8_ok, &r, &err);
	else
		ret = smtp_parse_mail(str_cstr(tc->args), &m, &err);
	CHECK(ret == -1, "%s <%s>: accepted", rcpt ? "RCPT" : "MAIL",
	    tc->args);
	CHECK(err.code == tc->code && strcmp(err.ecode, tc->ecode) == 0,
	    "%s <%s>: %d %s want %d %s", rcpt ? "RCPT" : "MAIL", tc->args,
	    err.code, err.ecode, tc->code, tc->ecode);
	CHECK(err.text != NULL && err.text[0] != '\0', "no text");
}

static void
test_mail_bad(void **state)
{
	size_t i;

	for (i = 0; i < NELEM(mail_bad); i++)
		check_bad(&mail_bad[i], false, false);
}

/* A path as long as allowed, built at run time, and the texts. */
static void
test_mail_limits(void **state)
{
	struct smtp_mail_args m;
	struct smtp_parse_err err;
	char args[400];

	/* local 64 + "@" + 189 = 254 bytes, the longest mailbox */
	snprintf(args, sizeof(args), "FROM:<%s@%s>", X60 "abcd", D189);
	assert_int_equal(smtp_parse_mail(str_cstr(args), &m, &err), 0);
	assert_int_equal(strlen(m.path.addr), SMTP_PATH_MAX - 2);
	snprintf(args, sizeof(args), "FROM:<%s@%sx>", X60 "abcd", D189);
	assert_int_equal(smtp_parse_mail(str_cstr(args), &m, &err), -1);
	assert_string_equal(err.text, "Path too long");
	snprintf(args, sizeof(args), "FROM:<%s@x>", X60 "abcde");
	assert_int_equal(smtp_parse_mail(str_cstr(args), &m, &err), -1);
	assert_string_equal(err.text, "Local part too long");
	assert_int_equal(smtp_parse_mail(str_cstr("FROM:<a@b> X=1"), &m,
	    &err), -1);
	assert_string_equal(err.text, "Unsupported parameter");
	assert_int_equal(smtp_parse_mail(str_cstr("FROM:<a..b@c>"), &m,
	    &err), -1);
	assert_string_equal(err.text, "Bad sender address syntax");
	/* not NUL-terminated input: parse must stay inside args.len */
	assert_int_equal(smtp_parse_mail(str_make("FROM:<a@b>xyz", 10), &m,
	    &err), 0);
	assert_string_equal(m.path.addr, "a@b");
	assert_int_equal(smtp_parse_mail(str_make("FROM:<a@b> SIZE=12", 17),
	    &m, &err), 0);
	assert_int_equal(m.size, 1);
}

static const struct rcpt_ok_case {
	const char	*args;
	bool		 utf8_ok;
	const char	*addr;
	size_t		 local_len;
	unsigned	 notify;
	const char	*orcpt;
} rcpt_ok[] = {
	{ "TO:<a@b>", false, "a@b", 1 },
	{ "to: <a@b>", false, "a@b", 1 },
	{ "TO:<postmaster>", false, "postmaster", 10 },
	{ "TO:<PostMaster>", false, "postmaster", 10 },
	{ "TO:<Postmaster@x.org>", false, "Postmaster@x.org", 10 },
	{ "TO:<@relay.example:a@b>", false, "a@b", 1 },
	{ "TO:<a@b> NOTIFY=NEVER", false, "a@b", 1, SMTP_NOTIFY_NEVER },
	{ "TO:<a@b> notify=never", false, "a@b", 1, SMTP_NOTIFY_NEVER },
	{ "TO:<a@b> NOTIFY=success,FAILURE,delay", false, "a@b", 1,
	    SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY },
	{ "TO:<a@b> NOTIFY=DELAY", false, "a@b", 1, SMTP_NOTIFY_DELAY },
	{ "TO:<a@b> NOTIFY=FAILURE,FAILURE", false, "a@b", 1,
	    SMTP_NOTIFY_FAILURE },
	{ "TO:<a@b> ORCPT=rfc822;a+40b", false, "a@b", 1, 0,
	    "rfc822;a+40b" },
	{ "TO:<a@b> NOTIFY=SUCCESS ORCPT=rfc822;a@b", false, "a@b", 1,
	    SMTP_NOTIFY_SUCCESS, "rfc822;a@b" },
	{ "TO:<\xce\xb4@\xcf\x80.example>", true, "\xce\xb4@\xcf\x80.example",
	    2 },
	{ "TO:<a@b> ORCPT=utf-8;\xce\xb4@x", true, "a@b", 1, 0,
	    "utf-8;\xce\xb4@x" },
	{ "TO:<a@b> ORCPT=utf-8;\\x{3B4}@x", false, "a@b", 1, 0,
	    "utf-8;\\x{3B4}@x" },
};

static void
test_rcpt_ok(void **state)
{
	const struct rcpt_ok_case *tc;
	struct smtp_rcpt_args r;
	struct smtp_parse_err err = { 0 };
	size_t i;

	for (i = 0; i < NELEM(rcpt_ok); i++) {
		tc = &rcpt_ok[i];
		CHECK(smtp_parse_rcpt(str_cstr(tc->args), tc->utf8_ok, &r,
		    &err) == 0, "RCPT <%s>: %d %s %s", tc->args, err.code,
		    err.ecode, err.text);
		CHECK(strcmp(r.path.addr, tc->addr) == 0 &&
		    r.path.local_len == tc->local_len, "RCPT <%s>: <%s> %zu",
		    tc->args, r.path.addr, r.path.local_len);
		CHECK(r.notify == tc->notify, "RCPT <%s>: notify %u",
		    tc->args, r.notify);
		CHECK(strcmp(r.orcpt, tc->orcpt ? tc->orcpt : "") == 0,
		    "RCPT <%s>: orcpt <%s>", tc->args, r.orcpt);
	}
}

static const struct bad_case rcpt_bad[] = {
	{ "TO:<>", 501, "5.1.3" },
	{ "FROM:<a@b>", 501, "5.5.4" },
	{ "TO:a@b", 501, "5.5.4" },
	{ "TO:<a>", 501, "5.1.3" },
	{ "TO:<postmaster> x", 555, "5.5.4" },
	{ "TO:<postmaste>", 501, "5.1.3" },
	{ "TO:<a@b", 501, "5.1.3" },
	{ "TO:<\xce\xb4@x>", 553, "5.6.7" },
	{ "TO:<a@b> NOTIFY=NEVER,SUCCESS", 501, "5.5.4" },
	{ "TO:<a@b> NOTIFY=SUCCESS,NEVER", 501, "5.5.4" },
	{ "TO:<a@b> NOTIFY=", 501, "5.5.4" },
	{ "TO:<a@b> NOTIFY", 501, "5.5.4" },
	{ "TO:<a@b> NOTIFY=SUCCESS,", 501, "5.5.4" },
	{ "TO:<a@b> NOTIFY=,SUCCESS", 501, "5.5.4" },
	{ "TO:<a@b> NOTIFY=SUCCESS,,DELAY", 501, "5.5.4" },
	{ "TO:<a@b> NOTIFY=FOO", 501, "5.5.4" },
	{ "TO:<a@b> NOTIFY=DELAY NOTIFY=DELAY", 501, "5.5.4" },
	{ "TO:<a@b> ORCPT=rfc822", 501, "5.5.4" },
	{ "TO:<a@b> ORCPT=;a@b", 501, "5.5.4" },
	{ "TO:<a@b> ORCPT=rfc822;", 501, "5.5.4" },
	{ "TO:<a@b> ORCPT", 501, "5.5.4" },
	{ "TO:<a@b> ORCPT=rfc(822;a", 501, "5.5.4" },
	{ "TO:<a@b> ORCPT=rfc822;a+4", 501, "5.5.4" },
	{ "TO:<a@b> ORCPT=utf-8;\xce\xb4@x", 501, "5.5.4" },
	{ "TO:<a@b> ORCPT=rfc822;a ORCPT=rfc822;b", 501, "5.5.4" },
	{ "TO:<a@b> ORCPT=rfc822;" X60 X60 X60 X60 X60 X60 X60 X60 X60
	    X60 "abcdefghijklmnopqrstuvwxyz" X60 X60 X60 X60 X60 X60 X60
	    X60, 501, "5.5.4" },
	{ "TO:<a@b> SIZE=10", 555, "5.5.4" },
	{ "TO:<a@b> SMTPUTF8", 555, "5.5.4" },
};

static void
test_rcpt_bad(void **state)
{
	size_t i;

	for (i = 0; i < NELEM(rcpt_bad); i++)
		check_bad(&rcpt_bad[i], true, false);
}

static void
test_rcpt_orcpt_max(void **state)
{
	struct smtp_rcpt_args r;
	struct smtp_parse_err err;
	char args[700], val[520];

	memset(val, 'a', sizeof(val));
	memcpy(val, "rfc822;", 7);
	snprintf(args, sizeof(args), "TO:<a@b> ORCPT=%.*s", 500, val);
	assert_int_equal(smtp_parse_rcpt(str_cstr(args), false, &r, &err), 0);
	assert_int_equal(strlen(r.orcpt), 500);
	snprintf(args, sizeof(args), "TO:<a@b> ORCPT=%.*s", 501, val);
	assert_int_equal(smtp_parse_rcpt(str_cstr(args), false, &r, &err),
	    -1);
	assert_string_equal(err.ecode, "5.5.4");
}

/* --- HELO ------------------------------------------------------------ */

static const struct helo_case {
	const char	*arg;
	bool		 ok;
} helo_cases[] = {
	{ "mail.example.com", true },
	{ "localhost", true },
	{ "mail.example.com.", true },
	{ "my_host.example", true },
	{ "DESKTOP-ABC123", true },
	{ "-foo-.example", true },
	{ "b\xc3\xbc" "cher.example", true },
	{ "[192.0.2.1]", true },
	{ "[IPv6:2001:db8::1]", true },
	{ "[IPv6:::1]", true },
	{ "[IPv6:::ffff:127.0.0.1]", true },
	{ L63 ".example", true },
	{ "", false },
	{ ".", false },
	{ "..", false },
	{ "a..b", false },
	{ ".a", false },
	{ "a.b..", false },
	{ "a b", false },
	{ "a\tb", false },
	{ "a/b", false },
	{ "x\x01", false },
	{ "[1.2.3.4", false },
	{ "1.2.3.4]", false },
	{ "[300.1.1.1]", false },
	{ "[IPv6:zz::1]", false },
	{ "[]", false },
	{ "[host.example]", false },
	{ L63 "d.example", false },
	{ "b\xc3\x28.example", false },
	{ D189 "." L63, true },		/* 253 */
	{ D189 "." L63 ".a", true },	/* 255 */
	{ D189 "." L63 ".ab", false },	/* 256 */
};

static void
test_helo(void **state)
{
	size_t i;

	for (i = 0; i < NELEM(helo_cases); i++)
		CHECK(smtp_parse_helo_ok(str_cstr(helo_cases[i].arg)) ==
		    helo_cases[i].ok, "HELO <%s>: want %d", helo_cases[i].arg,
		    helo_cases[i].ok);
	assert_false(smtp_parse_helo_ok(str_make(NULL, 0)));
	assert_true(smtp_parse_helo_ok(str_make("a.b junk", 3)));
}

/* --- DATA ------------------------------------------------------------ */

struct data_result {
	int		 status;
	size_t		 consumed;
	struct buf	 out;
	unsigned	 calls;
	unsigned	 errors;
	bool		 eightbit;
	uint64_t	 size;
	size_t		 header_len;
	bool		 in_header;
	int		 fail_at;	/* make the nth out call fail */
};

static int
data_out(void *arg, const char *p, size_t n)
{
	struct data_result *r = arg;

	assert_true(n > 0);
	if (r->fail_at > 0 && ++r->calls == (unsigned)r->fail_at)
		return -1;
	if (r->fail_at == 0)
		r->calls++;
	assert_int_equal(buf_append(&r->out, p, n), 0);
	return 0;
}

static void
data_result_init(struct data_result *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->out, 1 << 24);
}

static void
data_result_end(struct data_result *r, const struct smtp_data *d)
{
	r->errors = d->errors;
	r->eightbit = d->eightbit;
	r->size = d->size;
	r->header_len = d->header_len;
	r->in_header = d->in_header;
}

/* Feed in[0..len) as pieces ending at cuts[], then the rest. */
static void
data_run(const char *in, size_t len, uint64_t max_size, size_t max_header,
    const size_t *cuts, size_t ncuts, struct data_result *r)
{
	struct smtp_data d;
	size_t start = 0, end, k, used;
	int st = SMTP_DATA_MORE;

	data_result_init(r);
	smtp_data_init(&d, max_size, max_header);
	for (k = 0; k <= ncuts && st == SMTP_DATA_MORE; k++) {
		end = k < ncuts ? cuts[k] : len;
		st = smtp_data_feed(&d, in + start, end - start, &used,
		    data_out, r);
		assert_true(used <= end - start);
		if (st == SMTP_DATA_MORE)
			assert_int_equal(used, end - start);
		r->consumed += used;
		start = end;
	}
	r->status = st;
	data_result_end(r, &d);
	/* a finished machine stays finished */
	if (st != SMTP_DATA_MORE && st != -1) {
		assert_int_equal(smtp_data_feed(&d, "x", 1, &used, data_out,
		    r), st);
		assert_int_equal(used, 0);
	}
}

static void
data_same(const char *name, const char *how, size_t at,
    const struct data_result *a, const struct data_result *b)
{
	CHECK(a->status == b->status && a->consumed == b->consumed,
	    "%s (%s %zu): status %d/%d consumed %zu/%zu", name, how, at,
	    b->status, a->status, b->consumed, a->consumed);
	CHECK(a->out.len == b->out.len && (a->out.len == 0 ||
	    memcmp(a->out.p, b->out.p, a->out.len) == 0),
	    "%s (%s %zu): output differs", name, how, at);
	CHECK(a->errors == b->errors && a->eightbit == b->eightbit &&
	    a->size == b->size && a->header_len == b->header_len &&
	    a->in_header == b->in_header,
	    "%s (%s %zu): errors %#x/%#x 8bit %d/%d size %llu/%llu "
	    "header %zu/%zu", name, how, at, b->errors, a->errors,
	    b->eightbit, a->eightbit, (unsigned long long)b->size,
	    (unsigned long long)a->size, b->header_len, a->header_len);
}

/* Whole, then split at each offset in [from, to], then byte by byte. */
static void
data_check_splits(const char *name, const char *in, size_t len,
    uint64_t max_size, size_t max_header, const struct data_result *whole,
    size_t from, size_t to)
{
	struct data_result r;
	size_t cut, *cuts;

	for (cut = from; cut <= to && cut <= len; cut++) {
		data_run(in, len, max_size, max_header, &cut, 1, &r);
		data_same(name, "cut", cut, whole, &r);
		buf_free(&r.out);
	}
	cuts = calloc(len + 1, sizeof(*cuts));
	assert_non_null(cuts);
	for (cut = 0; cut < len; cut++)
		cuts[cut] = cut + 1;
	data_run(in, len, max_size, max_header, cuts, len, &r);
	data_same(name, "bytes", 0, whole, &r);
	buf_free(&r.out);
	free(cuts);
}

#define BIG	(1024 * 1024)
#define NOF	0
#define BLF	SMTP_DATA_ERR_BARE_LF
#define BCR	SMTP_DATA_ERR_BARE_CR

static const struct data_case {
	const char	*name;
	const char	*in;
	size_t		 len;
	int		 status;
	size_t		 consumed;	/* (size_t)-1: all of it */
	const char	*out;
	size_t		 out_len;
	unsigned	 errors;
	uint64_t	 max_size;	/* 0: BIG */
	size_t		 max_header;	/* 0: BIG */
	size_t		 header_len;	/* (size_t)-1: don't check */
	bool		 eightbit;
} data_cases[] = {
#define ALL	((size_t)-1)
#define ANY	((size_t)-1)
	{ "empty", S(".\r\n"), SMTP_DATA_DONE, 3, S(""), NOF, 0, 0, 0 },
	{ "empty+pipelined", S(".\r\nQUIT\r\n"), SMTP_DATA_DONE, 3, S(""),
	    NOF, 0, 0, 0 },
	{ "empty+smuggle-after", S(".\r\n\n.\n"), SMTP_DATA_DONE, 3, S(""),
	    NOF, 0, 0, 0 },
	{ "simple", S("Subject: x\r\n\r\nbody\r\n.\r\n"), SMTP_DATA_DONE, ALL,
	    S("Subject: x\r\n\r\nbody\r\n"), NOF, 0, 0, 14 },
	{ "pipelined", S("a\r\n.\r\nQUIT\r\n"), SMTP_DATA_DONE, 6,
	    S("a\r\n"), NOF, 0, 0, 3 },
	{ "pipelined-mail", S("a\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<b@c>\r\n"),
	    SMTP_DATA_DONE, 6, S("a\r\n"), NOF, 0, 0, 3 },
	{ "empty-header", S("\r\n.\r\n"), SMTP_DATA_DONE, ALL, S("\r\n"),
	    NOF, 0, 0, 2 },
	{ "unstuff", S("..\r\n.a\r\n..b\r\n...\r\n.\r\n"), SMTP_DATA_DONE,
	    ALL, S(".\r\na\r\n.b\r\n..\r\n"), NOF, 0, 0, ANY },
	{ "unstuff-first", S("..\r\n.\r\n"), SMTP_DATA_DONE, ALL, S(".\r\n"),
	    NOF, 0, 0, ANY },
	{ "dot-mid-line", S("a.\r\nb..\r\n.\r\n"), SMTP_DATA_DONE, ALL,
	    S("a.\r\nb..\r\n"), NOF, 0, 0, ANY },
	{ "dot-space", S(". \r\n.\r\n"), SMTP_DATA_DONE, ALL, S(" \r\n"),
	    NOF, 0, 0, ANY },
	{ "end-needs-crlf", S("a\r\n.x\r\n.\r\n"), SMTP_DATA_DONE, ALL,
	    S("a\r\nx\r\n"), NOF, 0, 0, ANY },
	/* smuggling: none of these may end the message */
	{ "lf.lf", S("a\r\n\n.\n\r\nb\r\n.\r\n"), SMTP_DATA_DONE, ALL,
	    S("a\r\n\n.\n\r\nb\r\n"), BLF, 0, 0, ANY },
	{ "cr.cr", S("a\r.\rb\r\n.\r\n"), SMTP_DATA_DONE, ALL,
	    S("a\r.\rb\r\n"), BCR, 0, 0, ANY },
	{ "lf.crlf", S("a\n.\r\nb\r\n.\r\n"), SMTP_DATA_DONE, ALL,
	    S("a\n.\r\nb\r\n"), BLF, 0, 0, ANY },
	{ "crlf.lf", S("a\r\n.\nb\r\n.\r\n"), SMTP_DATA_DONE, ALL,
	    S("a\r\n\nb\r\n"), BLF, 0, 0, ANY },
	{ "cr.crlf", S("a\r.\r\nb\r\n.\r\n"), SMTP_DATA_DONE, ALL,
	    S("a\r.\r\nb\r\n"), BCR, 0, 0, ANY },
	{ "crlf.cr", S("a\r\n.\rX\r\n.\r\n"), SMTP_DATA_DONE, ALL,
	    S("a\r\n\rX\r\n"), BCR, 0, 0, ANY },
	{ "crlf.crcr", S("a\r\n.\r\r\n.\r\n"), SMTP_DATA_DONE, ALL,
	    S("a\r\n\r\r\n"), BCR, 0, 0, ANY },
	{ "crlf.lf.crlf", S("a\r\n.\n.\r\n"), SMTP_DATA_MORE, ALL,
	    S("a\r\n\n.\r\n"), BLF, 0, 0, ANY },
	{ "lf.lf-unended", S("a\n.\nMAIL FROM:<x@y>\n"), SMTP_DATA_MORE, ALL,
	    S("a\n.\nMAIL FROM:<x@y>\n"), BLF, 0, 0, ANY },
	{ "cr.cr-unended", S("a\r.\rMAIL FROM:<x@y>\r"), SMTP_DATA_MORE, ALL,
	    S("a\r.\rMAIL FROM:<x@y>\r"), BCR, 0, 0, ANY },
	{ "mixed", S("a\r\n.\n\r.\r\n\n.\r\n\r\n.\r\r\n.\r\n"),
	    SMTP_DATA_DONE, ALL, S("a\r\n\n\r.\r\n\n.\r\n\r\n\r\r\n"),
	    BLF | BCR, 0, 0, ANY },
	{ "start-lf.lf", S("\n.\n.\r\n"), SMTP_DATA_MORE, ALL, S("\n.\n.\r\n"),
	    BLF, 0, 0, ANY },
	{ "start-dot-lf", S(".\n.\r\n"), SMTP_DATA_MORE, ALL, S("\n.\r\n"),
	    BLF, 0, 0, ANY },
	{ "start-dot-cr", S(".\r.\r\n.\r\n"), SMTP_DATA_DONE, ALL,
	    S("\r.\r\n"), BCR, 0, 0, ANY },
	{ "crcrlf", S("a\r\r\n.\r\n"), SMTP_DATA_DONE, ALL, S("a\r\r\n"),
	    BCR, 0, 0, ANY },
	/* the bare LF and CR are flagged, the CRLF.CRLF is a real end */
	{ "lfcr", S("a\n\r.\r\n.\r\n"), SMTP_DATA_DONE, ALL,
	    S("a\n\r.\r\n"), BLF | BCR, 0, 0, ANY },
	{ "bare-lf-body", S("A: b\r\n\r\nx\ny\r\n.\r\n"), SMTP_DATA_DONE, ALL,
	    S("A: b\r\n\r\nx\ny\r\n"), BLF, 0, 0, 8 },
	{ "unended", S("abc"), SMTP_DATA_MORE, ALL, S("abc"), NOF, 0, 0, 3 },
	{ "unended-dot", S("a\r\n."), SMTP_DATA_MORE, ALL, S("a\r\n"), NOF,
	    0, 0, 3 },
	{ "unended-dot-cr", S("a\r\n.\r"), SMTP_DATA_MORE, ALL, S("a\r\n"),
	    NOF, 0, 0, 3 },
	{ "unended-cr", S("a\r"), SMTP_DATA_MORE, ALL, S("a\r"), NOF, 0, 0,
	    2 },
	{ "nul", S("a\0b\r\n.\r\n"), SMTP_DATA_DONE, ALL, S("a\0b\r\n"), NOF,
	    0, 0, ANY },
	{ "8bit", S("Subject: caf\xc3\xa9\r\n\r\n\xff\r\n.\r\n"),
	    SMTP_DATA_DONE, ALL, S("Subject: caf\xc3\xa9\r\n\r\n\xff\r\n"),
	    NOF, 0, 0, 18, true },
	{ "8bit-late", S("0123456789012345678901234567890123456789\x80\r\n"
	    ".\r\n"), SMTP_DATA_DONE, ALL,
	    S("0123456789012345678901234567890123456789\x80\r\n"), NOF, 0, 0,
	    ANY, true },
	{ "8bit-after-end", S(".\r\n\xff"), SMTP_DATA_DONE, 3, S(""), NOF, 0,
	    0, 0, false },
	{ "bare-cr-after-end", S("a\r\n.\r\n\rx"), SMTP_DATA_DONE, 6,
	    S("a\r\n"), NOF, 0, 0, ANY },
	/* limits */
	{ "header-big", S("Subject: hello\r\n\r\nbody\r\n.\r\n"),
	    SMTP_DATA_DONE, ALL, S("Subject: hello\r\n\r\nbody\r\n"),
	    SMTP_DATA_ERR_HEADER, 0, 10, 18 },
	{ "header-at-limit", S("Subject: hello\r\n\r\nbody\r\n.\r\n"),
	    SMTP_DATA_DONE, ALL, S("Subject: hello\r\n\r\nbody\r\n"), NOF, 0,
	    18, 18 },
	{ "header-one-over", S("Subject: hello\r\n\r\nbody\r\n.\r\n"),
	    SMTP_DATA_DONE, ALL, S("Subject: hello\r\n\r\nbody\r\n"),
	    SMTP_DATA_ERR_HEADER, 0, 17, 18 },
	{ "header-no-end", S("abc\r\n.\r\n"), SMTP_DATA_DONE, ALL,
	    S("abc\r\n"), SMTP_DATA_ERR_HEADER, 0, 4, 5 },
	{ "header-stuffed", S("A: b\r\n..x\r\n\r\n.\r\n"), SMTP_DATA_DONE,
	    ALL, S("A: b\r\n.x\r\n\r\n"), NOF, 0, 0, 12 },
	{ "too-big", S("abcdefgh\r\n.\r\n"), SMTP_DATA_DONE, ALL,
	    S("abcde"), SMTP_DATA_ERR_TOO_BIG, 5, 0, ANY },
	{ "too-big-then-pipelined", S("abcdefgh\r\n.\r\nQUIT\r\n"),
	    SMTP_DATA_DONE, 13, S("abcde"), SMTP_DATA_ERR_TOO_BIG, 5, 0,
	    ANY },
	{ "at-max", S("abcdefgh\r\n.\r\n"), SMTP_DATA_DONE, ALL,
	    S("abcdefgh\r\n"), NOF, 10, 0, ANY },
	{ "one-over-max", S("abcdefgh\r\n.\r\n"), SMTP_DATA_DONE, ALL,
	    S("abcdefgh\r"), SMTP_DATA_ERR_TOO_BIG, 9, 0, ANY },
	{ "too-big-stuffed", S("..\r\n..\r\n..\r\n.\r\n"), SMTP_DATA_DONE, ALL,
	    S(".\r\n.\r"), SMTP_DATA_ERR_TOO_BIG, 5, 0, ANY },
	{ "too-big-bare-cr", S("a\r\n.\rb\r\n.\r\n"), SMTP_DATA_DONE, ALL,
	    S("a\r\n"), SMTP_DATA_ERR_TOO_BIG | BCR, 3, 0, ANY },
#undef ALL
#undef ANY
};

static void
test_data_table(void **state)
{
	const struct data_case *tc;
	struct data_result whole;
	uint64_t max_size;
	size_t i, max_header, consumed;

	for (i = 0; i < NELEM(data_cases); i++) {
		tc = &data_cases[i];
		max_size = tc->max_size ? tc->max_size : BIG;
		max_header = tc->max_header ? tc->max_header : BIG;
		data_run(tc->in, tc->len, max_size, max_header, NULL, 0,
		    &whole);
		consumed = tc->consumed == (size_t)-1 ? tc->len : tc->consumed;
		CHECK(whole.status == tc->status && whole.consumed == consumed,
		    "%s: status %d consumed %zu", tc->name, whole.status,
		    whole.consumed);
		CHECK(whole.out.len == tc->out_len && (tc->out_len == 0 ||
		    memcmp(whole.out.p, tc->out, tc->out_len) == 0),
		    "%s: output <%.*s>", tc->name, (int)whole.out.len,
		    whole.out.p);
		CHECK(whole.errors == tc->errors, "%s: errors %#x want %#x",
		    tc->name, whole.errors, tc->errors);
		CHECK(whole.eightbit == tc->eightbit, "%s: 8bit", tc->name);
		CHECK(tc->header_len == (size_t)-1 ||
		    whole.header_len == tc->header_len, "%s: header_len %zu",
		    tc->name, whole.header_len);
		CHECK(whole.calls <= 4, "%s: %u calls", tc->name, whole.calls);
		data_check_splits(tc->name, tc->in, tc->len, max_size,
		    max_header, &whole, 0, tc->len);
		buf_free(&whole.out);
	}
}

/* Three pieces, every pair of cuts: a CR, dot and LF in three feeds. */
static void
test_data_three_pieces(void **state)
{
	static const char in[] = "a\r\n.\r\r\n..\r\nb\r.\r\n\n.\n\r\n.\r\nX";
	struct data_result whole, r;
	size_t len = sizeof(in) - 1, cuts[2];

	data_run(in, len, BIG, BIG, NULL, 0, &whole);
	assert_int_equal(whole.status, SMTP_DATA_DONE);
	assert_int_equal(whole.consumed, len - 1);
	for (cuts[0] = 0; cuts[0] <= len; cuts[0]++) {
		for (cuts[1] = cuts[0]; cuts[1] <= len; cuts[1]++) {
			data_run(in, len, BIG, BIG, cuts, 2, &r);
			data_same("three", "cuts", cuts[0] * 1000 + cuts[1],
			    &whole, &r);
			buf_free(&r.out);
		}
	}
	buf_free(&whole.out);
}

/* A long message goes out in one call; each stuffed line adds one. */
static void
test_data_spans(void **state)
{
	struct data_result r;
	struct buf in;
	size_t i;

	buf_init(&in, 1 << 20);
	assert_int_equal(buf_append_str(&in, "Subject: spans\r\n\r\n"), 0);
	for (i = 0; i < 1000; i++)
		assert_int_equal(buf_printf(&in, "line %zu of the body\r\n",
		    i), 0);
	assert_int_equal(buf_append_str(&in, ".\r\n"), 0);
	data_run(in.p, in.len, BIG, BIG, NULL, 0, &r);
	assert_int_equal(r.status, SMTP_DATA_DONE);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.out.len, in.len - 3);
	assert_int_equal(r.header_len, 18);
	buf_free(&r.out);

	buf_reset(&in);
	for (i = 0; i < 10; i++)
		assert_int_equal(buf_append_str(&in, "text\r\n..dot\r\n"), 0);
	assert_int_equal(buf_append_str(&in, ".\r\n"), 0);
	data_run(in.p, in.len, BIG, BIG, NULL, 0, &r);
	assert_int_equal(r.status, SMTP_DATA_DONE);
	assert_int_equal(r.calls, 11);
	assert_int_equal(r.out.len, in.len - 3 - 10);
	buf_free(&r.out);
	buf_free(&in);
}

static void
test_data_out_fails(void **state)
{
	struct smtp_data d;
	struct data_result r;
	size_t used;

	data_result_init(&r);
	r.fail_at = 1;
	smtp_data_init(&d, BIG, BIG);
	assert_int_equal(smtp_data_feed(&d, S("abc\r\n.\r\n"), &used,
	    data_out, &r), -1);
	buf_free(&r.out);

	data_result_init(&r);
	r.fail_at = 2;
	smtp_data_init(&d, BIG, BIG);
	assert_int_equal(smtp_data_feed(&d, S("a\r\n..b\r\n"), &used,
	    data_out, &r), -1);
	buf_free(&r.out);

	/* NULL out: only counting */
	smtp_data_init(&d, BIG, BIG);
	assert_int_equal(smtp_data_feed(&d, S("ab\r\n.\r\n"), &used, NULL,
	    NULL), SMTP_DATA_DONE);
	assert_int_equal(d.size, 4);
	assert_int_equal(used, 7);
}

/* Build "<prefix><n times c><suffix>" in a fresh buffer. */
static char *
data_make(const char *prefix, size_t n, char c, const char *suffix,
    size_t *len_r)
{
	size_t pl = strlen(prefix), sl = strlen(suffix);
	char *p = malloc(pl + n + sl);

	assert_non_null(p);
	memcpy(p, prefix, pl);
	memset(p + pl, c, n);
	memcpy(p + pl + n, suffix, sl);
	*len_r = pl + n + sl;
	return p;
}

/* Run one long case whole and at cuts around max, and byte by byte. */
static void
data_long(const char *name, const char *prefix, size_t n, const char *suffix,
    int status, size_t consumed, unsigned errors)
{
	const size_t max = SMTP_DATA_LINE_MAX;
	struct data_result whole;
	size_t len;
	char *in = data_make(prefix, n, 'x', suffix, &len);

	data_run(in, len, BIG, BIG, NULL, 0, &whole);
	CHECK(whole.status == status && whole.consumed == consumed &&
	    whole.errors == errors, "%s: status %d consumed %zu errors %#x",
	    name, whole.status, whole.consumed, whole.errors);
	data_check_splits(name, in, len, BIG, BIG, &whole, 0, 4);
	data_check_splits(name, in, len, BIG, BIG, &whole, max - 4, max + 8);
	data_check_splits(name, in, len, BIG, BIG, &whole, len - 8, len);
	buf_free(&whole.out);
	free(in);
}

static void
test_data_line_max(void **state)
{
	const size_t max = SMTP_DATA_LINE_MAX;
	const int DONE = SMTP_DATA_DONE, LONG = SMTP_DATA_LINE_TOO_LONG;

	/* a line of exactly max bytes, CRLF included, is fine */
	data_long("at-max", "", max - 2, "\r\n.\r\n", DONE, max + 3, 0);
	data_long("at-max-2nd", "a\r\n", max - 2, "\r\n.\r\n", DONE,
	    max + 6, 0);
	data_long("over-by-lf", "", max - 1, "\r\n.\r\n", LONG, max, 0);
	data_long("over", "", max, "\r\n.\r\n", LONG, max, 0);
	data_long("over-cr-x", "", max - 1, "\rx", LONG, max, 0);
	data_long("stuffed-at-max", ".", max - 3, "\r\n.\r\n", DONE, max + 3,
	    0);
	data_long("stuffed-over", ".", max - 2, "\r\n.\r\n", LONG, max, 0);
	data_long("unended-at-max", "", max, "", SMTP_DATA_MORE, max, 0);
	/* bare LF ends a line for the count: many short lines are fine */
	data_long("bare-lf-lines", "a\n", max - 1, "\n\r\n.\r\n", DONE,
	    max + 7, SMTP_DATA_ERR_BARE_LF);
}

static void
test_data_bare_lf_lines(void **state)
{
	struct data_result r;
	struct buf in;
	size_t i;

	buf_init(&in, 1 << 20);
	for (i = 0; i < 20000; i++)
		assert_int_equal(buf_append_str(&in, "ab\n"), 0);
	assert_int_equal(buf_append_str(&in, "\r\n.\r\n"), 0);
	data_run(in.p, in.len, BIG, BIG, NULL, 0, &r);
	assert_int_equal(r.status, SMTP_DATA_DONE);
	assert_int_equal(r.errors, SMTP_DATA_ERR_BARE_LF);
	buf_free(&r.out);
	buf_free(&in);
}

/* --- BDAT ------------------------------------------------------------ */

static void
chunk_run(const char *in, size_t len, bool binary, uint64_t max_size,
    const size_t *cuts, size_t ncuts, struct data_result *r)
{
	struct smtp_data d;
	size_t start = 0, end, k;

	data_result_init(r);
	smtp_data_init(&d, max_size, BIG);
	for (k = 0; k <= ncuts; k++) {
		end = k < ncuts ? cuts[k] : len;
		assert_int_equal(smtp_data_feed_chunk(&d, in + start,
		    end - start, binary, data_out, r), 0);
		start = end;
	}
	assert_int_equal(smtp_data_finish_chunks(&d, data_out, r), 0);
	r->consumed = len;
	data_result_end(r, &d);
}

static const struct chunk_case {
	const char	*name;
	const char	*in;
	size_t		 len;
	bool		 binary;
	const char	*out;
	size_t		 out_len;
	unsigned	 errors;
	size_t		 header_len;
	bool		 eightbit;
	uint64_t	 max_size;
} chunk_cases[] = {
	{ "plain", S("a\r\nb\r\n"), false, S("a\r\nb\r\n"), 0, 6 },
	{ "empty", S(""), false, S(""), 0, 0 },
	{ "no-unstuff", S("..\r\n.\r\n"), false, S("..\r\n.\r\n"), 0, 7 },
	{ "header", S("A: b\r\n\r\nbody"), false, S("A: b\r\n\r\nbody\r\n"),
	    0, 8 },
	{ "bare-lf", S("a\nb"), false, S("a\nb\r\n"), BLF, 5 },
	{ "bare-cr", S("a\rb\r\n"), false, S("a\rb\r\n"), BCR, 5 },
	{ "final-cr", S("a\r"), false, S("a\r\n"), 0, 3 },
	{ "crcr", S("a\r\r\n"), false, S("a\r\r\n"), BCR, 4 },
	{ "binary", S("\0\n\r\xff"), true, S("\0\n\r\xff\r\n"), 0, 6, true },
	{ "binary-cr", S("x\r\r"), true, S("x\r\r\n"), 0, 4 },
	{ "binary-lf", S("x\n"), true, S("x\n"), 0, 2 },
	{ "binary-header", S("A: b\r\n\r\n\xff\n\r"), true,
	    S("A: b\r\n\r\n\xff\n\r\n"), 0, 8, true },
	{ "8bit", S("caf\xc3\xa9\r\n"), false, S("caf\xc3\xa9\r\n"), 0, 7,
	    true },
	{ "too-big", S("abcdef\r\n"), false, S("abc"), SMTP_DATA_ERR_TOO_BIG,
	    8, false, 3 },
	{ "too-big-finish", S("abc"), false, S("abc"), SMTP_DATA_ERR_TOO_BIG,
	    5, false, 3 },
};

static void
test_chunk_table(void **state)
{
	const struct chunk_case *tc;
	struct data_result whole, r;
	size_t i, cut, *cuts, k;
	uint64_t max;

	for (i = 0; i < NELEM(chunk_cases); i++) {
		tc = &chunk_cases[i];
		max = tc->max_size ? tc->max_size : BIG;
		chunk_run(tc->in, tc->len, tc->binary, max, NULL, 0, &whole);
		CHECK(whole.out.len == tc->out_len && (tc->out_len == 0 ||
		    memcmp(whole.out.p, tc->out, tc->out_len) == 0),
		    "%s: output <%.*s>", tc->name, (int)whole.out.len,
		    whole.out.p);
		CHECK(whole.errors == tc->errors && whole.eightbit ==
		    tc->eightbit, "%s: errors %#x", tc->name, whole.errors);
		CHECK(whole.header_len == tc->header_len, "%s: header %zu",
		    tc->name, whole.header_len);
		for (cut = 0; cut <= tc->len; cut++) {
			chunk_run(tc->in, tc->len, tc->binary, max, &cut, 1,
			    &r);
			data_same(tc->name, "chunk cut", cut, &whole, &r);
			buf_free(&r.out);
		}
		cuts = calloc(tc->len + 1, sizeof(*cuts));
		assert_non_null(cuts);
		for (k = 0; k < tc->len; k++)
			cuts[k] = k + 1;
		chunk_run(tc->in, tc->len, tc->binary, max, cuts, tc->len, &r);
		data_same(tc->name, "chunk bytes", 0, &whole, &r);
		buf_free(&r.out);
		free(cuts);
		buf_free(&whole.out);
	}
}

#define T(name, fn)	{ (name), (fn), NULL, NULL, NULL }

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T("smtp/smtp_parse/line", test_line),
		T("smtp/smtp_parse/skip_line", test_skip_line),
		T("smtp/smtp_parse/verb", test_verb),
		T("smtp/smtp_parse/verb_name", test_verb_name),
		T("smtp/smtp_parse/mail_ok", test_mail_ok),
		T("smtp/smtp_parse/mail_bad", test_mail_bad),
		T("smtp/smtp_parse/mail_limits", test_mail_limits),
		T("smtp/smtp_parse/rcpt_ok", test_rcpt_ok),
		T("smtp/smtp_parse/rcpt_bad", test_rcpt_bad),
		T("smtp/smtp_parse/rcpt_orcpt_max", test_rcpt_orcpt_max),
		T("smtp/smtp_parse/helo", test_helo),
		T("smtp/smtp_data/table", test_data_table),
		T("smtp/smtp_data/three_pieces", test_data_three_pieces),
		T("smtp/smtp_data/spans", test_data_spans),
		T("smtp/smtp_data/out_fails", test_data_out_fails),
		T("smtp/smtp_data/line_max", test_data_line_max),
		T("smtp/smtp_data/bare_lf_lines", test_data_bare_lf_lines),
		T("smtp/smtp_data/chunks", test_chunk_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
