/* imap_msg_fixture.h: messages and helpers shared by the imap_msg unit
 * tests (imap_fetch_test.c, imap_search_test.c, imap_thread_test.c):
 * a multipart message with every kind of part, commands parsed by the
 * real parser, messages given without a store. */
#ifndef FACTEUR_TESTS_IMAP_MSG_FIXTURE_H
#define FACTEUR_TESTS_IMAP_MSG_FIXTURE_H

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "imap/imap_msg.h"
#include "imap/imap_msg_int.h"
#include "imap/imap_parse.h"

/* Lines joined with CRLF (each line of the array is one line). */
#define CRLF	"\r\n"

/* multipart/mixed:
 *   1   multipart/alternative
 *   1.1   text/plain utf-8 quoted-printable (soft break in "world")
 *   1.2   text/html iso-8859-1 8bit
 *   2   application/octet-stream base64 (bytes with NULs)
 *   3   message/rfc822
 *   3.1   text/plain
 *   3.2   text/plain quoted-printable with =00 */
static const char fx_msg[] =
	"Return-Path: <a@x.example>" CRLF
	"From: =?ISO-8859-1?Q?J=F6rg?= <Joerg@Example.COM>" CRLF
	"To: Bob <bob@example.org>, carol@example.org" CRLF
	"Cc: \"Dave D\" <dave@example.net>" CRLF
	"Subject: =?UTF-8?B?w4l0w6kgc3VtbWVy?= report" CRLF
	" folded part" CRLF
	"Date: Tue, 03 Mar 2020 00:30:00 +0100" CRLF
	"Message-ID: <m1@example.com>" CRLF
	"X-Repeat: one" CRLF
	"x-REPEAT: two," CRLF
	"\tthree" CRLF
	"MIME-Version: 1.0" CRLF
	"Content-Type: multipart/mixed; boundary=\"outer\"" CRLF
	CRLF
	"preamble" CRLF
	"--outer" CRLF
	"Content-Type: multipart/alternative; boundary=\"alt\"" CRLF
	CRLF
	"--alt" CRLF
	"Content-Type: text/plain; charset=utf-8" CRLF
	"Content-Transfer-Encoding: quoted-printable" CRLF
	CRLF
	"Hello caf=C3=A9 wor=" CRLF
	"ld =C3=89T=C3=89" CRLF
	"--alt" CRLF
	"Content-Type: text/html; charset=iso-8859-1" CRLF
	CRLF
	"<p>Bonjour \xe9t\xe9 \xc0 BIENT\xd4T</p>" CRLF
	"--alt--" CRLF
	"--outer" CRLF
	"Content-Type: application/octet-stream; name=\"a.bin\"" CRLF
	"Content-Transfer-Encoding: base64" CRLF
	"Content-Disposition: attachment; filename=\"a.bin\"" CRLF
	CRLF
	"AAECA2FiYwBk" CRLF
	"--outer" CRLF
	"Content-Type: message/rfc822" CRLF
	CRLF
	"From: inner@example.com" CRLF
	"Subject: inner subject" CRLF
	"Content-Type: multipart/mixed; boundary=\"in\"" CRLF
	CRLF
	"--in" CRLF
	"Content-Type: text/plain" CRLF
	CRLF
	"inner text needle" CRLF
	"--in" CRLF
	"Content-Type: text/plain; charset=us-ascii" CRLF
	"Content-Transfer-Encoding: quoted-printable" CRLF
	CRLF
	"a=00b" CRLF
	"--in--" CRLF
	"--outer--" CRLF
	"epilogue" CRLF;

/* The top header, as BODY[HEADER] gives it. */
static const char fx_header[] =
	"Return-Path: <a@x.example>" CRLF
	"From: =?ISO-8859-1?Q?J=F6rg?= <Joerg@Example.COM>" CRLF
	"To: Bob <bob@example.org>, carol@example.org" CRLF
	"Cc: \"Dave D\" <dave@example.net>" CRLF
	"Subject: =?UTF-8?B?w4l0w6kgc3VtbWVy?= report" CRLF
	" folded part" CRLF
	"Date: Tue, 03 Mar 2020 00:30:00 +0100" CRLF
	"Message-ID: <m1@example.com>" CRLF
	"X-Repeat: one" CRLF
	"x-REPEAT: two," CRLF
	"\tthree" CRLF
	"MIME-Version: 1.0" CRLF
	"Content-Type: multipart/mixed; boundary=\"outer\"" CRLF
	CRLF;

/* A one-part message: base64 UTF-8 text (German, Greek, Russian). */
static const char fx_b64[] =
	"From: Zoe <zoe@example.gr>" CRLF
	"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=" CRLF
	"Content-Type: text/plain; charset=utf-8" CRLF
	"Content-Transfer-Encoding: base64" CRLF
	CRLF
	"R3LDvMOfZSBhdXMgS8O2bG4sIM6azpHOm86XzpzOiM6hzpEgzrrOsc65INC/0YDQuNCy" CRLF
	"0LXRgg==" CRLF;

/* 2020-03-03 09:11:12 UTC */
#define FX_IDATE	((time_t)1583226672)

static inline void
fx_utc(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

static inline struct mstore_msg
fx_m(uint32_t uid, unsigned flags, size_t size)
{
	struct mstore_msg m;

	memset(&m, 0, sizeof(m));
	m.uid = uid;
	m.flags = flags;
	m.modseq = 42;
	m.size = size;
	m.internaldate = FX_IDATE;
	return m;
}

/* A message without a store, parsed and cached. */
static inline void
fx_load(struct imap_msg *md, const struct mstore_msg *m, uint32_t seq,
    const char *data, size_t len)
{
	imap_msg_init_data(md, m, seq, data, len);
}

/* The parser kept between calls (the command lives in it). */
static struct imap_parser *fx_parser;

/* Parse one command line (without CRLF); NULL when it is refused. */
static inline const struct imap_command *
fx_cmd(const char *line)
{
	struct imap_parse_event ev;
	struct buf in;
	size_t used, off = 0;
	enum imap_parse_status st;

	if (fx_parser == NULL) {
		fx_parser = imap_parse_new(IMAP_PARSE_LINE_MAX, 1 << 20);
		imap_parse_set_flags(fx_parser, IMAP_PARSE_F_AUTH |
		    IMAP_PARSE_F_UTF8);
	}
	buf_init(&in, 1 << 20);
	buf_append_str(&in, line);
	buf_append(&in, "\r\n", 2);
	for (;;) {
		st = imap_parse_feed(fx_parser, in.p + off, in.len - off,
		    &used, &ev);
		off += used;
		if (st == IMAP_PARSE_COMMAND || st == IMAP_PARSE_ERROR ||
		    st == IMAP_PARSE_MORE)
			break;
	}
	buf_free(&in);
	return st == IMAP_PARSE_COMMAND ? ev.cmd : NULL;
}

static inline void
fx_done(void)
{
	imap_parse_free(&fx_parser);
}

#endif
