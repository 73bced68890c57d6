/* imap_search_test.c: SEARCH matching of imap_search.c on the fixture
 * messages: every key of enum imap_search_op, RFC 2047 subjects (B and
 * Q, UTF-8 and ISO-8859-1), quoted-printable bodies with a soft break
 * inside the match, base64 bodies, Latin-1 bodies, case-insensitive
 * non-ASCII, OR/NOT nesting, sequence and UID sets with '*' and '$',
 * dates (internal and sent, zones disregarded); the streaming matcher
 * at every chunk boundary; imap_search_cheap(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap_msg_fixture.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const char *const kwnames[] = { "$Forwarded", "Work" };
static const uint32_t saved[] = { 3, 7, 11 };

static struct mstore_msg fx_mm;
static struct imap_msg fx_md;

static void
search_ctx(struct imap_search_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->count = 10;
	ctx->uidmax = 20;
	ctx->saved = saved;
	ctx->nsaved = NELEM(saved);
	ctx->now = FX_IDATE + 3600;
	ctx->kwnames = kwnames;
	ctx->nkw = NELEM(kwnames);
}

/* 1 match, 0 not, <0 error. */
static int
match_ctx(struct imap_msg *md, const struct imap_search_ctx *ctx,
    const char *program, bool *cheap_r)
{
	const struct imap_command *cmd;
	struct buf line;
	const char *err = NULL;

	buf_init(&line, 1 << 16);
	buf_printf(&line, "a SEARCH CHARSET UTF-8 %s", program);
	cmd = fx_cmd(buf_cstr(&line));
	buf_free(&line);
	if (cmd == NULL)
		fail_msg("parse failed: %s", program);
	if (cheap_r != NULL)
		*cheap_r = imap_search_cheap(cmd->u.search.root);
	return imap_search_match(ctx, cmd->u.search.root, md, &err);
}

static int
match(struct imap_msg *md, const char *program)
{
	struct imap_search_ctx ctx;

	search_ctx(&ctx);
	return match_ctx(md, &ctx, program, NULL);
}

static void
yes(const char *program)
{
	int r = match(&fx_md, program);

	if (r != 1)
		fail_msg("SEARCH %s: want 1, got %d", program, r);
}

static void
no(const char *program)
{
	int r = match(&fx_md, program);

	if (r != 0)
		fail_msg("SEARCH %s: want 0, got %d", program, r);
}

static int
setup(void **state)
{
	(void)state;
	fx_utc();
	fx_mm = fx_m(7, IMAP_FLAG_SEEN | IMAP_FLAG_FLAGGED, sizeof(fx_msg) - 1);
	fx_mm.kw = 0x2;
	fx_mm.recent = true;
	fx_load(&fx_md, &fx_mm, 1, fx_msg, sizeof(fx_msg) - 1);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	imap_msg_release(&fx_md);
	fx_done();
	return 0;
}

/* --- keys on the record ------------------------------------------------- */

static void
test_flags(void **state)
{
	(void)state;
	yes("ALL");
	yes("SEEN");
	yes("FLAGGED");
	no("ANSWERED");
	no("DELETED");
	no("DRAFT");
	yes("UNANSWERED");
	yes("UNDELETED");
	yes("UNDRAFT");
	no("UNFLAGGED");
	no("UNSEEN");
	yes("RECENT");
	no("NEW");		/* recent but seen */
	no("OLD");
	yes("KEYWORD Work");
	yes("KEYWORD work");
	no("KEYWORD $Forwarded");
	no("KEYWORD NotThere");
	yes("UNKEYWORD NotThere");
	no("UNKEYWORD Work");
	yes("UNKEYWORD $Forwarded");
	{
		struct mstore_msg m = fx_m(1, 0, 10);
		struct imap_msg md;

		m.recent = true;
		fx_load(&md, &m, 1, "", 0);
		assert_int_equal(match(&md, "NEW"), 1);
		assert_int_equal(match(&md, "UNSEEN"), 1);
		m.recent = false;
		assert_int_equal(match(&md, "NEW"), 0);
		assert_int_equal(match(&md, "OLD"), 1);
		imap_msg_release(&md);
	}
}

static void
test_sets(void **state)
{
	(void)state;
	/* seq 1 of 10, UID 7 of 20 */
	yes("1");
	yes("1:*");
	yes("*:1");
	no("*");
	no("2:*");
	yes("5,1,9");
	yes("3:1");
	no("UID 8:*");
	yes("UID 7");
	yes("UID 1:3,7");
	yes("UID *:5");		/* 5:20 */
	no("UID 30:*");		/* 20:30 */
	yes("$");		/* UID 7 was saved */
	yes("UID $");
	yes("NOT NOT $");
	{
		struct imap_search_ctx ctx;

		search_ctx(&ctx);
		ctx.count = 1;
		ctx.uidmax = 7;
		assert_int_equal(match_ctx(&fx_md, &ctx, "*", NULL), 1);
		assert_int_equal(match_ctx(&fx_md, &ctx, "UID 30:*", NULL), 1);
		assert_int_equal(match_ctx(&fx_md, &ctx, "UID *", NULL), 1);
		ctx.nsaved = 0;
		assert_int_equal(match_ctx(&fx_md, &ctx, "$", NULL), 0);
	}
}

