/* imap_fetch_test.c: FETCH responses of imap_fetch.c byte for byte on a
 * message with every kind of part (imap_msg_fixture.h): every section
 * form, partials at the edges, HEADER.FIELDS(.NOT) with folded and
 * repeated fields, BINARY with base64 and quoted-printable NULs
 * (literal8), BINARY.SIZE, unknown encodings, the items that need no
 * file, and the cache fields. */
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

/* FETCH of items (the FETCH command's item list) on md; the whole
 * response, or NULL with *rc_r set when the call failed. */
static char *
fetch_full(struct imap_msg *md, const char *items, bool uid, bool modseq,
    bool rev2, int *rc_r, size_t *len_r)
{
	static const char *const kw[] = { "$Forwarded", "Work" };
	const struct imap_command *cmd;
	struct imap_fetch_ctx ctx;
	struct buf out, line;
	const char *err = NULL;
	int rc;

	buf_init(&line, 4096);
	buf_printf(&line, "a FETCH 1 %s", items);
	cmd = fx_cmd(buf_cstr(&line));
	buf_free(&line);
	if (cmd == NULL)
		fail_msg("parse failed: %s", items);
	memset(&ctx, 0, sizeof(ctx));
	ctx.att = cmd->u.fetch.att;
	ctx.n = cmd->u.fetch.n;
	ctx.uid = uid;
	ctx.modseq = modseq;
	ctx.rev2 = rev2;
	ctx.kwnames = kw;
	ctx.nkw = NELEM(kw);
	buf_init(&out, 1 << 24);
	buf_append_str(&out, "x");	/* must stay */
	rc = imap_fetch_write(&out, &ctx, md, &err);
	if (rc_r != NULL)
		*rc_r = rc;
	assert_true(out.len >= 1 && out.p[0] == 'x');
	if (rc != 0) {
		assert_int_equal(out.len, 1);	/* nothing written */
		buf_free(&out);
		return NULL;
	}
	if (len_r != NULL)
		*len_r = out.len - 1;
	{
		char *s = malloc(out.len);

		memcpy(s, out.p + 1, out.len - 1);
		s[out.len - 1] = '\0';
		buf_free(&out);
		return s;
	}
}

/* The text between "FETCH (" and ")\r\n" (NUL-terminated; its length
 * in *len_r). */
static char *
fetch_n(struct imap_msg *md, const char *items, size_t *len_r)
{
	size_t len;
	char *s = fetch_full(md, items, false, false, false, NULL, &len);
	char *in;

	if (s == NULL)
		fail_msg("FETCH %s failed", items);
	assert_true(len > 15 && strncmp(s, "* 1 FETCH (", 11) == 0);
	assert_memory_equal(s + len - 3, ")\r\n", 3);
	in = malloc(len - 13);
	memcpy(in, s + 11, len - 14);
	in[len - 14] = '\0';
	*len_r = len - 14;
	free(s);
	return in;
}

static char *
fetch(struct imap_msg *md, const char *items)
{
	size_t len;

	return fetch_n(md, items, &len);
}

static void
expect_n(struct imap_msg *md, const char *items, const char *want,
    size_t wlen)
{
	size_t len;
	char *got = fetch_n(md, items, &len);

	if (len != wlen || memcmp(got, want, len) != 0)
		fail_msg("FETCH %s\nwant <%.*s>\ngot  <%.*s>", items,
		    (int)wlen, want, (int)len, got);
	free(got);
}

static void
expect(struct imap_msg *md, const char *items, const char *want)
{
	expect_n(md, items, want, strlen(want));
}

#define EXPECTB(md, items, w)	expect_n((md), (items), (w), sizeof(w) - 1)

/* "NAME {n}\r\n" + data, for expectations. */
static char *
lit(const char *name, const char *data, size_t n)
{
	char *s = malloc(strlen(name) + n + 32);
	int k = sprintf(s, "%s {%zu}\r\n", name, n);

	memcpy(s + k, data, n);
	s[k + n] = '\0';
	return s;
}

static void
expect_lit(struct imap_msg *md, const char *items, const char *name,
    const char *data)
{
	char *want = lit(name, data, strlen(data));

	expect(md, items, want);
	free(want);
}

