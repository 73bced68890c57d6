/* fuzz_mime.c: libFuzzer target for src/mime.
 *
 * Input: byte 0 = flags, bytes 1-2 = a cut offset and the seed of the
 * chunk sizes, the rest = a message.
 *  - The message is parsed whole, split at the cut, in chunks of
 *    1..64 bytes (sizes from the seed), and byte by byte when short;
 *    offsets, flags, BODYSTRUCTURE, BODY and every ENVELOPE must be the
 *    same each time, and the tree well nested.
 *  - Every part's body is transfer-decoded whole and split at the cut
 *    (same output); header values and parameters go through RFC 2047
 *    and 2231 decoding, and the body of a text part through its
 *    charset, whole and split.
 * Leaks are libFuzzer's to find. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "mime/mime_2047.h"
#include "mime/mime_bodystructure.h"
#include "mime/mime_decode.h"
#include "mime/mime_envelope.h"
#include "mime/mime_header.h"
#include "mime/mime_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_mime: %s:%d: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
		abort();						\
	}								\
} while (0)

#define FUZZ_MAX_INPUT	(256 * 1024)
#define FUZZ_OUT_MAX	(64 * 1024 * 1024)

static bool
fuzz_mime_eq(const struct buf *a, const struct buf *b)
{
	return a->len == b->len &&
	    (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

static void
fuzz_mime_dump_part(struct buf *out, const struct mime_part *p)
{
	const struct mime_part *c;

	FUZZ_CHECK(p->hdr_off <= p->body_off && p->body_off <= p->end_off);
	FUZZ_CHECK(p->depth <= MIME_DEPTH_MAX);
	if (p->parent != NULL) {
		FUZZ_CHECK(p->hdr_off >= p->parent->body_off);
		FUZZ_CHECK(p->end_off <= p->parent->end_off);
		FUZZ_CHECK(p->depth == p->parent->depth + 1);
	}
	if (p->flags & MIME_PART_MESSAGE)
		FUZZ_CHECK(p->nchildren == 1 && p->children->env != NULL);
	FUZZ_CHECK(buf_printf(out, "%u %x %llu %llu %llu %llu %llu %u\n",
	    p->idx, p->flags, (unsigned long long)p->hdr_off,
	    (unsigned long long)p->body_off, (unsigned long long)p->end_off,
	    (unsigned long long)p->hdr_lines,
	    (unsigned long long)p->body_lines, p->nchildren) == 0);
	if (p->env != NULL)
		FUZZ_CHECK(mime_envelope_write(out, p) == 0);
	for (c = p->children; c != NULL; c = c->next)
		fuzz_mime_dump_part(out, c);
}

static void
fuzz_mime_dump(struct buf *out, const struct mime_message *msg, size_t size)
{
	FUZZ_CHECK(msg->size == size && msg->nparts >= 1);
	FUZZ_CHECK(msg->nparts <= MIME_PARTS_MAX);
	FUZZ_CHECK(msg->root->hdr_off == 0 && msg->root->end_off == size);
	fuzz_mime_dump_part(out, msg->root);
	FUZZ_CHECK(mime_bs_write(out, msg->root, true) == 0);
	FUZZ_CHECK(mime_bs_write(out, msg->root, false) == 0);
}

/* Parse in pieces of the sizes next() gives. */
static struct mime_message *
fuzz_mime_parse(const char *d, size_t size, size_t first, uint32_t seed,
    unsigned max)
{
	struct mime_parser *p = mime_parse_new();
	struct mime_message *msg = NULL;
	const char *err;
	size_t at = 0, n;

	while (at < size) {
		if (first > 0) {
			n = first;
			first = 0;
		} else if (max == 0)
			n = size - at;
		else {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % max;
		}
		n = n < size - at ? n : size - at;
		FUZZ_CHECK(mime_parse_feed(p, d + at, n, &err) == 0);
		at += n;
	}
	FUZZ_CHECK(mime_parse_finish(p, &msg, &err) == 0);
	mime_parse_free(&p);
	return msg;
}

static void
fuzz_mime_same(const char *d, size_t size, size_t first, uint32_t seed,
    unsigned max, const struct buf *want)
{
	struct mime_message *msg = fuzz_mime_parse(d, size, first, seed, max);
	struct buf got;

	buf_init(&got, FUZZ_OUT_MAX);
	fuzz_mime_dump(&got, msg, size);
	FUZZ_CHECK(fuzz_mime_eq(&got, want));
	buf_free(&got);
	mime_parse_message_free(&msg);
}