static void
test_sizes_dates(void **state)
{
	char buf[64];

	(void)state;
	snprintf(buf, sizeof(buf), "LARGER %zu", sizeof(fx_msg) - 2);
	yes(buf);
	snprintf(buf, sizeof(buf), "LARGER %zu", sizeof(fx_msg) - 1);
	no(buf);
	snprintf(buf, sizeof(buf), "SMALLER %zu", sizeof(fx_msg));
	yes(buf);
	snprintf(buf, sizeof(buf), "SMALLER %zu", sizeof(fx_msg) - 1);
	no(buf);
	/* internal date 2020-03-03 09:11:12 UTC */
	yes("ON 3-Mar-2020");
	yes("SINCE 3-Mar-2020");
	yes("SINCE 2-Mar-2020");
	no("SINCE 4-Mar-2020");
	no("BEFORE 3-Mar-2020");
	yes("BEFORE 4-Mar-2020");
	no("ON 2-Mar-2020");
	/* Date: Tue, 03 Mar 2020 00:30:00 +0100 (2 Mar in UTC): its own
	 * date counts */
	yes("SENTON 3-Mar-2020");
	no("SENTON 2-Mar-2020");
	yes("SENTSINCE 3-Mar-2020");
	no("SENTBEFORE 3-Mar-2020");
	yes("SENTBEFORE 4-Mar-2020");
	no("SENTSINCE 4-Mar-2020");
	/* now = internal date + 3600 */
	yes("OLDER 3599");
	no("OLDER 3600");
	yes("YOUNGER 3600");
	no("YOUNGER 3599");
	yes("MODSEQ 42");
	no("MODSEQ 43");
	yes("MODSEQ \"/flags/\\\\Seen\" all 1");
	/* no usable Date: the internal date */
	{
		static const char m2[] = "Date: tomorrow\r\n\r\nx\r\n";
		struct mstore_msg m = fx_m(1, 0, sizeof(m2) - 1);
		struct imap_msg md;

		fx_load(&md, &m, 1, m2, sizeof(m2) - 1);
		assert_int_equal(match(&md, "SENTON 3-Mar-2020"), 1);
		imap_msg_release(&md);
	}
}

/* --- header keys -------------------------------------------------------- */

static void
test_headers(void **state)
{
	(void)state;
	/* Subject: =?UTF-8?B?w4l0w6kgc3VtbWVy?= report / folded part */
	yes("SUBJECT \"\xc3\xa9t\xc3\xa9\"");	/* été */
	yes("SUBJECT \"\xc3\x89T\xc3\x89\"");	/* ÉTÉ */
	yes("SUBJECT \"summer report folded\"");
	yes("SUBJECT SUMMER");
	no("SUBJECT w4l0");			/* the encoded form */
	no("SUBJECT \"report  folded\"");
	yes("SUBJECT \"\"");
	/* From: =?ISO-8859-1?Q?J=F6rg?= <Joerg@Example.COM> */
	yes("FROM \"j\xc3\xb6rg\"");
	yes("FROM \"J\xc3\x96RG\"");
	yes("FROM joerg@example.com");
	no("FROM bob");
	yes("TO carol@");
	yes("TO \"BOB <bob\"");
	yes("CC \"dave d\"");
	no("CC bob");
	no("BCC a");
	no("BCC \"\"");		/* no Bcc field at all */
	/* HEADER: any occurrence, folded values unfolded */
	yes("HEADER X-Repeat one");
	yes("HEADER x-repeat \"two,\tthree\"");
	yes("HEADER X-REPEAT three");
	no("HEADER X-Repeat four");
	yes("HEADER x-repeat \"\"");
	no("HEADER X-Missing \"\"");
	yes("HEADER Message-ID <M1@EXAMPLE.com>");
	/* headers of the message inside are not the message's */
	no("SUBJECT inner");
	no("FROM inner@example.com");
}

/* --- body and text ------------------------------------------------------ */

