/* fuzz_imap_fetch.c: libFuzzer target for src/imap/imap_msg.c,
 * imap_fetch.c, imap_search.c and imap_thread.c: a message (the input,
 * less its first byte) given without a store.
 *  - the cache fields are computed; ENVELOPE and BODYSTRUCTURE must be
 *    balanced lists;
 *  - every section form (top ones, and each part number up to three
 *    levels deep with 1..3 each: BODY[n], [n.MIME], [n.HEADER],
 *    [n.TEXT], [n.HEADER.FIELDS (..)], BINARY, BINARY.SIZE) with and
 *    without a partial picked by byte 0; each answer stays within a
 *    small multiple of the message size, and an error writes nothing;
 *  - text keys are searched (BODY, TEXT, SUBJECT, FROM, HEADER);
 *  - the message is threaded with itself and a copy (REFERENCES and
 *    ORDEREDSUBJECT) from its cache fields.
 * Leaks are libFuzzer's to find. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "imap/imap_msg.h"
#include "imap/imap_msg_int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_imap_fetch: %s:%d: %s\n",		\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

#define FUZZ_MAX_INPUT	(256 * 1024)

/* Parentheses outside strings balance, and strings end. */
static bool
fuzz_balanced(struct str s)
{
	size_t i = 0, depth = 0, n;

	while (i < s.len) {
		char c = s.p[i];

		if (c == '"') {
			for (i++; i < s.len && s.p[i] != '"'; i++)
				if (s.p[i] == '\\')
					i++;
			if (i >= s.len)
				return false;
			i++;
		} else if (c == '{') {
			for (n = 0, i++; i < s.len && s.p[i] >= '0' &&
			    s.p[i] <= '9'; i++)
				n = n * 10 + (size_t)(s.p[i] - '0');
			if (i + 3 > s.len || memcmp(s.p + i, "}\r\n", 3) != 0 ||
			    n > s.len - i - 3)
				return false;
			i += 3 + n;
		} else {
			if (c == '(')
				depth++;
			else if (c == ')' && depth-- == 0)
				return false;
			i++;
		}
	}
	return depth == 0;
}

static void
fuzz_fetch(struct imap_msg *md, const struct imap_fetch_att *att,
    size_t size)
{
	static const char *const kw[] = { "k" };
	struct imap_fetch_ctx ctx;
	struct buf out;
	const char *err = NULL;
	int r;

	memset(&ctx, 0, sizeof(ctx));
	ctx.att = att;
	ctx.n = 1;
	ctx.uid = true;
	ctx.modseq = true;
	ctx.kwnames = kw;
	ctx.nkw = 1;
	buf_init(&out, 64 * 1024 * 1024);
	FUZZ_CHECK(buf_append(&out, "x", 1) == 0);
	r = imap_fetch_write(&out, &ctx, md, &err);
	if (r != 0) {
		if (r != IMAP_MSG_UNKNOWN_CTE)
			fprintf(stderr, "item %d parts %zu text %d: %d %s\n",
			    (int)att->item, att->sec.nparts, (int)att->sec.text,
			    r, err != NULL ? err : "");
		FUZZ_CHECK(out.len == 1);
		FUZZ_CHECK(r == IMAP_MSG_UNKNOWN_CTE);
	} else {
		FUZZ_CHECK(out.len >= 3 && memcmp(out.p + out.len - 3,
		    ")\r\n", 3) == 0);
		/* "* 1 FETCH (UID 1 BODY[..] {n}" + data + "MODSEQ ...";
		 * ENVELOPE and BODYSTRUCTURE grow more ("a,b" is two
		 * address lists of 4 strings each) */
		if (att->item == IMAP_FETCH_ENVELOPE ||
		    att->item == IMAP_FETCH_BODY ||
		    att->item == IMAP_FETCH_BODYSTRUCTURE)
			FUZZ_CHECK(out.len <= 64 * size + 4096);
		else
			FUZZ_CHECK(out.len <= 2 * size + 4096);
	}
	buf_free(&out);
}

static const struct str fuzz_fields[] = { STR_LIT("From"),
	STR_LIT("Subject"), STR_LIT("content-type") };

/* Every section form at part numbers nums[0..n). */
static void
fuzz_sections(struct imap_msg *md, const uint32_t *nums, size_t n,
    const uint8_t *ctl, size_t size)
{
	static const enum imap_section_text texts[] = { IMAP_SECTION_ALL,
	    IMAP_SECTION_HEADER, IMAP_SECTION_HEADER_FIELDS,
	    IMAP_SECTION_HEADER_FIELDS_NOT, IMAP_SECTION_TEXT,
	    IMAP_SECTION_MIME };
	struct imap_fetch_att att;
	size_t t;

	for (t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
		if (texts[t] == IMAP_SECTION_MIME && n == 0)
			continue;
		memset(&att, 0, sizeof(att));
		att.item = IMAP_FETCH_BODY_SECTION;
		att.sec.part = nums;
		att.sec.nparts = n;
		att.sec.text = texts[t];
		att.sec.fields = fuzz_fields;
		att.sec.nfields = sizeof(fuzz_fields) / sizeof(fuzz_fields[0]);
		fuzz_fetch(md, &att, size);
		att.partial = true;
		att.offset = ctl[0] % 64;
		att.count = (ctl[0] >> 6) * 17 + 1;
		fuzz_fetch(md, &att, size);
	}
	memset(&att, 0, sizeof(att));
	att.sec.part = nums;
	att.sec.nparts = n;
	att.item = IMAP_FETCH_BINARY;
	fuzz_fetch(md, &att, size);
	att.partial = true;
	att.offset = ctl[0] % 8;
	att.count = ctl[0] % 5 + 1;
	fuzz_fetch(md, &att, size);
	att.partial = false;
	att.item = IMAP_FETCH_BINARY_SIZE;
	fuzz_fetch(md, &att, size);
}

