/* mta_qp_test.c: 8bit -> quoted-printable conversion (src/mta/mta_qp.c).
 * Tables of whole messages with their expected output; each is also fed
 * split at every offset and byte by byte, and must come out the same.
 * Long and random bodies are checked by decoding them back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mta/mta_qp.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define OUT_MAX		(16 * 1024 * 1024)

struct qp_case {
	const char	*name;
	const char	*in;
	const char	*out;
	const char	*why;		/* gave up, or NULL */
	unsigned	 converted;
	bool		 left_8bit;
};

static const struct qp_case cases[] = {
	{ "single part",
	  "From: a@x\r\nMIME-Version: 1.0\r\n"
	  "Content-Type: text/plain; charset=utf-8\r\n"
	  "Content-Transfer-Encoding: 8bit\r\n\r\n"
	  "caf\xc3\xa9 = ok\r\ntrailing \r\n.dot\r\n",
	  "From: a@x\r\nMIME-Version: 1.0\r\n"
	  "Content-Type: text/plain; charset=utf-8\r\n"
	  "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	  "caf=C3=A9 =3D ok\r\ntrailing=20\r\n.dot\r\n", NULL, 1 },
	{ "folded CTE, LF line ends",
	  "Subject: x\nContent-Transfer-Encoding:\n  8BIT\n\n\xff\n",
	  "Subject: x\nContent-Transfer-Encoding: quoted-printable\r\n\n"
	  "=FF\r\n", NULL, 1 },
	{ "7bit passes",
	  "Content-Transfer-Encoding: 7bit\r\n\r\nhello = \r\n",
	  "Content-Transfer-Encoding: 7bit\r\n\r\nhello = \r\n", NULL, 0 },
	{ "no MIME: unchanged",
	  "Subject: x\r\n\r\nh\xc3\xa9\r\n",
	  "Subject: x\r\n\r\nh\xc3\xa9\r\n", NULL, 0, true },
	{ "multipart",
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: multipart/alternative; boundary=\"b 1\"\r\n"
	  "Content-Transfer-Encoding: 8bit\r\n\r\n"
	  "preamble\r\n"
	  "--b 1\r\n"
	  "Content-Type: text/plain\r\n"
	  "Content-Transfer-Encoding: 8bit\r\n\r\n"
	  "\xe9t\xe9\r\n"
	  "--b 1\r\n"
	  "Content-Type: text/html\r\n"
	  "Content-Transfer-Encoding: base64\r\n\r\n"
	  "PGI+PC9iPg==\r\n"
	  "--b 1--  \r\n"
	  "epilogue\r\n",
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: multipart/alternative; boundary=\"b 1\"\r\n"
	  "Content-Transfer-Encoding: 7bit\r\n\r\n"
	  "preamble\r\n"
	  "--b 1\r\n"
	  "Content-Type: text/plain\r\n"
	  "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	  "=E9t=E9\r\n"
	  "--b 1\r\n"
	  "Content-Type: text/html\r\n"
	  "Content-Transfer-Encoding: base64\r\n\r\n"
	  "PGI+PC9iPg==\r\n"
	  "--b 1--  \r\n"
	  "epilogue\r\n", NULL, 1 },
	{ "nested multipart and message/rfc822",
	  "Content-Type: multipart/mixed; boundary=outer\r\n\r\n"
	  "--outer\r\n"
	  "Content-Type: multipart/alternative; boundary=inner\r\n\r\n"
	  "--inner\r\n"
	  "Content-Transfer-Encoding: 8bit\r\n\r\n"
	  "\xe0\r\n"
	  "--outer\r\n"		/* closes inner too */
	  "Content-Type: message/rfc822\r\n"
	  "Content-Transfer-Encoding: 8bit\r\n\r\n"
	  "Subject: inner\r\n"
	  "Content-Transfer-Encoding: 8bit\r\n\r\n"
	  "\xe1\r\n"
	  "--outer--\r\n",
	  "Content-Type: multipart/mixed; boundary=outer\r\n\r\n"
	  "--outer\r\n"
	  "Content-Type: multipart/alternative; boundary=inner\r\n\r\n"
	  "--inner\r\n"
	  "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	  "=E0\r\n"
	  "--outer\r\n"
	  "Content-Type: message/rfc822\r\n"
	  "Content-Transfer-Encoding: 7bit\r\n\r\n"
	  "Subject: inner\r\n"
	  "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	  "=E1\r\n"
	  "--outer--\r\n", NULL, 2 },
	{ "a boundary that only starts like one",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	  "--b\r\n"
	  "Content-Transfer-Encoding: 8bit\r\n\r\n"
	  "--bx \xe9\r\n"
	  "--b--\r\n",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	  "--b\r\n"
	  "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	  "--bx =E9\r\n"
	  "--b--\r\n", NULL, 1 },
	{ "binary gives up",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	  "--b\r\n"
	  "Content-Transfer-Encoding: binary\r\n\r\n"
	  "\xe9\r\n"
	  "--b\r\n"
	  "Content-Transfer-Encoding: 8bit\r\n\r\n"
	  "\xe9\r\n"
	  "--b--\r\n",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	  "--b\r\n"
	  "Content-Transfer-Encoding: binary\r\n\r\n"
	  "\xe9\r\n"
	  "--b\r\n"
	  "Content-Transfer-Encoding: 8bit\r\n\r\n"
	  "\xe9\r\n"
	  "--b--\r\n", "a part is binary", 0, true },
	{ "multipart without boundary gives up",
	  "Content-Type: multipart/mixed\r\n\r\n\xe9\r\n",
	  "Content-Type: multipart/mixed\r\n\r\n\xe9\r\n",
	  "a multipart without boundary", 0, true },
	{ "no body end",
	  "Content-Transfer-Encoding: 8bit\r\n\r\nend \xe9 ",
	  "Content-Transfer-Encoding: quoted-printable\r\n\r\nend =E9=20",
	  NULL, 1 },
	{ "headers only",
	  "Subject: x\r\nContent-Transfer-Encoding: 8bit\r\n",
	  "Subject: x\r\nContent-Transfer-Encoding: 8bit\r\n", NULL, 0 },
	{ "soft breaks",
	  "Content-Transfer-Encoding: 8bit\r\n\r\n"
	  "0123456789012345678901234567890123456789012345678901234567890123456789"
	  "012345678\xe9\r\n",
	  "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	  "0123456789012345678901234567890123456789012345678901234567890123456789"
	  "01234=\r\n5678=E9\r\n", NULL, 1 },
};

static void
run(const struct qp_case *tc, size_t cut, size_t step, struct buf *out,
    struct mta_qp **qp_r)
{
	size_t len = strlen(tc->in);
	struct mta_qp *qp = mta_qp_new();

	buf_init(out, OUT_MAX);
	if (step == 0) {
		assert_int_equal(mta_qp_feed(qp, tc->in, cut, out), 0);
		assert_int_equal(mta_qp_feed(qp, tc->in + cut, len - cut, out),
		    0);
	} else
		for (size_t i = 0; i < len; i += step)
			assert_int_equal(mta_qp_feed(qp, tc->in + i,
			    len - i < step ? len - i : step, out), 0);
	assert_int_equal(mta_qp_end(qp, out), 0);
	*qp_r = qp;
}

static void
check(const struct qp_case *tc, struct buf *out, struct mta_qp *qp,
    const char *how, size_t cut)
{
	size_t want = strlen(tc->out);

	if (out->len != want || memcmp(out->p, tc->out, want) != 0)
		fail_msg("%s (%s %zu): got\n%.*s", tc->name, how, cut,
		    (int)out->len, out->p);
	if ((tc->why == NULL) != (mta_qp_gave_up(qp) == NULL) ||
	    (tc->why != NULL && strcmp(tc->why, mta_qp_gave_up(qp)) != 0))
		fail_msg("%s: gave up: %s", tc->name, mta_qp_gave_up(qp));
	if (mta_qp_converted(qp) != tc->converted ||
	    mta_qp_left_8bit(qp) != tc->left_8bit)
		fail_msg("%s: converted %u left_8bit %d", tc->name,
		    mta_qp_converted(qp), mta_qp_left_8bit(qp));
}

static void
test_cases(void **state)
{
	for (size_t i = 0; i < NELEM(cases); i++) {
		const struct qp_case *tc = &cases[i];
		size_t len = strlen(tc->in);
		struct mta_qp *qp;
		struct buf out;

		for (size_t cut = 0; cut <= len; cut++) {
			run(tc, cut, 0, &out, &qp);
			check(tc, &out, qp, "cut", cut);
			buf_free(&out);
			mta_qp_free(&qp);
		}
		run(tc, 0, 1, &out, &qp);
		check(tc, &out, qp, "byte by byte", 0);
		buf_free(&out);
		mta_qp_free(&qp);
	}
}

static int
hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ?
	    c - 'A' + 10 : -1;
}