static void
test_body(void **state)
{
	(void)state;
	/* quoted-printable, soft line break in the middle of the match */
	yes("BODY \"hello caf\xc3\xa9 world\"");
	yes("BODY \"\xc3\xa9t\xc3\xa9\"");	/* QP UTF-8 ÉTÉ, and html */
	yes("BODY \"wor\"");
	no("BODY \"wor=\"");
	no("BODY \"=C3\"");
	/* ISO-8859-1 html: "à bientôt" */
	yes("BODY \"\xc3\xa0 bient\xc3\xb4t\"");
	yes("BODY \"\xc3\x80 BIENT\xc3\x94T\"");
	/* the message inside: its text and its header */
	yes("BODY needle");
	yes("BODY \"inner subject\"");
	yes("BODY \"a\"");
	/* not in BODY: the top header, an attachment, boundaries */
	no("BODY Return-Path");
	no("BODY abc");
	no("BODY AAECA2");
	no("BODY preamble");
	no("BODY outer");
	no("BODY zzzz");
	yes("BODY \"\"");
	/* TEXT: header or body */
	yes("TEXT return-path");
	yes("TEXT \"subject: \xc3\xa9t\xc3\xa9\"");
	yes("TEXT needle");
	yes("TEXT \"J\xc3\xb6rg\"");
	no("TEXT zzzz");
}

static void
test_base64_body(void **state)
{
	struct mstore_msg m = fx_m(3, 0, sizeof(fx_b64) - 1);
	struct imap_msg md;

	(void)state;
	fx_load(&md, &m, 1, fx_b64, sizeof(fx_b64) - 1);
	/* "Grüße aus Köln, ΚΑΛΗΜΈΡΑ και привет" */
	assert_int_equal(match(&md, "BODY \"GR\xc3\x9c\xc3\x9f" "E\""), 1);
	assert_int_equal(match(&md, "BODY \"k\xc3\xb6ln\""), 1);
	/* Greek and Cyrillic, either case; accented capital */
	assert_int_equal(match(&md, "BODY \"\xce\xba\xce\xb1\xce\xbb\xce\xb7"
	    "\xce\xbc\xce\xad\xcf\x81\xce\xb1\""), 1);	/* καλημέρα */
	assert_int_equal(match(&md, "BODY \"\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92"
	    "\xd0\x95\xd0\xa2\""), 1);			/* ПРИВЕТ */
	assert_int_equal(match(&md, "BODY R3LDvM"), 0);
	/* Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= */
	assert_int_equal(match(&md, "SUBJECT \"GR\xc3\x9c\xc3\x9f" "E\""), 1);
	assert_int_equal(match(&md, "TEXT \"Zoe\""), 1);
	assert_int_equal(match(&md, "NOT TEXT \"Zoe\""), 0);
	imap_msg_release(&md);
}

static void
test_nesting(void **state)
{
	(void)state;
	yes("OR SUBJECT zzz BODY world");
	yes("OR BODY world SUBJECT zzz");
	no("OR SUBJECT zzz BODY zzz");
	yes("NOT OR SUBJECT zzz BODY zzz");
	yes("(SEEN FLAGGED) (BODY needle)");
	no("(SEEN FLAGGED) (BODY needle) DELETED");
	yes("OR (DELETED BODY zzz) (NOT DELETED NOT NOT FROM joerg)");
	yes("NOT (OR DELETED (DRAFT BODY needle))");
	yes("1:5 UID 7 SEEN BODY needle SENTON 3-Mar-2020");
	no("1:5 UID 8 BODY needle");
	{
		struct buf p;
		int i;

		/* nesting as deep as the parser allows */
		buf_init(&p, 1 << 16);
		for (i = 0; i < 100; i++)
			buf_append_str(&p, "NOT ");
		buf_append_str(&p, "BODY needle");
		yes(buf_cstr(&p));
		buf_free(&p);
	}
}

static void
test_cheap(void **state)
{
	struct imap_search_ctx ctx;
	bool cheap;
	struct mstore_msg m = fx_m(7, IMAP_FLAG_SEEN, 100);
	struct imap_msg md;

	(void)state;
	search_ctx(&ctx);
	/* no data: cheap keys must not need any */
	imap_msg_init(&md, NULL, 0);
	md.m = &m;
	assert_int_equal(match_ctx(&md, &ctx, "SEEN UID 7 LARGER 10 "
	    "OR SINCE 1-Jan-2000 KEYWORD Work NOT 5 YOUNGER 10000 MODSEQ 1",
	    &cheap), 1);
	assert_true(cheap);
	match_ctx(&md, &ctx, "SEEN OR BODY x ALL", &cheap);
	assert_false(cheap);
	match_ctx(&md, &ctx, "NOT SENTON 1-Jan-2000", &cheap);
	assert_false(cheap);
	match_ctx(&md, &ctx, "(HEADER a b)", &cheap);
	assert_false(cheap);
	/* cheap keys run first: an AND that fails on them needs no file */
	assert_int_equal(match_ctx(&md, &ctx, "BODY x DELETED", NULL), 0);
	/* ...and one that needs the file fails without a store */
	assert_true(match_ctx(&md, &ctx, "BODY x SEEN", NULL) < 0);
	imap_msg_release(&md);
}

