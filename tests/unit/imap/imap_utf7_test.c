/* imap_utf7_test.c: modified UTF-7 <-> UTF-8 vectors (RFC 3501 §5.1.3
 * examples included), strictness (every non-canonical spelling is
 * refused), UTF-8 validation, and the mailbox name check that keeps a
 * name inside the user's directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "imap/imap_utf7.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static bool
same(const struct buf *b, const char *s)
{
	return b->len == strlen(s) && (b->len == 0 ||
	    memcmp(b->p, s, b->len) == 0);
}

static const struct {
	const char	*utf7;
	const char	*utf8;
} good[] = {
	{ "", "" },
	{ "INBOX", "INBOX" },
	{ "Entw&APw-rfe", "Entw\xc3\xbc" "rfe" },
	{ "&U,BTFw-", "\xe5\x8f\xb0\xe5\x8c\x97" },
	/* RFC 3501 §5.1.3 */
	{ "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	    "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
	    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
	{ "&-", "&" },
	{ "A&-B&-", "A&B&" },
	{ "&AMQ-", "\xc3\x84" },
	{ "&AOk-t&AOk-", "\xc3\xa9t\xc3\xa9" },
	{ "&2D3eAA-", "\xf0\x9f\x98\x80" },		/* U+1F600, a pair */
	{ "&ZeVnLIqe2D3eAA-x", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"
	    "\xf0\x9f\x98\x80x" },
	{ "&AAE-", "\x01" },				/* controls encode */
	{ "a-b+c,d", "a-b+c,d" },
};

static void
test_good(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	for (size_t i = 0; i < NELEM(good); i++) {
		buf_reset(&b);
		assert_int_equal(imap_utf7_to_utf8(str_cstr(good[i].utf7), &b),
		    0);
		if (!same(&b, good[i].utf8))
			fail_msg("decode %s: got %.*s", good[i].utf7,
			    (int)b.len, b.p);
		buf_reset(&b);
		assert_int_equal(imap_utf7_from_utf8(str_cstr(good[i].utf8),
		    &b), 0);
		if (!same(&b, good[i].utf7))
			fail_msg("encode %s: got %.*s", good[i].utf7,
			    (int)b.len, b.p);
		assert_true(imap_utf7_valid(str_cstr(good[i].utf7)));
	}
	buf_free(&b);
}

/* Not canonical or not mUTF-7 at all. */
static const char *const bad7[] = {
	"&",			/* shift without end */
	"&AOk",			/* unterminated */
	"a&",
	"&AOk-&AOk-",		/* two runs in a row: must be one */
	"&AGE-",		/* 'a' must be direct */
	"&ACY-",		/* '&' must be "&-" */
	"&AC4ALg-",		/* ".." hidden in base64 */
	"a&AC8-b",		/* '/' hidden in base64 */
	"&AOl-",		/* non-zero padding bits */
	"&AOkA-",		/* six bits left over */
	"&A-",			/* not even one character */
	"&2D0-",		/* lone high surrogate */
	"&3gA-",		/* lone low surrogate */
	"&2D3YPQ-",		/* high surrogate then high surrogate */
	"&AOk/-",		/* '/' is not modified base64 */
	"&AOk=-",
	"&AO k-",
	"\xc3\xa9",		/* raw 8-bit */
	"a\tb",			/* control */
	"a\x7f",
	"&,,,,-",
};

static void
test_bad7(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	for (size_t i = 0; i < NELEM(bad7); i++) {
		buf_reset(&b);
		if (imap_utf7_to_utf8(str_cstr(bad7[i]), &b) != -1)
			fail_msg("accepted %s", bad7[i]);
		assert_false(imap_utf7_valid(str_cstr(bad7[i])));
	}
	buf_free(&b);
}

static const char *const bad8[] = {
	"\xc0\x80",		/* overlong NUL */
	"\xc1\xbf",
	"\xe0\x80\xaf",		/* overlong '/' */
	"\xed\xa0\x80",		/* surrogate */
	"\xf4\x90\x80\x80",	/* past U+10FFFF */
	"\xf8\x88\x80\x80\x80",
	"\xe2\x82",		/* truncated */
	"a\x80",		/* stray continuation */
	"\xff",
};

static void
test_bad8(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	for (size_t i = 0; i < NELEM(bad8); i++) {
		buf_reset(&b);
		if (imap_utf7_from_utf8(str_cstr(bad8[i]), &b) != -1)
			fail_msg("encoded bad UTF-8 #%zu", i);
		assert_false(imap_utf7_utf8_valid(str_cstr(bad8[i])));
	}
	assert_true(imap_utf7_utf8_valid(str_cstr("\xf4\x8f\xbf\xbf")));
	assert_true(imap_utf7_utf8_valid(str_cstr("\xef\xbf\xbd")));
	buf_free(&b);
}

/* The cap of the output buffer is honoured. */
static void
test_cap(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4);
	assert_int_equal(imap_utf7_to_utf8(str_cstr("Entw&APw-rfe"), &b), -1);
	assert_true(b.len <= 4);
	buf_reset(&b);
	assert_int_equal(imap_utf7_from_utf8(str_cstr("\xc3\xa9\xc3\xa9"),
	    &b), -1);
	buf_free(&b);
}