static struct mstore_msg fx_mm;
static struct imap_msg fx_md;

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

/* --- items without the file --------------------------------------------- */

static void
test_simple_items(void **state)
{
	struct mstore_msg m = fx_m(9, 0, 1234);
	struct imap_msg md;
	char *s;
	int rc;

	(void)state;
	/* no data at all: these must not need it */
	imap_msg_init(&md, NULL, 4);
	md.m = &m;
	s = fetch_full(&md, "(UID FLAGS RFC822.SIZE INTERNALDATE MODSEQ)",
	    false, false, false, &rc, NULL);
	assert_non_null(s);
	assert_string_equal(s, "* 5 FETCH (UID 9 FLAGS () RFC822.SIZE 1234 "
	    "INTERNALDATE \"03-Mar-2020 09:11:12 +0000\" MODSEQ (42))\r\n");
	free(s);
	/* UID FETCH adds UID first, CONDSTORE adds MODSEQ last */
	s = fetch_full(&md, "FLAGS", true, true, false, &rc, NULL);
	assert_string_equal(s, "* 5 FETCH (UID 9 FLAGS () MODSEQ (42))\r\n");
	free(s);
	/* ...but not twice */
	s = fetch_full(&md, "(MODSEQ UID)", true, true, false, &rc, NULL);
	assert_string_equal(s, "* 5 FETCH (MODSEQ (42) UID 9)\r\n");
	free(s);
	/* a body item without a store and without data fails cleanly */
	s = fetch_full(&md, "(FLAGS BODY.PEEK[])", false, false, false, &rc,
	    NULL);
	assert_null(s);
	assert_int_equal(rc, MSTORE_ERROR);
	imap_msg_release(&md);
}

static void
test_flags(void **state)
{
	(void)state;
	expect(&fx_md, "FLAGS", "FLAGS (\\Flagged \\Seen Work \\Recent)");
	{
		char *s = fetch_full(&fx_md, "FLAGS", false, false, true, NULL,
		    NULL);

		assert_string_equal(s, "* 1 FETCH (FLAGS (\\Flagged \\Seen "
		    "Work))\r\n");
		free(s);
	}
	{
		struct buf b;
		static const char *const kw[] = { "a", "b", "c" };

		buf_init(&b, 1024);
		imap_flags_write(&b, IMAP_FLAG_ANSWERED | IMAP_FLAG_DELETED |
		    IMAP_FLAG_DRAFT, 0x5 | 0x80, false, kw, 3);
		assert_string_equal(buf_cstr(&b),
		    "(\\Answered \\Deleted \\Draft a c)");
		buf_free(&b);
	}
}

/* --- ENVELOPE, BODY, BODYSTRUCTURE, the cache --------------------------- */

static void
test_cached_items(void **state)
{
	char *s;

	(void)state;
	s = fetch(&fx_md, "ENVELOPE");
	assert_true(strncmp(s, "ENVELOPE (\"Tue, 03 Mar 2020 00:30:00 +0100\" "
	    "\"=?UTF-8?B?w4l0w6kgc3VtbWVy?= report folded part\" "
	    "((\"=?ISO-8859-1?Q?J=F6rg?=\" NIL \"Joerg\" \"Example.COM\"))",
	    strlen("ENVELOPE (\"Tue")) == 0);
	assert_non_null(strstr(s, "\"<m1@example.com>\")"));
	free(s);
	s = fetch(&fx_md, "BODYSTRUCTURE");
	assert_true(strncmp(s, "BODYSTRUCTURE (((\"text\" \"plain\" "
	    "(\"charset\" \"utf-8\") NIL NIL \"quoted-printable\"", 60) == 0);
	assert_non_null(strstr(s, "(\"attachment\" (\"filename\" \"a.bin\"))"));
	assert_non_null(strstr(s, "\"mixed\" (\"boundary\" \"outer\") NIL NIL"
	    " NIL)"));
	free(s);
	s = fetch(&fx_md, "BODY");
	assert_true(strncmp(s, "BODY (((\"text\" \"plain\"", 22) == 0);
	assert_null(strstr(s, "boundary"));	/* no extension data */
	free(s);
}