static void
fuzz_all_sections(struct imap_msg *md, const uint8_t *ctl, size_t size)
{
	static const enum imap_fetch_item simple[] = { IMAP_FETCH_ENVELOPE,
	    IMAP_FETCH_FLAGS, IMAP_FETCH_INTERNALDATE, IMAP_FETCH_RFC822,
	    IMAP_FETCH_RFC822_HEADER, IMAP_FETCH_RFC822_SIZE,
	    IMAP_FETCH_RFC822_TEXT, IMAP_FETCH_BODY,
	    IMAP_FETCH_BODYSTRUCTURE, IMAP_FETCH_UID, IMAP_FETCH_MODSEQ };
	struct imap_fetch_att att;
	uint32_t nums[3];

	for (size_t k = 0; k < sizeof(simple) / sizeof(simple[0]); k++) {
		memset(&att, 0, sizeof(att));
		att.item = simple[k];
		fuzz_fetch(md, &att, size);
	}
	fuzz_sections(md, nums, 0, ctl, size);
	for (nums[0] = 1; nums[0] <= 3; nums[0]++) {
		fuzz_sections(md, nums, 1, ctl, size);
		for (nums[1] = 1; nums[1] <= 3; nums[1]++) {
			fuzz_sections(md, nums, 2, ctl, size);
			for (nums[2] = 1; nums[2] <= 2; nums[2]++)
				fuzz_sections(md, nums, 3, ctl, size);
		}
	}
}

static void
fuzz_search(struct imap_msg *md)
{
	static const enum imap_search_op ops[] = { IMAP_SK_BODY,
	    IMAP_SK_TEXT, IMAP_SK_SUBJECT, IMAP_SK_FROM, IMAP_SK_BCC };
	static const struct str needles[] = { STR_LIT("a"), STR_LIT(""),
	    STR_LIT("\xc3\x89T\xc3\x89"), STR_LIT("=\r\n"),
	    STR_LIT("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz") };
	struct imap_search_ctx ctx;
	struct imap_search_key key, top;
	const char *err;
	int r;

	memset(&ctx, 0, sizeof(ctx));
	ctx.count = 1;
	ctx.uidmax = 1;
	memset(&top, 0, sizeof(top));
	top.op = IMAP_SK_AND;
	top.u.sub = &key;
	for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
		for (size_t k = 0; k < sizeof(needles) / sizeof(needles[0]);
		    k++) {
			memset(&key, 0, sizeof(key));
			key.op = ops[o];
			key.u.str = needles[k];
			r = imap_search_match(&ctx, &top, md, &err);
			FUZZ_CHECK(r == 0 || r == 1);
		}
	}
	memset(&key, 0, sizeof(key));
	key.op = IMAP_SK_HEADER;
	key.u.header.name = STR_LIT("Content-Type");
	key.u.header.value = STR_LIT("");
	FUZZ_CHECK(imap_search_match(&ctx, &top, md, &err) >= 0);
	key.op = IMAP_SK_SENTON;
	key.u.date = (struct imap_date){ 2020, 1, 1 };
	FUZZ_CHECK(imap_search_match(&ctx, &top, md, &err) >= 0);
}

static void
fuzz_thread(const struct imap_msg *md)
{
	struct imap_thread_msg m[3];
	struct buf out;
	bool reply;
	struct buf base;

	memset(m, 0, sizeof(m));
	for (int i = 0; i < 3; i++) {
		m[i].num = (uint32_t)i + 1;
		m[i].seq = (uint32_t)i + 1;
		m[i].date = md->cache.sent;
		m[i].subject = md->cache.subject;
		m[i].message_id = md->cache.message_id;
		m[i].in_reply_to = md->cache.in_reply_to;
		m[i].references = md->cache.references;
		m[i].reply = i == 1;
	}
	buf_init(&out, 1 << 20);
	FUZZ_CHECK(imap_thread_run(m, 3, IMAP_THREAD_REFERENCES, &out) == 0);
	FUZZ_CHECK(fuzz_balanced(str_make(out.p, out.len)));
	buf_reset(&out);
	FUZZ_CHECK(imap_thread_run(m, 3, IMAP_THREAD_ORDEREDSUBJECT,
	    &out) == 0);
	FUZZ_CHECK(fuzz_balanced(str_make(out.p, out.len)));
	buf_free(&out);
	/* the base subject is a fixed point */
	buf_init(&base, md->cache.subject.len + 1);
	imap_msg_base_subject(&base, md->cache.subject, &reply);
	FUZZ_CHECK(base.len == md->cache.subject.len && (base.len == 0 ||
	    memcmp(base.p, md->cache.subject.p, base.len) == 0));
	buf_free(&base);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mstore_msg m;
	struct imap_msg md;
	const char *d, *err;

	if (size < 1 || size - 1 > FUZZ_MAX_INPUT)
		return 0;
	d = (const char *)data + 1;
	memset(&m, 0, sizeof(m));
	m.uid = 1;
	m.size = size - 1;
	m.recent = true;
	imap_msg_init_data(&md, &m, 1, d, size - 1);
	FUZZ_CHECK(imap_msg_cache(&md, &err) == 0);
	FUZZ_CHECK(fuzz_balanced(md.cache.envelope));
	FUZZ_CHECK(fuzz_balanced(md.cache.bodystructure));
	FUZZ_CHECK(fuzz_balanced(md.cache.body));
	fuzz_all_sections(&md, data, size - 1);
	fuzz_search(&md);
	fuzz_thread(&md);
	imap_msg_release(&md);
	return 0;
}