static const struct {
	const char	*name;
	const char	*err;	/* NULL: valid */
} names[] = {
	{ "INBOX", NULL },
	{ "a/b/c", NULL },
	{ "Entw\xc3\xbc" "rfe", NULL },
	{ "\xe5\x8f\xb0\xe5\x8c\x97/x", NULL },
	{ "..a/b..", NULL },
	{ ".hidden", NULL },
	{ "a b", NULL },
	{ "~peter", NULL },
	{ "", "Empty mailbox name" },
	{ "/a", "Mailbox name has an empty component" },
	{ "/", "Mailbox name has an empty component" },
	{ "a/", "Mailbox name has an empty component" },
	{ "a//b", "Mailbox name has an empty component" },
	{ ".", "Mailbox name has a \".\" or \"..\" component" },
	{ "..", "Mailbox name has a \".\" or \"..\" component" },
	{ "a/../b", "Mailbox name has a \".\" or \"..\" component" },
	{ "../../etc/passwd", "Mailbox name has a \".\" or \"..\" component" },
	{ "a/.", "Mailbox name has a \".\" or \"..\" component" },
	{ "a/./b", "Mailbox name has a \".\" or \"..\" component" },
	{ "a\x01" "b", "Mailbox name has control characters" },
	{ "a\nb", "Mailbox name has control characters" },
	{ "a\x7f", "Mailbox name has control characters" },
	{ "a\xc2\x85", "Mailbox name has control characters" },	/* NEL */
	{ "a%", "Mailbox name has wildcards" },
	{ "*", "Mailbox name has wildcards" },
	{ "a\xc0\xaf", "Mailbox name is not valid UTF-8" },
	{ "a\xff", "Mailbox name is not valid UTF-8" },
};

static void
test_names(void **state)
{
	const char *err;
	char longname[IMAP_MAILBOX_NAME_MAX + 2], deep[64];

	(void)state;
	for (size_t i = 0; i < NELEM(names); i++) {
		err = NULL;
		int r = imap_utf7_mailbox_check(str_cstr(names[i].name), &err);

		if (names[i].err == NULL && r != 0)
			fail_msg("%s refused: %s", names[i].name, err);
		if (names[i].err != NULL && (r != -1 || err == NULL ||
		    strcmp(err, names[i].err) != 0))
			fail_msg("%s: got %s", names[i].name,
			    r == 0 ? "accepted" : err);
	}
	/* NUL inside */
	assert_int_equal(imap_utf7_mailbox_check(str_make("a\0b", 3), &err),
	    -1);
	memset(longname, 'x', sizeof(longname));
	assert_int_equal(imap_utf7_mailbox_check(str_make(longname,
	    IMAP_MAILBOX_NAME_MAX), &err), 0);
	assert_int_equal(imap_utf7_mailbox_check(str_make(longname,
	    IMAP_MAILBOX_NAME_MAX + 1), &err), -1);
	assert_string_equal(err, "Mailbox name too long");
	for (size_t i = 0; i < sizeof(deep); i++)
		deep[i] = i % 2 ? '/' : 'a';
	assert_int_equal(imap_utf7_mailbox_check(str_make(deep,
	    2 * IMAP_MAILBOX_DEPTH_MAX - 1), &err), 0);
	assert_int_equal(imap_utf7_mailbox_check(str_make(deep,
	    2 * IMAP_MAILBOX_DEPTH_MAX + 1), &err), -1);
	assert_string_equal(err, "Mailbox name too deep");
}

/* Every 1- and 2-byte UTF-8 string and some 3/4-byte ones survive the
 * round trip; every 1- to 3-character mUTF-7 string over a small
 * alphabet decodes only when re-encoding gives it back. */
static void
test_roundtrip(void **state)
{
	static const char alpha[] = "&-AOkZ,+a/2D3e";
	struct buf b, c;
	char s[4];

	(void)state;
	buf_init(&b, 4096);
	buf_init(&c, 4096);
	for (uint32_t cp = 1; cp < 0x110000; cp += cp < 0x3000 ? 1 : 97) {
		unsigned char u[4];
		size_t n;

		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		if (cp < 0x80)
			u[0] = (unsigned char)cp, n = 1;
		else if (cp < 0x800)
			u[0] = 0xc0 | (cp >> 6), u[1] = 0x80 | (cp & 0x3f),
			    n = 2;
		else if (cp < 0x10000)
			u[0] = 0xe0 | (cp >> 12),
			    u[1] = 0x80 | ((cp >> 6) & 0x3f),
			    u[2] = 0x80 | (cp & 0x3f), n = 3;
		else
			u[0] = 0xf0 | (cp >> 18),
			    u[1] = 0x80 | ((cp >> 12) & 0x3f),
			    u[2] = 0x80 | ((cp >> 6) & 0x3f),
			    u[3] = 0x80 | (cp & 0x3f), n = 4;
		buf_reset(&b);
		buf_reset(&c);
		assert_int_equal(imap_utf7_from_utf8(str_make((char *)u, n),
		    &b), 0);
		assert_int_equal(imap_utf7_to_utf8(str_make(b.p, b.len), &c),
		    0);
		assert_int_equal(c.len, n);
		assert_memory_equal(c.p, u, n);
	}
	for (size_t len = 1; len <= 3; len++) {
		size_t total = 1, na = strlen(alpha);

		for (size_t k = 0; k < len; k++)
			total *= na;
		for (size_t v = 0; v < total; v++) {
			size_t x = v;

			for (size_t k = 0; k < len; k++, x /= na)
				s[k] = alpha[x % na];
			buf_reset(&b);
			buf_reset(&c);
			if (imap_utf7_to_utf8(str_make(s, len), &b) == -1)
				continue;
			assert_int_equal(imap_utf7_from_utf8(str_make(b.p,
			    b.len), &c), 0);
			if (c.len != len || memcmp(c.p, s, len) != 0)
				fail_msg("%.*s is not canonical", (int)len, s);
		}
	}
	buf_free(&b);
	buf_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad7),
		cmocka_unit_test(test_bad8),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