/* Decode quoted-printable (CRLF hard breaks become "\n"); checks that
 * no line is longer than 76 characters and that only 7bit is used. */
static size_t
qp_decode(const char *p, size_t len, char *out)
{
	size_t o = 0, col = 0;

	for (size_t i = 0; i < len; i++) {
		assert_true((unsigned char)p[i] < 0x80);
		if (p[i] == '\r') {
			assert_true(i + 1 < len && p[i + 1] == '\n');
			assert_true(col <= 76);
			col = 0;
			i++;
			out[o++] = '\n';
			continue;
		}
		col++;
		if (p[i] != '=') {
			assert_true(p[i] != ' ' || (i + 1 < len &&
			    p[i + 1] != '\r'));
			out[o++] = p[i];
			continue;
		}
		assert_true(i + 2 < len);
		if (p[i + 1] == '\r' && p[i + 2] == '\n') {
			assert_true(col <= 76);
			col = 0;
			i += 2;
			continue;
		}
		assert_true(hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0);
		out[o++] = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
		i += 2;
		col += 2;
	}
	return o;
}

/* Random 8bit bodies, lines up to 5000 bytes: decoding gives them back. */
static void
test_roundtrip(void **state)
{
	static const char head[] = "Content-Transfer-Encoding: 8bit\r\n\r\n";
	static const char ohead[] =
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
	char *body = malloc(200000), *want = malloc(200000);
	char *dec = malloc(400000);
	uint32_t seed = 12345;

	assert_non_null(body);
	assert_non_null(want);
	assert_non_null(dec);
	for (int round = 0; round < 30; round++) {
		struct mta_qp *qp = mta_qp_new();
		struct buf out;
		size_t n = 0, w = 0, linelen = 0, step;

		buf_init(&out, OUT_MAX);
		while (n < 100000) {
			seed = seed * 1103515245 + 12345;
			unsigned r = (seed >> 16) & 0x7fff;
			unsigned v = r % 7 == 0 ? ' ' : r % 11 == 0 ? '\t' :
			    r % 3 == 0 ? 0x80 + r % 128 :
			    r % 13 == 0 ? '=' : 'a' + r % 26;
			char c = (char)v;

			if (r % (round % 3 == 0 ? 5000 : 80) == 0 ||
			    linelen > 5000) {
				body[n++] = '\r';
				body[n++] = '\n';
				want[w++] = '\n';
				linelen = 0;
				continue;
			}
			body[n++] = c;
			want[w++] = c;
			linelen++;
		}
		assert_int_equal(mta_qp_feed(qp, head, sizeof(head) - 1, &out),
		    0);
		step = 1 + (size_t)round * 997;
		for (size_t i = 0; i < n; i += step)
			assert_int_equal(mta_qp_feed(qp, body + i,
			    n - i < step ? n - i : step, &out), 0);
		assert_int_equal(mta_qp_end(qp, &out), 0);
		assert_true(out.len > sizeof(ohead) - 1);
		assert_memory_equal(out.p, ohead, sizeof(ohead) - 1);
		assert_int_equal(qp_decode(out.p + sizeof(ohead) - 1,
		    out.len - (sizeof(ohead) - 1), dec), w);
		assert_memory_equal(dec, want, w);
		buf_free(&out);
		mta_qp_free(&qp);
	}
	free(body);
	free(want);
	free(dec);
}

/* A header block past the limit: the rest passes unchanged. */
static void
test_header_limit(void **state)
{
	struct mta_qp *qp = mta_qp_new();
	struct buf out;
	char line[100];
	size_t total = 0;

	buf_init(&out, OUT_MAX);
	memset(line, 'x', sizeof(line));
	memcpy(line, "X-Pad: ", 7);
	line[98] = '\r';
	line[99] = '\n';
	while (total <= MTA_QP_HEADER_MAX) {
		assert_int_equal(mta_qp_feed(qp, line, sizeof(line), &out), 0);
		total += sizeof(line);
	}
	assert_int_equal(mta_qp_feed(qp, "Content-Transfer-Encoding: 8bit\r\n"
	    "\r\n\xe9\r\n", 38, &out), 0);
	assert_int_equal(mta_qp_end(qp, &out), 0);
	assert_string_equal(mta_qp_gave_up(qp), "a header block is too long");
	assert_int_equal(out.len, total + 38);
	buf_free(&out);
	mta_qp_free(&qp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_header_limit),
	};

	return cmocka_run_group_tests_name("mta/mta_qp", tests, NULL, NULL);
}
