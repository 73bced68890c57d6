/* mime_parse_test.c: tests for src/mime/mime_parse.c (and the
 * BODYSTRUCTURE and ENVELOPE written from its tree): a corpus of
 * tricky messages with their expected BODYSTRUCTURE, BODY and ENVELOPE
 * byte for byte, each also fed in every split.  Expected IMAP text is
 * written with ` for "; messages with LF, sent with CR LF unless raw.
 * The first cases are Dovecot's own (src/lib-imap/test-imap-
 * bodystructure.c): with CR LF line ends our sizes are its sizes. */
#include "mime_testlib.c"

#include "mime/mime_bodystructure.h"
#include "mime/mime_envelope.h"
#include "mime/mime_parse.h"

struct mime_case {
	const char	*name;
	const char	*msg;
	bool		 raw;		/* send as written (bare LF) */
	const char	*bs;		/* BODYSTRUCTURE */
	const char	*body;		/* BODY, or NULL */
	const char	*env;		/* ENVELOPE, or NULL */
};

#define TB_MIXED	"------------5lIKBa3Pq3WZ9C1hxG2nt1hU"
#define TB_ALT		"------------cNt8xcO2M7U5kT0qWLa4zrQe"
#define TB_PDF		"UTF-8''ordre%20du%20jour%E2%80%94v2.pdf"

