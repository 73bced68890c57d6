/* mime_decode_test.c: tests for src/mime/mime_decode.c: base64 and
 * quoted-printable, each case also fed at every cut and byte by byte. */
#include "mime_testlib.c"

#include "mime/mime_decode.h"

struct mime_decode_case {
	enum mime_cte	 cte;
	const char	*in;
	const char	*want;
	uint64_t	 errors;
};

static const struct mime_decode_case mime_decode_cases[] = {
	{ MIME_CTE_BASE64, "SGVsbG8sIHdvcmxkIQ==", "Hello, world!", 0 },
	{ MIME_CTE_BASE64, "SGVs\r\nbG8s\r\nIHdv\r\ncmxkIQ==\r\n",
	  "Hello, world!", 0 },
	{ MIME_CTE_BASE64, "SGVsbG8", "Hello", 0 },
	{ MIME_CTE_BASE64, "SGk=SGk=", "HiHi", 0 },
	{ MIME_CTE_BASE64, "SG*k=", "Hi", 1 },
	{ MIME_CTE_BASE64, "S===", "", 1 },
	{ MIME_CTE_BASE64, "", "", 0 },
	{ MIME_CTE_BASE64, "/+/+", "\xff\xef\xfe", 0 },
	{ MIME_CTE_QP, "a=3Db", "a=b", 0 },
	{ MIME_CTE_QP, "soft=\r\nbreak", "softbreak", 0 },
	{ MIME_CTE_QP, "soft=\nbreak", "softbreak", 0 },
	{ MIME_CTE_QP, "trail   \r\nx", "trail\r\nx", 0 },
	{ MIME_CTE_QP, "tab\t\nx", "tab\nx", 0 },
	{ MIME_CTE_QP, "keep =\r\nspace", "keep space", 0 },
	{ MIME_CTE_QP, "a= \t\r\nb", "ab", 0 },
	{ MIME_CTE_QP, "a=\tb", "a=\tb", 1 },
	{ MIME_CTE_QP, "=ZZbad", "=ZZbad", 1 },
	{ MIME_CTE_QP, "=4", "=4", 1 },
	{ MIME_CTE_QP, "=4\r\n", "=4\r\n", 1 },
	{ MIME_CTE_QP, "end=", "end", 0 },
	{ MIME_CTE_QP, "end  ", "end", 0 },
	{ MIME_CTE_QP, "lower=c3=a9", "lower\xc3\xa9", 0 },
	{ MIME_CTE_QP, "x\ry", "x\ry", 0 },
	{ MIME_CTE_QP, "x \ry", "x \ry", 0 },
	{ MIME_CTE_QP, "x\r", "x\r", 0 },
	{ MIME_CTE_QP, "=\rx", "=\rx", 1 },
	{ MIME_CTE_QP, "caf=C3=A9 =\r\nsuite  \r\nligne=3D\r\n",
	  "caf\xc3\xa9 suite\r\nligne=\r\n", 0 },
	{ MIME_CTE_7BIT, "as =3D is\r\n", "as =3D is\r\n", 0 },
	{ MIME_CTE_UNKNOWN, "x", "x", 0 },
};

static void
mime_decode_run(const struct mime_decode_case *tc, const size_t *cuts,
    size_t ncuts)
{
	struct mime_decode d;
	struct buf b;
	size_t i, at = 0, len = strlen(tc->in);

	buf_init(&b, 4096);
	mime_decode_init(&d, tc->cte);
	for (i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : len;

		assert_int_equal(mime_decode_feed(&d, &b, tc->in + at,
		    to - at), 0);
		at = to;
	}
	assert_int_equal(mime_decode_finish(&d, &b), 0);
	if (b.len != strlen(tc->want) ||
	    (b.len > 0 && memcmp(b.p, tc->want, b.len) != 0)) {
		fprintf(stderr, "in: %s\ngot: %.*s\nwant: %s\n", tc->in,
		    (int)b.len, b.p, tc->want);
		fail();
	}
	assert_int_equal(d.errors, tc->errors);
	buf_free(&b);
}

static void
test_cases(void **state)
{
	size_t i, cut, k, cuts[64];

	for (i = 0; i < sizeof(mime_decode_cases) /
	    sizeof(mime_decode_cases[0]); i++) {
		const struct mime_decode_case *tc = &mime_decode_cases[i];
		size_t len = strlen(tc->in);

		mime_decode_run(tc, NULL, 0);
		for (cut = 0; cut <= len; cut++)
			mime_decode_run(tc, &cut, 1);
		for (k = 0; k < len; k++)
			cuts[k] = k;
		mime_decode_run(tc, cuts, len);
	}
}

static void
test_names(void **state)
{
	assert_int_equal(mime_decode_cte((struct str){ NULL, 0 }),
	    MIME_CTE_7BIT);
	assert_int_equal(mime_decode_cte(STR_LIT("Base64")), MIME_CTE_BASE64);
	assert_int_equal(mime_decode_cte(STR_LIT("QUOTED-PRINTABLE")),
	    MIME_CTE_QP);
	assert_int_equal(mime_decode_cte(STR_LIT("8bit")), MIME_CTE_8BIT);
	assert_int_equal(mime_decode_cte(STR_LIT("binary")), MIME_CTE_BINARY);
	assert_int_equal(mime_decode_cte(STR_LIT("x-uuencode")),
	    MIME_CTE_UNKNOWN);
}

/* Every byte value round trips through base64, and a long body is the
 * same whichever way it is cut. */
static void
test_base64_bytes(void **state)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char raw[3 * 256];
	struct mime_decode d;
	struct buf enc, out;
	size_t i;

	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(i * 7);
	buf_init(&enc, 4096);
	for (i = 0; i < sizeof(raw); i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | raw[i + 1] << 8 | raw[i + 2];
		char q[4] = { tbl[v >> 18], tbl[v >> 12 & 63], tbl[v >> 6 & 63],
		    tbl[v & 63] };

		buf_append(&enc, q, 4);
		if (i % 57 == 54)
			buf_append(&enc, "\r\n", 2);
	}
	buf_init(&out, 4096);
	mime_decode_init(&d, MIME_CTE_BASE64);
	for (i = 0; i < enc.len; i += 5)
		mime_decode_feed(&d, &out, enc.p + i, enc.len - i < 5 ?
		    enc.len - i : 5);
	mime_decode_finish(&d, &out);
	assert_int_equal(out.len, sizeof(raw));
	assert_memory_equal(out.p, raw, sizeof(raw));
	assert_int_equal(d.errors, 0);
	buf_free(&enc);
	buf_free(&out);
}

static void
test_cap(void **state)
{
	struct mime_decode d;
	struct buf b;

	buf_init(&b, 4);
	mime_decode_init(&d, MIME_CTE_QP);
	assert_int_equal(mime_decode_feed(&d, &b, "hello", 5), -1);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_base64_bytes),
		cmocka_unit_test(test_cap),
	};

	return cmocka_run_group_tests_name("mime/mime_decode", tests, NULL,
	    NULL);
}