static void
test_cache_fields(void **state)
{
	struct imap_msg md;
	const struct mstore_cache *c;

	(void)state;
	assert_int_equal(imap_msg_cache(&fx_md, NULL), 0);
	c = &fx_md.cache;
	assert_true(fx_md.cache_filled);
	assert_memory_equal(c->subject.p, "\xc3\x89t\xc3\xa9 summer report "
	    "folded part", c->subject.len);
	assert_int_equal(c->subject.len, strlen("\xc3\x89t\xc3\xa9 summer "
	    "report folded part"));
	/* 03 Mar 2020 00:30:00 +0100 */
	assert_int_equal(c->sent, (time_t)1583191800);
	assert_int_equal(c->from.len, 5);
	assert_memory_equal(c->from.p, "joerg", 5);
	assert_int_equal(c->display_from.len, 5);
	assert_memory_equal(c->display_from.p, "J\xc3\xb6rg", 5);
	assert_int_equal(c->to.len, 3);
	assert_memory_equal(c->to.p, "bob", 3);
	assert_int_equal(c->display_to.len, 3);
	assert_memory_equal(c->display_to.p, "Bob", 3);
	assert_int_equal(c->cc.len, 4);
	assert_memory_equal(c->cc.p, "dave", 4);
	assert_int_equal(c->message_id.len, 16);
	assert_memory_equal(c->message_id.p, "<m1@example.com>", 16);
	assert_non_null(c->in_reply_to.p);
	assert_int_equal(c->in_reply_to.len, 0);
	assert_non_null(c->references.p);
	assert_int_equal(c->references.len, 0);

	/* no display name: the addr-spec; references kept in order,
	 * junk dropped */
	{
		static const char m2[] =
		    "From: <Only@Addr.example>" CRLF
		    "To: undisclosed-recipients:;" CRLF
		    "Subject: Re: [list] Fwd: hello (fwd)" CRLF
		    "Date: bogus" CRLF
		    "In-Reply-To: <p2@x> (comment)" CRLF
		    "References: <p0@x> junk <p1@x>" CRLF
		    "\t<bad <p2@x>" CRLF
		    CRLF
		    "body" CRLF;
		struct mstore_msg m = fx_m(1, 0, sizeof(m2) - 1);

		fx_load(&md, &m, 1, m2, sizeof(m2) - 1);
		assert_int_equal(imap_msg_cache(&md, NULL), 0);
		c = &md.cache;
		assert_int_equal(c->sent, 0);
		assert_int_equal(c->subject.len, 5);
		assert_memory_equal(c->subject.p, "hello", 5);
		assert_int_equal(c->from.len, 4);
		assert_memory_equal(c->from.p, "only", 4);
		assert_int_equal(c->display_from.len, 17);
		assert_memory_equal(c->display_from.p, "Only@Addr.example", 17);
		assert_non_null(c->to.p);
		assert_int_equal(c->to.len, 0);	/* a group is no address */
		assert_int_equal(c->references.len, 20);
		assert_memory_equal(c->references.p, "<p0@x> <p1@x> <p2@x>",
		    20);
		assert_int_equal(c->in_reply_to.len, 6);
		imap_msg_release(&md);
	}
}

/* --- BODY[section] ------------------------------------------------------ */

static void
test_sections_top(void **state)
{
	const char *text = strstr(fx_msg, "\r\n\r\npreamble") + 4;

	(void)state;
	{
		char *want = lit("BODY[]", fx_msg, sizeof(fx_msg) - 1);

		expect(&fx_md, "BODY.PEEK[]", want);
		free(want);
		want = lit("RFC822", fx_msg, sizeof(fx_msg) - 1);
		expect(&fx_md, "RFC822", want);
		free(want);
	}
	expect_lit(&fx_md, "BODY[HEADER]", "BODY[HEADER]", fx_header);
	expect_lit(&fx_md, "RFC822.HEADER", "RFC822.HEADER", fx_header);
	expect_lit(&fx_md, "BODY.PEEK[TEXT]", "BODY[TEXT]", text);
	expect_lit(&fx_md, "RFC822.TEXT", "RFC822.TEXT", text);
	/* several items, in the order asked */
	{
		char *s = fetch(&fx_md, "(UID BODY.PEEK[HEADER.FIELDS (Cc)])");

		assert_string_equal(s, "UID 7 BODY[HEADER.FIELDS (Cc)] {35}\r\n"
		    "Cc: \"Dave D\" <dave@example.net>\r\n\r\n");
		free(s);
	}
}

