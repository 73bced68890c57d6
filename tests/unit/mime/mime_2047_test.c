/* mime_2047_test.c: tests for src/mime/mime_2047.c: encoded words (the
 * examples of RFC 2047 §8 among them), RFC 2231 values, charsets, and
 * streaming conversion cut at every byte. */
#include "mime_testlib.c"

#include "mime/mime_2047.h"

struct mime_2047_case {
	const char	*in;
	const char	*want;
};

static const struct mime_2047_case mime_2047_cases[] = {
	{ "=?UTF-8?Q?R=C3=A9union_demain?=", "R\xc3\xa9union demain" },
	{ "=?ISO-8859-1?Q?Andr=E9?= Pirard", "Andr\xc3\xa9 Pirard" },
	{ "=?iso-8859-15?q?=A4?=", "\xe2\x82\xac" },
	{ "=?windows-1252?q?=80?=", "\xe2\x82\xac" },
	{ "=?us-ascii?q?hello?=", "hello" },
	{ "=?UTF-8?B?w6lsw6h2ZQ==?=", "\xc3\xa9l\xc3\xa8ve" },
	{ "=?UTF-8?b?w6lsw6h2ZQ?=", "\xc3\xa9l\xc3\xa8ve" },
	{ "=?koi8-r?B?8NLJ18XU?=", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5"
	  "\xd1\x82" },
	{ "=?utf-8?q?=C3?= =?utf-8?q?=A9?=", "\xc3\xa9" },
	{ "=?utf-8?q?=C3?= =?iso-8859-1?q?=E9?=", "\xef\xbf\xbd\xc3\xa9" },
	{ "=?x-unknown?q?caf=E9?=", "caf\xc3\xa9" },
	{ "=?utf-8?x?abc?=", "=?utf-8?x?abc?=" },
	{ "=?utf-8?q?abc", "=?utf-8?q?abc" },
	{ "=??q?abc?=", "=??q?abc?=" },
	{ "=?utf-8*fr?q?oui?=", "oui" },
	{ "Gr\xc3\xbc\xc3\x9f" "e", "Gr\xc3\xbc\xc3\x9f" "e" },
	{ "Gr\xfc\xdf" "e", "Gr\xc3\xbc\xc3\x9f" "e" },
	{ "=?utf-8?q?bad=FFbyte?=", "bad\xef\xbf\xbd" "byte" },
	{ "a =?utf-8?q?b?= c", "a b c" },
	{ "=?utf-8?q?a?=\r\n =?utf-8?q?b?=", "ab" },
	{ "=?utf-8?q?a?=x=?utf-8?q?b?=", "axb" },
	/* RFC 2047 §8 */
	{ "(=?ISO-8859-1?Q?a?=)", "(a)" },
	{ "(=?ISO-8859-1?Q?a?= b)", "(a b)" },
	{ "(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)" },
	{ "(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)" },
	{ "(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)" },
	{ "(=?ISO-8859-1?Q?a_b?=)", "(a b)" },
	{ "(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)" },
	{ "", "" },
	{ "=?", "=?" },
};

static void
mime_2047_want(const struct buf *got, const char *want, const char *in)
{
	if (got->len != strlen(want) ||
	    (got->len > 0 && memcmp(got->p, want, got->len) != 0)) {
		fprintf(stderr, "in:   %s\ngot:  %.*s\nwant: %s\n", in,
		    (int)got->len, got->p, want);
		fail();
	}
}

static void
test_words(void **state)
{
	struct buf b;
	size_t i;

	buf_init(&b, 64 * 1024);
	for (i = 0; i < sizeof(mime_2047_cases) / sizeof(mime_2047_cases[0]);
	    i++) {
		buf_reset(&b);
		assert_int_equal(mime_2047_decode(&b,
		    str_cstr(mime_2047_cases[i].in)), 0);
		mime_2047_want(&b, mime_2047_cases[i].want,
		    mime_2047_cases[i].in);
	}
	buf_free(&b);
}

