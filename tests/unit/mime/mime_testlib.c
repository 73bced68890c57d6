/* mime_testlib.c: see mime_testlib.h.  Included by each test file (the
 * build makes one program per *_test.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "mime/mime_bodystructure.h"
#include "mime/mime_envelope.h"
#include "mime_testlib.h"

char *
mime_test_crlf(const char *lf, size_t *len_r)
{
	size_t i, n = 0, len = strlen(lf);
	char *out = xmalloc(2 * len + 1);

	for (i = 0; i < len; i++) {
		if (lf[i] == '\n')
			out[n++] = '\r';
		out[n++] = lf[i];
	}
	out[n] = '\0';
	*len_r = n;
	return out;
}

char *
mime_test_q(const char *s)
{
	char *out = xstrdup(s), *p;

	for (p = out; *p != '\0'; p++) {
		if (*p == '`')
			*p = '"';
	}
	return out;
}

static void
mime_test_dump_part(struct buf *out, const struct mime_part *p)
{
	const struct mime_part *c;

	assert_int_equal(buf_printf(out, "%u d%u f%x %llu %llu %llu %llu "
	    "%llu n%u\n", p->idx, p->depth, p->flags,
	    (unsigned long long)p->hdr_off, (unsigned long long)p->body_off,
	    (unsigned long long)p->end_off, (unsigned long long)p->hdr_lines,
	    (unsigned long long)p->body_lines, p->nchildren), 0);
	assert_true(p->hdr_off <= p->body_off && p->body_off <= p->end_off);
	if (p->parent != NULL) {
		assert_true(p->hdr_off >= p->parent->body_off);
		assert_true(p->end_off <= p->parent->end_off);
	}
	if (p->env != NULL) {
		assert_int_equal(mime_envelope_write(out, p), 0);
		assert_int_equal(buf_append(out, "\n", 1), 0);
	}
	for (c = p->children; c != NULL; c = c->next)
		mime_test_dump_part(out, c);
}

void
mime_test_dump(struct buf *out, const struct mime_message *msg)
{
	assert_int_equal(buf_printf(out, "size %llu lines %llu parts %u "
	    "flags %x\n", (unsigned long long)msg->size,
	    (unsigned long long)msg->lines, msg->nparts, msg->flags), 0);
	mime_test_dump_part(out, msg->root);
	assert_int_equal(mime_bs_write(out, msg->root, true), 0);
	assert_int_equal(buf_append(out, "\n", 1), 0);
	assert_int_equal(mime_bs_write(out, msg->root, false), 0);
}

struct mime_message *
mime_test_parse_cuts(const char *data, size_t len, const size_t *cuts,
    size_t ncuts)
{
	struct mime_parser *p = mime_parse_new();
	struct mime_message *msg = NULL;
	const char *err;
	size_t i, at = 0;

	for (i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : len;

		assert_true(to >= at && to <= len);
		assert_int_equal(mime_parse_feed(p, data + at, to - at, &err),
		    0);
		at = to;
	}
	assert_int_equal(mime_parse_finish(p, &msg, &err), 0);
	assert_int_equal(mime_parse_feed(p, "x", 1, &err), -1);
	mime_parse_free(&p);
	assert_non_null(msg);
	return msg;
}

static void
mime_test_same(const char *data, size_t len, const size_t *cuts,
    size_t ncuts, const struct buf *want)
{
	struct mime_message *msg;
	struct buf got;

	msg = mime_test_parse_cuts(data, len, cuts, ncuts);
	buf_init(&got, 64 * 1024 * 1024);
	mime_test_dump(&got, msg);
	if (got.len != want->len || memcmp(got.p, want->p, got.len) != 0) {
		fprintf(stderr, "cut at %zu (of %zu pieces) differs:\n"
		    "%.*s\n--- whole:\n%.*s\n", ncuts > 0 ? cuts[0] : 0,
		    ncuts + 1, (int)got.len, got.p, (int)want->len, want->p);
		fail();
	}
	buf_free(&got);
	mime_parse_message_free(&msg);
}

void
mime_test_trickle(const char *data, size_t len, size_t max_exact)
{
	struct mime_message *msg;
	struct buf want;
	size_t *cuts = xcalloc(len + 1, sizeof(*cuts)), i, n;

	msg = mime_test_parse_cuts(data, len, NULL, 0);
	buf_init(&want, 64 * 1024 * 1024);
	mime_test_dump(&want, msg);
	mime_parse_message_free(&msg);
	if (len <= max_exact) {
		for (i = 0; i <= len; i++)
			mime_test_same(data, len, &i, 1, &want);
		for (i = 0; i < len; i++)
			cuts[i] = i;
		mime_test_same(data, len, cuts, len, &want);
	}
	srand((unsigned)len);
	for (int round = 0; round < 20; round++) {
		size_t max = round < 10 ? 8 : 1024;

		for (i = 0, n = 0; i < len && n < len; n++) {
			i += 1 + (size_t)rand() % max;
			cuts[n] = i < len ? i : len;
		}
		mime_test_same(data, len, cuts, n, &want);
	}
	buf_free(&want);
	free(cuts);
}