static void
test_header_fields(void **state)
{
	(void)state;
	/* folding kept, message order, repeated fields, any case */
	expect_lit(&fx_md, "BODY.PEEK[HEADER.FIELDS (x-repeat SUBJECT)]",
	    "BODY[HEADER.FIELDS (x-repeat SUBJECT)]",
	    "Subject: =?UTF-8?B?w4l0w6kgc3VtbWVy?= report\r\n folded part\r\n"
	    "X-Repeat: one\r\nx-REPEAT: two,\r\n\tthree\r\n\r\n");
	/* nothing matches: the blank line alone */
	expect_lit(&fx_md, "BODY.PEEK[HEADER.FIELDS (X-None)]",
	    "BODY[HEADER.FIELDS (X-None)]", "\r\n");
	/* a prefix is not a match */
	expect_lit(&fx_md, "BODY.PEEK[HEADER.FIELDS (X-Rep)]",
	    "BODY[HEADER.FIELDS (X-Rep)]", "\r\n");
	expect_lit(&fx_md, "BODY.PEEK[HEADER.FIELDS.NOT (Return-Path From To "
	    "Cc Subject Date Message-ID MIME-Version Content-Type)]",
	    "BODY[HEADER.FIELDS.NOT (Return-Path From To Cc Subject Date "
	    "Message-ID MIME-Version Content-Type)]",
	    "X-Repeat: one\r\nx-REPEAT: two,\r\n\tthree\r\n\r\n");
	/* names that are no atoms are quoted */
	expect_lit(&fx_md, "BODY.PEEK[HEADER.FIELDS (\"a]b\" From)]",
	    "BODY[HEADER.FIELDS (\"a]b\" From)]",
	    "From: =?ISO-8859-1?Q?J=F6rg?= <Joerg@Example.COM>\r\n\r\n");
	/* of a message inside */
	expect_lit(&fx_md, "BODY.PEEK[3.HEADER.FIELDS (subject)]",
	    "BODY[3.HEADER.FIELDS (subject)]",
	    "Subject: inner subject\r\n\r\n");
	expect_lit(&fx_md, "BODY.PEEK[3.HEADER.FIELDS.NOT (subject from)]",
	    "BODY[3.HEADER.FIELDS.NOT (subject from)]",
	    "Content-Type: multipart/mixed; boundary=\"in\"\r\n\r\n");
}