static void
test_params(void **state)
{
	static const struct {
		const char *name, *value, *want;
	} cases[] = {
		{ "filename*", "UTF-8''ordre%20du%20jour%E2%80%94v2.pdf",
		  "ordre du jour\xe2\x80\x94v2.pdf" },
		{ "title*", "us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
		  "This is ***fun***" },
		{ "filename*", "iso-8859-1'fr'caf%E9", "caf\xc3\xa9" },
		{ "filename*", "no quotes %41%", "no quotes A%" },
		{ "filename*", "''%25", "%" },
		{ "name", "=?utf-8?b?w6k=?=.txt", "\xc3\xa9.txt" },
		{ "name", "plain.txt", "plain.txt" },
	};
	struct mime_param pm;
	struct buf b;
	size_t i;

	buf_init(&b, 64 * 1024);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pm.name = str_cstr(cases[i].name);
		pm.value = str_cstr(cases[i].value);
		buf_reset(&b);
		assert_int_equal(mime_2047_param(&b, &pm), 0);
		mime_2047_want(&b, cases[i].want, cases[i].value);
	}
	buf_free(&b);
}

/* A whole text, then fed at every cut and byte by byte. */
static void
mime_conv_check(const char *charset, const char *in, size_t len,
    const char *want, bool known)
{
	struct mime_2047_conv *c;
	struct buf b;
	size_t cut, i;

	buf_init(&b, 64 * 1024);
	for (cut = 0; cut <= len + 1; cut++) {
		c = mime_2047_conv_new(charset ? str_cstr(charset) :
		    (struct str){ NULL, 0 });
		assert_int_equal(mime_2047_conv_known(c), known);
		buf_reset(&b);
		if (cut <= len) {
			assert_int_equal(mime_2047_conv_feed(c, &b, in, cut), 0);
			assert_int_equal(mime_2047_conv_feed(c, &b, in + cut,
			    len - cut), 0);
		} else {
			for (i = 0; i < len; i++)
				assert_int_equal(mime_2047_conv_feed(c, &b,
				    in + i, 1), 0);
		}
		assert_int_equal(mime_2047_conv_finish(c, &b), 0);
		mime_2047_want(&b, want, charset ? charset : "(none)");
		mime_2047_conv_free(&c);
		assert_null(c);
	}
	buf_free(&b);
}

static void
test_charsets(void **state)
{
	mime_conv_check("utf-8", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	    14, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", true);
	mime_conv_check("UTF8", "a\xc3(b\xed\xa0\x80z\xc3", 9,
	    "a\xef\xbf\xbd(b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz\xef\xbf\xbd",
	    true);
	mime_conv_check("shift_jis", "\x93\xfa\x96\x7b", 4,
	    "\xe6\x97\xa5\xe6\x9c\xac", true);
	mime_conv_check("iso-2022-jp", "\x1b$BF|K\\\x1b(B!", 11,
	    "\xe6\x97\xa5\xe6\x9c\xac!", true);
	mime_conv_check("EUC-JP", "\xc6\xfc\xcb\xdc\xc6", 5,
	    "\xe6\x97\xa5\xe6\x9c\xac\xef\xbf\xbd", true);
	mime_conv_check("iso-8859-2", "\xb1\xe6", 2, "\xc4\x85\xc4\x87", true);
	mime_conv_check("windows-1252", "\x93x\x94", 3,
	    "\xe2\x80\x9cx\xe2\x80\x9d", true);
	mime_conv_check("us-ascii", "caf\xc3\xa9", 5, "caf\xc3\xa9", false);
	mime_conv_check(NULL, "caf\xe9", 4, "caf\xc3\xa9", false);
	mime_conv_check("no-such-charset", "x\xff", 2, "x\xc3\xbf", false);
	mime_conv_check("utf-8*en", "ok", 2, "ok", true);
	mime_conv_check("", "", 0, "", false);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_charsets),
	};

	return cmocka_run_group_tests_name("mime/mime_2047", tests, NULL,
	    NULL);
}