/* --- the fold and the stream -------------------------------------------- */

static void
fold_is(const char *in, const char *want)
{
	struct buf b;

	buf_init(&b, 1024);
	assert_int_equal(imap_msg_fold(&b, in, strlen(in), NULL, NULL), 0);
	if (b.len != strlen(want) || memcmp(b.p, want, b.len) != 0)
		fail_msg("fold <%s>: want <%s> got <%.*s>", in, want,
		    (int)b.len, b.p);
	buf_free(&b);
}

static void
test_fold(void **state)
{
	(void)state;
	fold_is("ABC xyz 09", "abc xyz 09");
	fold_is("\xc3\x89T\xc3\x89", "\xc3\xa9t\xc3\xa9");	/* ÉTÉ */
	fold_is("\xc3\x97\xc3\x9f", "\xc3\x97\xc3\x9f");	/* × ß */
	fold_is("\xc5\xb8", "\xc3\xbf");			/* Ÿ */
	fold_is("\xc5\x81\xc3\x93" "D\xc5\xb9", "\xc5\x82\xc3\xb3" "d\xc5\xba");
	fold_is("\xce\xa3\xcf\x82", "\xcf\x83\xcf\x83");	/* Σς */
	fold_is("\xce\x86\xce\x88", "\xce\xac\xce\xad");	/* ΆΈ */
	fold_is("\xd0\x81\xd0\xaf", "\xd1\x91\xd1\x8f");	/* ЁЯ */
	fold_is("\xd4\xb1", "\xd5\xa1");			/* Armenian */
	fold_is("\xe1\xba\x9e", "\xc3\x9f");			/* ẞ */
	fold_is("\xef\xbc\xa1", "\xef\xbd\x81");		/* Ａ */
	fold_is("\xe2\x84\xaa", "k");				/* Kelvin */
	/* broken UTF-8 goes through as it is */
	fold_is("A\xff" "B\xc3", "a\xff" "b\xc3");
	fold_is("\xe2\x28\xa1Z", "\xe2(\xa1z");
	/* streaming: a sequence cut anywhere */
	{
		static const char s[] = "x\xc3\x89y\xe1\xba\x9ez\xf0\x9f\x98\x80";
		struct buf whole, cut;
		char carry[4];
		size_t ncarry;

		buf_init(&whole, 1024);
		imap_msg_fold(&whole, s, sizeof(s) - 1, NULL, NULL);
		for (size_t k = 0; k < sizeof(s); k++) {
			buf_init(&cut, 1024);
			ncarry = 0;
			imap_msg_fold(&cut, s, k, carry, &ncarry);
			imap_msg_fold(&cut, s + k, sizeof(s) - 1 - k, carry,
			    &ncarry);
			assert_int_equal(ncarry, 0);
			assert_int_equal(cut.len, whole.len);
			assert_memory_equal(cut.p, whole.p, whole.len);
			buf_free(&cut);
		}
		buf_free(&whole);
	}
}

/* A big quoted-printable body: the needle lands on every position
 * around the 64 KiB chunk boundaries of the reader. */
static void
test_stream_boundaries(void **state)
{
	struct buf msg;
	struct mstore_msg m;
	struct imap_msg md;
	size_t hdr, pos;

	(void)state;
	for (pos = 65536 - 40; pos < 65536 + 8; pos += 3) {
		buf_init(&msg, 1 << 20);
		buf_append_str(&msg, "Content-Type: text/plain; charset="
		    "iso-8859-1\r\nContent-Transfer-Encoding: "
		    "quoted-printable\r\n\r\n");
		hdr = msg.len;
		while (msg.len < hdr + pos)
			buf_append_str(&msg, "x");
		/* "ÉTÉ" as =C9T=C9 with a soft break inside */
		buf_append_str(&msg, "=C9T=\r\n=C9 after");
		while (msg.len < hdr + 200000)
			buf_append_str(&msg, "=\r\nyyyyyyyyyyyyyyyyyyyyyyyy");
		m = fx_m(1, 0, msg.len);
		fx_load(&md, &m, 1, msg.p, msg.len);
		assert_int_equal(match(&md, "BODY \"x\xc3\xa9t\xc3\xa9 AFTER\""),
		    1);
		assert_int_equal(match(&md, "BODY \"x\xc3\xa9t\xc3\xa9 AFTERx\""),
		    0);
		assert_int_equal(match(&md, "TEXT yyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
		    "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"), 1);
		imap_msg_release(&md);
		buf_free(&msg);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_sets),
		cmocka_unit_test(test_sizes_dates),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_base64_body),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_cheap),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_stream_boundaries),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
