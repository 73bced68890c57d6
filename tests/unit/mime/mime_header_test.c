/* mime_header_test.c: tests for src/mime/mime_header.c beyond what the
 * corpus of mime_parse_test.c covers: walking a header block field by
 * field, unfolding, and the lexical helpers. */
#include "mime_testlib.c"

#include "mime/mime_header.h"

static void
mime_expect(struct str got, const char *want)
{
	assert_int_equal(got.len, strlen(want));
	if (got.len > 0)
		assert_memory_equal(got.p, want, got.len);
}

static void
test_fields(void **state)
{
	static const char block[] =
	    "Subject: one\r\n"
	    " two\r\n"
	    "\tthree\r\n"
	    "X-Empty:\r\n"
	    "no colon here\r\n"
	    "To : a@b\n"
	    "\r\n"
	    "body: not a field\r\n";
	struct mime_header_field f;
	struct buf b;
	size_t i = 0;

	buf_init(&b, 1024);
	assert_int_equal(mime_header_next(STR_LIT(block), &i, &f), 1);
	mime_expect(f.name, "Subject");
	mime_expect(f.raw, "Subject: one\r\n two\r\n\tthree\r\n");
	assert_int_equal(mime_header_unfold(&b, f.value), 0);
	mime_expect(str_make(b.p, b.len), "one two\tthree");
	assert_int_equal(mime_header_next(STR_LIT(block), &i, &f), 1);
	mime_expect(f.name, "X-Empty");
	buf_reset(&b);
	assert_int_equal(mime_header_unfold(&b, f.value), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(mime_header_next(STR_LIT(block), &i, &f), 1);
	mime_expect(f.name, "");
	mime_expect(f.raw, "no colon here\r\n");
	assert_int_equal(mime_header_next(STR_LIT(block), &i, &f), 1);
	mime_expect(f.name, "To");
	mime_expect(f.value, " a@b\n");
	assert_int_equal(mime_header_next(STR_LIT(block), &i, &f), 0);
	assert_int_equal(mime_header_next(STR_LIT(block), &i, &f), 0);
	/* a block cut short, and an empty one */
	i = 0;
	assert_int_equal(mime_header_next(STR_LIT("A: b"), &i, &f), 1);
	mime_expect(f.value, " b");
	assert_int_equal(mime_header_next(STR_LIT("A: b"), &i, &f), 0);
	i = 0;
	assert_int_equal(mime_header_next(STR_LIT(""), &i, &f), 0);
	buf_free(&b);
}

static void
test_lexical(void **state)
{
	struct str s = STR_LIT(" (a (nested) \\) comment) token/x");
	size_t i = 0;

	mime_header_skip_cfws(s, &i);
	mime_expect(mime_header_token(s, &i), "token");
	assert_int_equal(s.p[i], '/');
	i = 0;
	mime_header_skip_cfws(STR_LIT("(unterminated"), &i);
	assert_int_equal(i, 13);
	assert_true(mime_header_is_tspecial('='));
	assert_false(mime_header_is_tspecial('-'));
	assert_int_equal(mime_header_lookup(STR_LIT("content-TYPE"), false),
	    MIME_HDR_TYPE);
	assert_int_equal(mime_header_lookup(STR_LIT("Subject"), false),
	    MIME_HDR_NONE);
	assert_int_equal(mime_header_lookup(STR_LIT("subject"), true),
	    (int)MIME_ENV_SUBJECT);
	assert_int_equal(mime_header_lookup(STR_LIT("Subjec"), true),
	    MIME_HDR_NONE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_lexical),
	};

	return cmocka_run_group_tests_name("mime/mime_header", tests, NULL,
	    NULL);
}