static const struct mime_case mime_cases[] = {
{ "dovecot/plain",
  "From: user@domain.org\n"
  "Date: Sat, 24 Mar 2017 23:00:00 +0200\n"
  "Mime-Version: 1.0\n"
  "Content-Type: text/plain; charset=us-ascii\n"
  "\n"
  "body\n", false,
  "(`text` `plain` (`charset` `us-ascii`) NIL NIL `7bit` 6 1 NIL NIL NIL NIL)",
  "(`text` `plain` (`charset` `us-ascii`) NIL NIL `7bit` 6 1)",
  "(`Sat, 24 Mar 2017 23:00:00 +0200` NIL ((NIL NIL `user` `domain.org`)) "
  "((NIL NIL `user` `domain.org`)) ((NIL NIL `user` `domain.org`)) "
  "NIL NIL NIL NIL NIL)" },
{ "dovecot/8bit",
  "From: user@domain.org\n"
  "Date: Sat, 24 Mar 2017 23:00:00 +0200\n"
  "Mime-Version: 1.0\n"
  "Content-Type: text/plain; charset=utf-8\n"
  "Content-Transfer-Encoding: 8bit\n"
  "\n"
  "body\n"
  "\n", false,
  "(`text` `plain` (`charset` `utf-8`) NIL NIL `8bit` 8 2 NIL NIL NIL NIL)",
  NULL, NULL },
{ "dovecot/folded-boundary",
  "From: user@domain.org\n"
  "Date: Sat, 24 Mar 2007 23:00:00 +0200\n"
  "Mime-Version: 1.0\n"
  "Content-Type: multipart/mixed; boundary=\"foo\n"
  " bar\"\n"
  "\n"
  "--foo bar\n"
  "Content-Type: text/x-myown; charset=us-ascii\n"
  "\n"
  "hello\n"
  "\n"
  "--foo bar--\n"
  "\n", false,
  "((`text` `x-myown` (`charset` `us-ascii`) NIL NIL `7bit` 7 1 NIL NIL NIL "
  "NIL) `mixed` (`boundary` `foo bar`) NIL NIL NIL)",
  "((`text` `x-myown` (`charset` `us-ascii`) NIL NIL `7bit` 7 1) `mixed`)",
  NULL },
{ "dovecot/rfc822-ids",
  "From: user@domain.org\n"
  "Date: Sat, 24 Mar 2017 23:00:00 +0200\n"
  "Mime-Version: 1.0\n"
  "Content-Type: multipart/mixed; boundary=\"foo bar\"\n"
  "\n"
  "--foo bar\n"
  "Content-Type: text/plain; charset=us-ascii\n"
  "Content-ID: <A.frop.example.com>\n"
  "Content-Description: Container message\n"
  "\n"
  "See attached...\n"
  "\n"
  "--foo bar\n"
  "Content-Type: message/rfc822\n"
  "Content-ID: <B.frop.example.com>\n"
  "Content-Description: Forwarded\n"
  "\n"
  "From: user@domain.org\n"
  "Date: Sat, 24 Mar 2017 23:00:00 +0200\n"
  "Mime-Version: 1.0\n"
  "Content-Type: text/plain; charset=us-ascii\n"
  "\n"
  "body\n"
  "\n"
  "--foo bar--\n", false,
  "((`text` `plain` (`charset` `us-ascii`) `<A.frop.example.com>` "
  "`Container message` `7bit` 17 1 NIL NIL NIL NIL)(`message` `rfc822` NIL "
  "`<B.frop.example.com>` `Forwarded` `7bit` 133 (`Sat, 24 Mar 2017 "
  "23:00:00 +0200` NIL ((NIL NIL `user` `domain.org`)) ((NIL NIL `user` "
  "`domain.org`)) ((NIL NIL `user` `domain.org`)) NIL NIL NIL NIL NIL) "
  "(`text` `plain` (`charset` `us-ascii`) NIL NIL `7bit` 6 1 NIL NIL NIL "
  "NIL) 6 NIL NIL NIL NIL) `mixed` (`boundary` `foo bar`) NIL NIL NIL)",
  "((`text` `plain` (`charset` `us-ascii`) `<A.frop.example.com>` "
  "`Container message` `7bit` 17 1)(`message` `rfc822` NIL "
  "`<B.frop.example.com>` `Forwarded` `7bit` 133 (`Sat, 24 Mar 2017 "
  "23:00:00 +0200` NIL ((NIL NIL `user` `domain.org`)) ((NIL NIL `user` "
  "`domain.org`)) ((NIL NIL `user` `domain.org`)) NIL NIL NIL NIL NIL) "
  "(`text` `plain` (`charset` `us-ascii`) NIL NIL `7bit` 6 1) 6) `mixed`)",
  NULL },
{ "dovecot/full",
  "From: user@domain.org\n"
  "Date: Sat, 24 Mar 2007 23:00:00 +0200\n"
  "Mime-Version: 1.0\n"
  "Content-Type: multipart/mixed; boundary=\"foo\n"
  " bar\"\n"
  "\n"
  "Root MIME prologue\n"
  "\n"
  "--foo bar\n"
  "Content-Type: text/x-myown; charset=us-ascii; foo=\"quoted\\\"string\"\n"
  "Content-ID: <foo@example.com>\n"
  "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
  "Content-Disposition: inline; foo=bar\n"
  "Content-Description: hellodescription\n"
  "Content-Language: en, fi, se\n"
  "Content-Location: http://example.com/test.txt\n"
  "\n"
  "hello\n"
  "\n"
  "--foo bar\n"
  "Content-Type: message/rfc822\n"
  "\n"
  "From: sub@domain.org\n"
  "To: sub-to1@domain.org, sub-to2@domain.org\n"
  "Date: Sun, 12 Aug 2012 12:34:56 +0300\n"
  "Subject: submsg\n"
  "Content-Type: multipart/alternative; boundary=\"sub1\"\n"
  "\n"
  "Sub MIME prologue\n"
  "--sub1\n"
  "Content-Type: text/html\n"
  "Content-Transfer-Encoding: 8bit\n"
  "\n"
  "<p>Hello world</p>\n"
  "\n"
  "--sub1\n"
  "Content-Type: text/plain\n"
  "Content-Transfer-Encoding: ?invalid\n"
  "\n"
  "Hello another world\n"
  "\n"
  "--sub1--\n"
  "Sub MIME epilogue\n"
  "\n"
  "--foo bar--\n"
  "Root MIME epilogue\n", false,
  "((`text` `x-myown` (`charset` `us-ascii` `foo` `quoted\\`string`) "
  "`<foo@example.com>` `hellodescription` `7bit` 7 1 "
  "`Q2hlY2sgSW50ZWdyaXR5IQ==` (`inline` (`foo` `bar`)) (`en` `fi` `se`) "
  "`http://example.com/test.txt`)(`message` `rfc822` NIL NIL NIL `7bit` "
  "412 (`Sun, 12 Aug 2012 12:34:56 +0300` `submsg` ((NIL NIL `sub` "
  "`domain.org`)) ((NIL NIL `sub` `domain.org`)) ((NIL NIL `sub` "
  "`domain.org`)) ((NIL NIL `sub-to1` `domain.org`)(NIL NIL `sub-to2` "
  "`domain.org`)) NIL NIL NIL NIL) ((`text` `html` (`charset` `us-ascii`) "
  "NIL NIL `8bit` 20 1 NIL NIL NIL NIL)(`text` `plain` (`charset` "
  "`us-ascii`) NIL NIL `7bit` 21 1 NIL NIL NIL NIL) `alternative` "
  "(`boundary` `sub1`) NIL NIL NIL) 21 NIL NIL NIL NIL) `mixed` "
  "(`boundary` `foo bar`) NIL NIL NIL)",
  "((`text` `x-myown` (`charset` `us-ascii` `foo` `quoted\\`string`) "
  "`<foo@example.com>` `hellodescription` `7bit` 7 1)(`message` `rfc822` "
  "NIL NIL NIL `7bit` 412 (`Sun, 12 Aug 2012 12:34:56 +0300` `submsg` "
  "((NIL NIL `sub` `domain.org`)) ((NIL NIL `sub` `domain.org`)) ((NIL NIL "
  "`sub` `domain.org`)) ((NIL NIL `sub-to1` `domain.org`)(NIL NIL "
  "`sub-to2` `domain.org`)) NIL NIL NIL NIL) ((`text` `html` (`charset` "
  "`us-ascii`) NIL NIL `8bit` 20 1)(`text` `plain` (`charset` `us-ascii`) "
  "NIL NIL `7bit` 21 1) `alternative`) 21) `mixed`)",
  "(`Sat, 24 Mar 2007 23:00:00 +0200` NIL ((NIL NIL `user` `domain.org`)) "
  "((NIL NIL `user` `domain.org`)) ((NIL NIL `user` `domain.org`)) NIL NIL "
  "NIL NIL NIL)" },
{ "dovecot/no-parts",
  "Content-Type: multipart/mixed; boundary=\"foo\"\n"
  "\n", false,
  "((`text` `plain` (`charset` `us-ascii`) NIL NIL `7bit` 0 0 NIL NIL NIL "
  "NIL) `mixed` (`boundary` `foo`) NIL NIL NIL)",
  "((`text` `plain` (`charset` `us-ascii`) NIL NIL `7bit` 0 0) `mixed`)",
  "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
{ "thunderbird",
  "From: Alice Example <alice@example.org>\n"
  "To: Bob <bob@example.net>, \"Carol, Q.\" <carol@example.com>\n"
  "Cc: team: dave@example.org, eve@example.org;\n"
  "Subject: =?UTF-8?Q?R=C3=A9union_demain?=\n"
  "Date: Tue, 4 Jun 2024 10:15:00 +0200\n"
  "Message-ID: <1b2c3d4e-aaaa-bbbb@example.org>\n"
  "In-Reply-To: <prev@example.net>\n"
  "MIME-Version: 1.0\n"
  "User-Agent: Mozilla Thunderbird\n"
  "Content-Language: fr\n"
  "Content-Type: multipart/mixed;\n"
  " boundary=\"" TB_MIXED "\"\n"
  "\n"
  "This is a multi-part message in MIME format.\n"
  "--" TB_MIXED "\n"
  "Content-Type: multipart/alternative;\n"
  " boundary=\"" TB_ALT "\"\n"
  "\n"
  "--" TB_ALT "\n"
  "Content-Type: text/plain; charset=UTF-8; format=flowed\n"
  "Content-Transfer-Encoding: 8bit\n"
  "\n"
  "Bonjour,\n"
  "\n"
  "R\xc3\xa9union demain \xc3\xa0 10h.\n"
  "\n"
  "--" TB_ALT "\n"
  "Content-Type: text/html; charset=UTF-8\n"
  "Content-Transfer-Encoding: 8bit\n"
  "\n"
  "<html><body><p>Bonjour,</p><p>R\xc3\xa9union demain \xc3\xa0 10h.</p>"
  "</body></html>\n"
  "\n"
  "--" TB_ALT "--\n"
  "--" TB_MIXED "\n"
  "Content-Type: application/pdf; name*=" TB_PDF "\n"
  "Content-Disposition: attachment;\n"
  " filename*0*=UTF-8''ordre%20du%20jour;\n"
  " filename*1*=%E2%80%94v2.pdf\n"
  "Content-Transfer-Encoding: base64\n"
  "\n"
  "JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZURl\n"
  "Y29kZT4+CnN0cmVhbQp4nDPQM1Qo5ypUMFAw0DMDMLWSUzDIoVAwERHUUgLoCg==\n"
  "\n"
  "--" TB_MIXED "--\n", false,
  "(((`text` `plain` (`charset` `UTF-8` `format` `flowed`) NIL NIL `8bit` "
  "37 3 NIL NIL NIL NIL)(`text` `html` (`charset` `UTF-8`) NIL NIL `8bit` "
  "73 1 NIL NIL NIL NIL) `alternative` (`boundary` `" TB_ALT "`) NIL NIL "
  "NIL)(`application` `pdf` (`name*` `" TB_PDF "`) NIL NIL `base64` 144 NIL "
  "(`attachment` (`filename*` `" TB_PDF "`)) NIL NIL) `mixed` (`boundary` "
  "`" TB_MIXED "`) NIL (`fr`) NIL)",
  "(((`text` `plain` (`charset` `UTF-8` `format` `flowed`) NIL NIL `8bit` "
  "37 3)(`text` `html` (`charset` `UTF-8`) NIL NIL `8bit` 73 1) "
  "`alternative`)(`application` `pdf` (`name*` `" TB_PDF "`) NIL NIL "
  "`base64` 144) `mixed`)",
  "(`Tue, 4 Jun 2024 10:15:00 +0200` `=?UTF-8?Q?R=C3=A9union_demain?=` "
  "((`Alice Example` NIL `alice` `example.org`)) ((`Alice Example` NIL "
  "`alice` `example.org`)) ((`Alice Example` NIL `alice` `example.org`)) "
  "((`Bob` NIL `bob` `example.net`)(`Carol, Q.` NIL `carol` "
  "`example.com`)) ((NIL NIL `team` NIL)(NIL NIL `dave` `example.org`)"
  "(NIL NIL `eve` `example.org`)(NIL NIL NIL NIL)) NIL "
  "`<prev@example.net>` `<1b2c3d4e-aaaa-bbbb@example.org>`)" },
{ "8bit-headers",
  "From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>\n"
  "To: \"J\xc3\xb6rg M\xc3\xbcller\" <joerg@example.de>\n"
  "Subject: Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln\n"
  "\n"
  "x", false,
  "(`text` `plain` (`charset` `us-ascii`) NIL NIL `7bit` 1 0 NIL NIL NIL "
  "NIL)", NULL,
  "(NIL {17}\r\nGr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln "
  "((`=?ISO-8859-1?Q?Andr=E9?= Pirard` NIL `PIRARD` `vm1.ulg.ac.be`)) "
  "((`=?ISO-8859-1?Q?Andr=E9?= Pirard` NIL `PIRARD` `vm1.ulg.ac.be`)) "
  "((`=?ISO-8859-1?Q?Andr=E9?= Pirard` NIL `PIRARD` `vm1.ulg.ac.be`)) "
  "(({13}\r\nJ\xc3\xb6rg M\xc3\xbcller NIL `joerg` `example.de`)) "
  "NIL NIL NIL NIL)" },
{ "bare-lf",
  "Content-Type: multipart/mixed; boundary=x\n"
  "\n"
  "--x\n"
  "\n"
  "hello\n"
  "--x\n"
  "Content-Type: text/html\n"
  "\n"
  "<b>\n"
  "\n"
  "--x--\n", true,
  "((`text` `plain` (`charset` `us-ascii`) NIL NIL `7bit` 5 0 NIL NIL NIL "
  "NIL)(`text` `html` (`charset` `us-ascii`) NIL NIL `7bit` 4 1 NIL NIL "
  "NIL NIL) `mixed` (`boundary` `x`) NIL NIL NIL)", NULL, NULL },
{ "empty", "", false,
  "(`text` `plain` (`charset` `us-ascii`) NIL NIL `7bit` 0 0 NIL NIL NIL "
  "NIL)", NULL, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
{ "header-only",
  "Subject: no body\n"
  "Content-Type: text/html", false,
  "(`text` `html` (`charset` `us-ascii`) NIL NIL `7bit` 0 0 NIL NIL NIL "
  "NIL)", NULL, "(NIL `no body` NIL NIL NIL NIL NIL NIL NIL NIL)" },
{ "nul-in-header",
  "Subject: a~b\nContent-Type: text/pl~ain\n\nx~", false,
  "(`text` `pl` (`charset` `us-ascii`) NIL NIL `7bit` 2 0 NIL NIL NIL "
  "NIL)", NULL,
  "(NIL {5}\r\na\xef\xbf\xbd" "b NIL NIL NIL NIL NIL NIL NIL NIL)" },
{ "no-boundary-param",
  "Content-Type: multipart/mixed\n"
  "Content-Disposition: inline\n"
  "\n"
  "--x\n"
  "\n"
  "a\n", false,
  "(`text` `plain` (`charset` `us-ascii`) NIL NIL `7bit` 10 3 NIL "
  "(`inline` NIL) NIL NIL)", NULL, NULL },
{ "unterminated",
  "Content-Type: multipart/mixed; boundary=b\n"
  "\n"
  "--b\n"
  "Content-Type: text/plain\n"
  "\n"
  "unterminated\n", false,
  "((`text` `plain` (`charset` `us-ascii`) NIL NIL `7bit` 14 1 NIL NIL NIL "
  "NIL) `mixed` (`boundary` `b`) NIL NIL NIL)", NULL, NULL },
{ "boundary-prefixes",
  "Content-Type: multipart/mixed; boundary=abc\n"
  "\n"
  "--abc\n"
  "\n"
  "--abcd\n"
  "--ab\n"
  "-- abc\n"
  "--abc  \t\n"
  "Content-Type: multipart/alternative; boundary=\"abc-inner\"\n"
  "\n"
  "--abc-inner\n"
  "\n"
  "in\n"
  "--abc--inner\n"
  "--abc--trailing junk\n"
  "epilogue\n", false,
  "((`text` `plain` (`charset` `us-ascii`) NIL NIL `7bit` 20 2 NIL NIL NIL "
  "NIL)((`text` `plain` (`charset` `us-ascii`) NIL NIL `7bit` 2 0 NIL NIL "
  "NIL NIL) `alternative` (`boundary` `abc-inner`) NIL NIL NIL) `mixed` "
  "(`boundary` `abc`) NIL NIL NIL)", NULL, NULL },
{ "boundary-in-header",
  "Content-Type: multipart/mixed; boundary=b\n"
  "\n"
  "--b\n"
  "Content-Type: text/html\n"
  "--b\n"
  "Content-Type: text/plain\n"
  "\n"
  "hi\n"
  "--b--\n", false,
  "((`text` `html` (`charset` `us-ascii`) NIL NIL `7bit` 0 0 NIL NIL NIL "
  "NIL)(`text` `plain` (`charset` `us-ascii`) NIL NIL `7bit` 2 0 NIL NIL "
  "NIL NIL) `mixed` (`boundary` `b`) NIL NIL NIL)", NULL, NULL },
{ "digest",
  "Content-Type: multipart/digest; boundary=d\n"
  "\n"
  "--d\n"
  "\n"
  "From: x@y\n"
  "Subject: s\n"
  "\n"
  "body\n"
  "--d\n"
  "Content-Type: text/plain\n"
  "\n"
  "not a message\n"
  "--d--\n", false,
  "((`message` `rfc822` NIL NIL NIL `7bit` 29 (NIL `s` ((NIL NIL `x` `y`)) "
  "((NIL NIL `x` `y`)) ((NIL NIL `x` `y`)) NIL NIL NIL NIL NIL) (`text` "
  "`plain` (`charset` `us-ascii`) NIL NIL `7bit` 4 0 NIL NIL NIL NIL) 3 "
  "NIL NIL NIL NIL)(`text` `plain` (`charset` `us-ascii`) NIL NIL `7bit` "
  "13 0 NIL NIL NIL NIL) `digest` (`boundary` `d`) NIL NIL NIL)", NULL,
  NULL },
{ "message-global-in-header-only",
  "Content-Type: message/global\n"
  "\n"
  "Subject: =?utf-8?q?x?=\n"
  "Content-Type: text/plain; charset=utf-8\n", false,
  "(`message` `global` NIL NIL NIL `7bit` 65 (NIL `=?utf-8?q?x?=` NIL NIL "
  "NIL NIL NIL NIL NIL NIL) (`text` `plain` (`charset` `utf-8`) NIL NIL "
  "`7bit` 0 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL)", NULL, NULL },
{ "odd-fields",
  "Content-Type: TEXT/Plain (a comment) ; CharSet = \"iso-8859-1\" ;"
  " junk ; name=\"a;b.txt\" ; x=unquoted value; ;\n"
  "Content-Transfer-Encoding: BASE64 (comment)\n"
  "Content-Disposition: attachment; filename*0=\"a b\"; filename*2=c;"
  " filename*1=%\n"
  "Content-Language: de-CH , en\n"
  "Content-ID:\t <id@x>\n"
  "Content-Type: text/html\n"
  "\n"
  "QUJD\n", false,
  "(`TEXT` `Plain` (`CharSet` `iso-8859-1` `name` `a;b.txt` `x` "
  "`unquoted`) `<id@x>` NIL `BASE64` 6 1 NIL (`attachment` (`filename` "
  "`a b%c`)) (`de-CH` `en`) NIL)", NULL, NULL },
{ "broken-type",
  "Content-Type: text\n"
  "Content-Transfer-Encoding: base64 quoted-printable\n"
  "\n"
  "x\n", false,
  "(`text` `plain` (`charset` `us-ascii`) NIL NIL `7bit` 3 1 NIL NIL NIL "
  "NIL)", NULL, NULL },
{ "incomplete-2231",
  "Content-Type: application/octet-stream; name*0=a; name*2=c;"
  " name*1*=%41; name*=x\n"
  "\n", false,
  "(`application` `octet-stream` (`name*0` `a` `name*2` `c` `name*1*` `%41`"
  " `name*` `x`) NIL NIL `7bit` 0 NIL NIL NIL NIL)", NULL, NULL },
};

static void
mime_case_check(const char *what, const char *name, const struct buf *got,
    const char *want_q)
{
	char *want = mime_test_q(want_q);

	if (got->len != strlen(want) || memcmp(got->p, want, got->len) != 0) {
		fprintf(stderr, "%s %s:\n got: %.*s\nwant: %s\n", name, what,
		    (int)got->len, got->p, want);
		fail();
	}
	free(want);
}

static void
mime_case_run(const struct mime_case *tc)
{
	struct mime_message *msg;
	struct buf b;
	size_t len;
	char *data;

	if (tc->raw) {
		data = xstrdup(tc->msg);
		len = strlen(data);
	} else
		data = mime_test_crlf(tc->msg, &len);
	/* in "nul-*" cases, '~' stands for a NUL byte */
	for (size_t i = 0; strncmp(tc->name, "nul-", 4) == 0 && i < len; i++) {
		if (data[i] == '~')
			data[i] = '\0';
	}
	msg = mime_parse_buffer(data, len);
	buf_init(&b, 1024 * 1024);
	assert_int_equal(mime_bs_write(&b, msg->root, true), 0);
	mime_case_check("BODYSTRUCTURE", tc->name, &b, tc->bs);
	if (tc->body != NULL) {
		buf_reset(&b);
		assert_int_equal(mime_bs_write(&b, msg->root, false), 0);
		mime_case_check("BODY", tc->name, &b, tc->body);
	}
	if (tc->env != NULL) {
		buf_reset(&b);
		assert_int_equal(mime_envelope_write(&b, msg->root), 0);
		mime_case_check("ENVELOPE", tc->name, &b, tc->env);
	}
	buf_free(&b);
	mime_parse_message_free(&msg);
	mime_test_trickle(data, len, 4096);
	free(data);
}

static void
test_corpus(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(mime_cases) / sizeof(mime_cases[0]); i++)
		mime_case_run(&mime_cases[i]);
}

static const struct mime_part *
mime_section(const struct mime_message *msg, const uint32_t *nums, size_t n)
{
	const struct mime_part *part = NULL;

	if (mime_parse_section(msg, nums, n, &part) == -1)
		return NULL;
	return part;
}

static void
mime_expect_span(const char *data, uint64_t from, uint64_t to,
    const char *want)
{
	assert_int_equal(to - from, strlen(want));
	assert_memory_equal(data + from, want, to - from);
}

/* Offsets name exactly the bytes of each section. */
static void
test_offsets(void **state)
{
	static const char lf[] =
	    "Subject: outer\n"
	    "Content-Type: multipart/mixed; boundary=b\n"
	    "\n"
	    "pre\n"
	    "--b\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "one\n"
	    "--b\n"
	    "Content-Type: message/rfc822\n"
	    "\n"
	    "Subject: inner\n"
	    "Content-Type: multipart/alternative; boundary=c\n"
	    "\n"
	    "--c\n"
	    "\n"
	    "two\n"
	    "--c\n"
	    "Content-Type: message/rfc822\n"
	    "\n"
	    "Subject: innermost\n"
	    "\n"
	    "three\n"
	    "--c--\n"
	    "--b--";
	static const uint32_t s1[] = { 1 }, s2[] = { 2 }, s21[] = { 2, 1 },
	    s22[] = { 2, 2 }, s221[] = { 2, 2, 1 }, s3[] = { 3 },
	    s11[] = { 1, 1 }, s0[] = { 0 }, s2211[] = { 2, 2, 1, 1 };
	const struct mime_part *p;
	struct mime_message *msg;
	size_t len;
	char *data = mime_test_crlf(lf, &len);

	msg = mime_parse_buffer(data, len);
	assert_int_equal(msg->nparts, 7);
	assert_int_equal(msg->size, len);
	assert_int_equal(msg->flags, 0);
	p = msg->root;
	mime_expect_span(data, p->hdr_off, p->body_off, "Subject: outer\r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
	assert_int_equal(p->end_off, len);
	assert_int_equal(p->hdr_lines, 3);
	assert_null(mime_section(msg, s0, 1));
	assert_null(mime_section(msg, s3, 1));
	assert_null(mime_section(msg, s11, 2));
	p = mime_section(msg, s1, 1);
	mime_expect_span(data, p->hdr_off, p->body_off,
	    "Content-Type: text/plain\r\n\r\n");
	mime_expect_span(data, p->body_off, p->end_off, "one");
	p = mime_section(msg, s2, 1);
	assert_true(p->flags & MIME_PART_MESSAGE);
	assert_int_equal(p->body_lines, 12);
	mime_expect_span(data, p->hdr_off, p->body_off,
	    "Content-Type: message/rfc822\r\n\r\n");
	/* the message it holds: its header, then part 2.1 */
	assert_int_equal(p->children->hdr_off, p->body_off);
	assert_int_equal(p->children->end_off, p->end_off);
	assert_string_equal(p->children->env[MIME_ENV_SUBJECT].p, "inner");
	p = mime_section(msg, s21, 2);
	mime_expect_span(data, p->body_off, p->end_off, "two");
	assert_int_equal(p->hdr_lines, 1);
	p = mime_section(msg, s22, 2);
	mime_expect_span(data, p->body_off, p->end_off,
	    "Subject: innermost\r\n\r\nthree");
	p = mime_section(msg, s221, 3);
	assert_string_equal(p->env[MIME_ENV_SUBJECT].p, "innermost");
	mime_expect_span(data, p->body_off, p->end_off, "three");
	assert_null(mime_section(msg, s2211, 4));
	/* part 1 of a message that is not multipart is the message */
	mime_parse_message_free(&msg);
	msg = mime_parse_buffer("Subject: x\r\n\r\nbody", 18);
	assert_ptr_equal(mime_section(msg, s1, 1), msg->root);
	assert_null(mime_section(msg, s11, 2));
	assert_ptr_equal(mime_section(msg, NULL, 0), msg->root);
	mime_parse_message_free(&msg);
	free(data);
}

/* 70 nested multiparts: parts deeper than 64 are text. */
static void
test_deep(void **state)
{
	struct buf m, want, got;
	struct mime_message *msg;
	const struct mime_part *p;
	int i;

	buf_init(&m, 1024 * 1024);
	buf_init(&want, 1024 * 1024);
	for (i = 0; i < 70; i++)
		buf_printf(&m, "Content-Type: multipart/mixed; boundary=b%d"
		    "\r\n\r\n--b%d\r\n", i, i);
	buf_printf(&m, "\r\ndeep\r\n");
	for (i = 69; i >= 0; i--)
		buf_printf(&m, "--b%d--\r\n", i);
	msg = mime_parse_buffer(m.p, m.len);
	assert_int_equal(msg->nparts, 65);
	assert_true(msg->flags & MIME_MSG_DEPTH_CAPPED);
	for (p = msg->root; p->children != NULL; p = p->children)
		assert_true(p->flags & MIME_PART_MULTIPART);
	assert_int_equal(p->depth, MIME_DEPTH_MAX);
	assert_true(p->flags & MIME_PART_DEGRADED);
	for (i = 0; i < 64; i++)
		buf_append(&want, "(", 1);
	buf_printf(&want, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
	    "NIL \"7bit\" %llu %llu)",
	    (unsigned long long)(p->end_off - p->body_off),
	    (unsigned long long)p->body_lines);
	for (i = 63; i >= 0; i--)
		buf_printf(&want, " \"mixed\")");
	buf_init(&got, 1024 * 1024);
	assert_int_equal(mime_bs_write(&got, msg->root, false), 0);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.p, want.p, got.len);
	mime_parse_message_free(&msg);
	mime_test_trickle(m.p, m.len, 0);
	buf_free(&m);
	buf_free(&want);
	buf_free(&got);
}

/* message/rfc822 nested 100 times: also capped at 64. */
static void
test_deep_rfc822(void **state)
{
	struct mime_message *msg;
	const struct mime_part *p;
	struct buf m;
	int i;

	buf_init(&m, 1024 * 1024);
	for (i = 0; i < 100; i++)
		buf_printf(&m, "Subject: %d\r\nContent-Type: message/rfc822"
		    "\r\n\r\n", i);
	buf_printf(&m, "Subject: last\r\n\r\nend\r\n");
	msg = mime_parse_buffer(m.p, m.len);
	assert_int_equal(msg->nparts, 65);
	for (p = msg->root; p->children != NULL; p = p->children)
		assert_true(p->flags & MIME_PART_MESSAGE);
	assert_true(p->flags & MIME_PART_DEGRADED);
	assert_int_equal(p->end_off, m.len);
	mime_test_trickle(m.p, m.len, 0);
	mime_parse_message_free(&msg);
	buf_free(&m);
}

/* More parts than MIME_PARTS_MAX: no new part, the rest is body. */
static void
test_parts_cap(void **state)
{
	struct mime_message *msg;
	const struct mime_part *p;
	struct buf m, bs;
	int i;

	buf_init(&m, 1024 * 1024);
	buf_printf(&m, "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (i = 0; i < MIME_PARTS_MAX + 50; i++)
		buf_printf(&m, "--b\r\n\r\n%d\r\n", i);
	buf_printf(&m, "--b--\r\n");
	msg = mime_parse_buffer(m.p, m.len);
	assert_int_equal(msg->nparts, MIME_PARTS_MAX);
	assert_int_equal(msg->root->nchildren, MIME_PARTS_MAX - 1);
	assert_true(msg->flags & MIME_MSG_PARTS_CAPPED);
	for (p = msg->root->children; p->next != NULL; p = p->next)
		;
	/* the boundary that would start one more part ends the last */
	assert_true(p->end_off < m.len);
	assert_int_equal(msg->root->end_off, m.len);
	assert_true(msg->root->flags & MIME_PART_OPEN);
	buf_init(&bs, 16 * 1024 * 1024);
	assert_int_equal(mime_bs_write(&bs, msg->root, true), 0);
	mime_test_trickle(m.p, m.len, 0);
	mime_parse_message_free(&msg);
	buf_free(&m);
	buf_free(&bs);
}

/* A header line far past the cap: cut, flagged, and parsing goes on. */
static void
test_huge_header(void **state)
{
	struct mime_message *msg;
	struct buf m;
	struct str s;
	size_t i;

	buf_init(&m, 1024 * 1024);
	buf_printf(&m, "Subject: ");
	for (i = 0; i < 100000; i++)
		buf_append(&m, i % 1000 == 999 ? "\r\n " : "x", i % 1000 ==
		    999 ? 3 : 1);
	buf_printf(&m, "\r\nX-Long: ");
	for (i = 0; i < 200000; i++)
		buf_append(&m, "y", 1);
	buf_printf(&m, "\r\nFrom: a@b\r\nContent-Type: text/html\r\n\r\nz");
	msg = mime_parse_buffer(m.p, m.len);
	assert_true(msg->root->flags & MIME_PART_TRUNCATED);
	s = msg->root->env[MIME_ENV_SUBJECT];
	assert_true(s.len > MIME_FIELD_MAX - 200 && s.len < MIME_FIELD_MAX);
	for (i = 0; i < s.len; i++)
		assert_true(s.p[i] == 'x' || s.p[i] == ' ');
	assert_string_equal(msg->root->env[MIME_ENV_FROM].p, "a@b");
	assert_string_equal(msg->root->subtype.p, "html");
	assert_int_equal(msg->root->end_off - msg->root->body_off, 1);
	mime_test_trickle(m.p, m.len, 0);
	mime_parse_message_free(&msg);
	buf_free(&m);
}

/* Random bytes and MIME fragments: no crash, same tree when cut. */
static void
test_garbage(void **state)
{
	static const char *frags[] = { "--b\r\n", "--b--\r\n", "\r\n",
	    "\n", "\r", "Content-Type: multipart/mixed; boundary=b\r\n",
	    "Content-Type: message/rfc822\r\n", "--", "-", "\0", "x",
	    "Subject: =?utf-8?q?x?=\r\n", " folded\r\n", "\xff", ":",
	    "To: a@b, (c) <d@e>;\r\n", "Content-Type: multipart/digest; "
	    "boundary=\"b\"\r\n" };
	struct buf m;
	int round, i;

	srand(4);
	for (round = 0; round < 200; round++) {
		buf_init(&m, 1024 * 1024);
		for (i = 0; i < 60; i++) {
			const char *f = frags[rand() % 17];

			buf_append(&m, f, *f == '\0' ? 1 : strlen(f));
		}
		mime_test_trickle(m.p, m.len, round < 20 ? 4096 : 0);
		buf_free(&m);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_offsets),
		cmocka_unit_test(test_deep),
		cmocka_unit_test(test_deep_rfc822),
		cmocka_unit_test(test_parts_cap),
		cmocka_unit_test(test_huge_header),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests_name("mime/mime_parse", tests, NULL,
	    NULL);
}