static void
test_sections_parts(void **state)
{
	(void)state;
	expect_lit(&fx_md, "BODY.PEEK[1.1]", "BODY[1.1]",
	    "Hello caf=C3=A9 wor=\r\nld =C3=89T=C3=89");
	expect_lit(&fx_md, "BODY.PEEK[1.1.MIME]", "BODY[1.1.MIME]",
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	expect_lit(&fx_md, "BODY[1.2]", "BODY[1.2]",
	    "<p>Bonjour \xe9t\xe9 \xc0 BIENT\xd4T</p>");
	expect_lit(&fx_md, "BODY[1]", "BODY[1]",
	    "--alt\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "Hello caf=C3=A9 wor=\r\nld =C3=89T=C3=89\r\n"
	    "--alt\r\n"
	    "Content-Type: text/html; charset=iso-8859-1\r\n\r\n"
	    "<p>Bonjour \xe9t\xe9 \xc0 BIENT\xd4T</p>\r\n"
	    "--alt--");
	expect_lit(&fx_md, "BODY[2]", "BODY[2]", "AAECA2FiYwBk");
	expect_lit(&fx_md, "BODY[2.MIME]", "BODY[2.MIME]",
	    "Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "Content-Disposition: attachment; filename=\"a.bin\"\r\n\r\n");
	/* the message part: all of the message it holds */
	{
		const char *a = strstr(fx_msg, "From: inner");
		const char *b = strstr(fx_msg, "--in--\r\n") + 6;
		char *want, *name = "BODY[3]";

		want = malloc(64 + (size_t)(b - a));
		sprintf(want, "%s {%zu}\r\n%.*s", name, (size_t)(b - a),
		    (int)(b - a), a);
		expect(&fx_md, "BODY[3]", want);
		free(want);
	}
	expect_lit(&fx_md, "BODY[3.MIME]", "BODY[3.MIME]",
	    "Content-Type: message/rfc822\r\n\r\n");
	expect_lit(&fx_md, "BODY[3.HEADER]", "BODY[3.HEADER]",
	    "From: inner@example.com\r\nSubject: inner subject\r\n"
	    "Content-Type: multipart/mixed; boundary=\"in\"\r\n\r\n");
	expect_lit(&fx_md, "BODY[3.TEXT]", "BODY[3.TEXT]",
	    "--in\r\nContent-Type: text/plain\r\n\r\ninner text needle\r\n"
	    "--in\r\nContent-Type: text/plain; charset=us-ascii\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\na=00b\r\n"
	    "--in--");
	expect_lit(&fx_md, "BODY[3.1]", "BODY[3.1]", "inner text needle");
	expect_lit(&fx_md, "BODY[3.2]", "BODY[3.2]", "a=00b");
	expect_lit(&fx_md, "BODY[3.2.MIME]", "BODY[3.2.MIME]",
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	/* parts that do not exist, HEADER of a part that is no message */
	expect(&fx_md, "BODY[4]", "BODY[4] NIL");
	expect(&fx_md, "BODY[1.3]", "BODY[1.3] NIL");
	expect(&fx_md, "BODY[2.1]", "BODY[2.1] NIL");
	expect(&fx_md, "BODY[3.3]", "BODY[3.3] NIL");
	expect(&fx_md, "BODY[2.HEADER]", "BODY[2.HEADER] NIL");
	expect(&fx_md, "BODY[1.TEXT]", "BODY[1.TEXT] NIL");
	expect(&fx_md, "BODY[9.8.7.6.5]", "BODY[9.8.7.6.5] NIL");
}

static void
test_single_part(void **state)
{
	struct mstore_msg m = fx_m(3, 0, sizeof(fx_b64) - 1);
	struct imap_msg md;
	const char *body = strstr(fx_b64, "\r\n\r\n") + 4;

	(void)state;
	fx_load(&md, &m, 1, fx_b64, sizeof(fx_b64) - 1);
	/* a message that is not multipart has one part, 1: its body */
	expect_lit(&md, "BODY[1]", "BODY[1]", body);
	expect_lit(&md, "BODY[TEXT]", "BODY[TEXT]", body);
	expect(&md, "BODY[2]", "BODY[2] NIL");
	expect(&md, "BODY[1.1]", "BODY[1.1] NIL");
	expect_lit(&md, "BINARY[1]", "BINARY[1]",
	    "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln, \xce\x9a\xce\x91\xce\x9b"
	    "\xce\x97\xce\x9c\xce\x88\xce\xa1\xce\x91 \xce\xba\xce\xb1\xce\xb9"
	    " \xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
	expect(&md, "BINARY.SIZE[1]", "BINARY.SIZE[1] 55");
	imap_msg_release(&md);

	/* no header at all, and an empty message */
	{
		static const char bare[] = "\r\njust text\r\n";

		m = fx_m(4, 0, sizeof(bare) - 1);
		fx_load(&md, &m, 1, bare, sizeof(bare) - 1);
		expect_lit(&md, "BODY[HEADER]", "BODY[HEADER]", "\r\n");
		expect_lit(&md, "BODY[TEXT]", "BODY[TEXT]", "just text\r\n");
		expect_lit(&md, "BODY[1]", "BODY[1]", "just text\r\n");
		imap_msg_release(&md);
		m = fx_m(5, 0, 0);
		fx_load(&md, &m, 1, "", 0);
		expect(&md, "BODY[]", "BODY[] \"\"");
		expect(&md, "BODY[HEADER]", "BODY[HEADER] \"\"");
		expect(&md, "BODY[HEADER.FIELDS (a)]",
		    "BODY[HEADER.FIELDS (a)] {2}\r\n\r\n");
		expect(&md, "BODY[1]", "BODY[1] \"\"");
		expect(&md, "BINARY.SIZE[1]", "BINARY.SIZE[1] 0");
		{
			char *s = fetch(&md, "(ENVELOPE BODYSTRUCTURE)");

			assert_non_null(strstr(s, "ENVELOPE (NIL NIL NIL NIL "
			    "NIL NIL NIL NIL NIL NIL) BODYSTRUCTURE (\"text\" "
			    "\"plain\""));
			free(s);
		}
		imap_msg_release(&md);
	}
}

/* --- partial ------------------------------------------------------------ */

static void
test_partial(void **state)
{
	char buf[64];

	(void)state;
	expect_lit(&fx_md, "BODY.PEEK[]<0.6>", "BODY[]<0>", "Return");
	expect_lit(&fx_md, "BODY.PEEK[]<7.4>", "BODY[]<7>", "Path");
	expect_lit(&fx_md, "BODY.PEEK[1.1]<6.4>", "BODY[1.1]<6>", "caf=");
	/* count past the end: up to the end */
	expect_lit(&fx_md, "BODY.PEEK[1.1]<25.100>", "BODY[1.1]<25>",
	    "=C3=89T=C3=89");
	/* offset at and past the end: empty */
	snprintf(buf, sizeof(buf), "BODY.PEEK[]<%zu.10>", sizeof(fx_msg) - 1);
	{
		char *s = fetch(&fx_md, buf);

		assert_non_null(strstr(s, "> \"\""));
		free(s);
	}
	expect(&fx_md, "BODY.PEEK[1.1]<999999.1>", "BODY[1.1]<999999> \"\"");
	expect(&fx_md, "BODY.PEEK[HEADER.FIELDS (cc)]<4.7>",
	    "BODY[HEADER.FIELDS (cc)]<4> {7}\r\n\"Dave D");
	/* a partial of a part that does not exist is still NIL */
	expect(&fx_md, "BODY.PEEK[7]<0.1>", "BODY[7]<0> NIL");
	/* BINARY partial counts decoded bytes; no <o> in the answer */
	expect(&fx_md, "BINARY.PEEK[2]<4.3>", "BINARY[2] {3}\r\nabc");
	EXPECTB(&fx_md, "BINARY.PEEK[2]<7.100>", "BINARY[2] ~{2}\r\n\0d");
	expect(&fx_md, "BINARY.PEEK[2]<9.1>", "BINARY[2] \"\"");
}

/* --- BINARY ------------------------------------------------------------- */

static void
test_binary(void **state)
{
	size_t len;
	char *s;

	(void)state;
	/* base64 with NULs: literal8 */
	s = fetch_full(&fx_md, "BINARY.PEEK[2]", false, false, false, NULL,
	    &len);
	assert_int_equal(len, strlen("* 1 FETCH (BINARY[2] ~{9}\r\n") + 9 + 3);
	assert_memory_equal(s, "* 1 FETCH (BINARY[2] ~{9}\r\n\0\1\2\3abc\0d)\r\n",
	    len);
	free(s);
	/* quoted-printable with =00 */
	s = fetch_full(&fx_md, "BINARY[3.2]", false, false, false, NULL, &len);
	assert_memory_equal(s, "* 1 FETCH (BINARY[3.2] ~{3}\r\na\0b)\r\n", len);
	free(s);
	/* decoded text without NUL: a normal literal */
	expect_lit(&fx_md, "BINARY[1.1]", "BINARY[1.1]",
	    "Hello caf\xc3\xa9 world \xc3\x89T\xc3\x89");
	/* 8bit: as it is */
	expect_lit(&fx_md, "BINARY[1.2]", "BINARY[1.2]",
	    "<p>Bonjour \xe9t\xe9 \xc0 BIENT\xd4T</p>");
	expect(&fx_md, "BINARY.SIZE[2]", "BINARY.SIZE[2] 9");
	expect(&fx_md, "BINARY.SIZE[3.2]", "BINARY.SIZE[3.2] 3");
	expect(&fx_md, "BINARY.SIZE[1.1]", "BINARY.SIZE[1.1] 23");
	expect(&fx_md, "(BINARY.SIZE[9] BINARY[9])",
	    "BINARY.SIZE[9] 0 BINARY[9] NIL");
	/* the whole message, and a message part: never decoded */
	{
		char *want = lit("BINARY[]", fx_msg, sizeof(fx_msg) - 1);

		expect(&fx_md, "BINARY[]", want);
		free(want);
	}
	s = fetch(&fx_md, "BINARY[3]");
	assert_true(strncmp(s, "BINARY[3] {", 11) == 0);
	free(s);
}

static void
test_unknown_cte(void **state)
{
	static const char m2[] =
	    "Content-Type: text/plain" CRLF
	    "Content-Transfer-Encoding: x-uuencode" CRLF
	    CRLF
	    "begin 644 x" CRLF;
	struct mstore_msg m = fx_m(3, 0, sizeof(m2) - 1);
	struct imap_msg md;
	int rc;
	char *s;

	(void)state;
	fx_load(&md, &m, 1, m2, sizeof(m2) - 1);
	s = fetch_full(&md, "(UID BINARY[1])", false, false, false, &rc, NULL);
	assert_null(s);
	assert_int_equal(rc, IMAP_MSG_UNKNOWN_CTE);
	s = fetch_full(&md, "BINARY.SIZE[1]", false, false, false, &rc, NULL);
	assert_null(s);
	assert_int_equal(rc, IMAP_MSG_UNKNOWN_CTE);
	/* BODY[] does not care */
	expect_lit(&md, "BODY[1]", "BODY[1]", "begin 644 x\r\n");
	imap_msg_release(&md);
}

/* --- limits ------------------------------------------------------------- */

static void
test_output_cap(void **state)
{
	const struct imap_command *cmd;
	struct imap_fetch_ctx ctx;
	struct buf out;
	const char *err = NULL;

	(void)state;
	cmd = fx_cmd("a FETCH 1 (UID BODY.PEEK[])");
	assert_non_null(cmd);
	memset(&ctx, 0, sizeof(ctx));
	ctx.att = cmd->u.fetch.att;
	ctx.n = cmd->u.fetch.n;
	buf_init(&out, 100);
	buf_append_str(&out, "keep");
	assert_int_equal(imap_fetch_write(&out, &ctx, &fx_md, &err),
	    MSTORE_ERROR);
	assert_non_null(err);
	assert_int_equal(out.len, 4);
	buf_free(&out);
}

/* A deep and wide hostile message: answers stay bounded. */
static void
test_hostile(void **state)
{
	struct buf msg;
	struct mstore_msg m;
	struct imap_msg md;
	size_t len;
	char *s;
	int i;

	(void)state;
	buf_init(&msg, 1 << 22);
	for (i = 0; i < 100; i++)
		buf_printf(&msg, "Content-Type: multipart/mixed; boundary=b%d"
		    "\r\n\r\n--b%d\r\n", i, i);
	buf_printf(&msg, "Content-Transfer-Encoding: base64\r\n\r\n");
	for (i = 0; i < 2000; i++)
		buf_append_str(&msg, "AAAA====////\r\n");
	m = fx_m(1, 0, msg.len);
	fx_load(&md, &m, 1, msg.p, msg.len);
	s = fetch_full(&md, "(BODYSTRUCTURE BODY[1.1.1.1.1.1.1.1.1.1.1.1] "
	    "BINARY[1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1"
	    ".1.1.1] BINARY.SIZE[1])", false, false, false, NULL, &len);
	assert_non_null(s);
	assert_true(len < 4 * msg.len);
	free(s);
	imap_msg_release(&md);
	buf_free(&msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_items),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_cached_items),
		cmocka_unit_test(test_cache_fields),
		cmocka_unit_test(test_sections_top),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_sections_parts),
		cmocka_unit_test(test_single_part),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_unknown_cte),
		cmocka_unit_test(test_output_cap),
		cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