/* Charset conversion of the decoded text, whole and split. */
static void
fuzz_mime_charset(const struct mime_part *part, const struct buf *text,
    size_t cut)
{
	struct str cs = mime_parse_param(part, "charset");
	struct mime_2047_conv *c1 = mime_2047_conv_new(cs);
	struct mime_2047_conv *c2 = mime_2047_conv_new(cs);
	const char *in = text->p != NULL ? text->p : "";
	size_t k = cut % (text->len + 1);
	struct buf o1, o2;

	buf_init(&o1, FUZZ_OUT_MAX);
	buf_init(&o2, FUZZ_OUT_MAX);
	FUZZ_CHECK(mime_2047_conv_feed(c1, &o1, in, text->len) == 0);
	FUZZ_CHECK(mime_2047_conv_finish(c1, &o1) == 0);
	FUZZ_CHECK(mime_2047_conv_feed(c2, &o2, in, k) == 0);
	FUZZ_CHECK(mime_2047_conv_feed(c2, &o2, in + k, text->len - k) == 0);
	FUZZ_CHECK(mime_2047_conv_finish(c2, &o2) == 0);
	FUZZ_CHECK(fuzz_mime_eq(&o1, &o2));
	mime_2047_conv_free(&c1);
	mime_2047_conv_free(&c2);
	buf_free(&o1);
	buf_free(&o2);
}

/* Transfer decoding whole and split must agree. */
static void
fuzz_mime_decode(const struct mime_part *part, const char *d, size_t cut)
{
	const char *body = d + part->body_off;
	size_t len = part->end_off - part->body_off;
	struct mime_decode a, b;
	struct buf oa, ob;

	cut = len > 0 ? cut % (len + 1) : 0;
	buf_init(&oa, FUZZ_OUT_MAX);
	buf_init(&ob, FUZZ_OUT_MAX);
	mime_decode_init(&a, mime_decode_cte(part->encoding));
	mime_decode_init(&b, mime_decode_cte(part->encoding));
	FUZZ_CHECK(mime_decode_feed(&a, &oa, body, len) == 0);
	FUZZ_CHECK(mime_decode_finish(&a, &oa) == 0);
	FUZZ_CHECK(mime_decode_feed(&b, &ob, body, cut) == 0);
	FUZZ_CHECK(mime_decode_feed(&b, &ob, body + cut, len - cut) == 0);
	FUZZ_CHECK(mime_decode_finish(&b, &ob) == 0);
	FUZZ_CHECK(fuzz_mime_eq(&oa, &ob));
	FUZZ_CHECK(a.errors == b.errors);
	if (part->flags & MIME_PART_TEXT)
		fuzz_mime_charset(part, &oa, cut);
	buf_free(&oa);
	buf_free(&ob);
}

static void
fuzz_mime_text(const struct mime_part *part)
{
	struct buf out;
	uint32_t i;

	buf_init(&out, FUZZ_OUT_MAX);
	for (i = 0; part->env != NULL && i < MIME_ENV_COUNT; i++)
		FUZZ_CHECK(mime_2047_decode(&out, part->env[i]) == 0);
	for (i = 0; i < part->nparams; i++)
		FUZZ_CHECK(mime_2047_param(&out, &part->params[i]) == 0);
	for (i = 0; i < part->ndisp_params; i++)
		FUZZ_CHECK(mime_2047_param(&out, &part->disp_params[i]) == 0);
	buf_free(&out);
}

/* Walk the header block field by field. */
static void
fuzz_mime_fields(const struct mime_part *part, const char *d)
{
	struct str block = str_make(d + part->hdr_off,
	    part->body_off - part->hdr_off);
	struct mime_header_field f;
	struct buf out;
	size_t i = 0, before;

	buf_init(&out, FUZZ_OUT_MAX);
	for (;;) {
		before = i;
		if (mime_header_next(block, &i, &f) == 0)
			break;
		FUZZ_CHECK(i > before && i <= block.len);
		FUZZ_CHECK(f.raw.p == block.p + before &&
		    f.raw.len == i - before);
		FUZZ_CHECK(mime_header_unfold(&out, f.value) == 0);
	}
	buf_free(&out);
}

static void
fuzz_mime_parts(const struct mime_part *part, const char *d, size_t cut)
{
	const struct mime_part *c;

	fuzz_mime_text(part);
	fuzz_mime_fields(part, d);
	if (part->children == NULL)
		fuzz_mime_decode(part, d, cut);
	for (c = part->children; c != NULL; c = c->next)
		fuzz_mime_parts(c, d, cut);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_message *msg;
	struct buf want;
	const char *d;
	size_t n, cut;
	uint32_t seed;

	if (size < 3 || size - 3 > FUZZ_MAX_INPUT)
		return 0;
	d = (const char *)data + 3;
	n = size - 3;
	seed = (uint32_t)data[1] << 8 | data[2];
	cut = seed % (n + 1);
	msg = fuzz_mime_parse(d, n, 0, 0, 0);
	buf_init(&want, FUZZ_OUT_MAX);
	fuzz_mime_dump(&want, msg, n);
	fuzz_mime_same(d, n, cut, 0, 0, &want);
	fuzz_mime_same(d, n, 0, seed, (data[0] & 63) + 1, &want);
	if (n <= 2048 && (data[0] & 0x80))
		fuzz_mime_same(d, n, 0, 0, 1, &want);
	fuzz_mime_parts(msg->root, d, cut);
	buf_free(&want);
	mime_parse_message_free(&msg);
	return 0;
}
