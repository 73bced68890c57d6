/* imap_parse_test.c: tables of valid and invalid IMAP commands (in the
 * manner of Dovecot's test-imap-parser and imaptest) with the expected
 * events, each command printed in canonical form by imap_dump.h.  Every
 * case is also fed split at every offset and byte by byte, and must give
 * exactly the same events and argument trees; every parsed command,
 * printed and parsed again, must print the same (dump_roundtrip). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "imap/imap_parse.h"
#include "imap/imap_parse_int.h"
#include "imap/imap_utf7.h"
#include "imap_dump.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define S(x)	(x), sizeof(x) - 1
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define A	IMAP_PARSE_F_AUTH
#define PRE	0x100		/* not authenticated (flags 0) */
#define U8	IMAP_PARSE_F_UTF8
#define LM	IMAP_PARSE_F_LITERAL_MINUS

struct pcase {
	const char	*in;
	size_t		 len;
	unsigned	 flags;		/* 0 means A; PRE for none */
	const char	*want;		/* the event log */
};

static const struct dump_run run_default = {
	.line_max = IMAP_PARSE_LINE_MAX, .literal_max = 1024 * 1024,
	.raw_after = "AUTHENTICATE",
};

/* --- the harness --------------------------------------------------------- */

static unsigned
case_flags(unsigned f)
{
	return f == 0 ? A : f == PRE ? 0 : f & ~PRE;
}

static char *
run_log(const char *in, size_t len, const size_t *cuts, size_t ncuts,
    const struct dump_run *r)
{
	struct buf log;

	buf_init(&log, DUMP_MAX);
	dump_anomalies = 0;
	dump_run_cuts(&log, in, len, cuts, ncuts, r);
	if (dump_anomalies != 0)
		fail_msg("API contract broken: %s", buf_cstr(&log));
	return (char *)buf_cstr(&log);
}

static void
check_case(const struct pcase *tc, const struct dump_run *r0)
{
	struct dump_run r = *r0;
	char *whole, *cut;
	size_t *bytes = calloc(tc->len + 1, sizeof(*bytes));

	r.flags = case_flags(tc->flags);
	r.roundtrip = true;
	whole = run_log(tc->in, tc->len, NULL, 0, &r);
	if (strcmp(whole, tc->want) != 0)
		fail_msg("input <%.*s>\nwant <%s>\ngot  <%s>", (int)tc->len,
		    tc->in, tc->want, whole);
	free(whole);
	r.roundtrip = false;
	r.tree = true;
	whole = run_log(tc->in, tc->len, NULL, 0, &r);
	for (size_t c = 0; c <= tc->len; c++) {
		cut = run_log(tc->in, tc->len, &c, 1, &r);
		if (strcmp(whole, cut) != 0)
			fail_msg("input <%.*s> cut at %zu\nwhole <%s>\ncut   "
			    "<%s>", (int)tc->len, tc->in, c, whole, cut);
		free(cut);
		bytes[c] = c;
	}
	cut = run_log(tc->in, tc->len, bytes, tc->len + 1, &r);
	if (strcmp(whole, cut) != 0)
		fail_msg("input <%.*s> byte by byte\nwhole <%s>\nbytes <%s>",
		    (int)tc->len, tc->in, whole, cut);
	free(cut);
	r.trim = true;			/* memory given back: same events */
	cut = run_log(tc->in, tc->len, bytes, tc->len + 1, &r);
	if (strcmp(whole, cut) != 0)
		fail_msg("input <%.*s> trimmed\nwhole <%s>\ntrimmed <%s>",
		    (int)tc->len, tc->in, whole, cut);
	free(cut);
	free(whole);
	free(bytes);
}

static void
check_table(const struct pcase *t, size_t n, const struct dump_run *r)
{
	for (size_t i = 0; i < n; i++)
		check_case(&t[i], r);
}

/* --- commands without mailboxes ----------------------------------------- */

static const struct pcase session_cases[] = {
	{ S("a1 NOOP\r\n"), 0, "a1 NOOP\n" },
	{ S("a1 noop\r\n"), 0, "a1 NOOP\n" },
	{ S("a1 NOOP\n"), 0, "a1 NOOP\n" },			/* bare LF */
	{ S("\r\n\r\n\na NOOP\r\nb CAPABILITY\r\n"), 0,
	    "a NOOP\nb CAPABILITY\n" },
	{ S("a NOOP  \r\n"), 0, "a NOOP\n" },		/* spaces tolerated */
	{ S("x.y]z LOGOUT\r\n"), 0, "x.y]z LOGOUT\n" },
	{ S("a STARTTLS\r\nb NAMESPACE\r\nc IDLE\r\nd CHECK\r\n"), 0,
	    "a STARTTLS\nb NAMESPACE\nc IDLE\nd CHECK\n" },
	{ S("a CLOSE\r\nb UNSELECT\r\nc EXPUNGE\r\n"), 0,
	    "a CLOSE\nb UNSELECT\nc EXPUNGE\n" },
	{ S("a NOOP"), 0, "" },				/* incomplete */
	{ S("a NOOP\r"), 0, "" },
	/* LOGIN */
	{ S("a LOGIN fred secret\r\n"), PRE, "a LOGIN fred secret\n" },
	{ S("a LOGIN \"fred\" \"pass word\"\r\n"), PRE,
	    "a LOGIN fred \"pass word\"\n" },
	{ S("a LOGIN \"a\\\"b\\\\c\" NIL\r\n"), PRE,
	    "a LOGIN \"a\\\"b\\\\c\" \"NIL\"\n" },
	{ S("a LOGIN \"\" \"\"\r\n"), PRE, "a LOGIN \"\" \"\"\n" },
	{ S("a LOGIN {4}\r\nfred {3+}\r\nabc\r\n"), PRE,
	    "+ 4\na LOGIN fred abc\n" },
	{ S("a LOGIN {0}\r\n {2+}\r\n\r\n\r\n"), PRE,
	    "+ 0\na LOGIN \"\" {2+}\r\n\r\n\n" },
	{ S("a LOGIN f]r \"\xc3\xa9t\xc3\xa9\"\r\n"), PRE,
	    "a LOGIN f]r \"\xc3\xa9t\xc3\xa9\"\n" },
	{ S("a LOGIN fred\r\n"), PRE, "a BAD Missing argument\n" },
	{ S("a LOGIN\r\n"), PRE, "a BAD Missing argument\n" },
	{ S("a LOGIN fred secret x\r\n"), PRE,
	    "a BAD Unexpected extra arguments\n" },
	{ S("a LOGIN (fred) x\r\n"), PRE, "a BAD Expected a string\n" },
	{ S("a LOGIN fr%d x\r\n"), PRE, "a BAD Invalid characters in atom\n" },
	{ S("a LOGIN f\\d x\r\n"), PRE, "a BAD Invalid characters in atom\n" },
	{ S("a LOGIN ~{3+}\r\nabc x\r\n"), PRE, "a BAD Expected a string\n" },
	/* AUTHENTICATE, then the SASL exchange as raw lines */
	{ S("a AUTHENTICATE plain\r\nAGZyZWQAcHc=\r\nb NOOP\r\n"), PRE,
	    "a AUTHENTICATE PLAIN\nL \"AGZyZWQAcHc=\"\nb NOOP\n" },
	{ S("a AUTHENTICATE PLAIN AGZyZWQAcHc=\r\n\r\nb NOOP\r\n"), PRE,
	    "a AUTHENTICATE PLAIN AGZyZWQAcHc=\nL \"\"\nb NOOP\n" },
	{ S("a AUTHENTICATE PLAIN =\r\n*\nb NOOP\r\n"), PRE,
	    "a AUTHENTICATE PLAIN =\nL \"*\"\nb NOOP\n" },
	{ S("a AUTHENTICATE SCRAM-SHA-256\r\n{5+}\r\n"), PRE,
	    "a AUTHENTICATE SCRAM-SHA-256\nL \"{5+}\"\n" },
	{ S("a AUTHENTICATE\r\n"), PRE, "a BAD Invalid SASL mechanism\n" },
	{ S("a AUTHENTICATE \"PLAIN\"\r\n"), PRE,
	    "a BAD Invalid SASL mechanism\n" },
	{ S("a AUTHENTICATE PLAIN AGZ\r\n"), PRE,
	    "a BAD Invalid base64 initial response\n" },
	{ S("a AUTHENTICATE PLAIN AG=y\r\n"), PRE,
	    "a BAD Invalid base64 initial response\n" },
	{ S("a AUTHENTICATE PLAIN x y\r\n"), PRE,
	    "a BAD Invalid base64 initial response\n" },
	{ S("a AUTHENTICATE PLAIN \"AGZ=\"\r\n"), PRE,
	    "a BAD Invalid initial response\n" },
	/* ENABLE, ID */
	{ S("a ENABLE condstore QRESYNC IMAP4rev2\r\n"), 0,
	    "a ENABLE CONDSTORE QRESYNC IMAP4REV2\n" },
	{ S("a ENABLE\r\n"), 0, "a BAD Missing capability\n" },
	{ S("a ENABLE \"X\"\r\n"), 0, "a BAD Invalid capability\n" },
	{ S("a ID NIL\r\n"), PRE, "a ID NIL\n" },
	{ S("a ID ()\r\n"), PRE, "a ID ()\n" },
	{ S("a ID (\"name\" \"Thunderbird\" \"version\" NIL)\r\n"), PRE,
	    "a ID (\"name\" \"Thunderbird\" \"version\" NIL)\n" },
	{ S("a ID (\"name\" {3}\r\nmua)\r\n"), PRE,
	    "+ 3\na ID (\"name\" \"mua\")\n" },
	{ S("a ID (\"name\")\r\n"), PRE, "a BAD Invalid ID parameters\n" },
	{ S("a ID (name \"x\")\r\n"), PRE,
	    "a BAD Expected a quoted string or literal\n" },
	{ S("a ID (\"123456789012345678901234567890x\" NIL)\r\n"), PRE,
	    "a BAD ID parameter too long\n" },
	{ S("a ID ((\"name\" NIL))\r\n"), PRE,
	    "a BAD Too deeply nested lists\n" },
	{ S("a ID\r\n"), PRE, "a BAD Invalid ID parameters\n" },
	{ S("a ID (\"1\" NIL \"2\" NIL \"3\" NIL \"4\" NIL \"5\" NIL \"6\" NIL "
	    "\"7\" NIL \"8\" NIL \"9\" NIL \"10\" NIL \"11\" NIL \"12\" NIL \"13\" NIL "
	    "\"14\" NIL \"15\" NIL \"16\" NIL \"17\" NIL \"18\" NIL \"19\" NIL \"20\" NIL "
	    "\"21\" NIL \"22\" NIL \"23\" NIL \"24\" NIL \"25\" NIL \"26\" NIL \"27\" NIL "
	    "\"28\" NIL \"29\" NIL \"30\" NIL \"31\" NIL)\r\n"), PRE,
	    "a BAD Too many ID parameters\n" },
};

static void
test_session(void **state)
{
	(void)state;
	check_table(session_cases, NELEM(session_cases), &run_default);
}

/* --- reader errors and recovery ------------------------------------------ */

static const struct pcase reader_cases[] = {
	{ S("a\r\n"), 0, "a BAD Missing command\n" },
	{ S("a \r\n"), 0, "a BAD Missing command\n" },
	{ S("a  NOOP\r\n"), 0, "a BAD Missing command\n" },
	{ S("a FOO\r\nb NOOP\r\n"), 0, "a BAD Unknown command\nb NOOP\n" },
	{ S("a NOOPX\r\n"), 0, "a BAD Unknown command\n" },
	{ S("a UID\r\n"), 0, "a BAD Missing UID command\n" },
	{ S("a UID NOOP\r\n"), 0, "a BAD Unknown UID command\n" },
	{ S("a UID UID FETCH 1 FLAGS\r\n"), 0, "a BAD Unknown UID command\n" },
	{ S("* NOOP\r\nb NOOP\r\n"), 0, "* BAD Invalid tag\nb NOOP\n" },
	{ S("+a NOOP\r\n"), 0, "* BAD Invalid tag\n" },
	{ S("a+ NOOP\r\n"), 0, "* BAD Invalid tag\n" },
	{ S(" NOOP\r\n"), 0, "* BAD Invalid tag\n" },
	{ S("(a NOOP\r\n"), 0, "* BAD Invalid tag\n" },
	{ S("a{1} NOOP\r\n"), 0, "* BAD Invalid tag\n" },
	{ S("\xc3\xa9 NOOP\r\n"), 0, "* BAD Invalid tag\n" },
	{ S("12345678901234567890123456789012345678901234567890123456789012345"
	    " NOOP\r\n"), 0, "* BAD Tag too long\n" },
	{ S("a NO(OP\r\n"), 0, "a BAD Invalid command name\n" },
	{ S("a NOOP\rb NOOP\r\n"), 0, "a BAD CR without LF\n" },
	{ S("a NOOP x\r\n"), 0, "a BAD Unexpected extra arguments\n" },
	{ S("a SELECT \"abc\r\nb NOOP\r\n"), 0,
	    "a BAD Unterminated quoted string\nb NOOP\n" },
	{ S("a SELECT \"abc\nb NOOP\r\n"), 0,
	    "a BAD Unterminated quoted string\nb NOOP\n" },
	{ S("a SELECT \"a\\x\"\r\n"), 0,
	    "a BAD Invalid escape in quoted string\n" },
	{ S("a SELECT \"a\0b\"\r\n"), 0, "a BAD NUL in quoted string\n" },
	{ S("a SELECT ab\"c\"\r\n"), 0, "a BAD Invalid characters in atom\n" },
	{ S("a SELECT \"ab\"c\r\n"), 0,
	    "a BAD Missing space between arguments\n" },
	{ S("a SELECT a\xc3\xa9\r\n"), 0, "a BAD 8-bit data in atom\n" },
	{ S("a SELECT a\x01\r\n"), 0, "a BAD Invalid characters in atom\n" },
	{ S("a SELECT \x01\r\n"), 0, "a BAD Invalid characters in atom\n" },
	{ S("a FETCH 1 (FLAGS\r\n"), 0, "a BAD Missing ')'\n" },
	{ S("a FETCH 1 FLAGS)\r\n"), 0, "a BAD Unexpected ')'\n" },
	{ S("a FETCH 1 (FLAGS))\r\n"), 0, "a BAD Unexpected ')'\n" },
	{ S("a FETCH 1 (FLAGS)(UID)\r\n"), 0,
	    "a BAD Missing space between arguments\n" },
	{ S("a FETCH 1 (FLAGS UID)x\r\n"), 0,
	    "a BAD Missing space between arguments\n" },
	{ S("a FETCH 1 BODY[HEADER\r\n"), 0, "a BAD Missing ']'\n" },
	{ S("a FETCH 1 BODY[HEADER])\r\n"), 0, "a BAD Unexpected ')'\n" },
	{ S("a FETCH 1 BODY[1]]\r\n"), 0,
	    "a BAD Invalid characters after ']'\n" },
	{ S("a FETCH 1 BODY[1](x)\r\n"), 0,
	    "a BAD Invalid characters after ']'\n" },
	{ S("a FETCH 1 BODY[1[2]]\r\n"), 0,
	    "a BAD Invalid characters after ']'\n" },
	{ S("a SEARCH FLAGS(\\Seen)\r\n"), 0,
	    "a BAD Invalid characters in atom\n" },
	/* after an error the rest of the line goes, literals whole */
	{ S("a FOO {6+}\r\nb NOOP\r\nc NOOP\r\n"), 0,
	    "a BAD Unknown command\nc NOOP\n" },
	{ S("a FOO {6+}\r\nb NOOP {3+}\r\n\r\n\n\r\nc NOOP\r\n"), 0,
	    "a BAD Unknown command\nc NOOP\n" },
	{ S("a FOO ~{3+}\r\n\n\n\n\r\nc NOOP\r\n"), 0,
	    "a BAD Unknown command\nc NOOP\n" },
	{ S("a FOO {6}\r\nb NOOP\r\n"), 0, "a BAD Unknown command\nb NOOP\n" },
	{ S("a FOO {x+}\r\nb NOOP\r\n"), 0, "a BAD Unknown command\nb NOOP\n" },
	{ S("a FOO {6+} x\r\nb NOOP\r\n"), 0,
	    "a BAD Unknown command\nb NOOP\n" },
	{ S("a{5+}\r\nb NOOP\r\nc NOOP\r\n"), 0, "* BAD Invalid tag\nc NOOP\n" },
	{ S("a SELECT \"x\r\n{3+}\r\nb NOOP\r\nc NOOP\r\n"), 0,
	    "a BAD Unterminated quoted string\n* BAD Invalid tag\n"
	    "c NOOP\n" },
	{ S("a LOGIN x {3+}\r\n\0\0\0\r\nb NOOP\r\n"), PRE,
	    "a BAD NUL in literal\nb NOOP\n" },
	{ S("a LOGIN x {3+}\r\n\0\0\0 {2+}\r\n\r\n\r\nb NOOP\r\n"), PRE,
	    "a BAD NUL in literal\nb NOOP\n" },
	/* literal headers */
	{ S("a LOGIN {3-}\r\nabc\r\n"), PRE,
	    "a BAD Invalid literal size\nabc BAD Missing command\n" },
	{ S("a LOGIN {}\r\nb NOOP\r\n"), PRE,
	    "a BAD Invalid literal size\nb NOOP\n" },
	{ S("a LOGIN {+}\r\nb NOOP\r\n"), PRE,
	    "a BAD Invalid literal size\nb NOOP\n" },
	{ S("a LOGIN {3++}\r\nb NOOP\r\n"), PRE,
	    "a BAD Invalid literal size\nb NOOP\n" },
	{ S("a LOGIN {3} x\r\nb NOOP\r\n"), PRE,
	    "a BAD Literal must end the line\nb NOOP\n" },
	{ S("a LOGIN {3}\rx\r\nb NOOP\r\n"), PRE,
	    "a BAD CR without LF\nb NOOP\n" },
	{ S("a LOGIN {99999999999999999999}\r\nb NOOP\r\n"), PRE,
	    "a BAD Literal size too large\nb NOOP\n" },
	{ S("a LOGIN x{3}\r\nb NOOP\r\n"), PRE,
	    "a BAD Invalid characters in atom\nb NOOP\n" },
	{ S("a LOGIN ~x y\r\n"), PRE, "a LOGIN ~x y\n" },
	{ S("a LOGIN x ~\r\n"), PRE, "a LOGIN x ~\n" },
	{ S("a LOGIN {3}\r\nabc\"d\" x\r\n"), PRE,
	    "+ 3\na BAD Missing space between arguments\n" },
	{ S("a LOGIN {3}\r\nabc"), PRE, "+ 3\n" },
	{ S("a LOGIN {3}\nabc x\r\n"), PRE, "+ 3\na LOGIN abc x\n" },
	/* before login, 8 KiB of literals at most */
	{ S("a LOGIN {8193}\r\nb LOGIN {8192}\r\n"), PRE,
	    "+ 8193 too big\n+ 8192\n" },
	{ S("a LOGIN {8193+}\r\nb NOOP\r\n"), PRE,
	    "a BAD [TOOBIG] Literal too big\n" },
	{ S("a LOGIN {8193}\r\n"), 0, "+ 8193\n" },
	{ S("a LOGIN {4097+}\r\n"), A | LM,
	    "a BAD [TOOBIG] Literal too big\n" },
	/* nesting: 1 level before authentication, 32 after */
	{ S("a ID (()\r\n"), PRE, "a BAD Too deeply nested lists\n" },
	{ S("a SEARCH ((((((((((((((((((((((((((((((((ALL))))))))))))))))))))"
	    "))))))))))))\r\n"), 0, "a SEARCH ((((((((((((((((((((((((((((("
	    "(((ALL))))))))))))))))))))))))))))))))\n" },
	{ S("a SEARCH (((((((((((((((((((((((((((((((((ALL)))))))))))))))))))"
	    ")))))))))))))))\r\nb NOOP\r\n"), 0,
	    "a BAD Too deeply nested lists\nb NOOP\n" },
	{ S("a FETCH 1 ((((((((((((((((((((((((((((((((\r\n"), 0,
	    "a BAD Missing ')'\n" },
	{ S("a FETCH 1 (((((((((((((((((((((((((((((((((\r\n"), 0,
	    "a BAD Too deeply nested lists\n" },
};

static void
test_reader(void **state)
{
	(void)state;
	check_table(reader_cases, NELEM(reader_cases), &run_default);
}

/* --- mailbox commands ------------------------------------------------------ */

static const struct pcase mailbox_cases[] = {
	{ S("a SELECT INBOX\r\n"), 0, "a SELECT INBOX\n" },
	{ S("a select \"Entw&APw-rfe\"\r\n"), 0, "a SELECT Entw&APw-rfe\n" },
	{ S("a SELECT {5}\r\nINBOX\r\n"), 0, "+ 5\na SELECT INBOX\n" },
	{ S("a SELECT [Gmail]/Sent\r\n"), 0, "a SELECT [Gmail]/Sent\n" },
	{ S("a SELECT INBOX (CONDSTORE)\r\n"), 0,
	    "a SELECT INBOX (CONDSTORE)\n" },
	{ S("a EXAMINE INBOX (QRESYNC (67890007 20050715194045000 "
	    "41,43:211,214:541))\r\n"), 0, "a EXAMINE INBOX (QRESYNC "
	    "(67890007 20050715194045000 41,43:211,214:541))\n" },
	{ S("a SELECT INBOX (QRESYNC (67890007 90060115194045000 "
	    "41:211,214:541 (1:2,4 1:5,7)) CONDSTORE)\r\n"), 0,
	    "a SELECT INBOX (CONDSTORE QRESYNC (67890007 90060115194045000 "
	    "41:211,214:541 (1:2,4 1:5,7)))\n" },
	{ S("a SELECT INBOX (QRESYNC (1 2 (1 2)))\r\n"), 0,
	    "a SELECT INBOX (QRESYNC (1 2 (1 2)))\n" },
	{ S("a SELECT INBOX ()\r\n"), 0, "a BAD Invalid SELECT parameters\n" },
	{ S("a SELECT INBOX (FOO)\r\n"), 0,
	    "a BAD Unknown SELECT parameter\n" },
	{ S("a SELECT INBOX (CONDSTORE CONDSTORE)\r\n"), 0,
	    "a BAD Unknown SELECT parameter\n" },
	{ S("a SELECT INBOX (QRESYNC)\r\n"), 0,
	    "a BAD Invalid QRESYNC parameters\n" },
	{ S("a SELECT INBOX (QRESYNC (0 1))\r\n"), 0,
	    "a BAD Invalid QRESYNC UIDVALIDITY\n" },
	{ S("a SELECT INBOX (QRESYNC (1 0))\r\n"), 0,
	    "a BAD Invalid mod-sequence\n" },
	{ S("a SELECT INBOX (QRESYNC (1 2 1:x))\r\n"), 0,
	    "a BAD Invalid sequence set\n" },
	{ S("a SELECT INBOX (QRESYNC (1 2 1 (1)))\r\n"), 0,
	    "a BAD Invalid QRESYNC parameters\n" },
	{ S("a SELECT INBOX (QRESYNC (1 2 1 (1 2) x))\r\n"), 0,
	    "a BAD Invalid QRESYNC parameters\n" },
	{ S("a SELECT\r\n"), 0, "a BAD Missing argument\n" },
	{ S("a CREATE Archive (USE (\\Archive))\r\n"), 0,
	    "a CREATE Archive (USE (\\Archive))\n" },
	{ S("a CREATE x (USE (\\Sent \\Junk \\Drafts \\Trash \\All "
	    "\\Flagged))\r\n"), 0, "a CREATE x (USE (\\All \\Drafts "
	    "\\Flagged \\Junk \\Sent \\Trash))\n" },
	{ S("a CREATE x (USE ())\r\n"), 0, "a CREATE x\n" },
	{ S("a CREATE x (USE (\\Important))\r\n"), 0,
	    "a NO [USEATTR] Unsupported special-use attribute\n" },
	{ S("a CREATE x (FOO (\\Sent))\r\n"), 0,
	    "a BAD Unknown CREATE parameter\n" },
	{ S("a CREATE x (USE)\r\n"), 0, "a BAD Invalid USE parameter\n" },
	{ S("a CREATE x ()\r\n"), 0, "a BAD Invalid CREATE parameters\n" },
	{ S("a CREATE x USE\r\n"), 0, "a BAD Invalid CREATE parameters\n" },
	{ S("a CREATE x/y/\r\n"), 0, "a CREATE x/y/\n" },
	{ S("a DELETE \"a b\"\r\nb SUBSCRIBE x\r\nc UNSUBSCRIBE y\r\n"), 0,
	    "a DELETE \"a b\"\nb SUBSCRIBE x\nc UNSUBSCRIBE y\n" },
	{ S("a RENAME a b\r\n"), 0, "a RENAME a b\n" },
	{ S("a RENAME a\r\n"), 0, "a BAD Missing argument\n" },
	{ S("a LIST \"\" *\r\n"), 0, "a LIST \"\" *\n" },
	{ S("a LIST \"\" %/%\r\n"), 0, "a LIST \"\" %/%\n" },
	{ S("a LIST ~/Mail/ \"%\"\r\n"), 0, "a LIST ~/Mail/ %\n" },
	{ S("a LIST \"\" ]\r\n"), 0, "a LIST \"\" ]\n" },
	{ S("a LSUB \"\" *\r\n"), 0, "a LSUB \"\" *\n" },
	{ S("a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (INBOX \"Sent/%\") "
	    "RETURN (CHILDREN STATUS (MESSAGES UNSEEN))\r\n"), 0,
	    "a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (INBOX Sent/%) RETURN "
	    "(CHILDREN STATUS (MESSAGES UNSEEN))\n" },
	{ S("a LIST () \"\" % RETURN (SPECIAL-USE)\r\n"), 0,
	    "a LIST () \"\" (%) RETURN (SPECIAL-USE)\n" },
	{ S("a LIST \"\" % RETURN (STATUS (SIZE))\r\n"), 0,
	    "a LIST () \"\" (%) RETURN (STATUS (SIZE))\n" },
	{ S("a LIST (SPECIAL-USE) \"\" *\r\n"), 0,
	    "a LIST (SPECIAL-USE) \"\" (*) RETURN ()\n" },
	{ S("a LIST \"\" % RETURN ()\r\n"), 0,
	    "a LIST () \"\" (%) RETURN ()\n" },
	{ S("a LIST (RECURSIVEMATCH) \"\" *\r\n"), 0,
	    "a BAD RECURSIVEMATCH needs a selection\n" },
	{ S("a LIST (REMOTE RECURSIVEMATCH) \"\" *\r\n"), 0,
	    "a BAD RECURSIVEMATCH needs a selection\n" },
	{ S("a LIST (FOO) \"\" *\r\n"), 0,
	    "a BAD Unknown LIST selection option\n" },
	{ S("a LIST \"\" * RETURN (FOO)\r\n"), 0,
	    "a BAD Unknown LIST return option\n" },
	{ S("a LIST \"\" * RETURN\r\n"), 0,
	    "a BAD Invalid LIST return options\n" },
	{ S("a LIST \"\" * (x)\r\n"), 0, "a BAD Unexpected extra arguments\n" },
	{ S("a LIST \"\" ()\r\n"), 0, "a BAD Invalid mailbox pattern\n" },
	{ S("a LSUB \"\" (x)\r\n"), 0, "a BAD Invalid mailbox pattern\n" },
	{ S("a LIST \"\" a\\b\r\n"), 0, "a BAD Invalid mailbox pattern\n" },
	{ S("a LIST \"\"\r\n"), 0, "a BAD Missing mailbox pattern\n" },
	{ S("a STATUS INBOX (MESSAGES UNSEEN SIZE HIGHESTMODSEQ uidnext "
	    "UIDVALIDITY DELETED RECENT)\r\n"), 0, "a STATUS INBOX (MESSAGES "
	    "UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ)\n" },
	{ S("a STATUS INBOX ()\r\n"), 0, "a BAD Invalid STATUS items\n" },
	{ S("a STATUS INBOX (FOO)\r\n"), 0, "a BAD Unknown STATUS item\n" },
	{ S("a STATUS INBOX MESSAGES\r\n"), 0, "a BAD Invalid STATUS items\n" },
	/* APPEND */
	{ S("a APPEND INBOX {5}\r\nhello\r\n"), 0,
	    "+ 5 msg\na APPEND INBOX {5+}\r\nhello\n" },
	{ S("a APPEND INBOX (\\Seen $Forwarded) \" 7-Feb-1994 22:43:04 -0800\""
	    " {5+}\r\nhello\r\n"), 0, "a APPEND INBOX (\\Seen $Forwarded) "
	    "\" 7-Feb-1994 22:43:04 -0800\" {5+}\r\nhello\n" },
	{ S("a APPEND INBOX \"17-Feb-1994 02:03:04 +0130\" {0+}\r\n\r\n"), 0,
	    "a APPEND INBOX \"17-Feb-1994 02:03:04 +0130\" {0+}\r\n\n" },
	{ S("a APPEND INBOX \"7-Feb-1994 22:43:04 -0800\" {1+}\r\nx\r\n"), 0,
	    "a APPEND INBOX \" 7-Feb-1994 22:43:04 -0800\" {1+}\r\nx\n" },
	{ S("a APPEND INBOX () ~{3}\r\na\0b\r\n"), 0,
	    "+ ~3 msg\na APPEND INBOX ~{3+}\r\na\0b\n" },
	{ S("a APPEND {5}\r\nINBOX {2}\r\nhi\r\n"), 0,
	    "+ 5\n+ 2 msg\na APPEND INBOX {2+}\r\nhi\n" },
	{ S("a APPEND INBOX (\\Recent) {1+}\r\nx\r\n"), 0,
	    "a BAD \\Recent cannot be set\n" },
	{ S("a APPEND INBOX (\\Seen) \"31-Jun-2020 00:00:00 +0000\" {1+}\r\n"
	    "x\r\n"), 0, "a BAD Invalid date-time\n" },
	{ S("a APPEND INBOX \"1-Jan-2020 24:00:00 +0000\" {1+}\r\nx\r\n"), 0,
	    "a BAD Invalid date-time\n" },
	{ S("a APPEND INBOX \"1-Jan-2020 00:00:00 0000\" {1+}\r\nx\r\n"), 0,
	    "a BAD Invalid date-time\n" },
	{ S("a APPEND INBOX \"hello\"\r\n"), 0, "a BAD Invalid date-time\n" },
	{ S("a APPEND INBOX\r\n"), 0, "a BAD Missing message literal\n" },
	{ S("a APPEND INBOX (\\Seen)\r\n"), 0,
	    "a BAD Missing message literal\n" },
	{ S("a APPEND INBOX {1+}\r\nx {1+}\r\ny\r\n"), 0,
	    "a BAD Unexpected extra arguments\n" },
	/* COPY, MOVE, EXPUNGE */
	{ S("a UID MOVE 1:3,5 Trash\r\n"), 0, "a UID MOVE 1:3,5 Trash\n" },
	{ S("a COPY $ Archive\r\n"), 0, "a COPY $ Archive\n" },
	{ S("a COPY 1 \"\"\r\n"), 0, "a COPY 1 \"\"\n" },
	{ S("a COPY x y\r\n"), 0, "a BAD Invalid sequence set\n" },
	{ S("a MOVE 1\r\n"), 0, "a BAD Missing argument\n" },
	{ S("a UID EXPUNGE 3:5,9\r\n"), 0, "a UID EXPUNGE 3:5,9\n" },
	{ S("a UID EXPUNGE\r\n"), 0, "a BAD Missing sequence set\n" },
	{ S("a EXPUNGE 1\r\n"), 0, "a BAD Unexpected extra arguments\n" },
};

static void
test_mailbox(void **state)
{
	(void)state;
	check_table(mailbox_cases, NELEM(mailbox_cases), &run_default);
}

/* --- FETCH, STORE, sequence sets ------------------------------------------ */

static const struct pcase fetch_cases[] = {
	{ S("a FETCH 1:* ALL\r\n"), 0,
	    "a FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)\n" },
	{ S("a FETCH 1 fast\r\n"), 0,
	    "a FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE)\n" },
	{ S("a FETCH 1 FULL\r\n"), 0,
	    "a FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY)\n" },
	{ S("a FETCH 1 flags\r\n"), 0, "a FETCH 1 (FLAGS)\n" },
	{ S("a FETCH 1 (RFC822 RFC822.HEADER RFC822.TEXT RFC822.SIZE ENVELOPE "
	    "BODYSTRUCTURE BODY UID MODSEQ INTERNALDATE)\r\n"), 0,
	    "a FETCH 1 (RFC822 RFC822.HEADER RFC822.TEXT RFC822.SIZE "
	    "ENVELOPE BODYSTRUCTURE BODY UID MODSEQ INTERNALDATE)\n" },
	{ S("a FETCH 2:4 (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (FROM TO)]"
	    "<0.1024>)\r\n"), 0, "a FETCH 2:4 (FLAGS BODY.PEEK[1.2.HEADER."
	    "FIELDS (FROM TO)]<0.1024>)\n" },
	{ S("a FETCH 1 BODY[]\r\n"), 0, "a FETCH 1 (BODY[])\n" },
	{ S("a FETCH 1 body.peek[]<5.10>\r\n"), 0,
	    "a FETCH 1 (BODY.PEEK[]<5.10>)\n" },
	{ S("a FETCH 1 (BODY[TEXT] BODY[1.MIME] BODY[2.1] BODY[3.HEADER] "
	    "BODY[4.TEXT])\r\n"), 0, "a FETCH 1 (BODY[TEXT] BODY[1.MIME] "
	    "BODY[2.1] BODY[3.HEADER] BODY[4.TEXT])\n" },
	{ S("a FETCH 1 (BINARY[1.2]<0.10> BINARY.SIZE[3] BINARY.PEEK[] "
	    "BINARY[])\r\n"), 0, "a FETCH 1 (BINARY[1.2]<0.10> "
	    "BINARY.SIZE[3] BINARY.PEEK[] BINARY[])\n" },
	{ S("a FETCH 1 BODY[HEADER.FIELDS.NOT (\"X-Foo\" {5}\r\nX-Bar)]\r\n"),
	    0, "+ 5\na FETCH 1 (BODY[HEADER.FIELDS.NOT (X-Foo X-Bar)])\n" },
	{ S("a FETCH 1 BODY[header.fields (a])]\r\n"), 0,
	    "a FETCH 1 (BODY[HEADER.FIELDS (a])])\n" },
	{ S("a FETCH 1 BODY[ 1.HEADER.FIELDS  (A) ]\r\n"), 0,
	    "a FETCH 1 (BODY[1.HEADER.FIELDS (A)])\n" },
	{ S("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n"), 0,
	    "a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)\n" },
	{ S("a FETCH 1:* (FLAGS) (CHANGEDSINCE 9223372036854775807)\r\n"), 0,
	    "a FETCH 1:* (FLAGS) (CHANGEDSINCE 9223372036854775807)\n" },
	{ S("a FETCH 1 (FLAGS) (VANISHED)\r\n"), 0,
	    "a BAD VANISHED needs UID FETCH and CHANGEDSINCE\n" },
	{ S("a FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)\r\n"), 0,
	    "a BAD VANISHED needs UID FETCH and CHANGEDSINCE\n" },
	{ S("a FETCH 1 (FLAGS) (CHANGEDSINCE 0)\r\n"), 0,
	    "a BAD Invalid mod-sequence\n" },
	{ S("a FETCH 1 (FLAGS) (CHANGEDSINCE 9223372036854775808)\r\n"), 0,
	    "a BAD Invalid number\n" },
	{ S("a FETCH 1 (FLAGS) (CHANGEDSINCE)\r\n"), 0, "a BAD Missing number\n" },
	{ S("a FETCH 1 (FLAGS) (FOO)\r\n"), 0, "a BAD Unknown FETCH modifier\n" },
	{ S("a FETCH 1 (FLAGS) ()\r\n"), 0, "a BAD Invalid FETCH modifiers\n" },
	{ S("a FETCH 1 ALL FLAGS\r\n"), 0, "a BAD Invalid FETCH modifiers\n" },
	{ S("a FETCH 1 (ALL)\r\n"), 0, "a BAD Unknown FETCH item\n" },
	{ S("a FETCH 1 ()\r\n"), 0, "a BAD Missing FETCH items\n" },
	{ S("a FETCH 1\r\n"), 0, "a BAD Missing FETCH items\n" },
	{ S("a FETCH 1 FOO\r\n"), 0, "a BAD Unknown FETCH item\n" },
	{ S("a FETCH 1 BODY.PEEK\r\n"), 0, "a BAD Unknown FETCH item\n" },
	{ S("a FETCH 1 BINARY\r\n"), 0, "a BAD Unknown FETCH item\n" },
	{ S("a FETCH 1 FLAGS[]\r\n"), 0, "a BAD Unknown FETCH item\n" },
	{ S("a FETCH 1 \"FLAGS\"\r\n"), 0, "a BAD Unknown FETCH item\n" },
	{ S("a FETCH 1 BODY[0]\r\n"), 0, "a BAD Invalid section\n" },
	{ S("a FETCH 1 BODY[01]\r\n"), 0, "a BAD Invalid section\n" },
	{ S("a FETCH 1 BODY[1.]\r\n"), 0, "a BAD Invalid section\n" },
	{ S("a FETCH 1 BODY[.1]\r\n"), 0, "a BAD Invalid section\n" },
	{ S("a FETCH 1 BODY[MIME]\r\n"), 0, "a BAD Invalid section\n" },
	{ S("a FETCH 1 BODY[1.FOO]\r\n"), 0, "a BAD Invalid section\n" },
	{ S("a FETCH 1 BODY[HEADER.FIELDS]\r\n"), 0, "a BAD Invalid section\n" },
	{ S("a FETCH 1 BODY[HEADER (A)]\r\n"), 0, "a BAD Invalid section\n" },
	{ S("a FETCH 1 BODY[TEXT TEXT]\r\n"), 0, "a BAD Invalid section\n" },
	{ S("a FETCH 1 BODY[\"TEXT\"]\r\n"), 0, "a BAD Invalid section\n" },
	{ S("a FETCH 1 BODY[HEADER.FIELDS ()]\r\n"), 0,
	    "a BAD Invalid header field list\n" },
	{ S("a FETCH 1 BODY[HEADER.FIELDS A]\r\n"), 0,
	    "a BAD Invalid header field list\n" },
	{ S("a FETCH 1 BODY[HEADER.FIELDS (a:b)]\r\n"), 0,
	    "a BAD Invalid header field name\n" },
	{ S("a FETCH 1 BODY[HEADER.FIELDS (\"a b\")]\r\n"), 0,
	    "a BAD Invalid header field name\n" },
	{ S("a FETCH 1 BODY[HEADER.FIELDS (\"\")]\r\n"), 0,
	    "a BAD Invalid header field name\n" },
	{ S("a FETCH 1 BODY[HEADER.FIELDS ({2+}\r\n\r\n)]\r\n"), 0,
	    "a BAD Invalid header field name\n" },
	{ S("a FETCH 1 BODY[1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20"
	    ".21.22.23.24.25.26.27.28.29.30.31.32]\r\n"), 0, "a FETCH 1 (BODY[1"
	    ".2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22.23.24.25."
	    "26.27.28.29.30.31.32])\n" },
	{ S("a FETCH 1 BODY[1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20"
	    ".21.22.23.24.25.26.27.28.29.30.31.32.33]\r\n"), 0,
	    "a BAD Section too deep\n" },
	{ S("a FETCH 1 BODY[4294967296]\r\n"), 0, "a BAD Invalid section\n" },
	{ S("a FETCH 1 BODY[]<1>\r\n"), 0, "a BAD Invalid partial range\n" },
	{ S("a FETCH 1 BODY[]<0.0>\r\n"), 0, "a BAD Invalid partial range\n" },
	{ S("a FETCH 1 BODY[]<.5>\r\n"), 0, "a BAD Invalid partial range\n" },
	{ S("a FETCH 1 BODY[]<1.>\r\n"), 0, "a BAD Invalid partial range\n" },
	{ S("a FETCH 1 BODY[]<1.2.3>\r\n"), 0, "a BAD Invalid partial range\n" },
	{ S("a FETCH 1 BODY[]x\r\n"), 0, "a BAD Invalid partial range\n" },
	{ S("a FETCH 1 BINARY.SIZE[1]<0.1>\r\n"), 0,
	    "a BAD Invalid partial range\n" },
	{ S("a FETCH 1 BINARY[HEADER]\r\n"), 0, "a BAD Invalid section\n" },
	{ S("a FETCH 1 BINARY[1.TEXT]\r\n"), 0, "a BAD Invalid section\n" },
	{ S("a FETCH 1 BINARY[1 (a)]\r\n"), 0, "a BAD Invalid section\n" },
	{ S("a FETCH 1 BODY.PEEK[HEADER.FIELDS (A)\r\n"), 0,
	    "a BAD Missing ']'\n" },
	/* sequence sets */
	{ S("a FETCH *:1,3,5:7,* UID\r\n"), 0, "a FETCH *:1,3,5:7,* (UID)\n" },
	{ S("a FETCH 4294967295 UID\r\n"), 0, "a FETCH 4294967295 (UID)\n" },
	{ S("a FETCH $ UID\r\n"), 0, "a FETCH $ (UID)\n" },
	{ S("a FETCH 1:1 UID\r\n"), 0, "a FETCH 1 (UID)\n" },
	{ S("a FETCH 0 UID\r\n"), 0, "a BAD Invalid sequence set\n" },
	{ S("a FETCH 4294967296 UID\r\n"), 0, "a BAD Invalid sequence set\n" },
	{ S("a FETCH 01 UID\r\n"), 0, "a BAD Invalid sequence set\n" },
	{ S("a FETCH 1: UID\r\n"), 0, "a BAD Invalid sequence set\n" },
	{ S("a FETCH :1 UID\r\n"), 0, "a BAD Invalid sequence set\n" },
	{ S("a FETCH 1:2:3 UID\r\n"), 0, "a BAD Invalid sequence set\n" },
	{ S("a FETCH 1,,2 UID\r\n"), 0, "a BAD Invalid sequence set\n" },
	{ S("a FETCH 1, UID\r\n"), 0, "a BAD Invalid sequence set\n" },
	{ S("a FETCH ,1 UID\r\n"), 0, "a BAD Invalid sequence set\n" },
	{ S("a FETCH $,1 UID\r\n"), 0, "a BAD Invalid sequence set\n" },
	{ S("a FETCH 1,$ UID\r\n"), 0, "a BAD Invalid sequence set\n" },
	{ S("a FETCH $$ UID\r\n"), 0, "a BAD Invalid sequence set\n" },
	{ S("a FETCH ** UID\r\n"), 0, "a BAD Invalid sequence set\n" },
	{ S("a FETCH -1 UID\r\n"), 0, "a BAD Invalid sequence set\n" },
	{ S("a FETCH \"1\" UID\r\n"), 0, "a BAD Invalid sequence set\n" },
	{ S("a FETCH (1) UID\r\n"), 0, "a BAD Invalid sequence set\n" },
	/* STORE */
	{ S("a STORE 1:3 +FLAGS (\\Seen \\Deleted $Forwarded)\r\n"), 0,
	    "a STORE 1:3 +FLAGS (\\Deleted \\Seen $Forwarded)\n" },
	{ S("a STORE 1 flags.silent \\seen \\FLAGGED \\Answered \\Draft\r\n"),
	    0, "a STORE 1 FLAGS.SILENT (\\Answered \\Flagged \\Seen "
	    "\\Draft)\n" },
	{ S("a STORE 1 (UNCHANGEDSINCE 0) -FLAGS ()\r\n"), 0,
	    "a STORE 1 (UNCHANGEDSINCE 0) -FLAGS ()\n" },
	{ S("a UID STORE 1,3 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT "
	    "(\\Deleted)\r\n"), 0, "a UID STORE 1,3 (UNCHANGEDSINCE "
	    "320162338) +FLAGS.SILENT (\\Deleted)\n" },
	{ S("a STORE 1 +FLAGS NIL\r\n"), 0, "a STORE 1 +FLAGS (NIL)\n" },
	{ S("a STORE 1 +FLAGS (\\Recent)\r\n"), 0,
	    "a BAD \\Recent cannot be set\n" },
	{ S("a STORE 1 +FLAGS (\\Foo)\r\n"), 0, "a BAD Invalid system flag\n" },
	{ S("a STORE 1 +FLAGS (\\*)\r\n"), 0, "a BAD Invalid system flag\n" },
	{ S("a STORE 1 +FLAGS (a]b)\r\n"), 0, "a BAD Invalid keyword\n" },
	{ S("a STORE 1 +FLAGS (a%)\r\n"), 0, "a BAD Invalid keyword\n" },
	{ S("a STORE 1 +FLAGS (\"a\")\r\n"), 0, "a BAD Invalid flag\n" },
	{ S("a STORE 1 +FLAGS (a) b\r\n"), 0, "a BAD Invalid flag\n" },
	{ S("a STORE 1 XFLAGS (\\Seen)\r\n"), 0, "a BAD Invalid STORE item\n" },
	{ S("a STORE 1 +FLAGS.LOUD (\\Seen)\r\n"), 0,
	    "a BAD Invalid STORE item\n" },
	{ S("a STORE 1 FLAGS\r\n"), 0, "a BAD Missing flags\n" },
	{ S("a STORE 1\r\n"), 0, "a BAD Invalid STORE item\n" },
	{ S("a STORE 1 (UNCHANGEDSINCE) FLAGS ()\r\n"), 0,
	    "a BAD Invalid STORE modifier\n" },
	{ S("a STORE 1 (CHANGEDSINCE 1) FLAGS ()\r\n"), 0,
	    "a BAD Invalid STORE modifier\n" },
	{ S("a STORE 1 (UNCHANGEDSINCE x) FLAGS ()\r\n"), 0,
	    "a BAD Invalid number\n" },
};

static void
test_fetch(void **state)
{
	(void)state;
	check_table(fetch_cases, NELEM(fetch_cases), &run_default);
}

/* --- SEARCH, SORT, THREAD ---------------------------------------------- */

static const struct pcase search_cases[] = {
	{ S("a SEARCH ALL\r\n"), 0, "a SEARCH ALL\n" },
	{ S("a UID SEARCH 1:* UNDELETED\r\n"), 0,
	    "a UID SEARCH 1:* UNDELETED\n" },
	{ S("a SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n"), 0,
	    "a SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM Smith\n" },
	{ S("a SEARCH CHARSET utf-8 TEXT {6}\r\n\xe5\x8f\xb0\xe5\x8c\x97\r\n"),
	    0, "+ 6\na SEARCH CHARSET UTF-8 TEXT \"\xe5\x8f\xb0\xe5\x8c\x97\"\n" },
	{ S("a SEARCH OR (FROM a TO b) NOT (SEEN DELETED) (OR 1 2:3)\r\n"), 0,
	    "a SEARCH OR (FROM a TO b) NOT (SEEN DELETED) (OR 1 2:3)\n" },
	{ S("a SEARCH OR OR OR FROM x TO x CC x BCC x\r\n"), 0,
	    "a SEARCH OR OR OR FROM x TO x CC x BCC x\n" },
	{ S("a SEARCH ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN "
	    "UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN\r\n"), 0,
	    "a SEARCH ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN "
	    "UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN\n" },
	{ S("a SEARCH BODY x SUBJECT \"a b\" TEXT \"\" KEYWORD $Junk "
	    "UNKEYWORD foo HEADER Message-ID <x@y>\r\n"), 0,
	    "a SEARCH BODY x SUBJECT \"a b\" TEXT \"\" KEYWORD $Junk "
	    "UNKEYWORD foo HEADER Message-ID <x@y>\n" },
	{ S("a SEARCH HEADER \"X-Spam\" \"\"\r\n"), 0,
	    "a SEARCH HEADER X-Spam \"\"\n" },
	{ S("a SEARCH BEFORE \"1-Jan-2000\" ON 29-feb-2000 SENTBEFORE 01-Mar-2001"
	    " SENTON 31-Dec-1999 SENTSINCE 9-Sep-2009\r\n"), 0,
	    "a SEARCH BEFORE 1-Jan-2000 ON 29-Feb-2000 SENTBEFORE 1-Mar-2001 "
	    "SENTON 31-Dec-1999 SENTSINCE 9-Sep-2009\n" },
	{ S("a SEARCH LARGER 0 SMALLER 9223372036854775807 OLDER 60 "
	    "YOUNGER 1\r\n"), 0, "a SEARCH LARGER 0 SMALLER "
	    "9223372036854775807 OLDER 60 YOUNGER 1\n" },
	{ S("a SEARCH UID 1:3,* $ 5\r\n"), 0, "a SEARCH UID 1:3,* $ 5\n" },
	{ S("a SEARCH MODSEQ 20010715194045007\r\n"), 0,
	    "a SEARCH MODSEQ 20010715194045007\n" },
	{ S("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n"), 0,
	    "a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\n" },
	{ S("a SEARCH MODSEQ \"/flags/$Junk\" PRIV 0\r\n"), 0,
	    "a SEARCH MODSEQ \"/flags/$Junk\" priv 0\n" },
	{ S("a SEARCH RETURN (MIN COUNT) FLAGGED\r\n"), 0,
	    "a SEARCH RETURN (MIN COUNT) FLAGGED\n" },
	{ S("a SEARCH RETURN () ALL\r\n"), 0, "a SEARCH RETURN (ALL) ALL\n" },
	{ S("a UID SEARCH RETURN (SAVE MAX ALL) CHARSET US-ASCII 1:*\r\n"), 0,
	    "a UID SEARCH RETURN (MAX ALL SAVE) CHARSET US-ASCII 1:*\n" },
	{ S("a SEARCH (((ALL)))\r\n"), 0, "a SEARCH (((ALL)))\n" },
	{ S("a SEARCH\r\n"), 0, "a BAD Missing search key\n" },
	{ S("a SEARCH ()\r\n"), 0, "a BAD Missing search key\n" },
	{ S("a SEARCH FOO\r\n"), 0, "a BAD Unknown search key\n" },
	{ S("a SEARCH \"ALL\"\r\n"), 0, "a BAD Invalid search key\n" },
	{ S("a SEARCH NOT\r\n"), 0, "a BAD Missing search key\n" },
	{ S("a SEARCH OR SEEN\r\n"), 0, "a BAD Missing search key\n" },
	{ S("a SEARCH FROM\r\n"), 0, "a BAD Missing argument\n" },
	{ S("a SEARCH FROM (x)\r\n"), 0, "a BAD Expected a string\n" },
	{ S("a SEARCH HEADER x\r\n"), 0, "a BAD Missing argument\n" },
	{ S("a SEARCH CHARSET ISO-8859-1 ALL\r\n"), 0,
	    "a NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset\n" },
	{ S("a SEARCH CHARSET\r\n"), 0, "a BAD Missing argument\n" },
	{ S("a SEARCH CHARSET UTF-8\r\n"), 0, "a BAD Missing search key\n" },
	{ S("a SEARCH SINCE 30-Feb-2020\r\n"), 0, "a BAD Invalid date\n" },
	{ S("a SEARCH SINCE 29-Feb-1900\r\n"), 0, "a BAD Invalid date\n" },
	{ S("a SEARCH SINCE 1-Foo-2020\r\n"), 0, "a BAD Invalid date\n" },
	{ S("a SEARCH SINCE 001-Jan-2020\r\n"), 0, "a BAD Invalid date\n" },
	{ S("a SEARCH SINCE 1-Jan-20\r\n"), 0, "a BAD Invalid date\n" },
	{ S("a SEARCH SINCE 0-Jan-2020\r\n"), 0, "a BAD Invalid date\n" },
	{ S("a SEARCH SINCE\r\n"), 0, "a BAD Missing date\n" },
	{ S("a SEARCH LARGER -1\r\n"), 0, "a BAD Invalid number\n" },
	{ S("a SEARCH OLDER 0\r\n"), 0, "a BAD Invalid number\n" },
	{ S("a SEARCH KEYWORD \\Seen\r\n"), 0, "a BAD Invalid keyword\n" },
	{ S("a SEARCH UID x\r\n"), 0, "a BAD Invalid sequence set\n" },
	{ S("a SEARCH 1:x\r\n"), 0, "a BAD Invalid sequence set\n" },
	{ S("a SEARCH MODSEQ \"/flags/\\\\Seen\" 5\r\n"), 0,
	    "a BAD Invalid MODSEQ entry type\n" },
	{ S("a SEARCH MODSEQ \"/foo/x\" all 5\r\n"), 0,
	    "a BAD Invalid MODSEQ entry name\n" },
	{ S("a SEARCH MODSEQ\r\n"), 0, "a BAD Missing number\n" },
	{ S("a SEARCH RETURN (FOO) ALL\r\n"), 0,
	    "a BAD Unknown RETURN option\n" },
	{ S("a SEARCH RETURN ALL\r\n"), 0, "a BAD Invalid RETURN options\n" },
	{ S("a SEARCH ALL RETURN (MIN)\r\n"), 0, "a BAD Unknown search key\n" },
	/* SORT, THREAD */
	{ S("a UID SORT (REVERSE DATE SUBJECT) UTF-8 ALL\r\n"), 0,
	    "a UID SORT (REVERSE DATE SUBJECT) UTF-8 ALL\n" },
	{ S("a SORT RETURN (MIN) (ARRIVAL CC FROM SIZE TO DISPLAYFROM "
	    "reverse DISPLAYTO) us-ascii SINCE 1-Feb-1994 UNSEEN\r\n"), 0,
	    "a SORT RETURN (MIN) (ARRIVAL CC FROM SIZE TO DISPLAYFROM "
	    "REVERSE DISPLAYTO) US-ASCII SINCE 1-Feb-1994 UNSEEN\n" },
	{ S("a SORT (DATE) UTF-8\r\n"), 0, "a BAD Missing search key\n" },
	{ S("a SORT (DATE) ALL\r\n"), 0,
	    "a NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset\n" },
	{ S("a SORT () UTF-8 ALL\r\n"), 0, "a BAD Invalid sort criteria\n" },
	{ S("a SORT (REVERSE) UTF-8 ALL\r\n"), 0,
	    "a BAD Invalid sort criteria\n" },
	{ S("a SORT (REVERSE REVERSE DATE) UTF-8 ALL\r\n"), 0,
	    "a BAD Invalid sort criteria\n" },
	{ S("a SORT (FOO) UTF-8 ALL\r\n"), 0, "a BAD Invalid sort criteria\n" },
	{ S("a THREAD REFERENCES UTF-8 SUBJECT foo\r\n"), 0,
	    "a THREAD REFERENCES UTF-8 SUBJECT foo\n" },
	{ S("a UID THREAD orderedsubject US-ASCII 1:*\r\n"), 0,
	    "a UID THREAD ORDEREDSUBJECT US-ASCII 1:*\n" },
	{ S("a THREAD FOO UTF-8 ALL\r\n"), 0,
	    "a BAD Unknown THREAD algorithm\n" },
};

static void
test_search(void **state)
{
	(void)state;
	check_table(search_cases, NELEM(search_cases), &run_default);
}

/* Long NOT and OR chains stop at IMAP_SEARCH_DEPTH_MAX. */
static void
test_search_depth(void **state)
{
	struct buf in, want;
	char *log;

	(void)state;
	for (size_t n = IMAP_SEARCH_DEPTH_MAX; n <= IMAP_SEARCH_DEPTH_MAX + 1;
	    n++) {
		buf_init(&in, DUMP_MAX);
		buf_init(&want, DUMP_MAX);
		(void)buf_append_str(&in, "a SEARCH");
		for (size_t i = 0; i < n; i++)
			(void)buf_append_str(&in, " NOT");
		(void)buf_append_str(&in, " ALL\r\n");
		(void)buf_append(&want, in.p, in.len - 2);
		(void)buf_append_str(&want, "\n");
		log = run_log(in.p, in.len, NULL, 0, &run_default);
		if (n <= IMAP_SEARCH_DEPTH_MAX)
			assert_string_equal(log, buf_cstr(&want));
		else
			assert_string_equal(log,
			    "a BAD Search program too deep\n");
		free(log);
		buf_free(&in);
		buf_free(&want);
	}
}

/* IDLE: the next line is raw ("DONE"); pipelined commands follow. */
static const struct pcase idle_cases[] = {
	{ S("a IDLE\r\nDONE\r\nb NOOP\r\n"), 0, "a IDLE\nL \"DONE\"\nb NOOP\n" },
	{ S("a IDLE\r\ndone\nb NOOP\r\n"), 0, "a IDLE\nL \"done\"\nb NOOP\n" },
	{ S("a IDLE\r\nDONE {5+}\r\nb NOOP\r\n"), 0,
	    "a IDLE\nL \"DONE {5+}\"\nb NOOP\n" },
	{ S("a IDLE\r\nD\x01\xc3\"\\\rE\r\n"), 0,
	    "a IDLE\nL \"D\\x01\\xc3\\x22\\x5c\\x0dE\"\n" },
	{ S("a IDLE\r\nDONE"), 0, "a IDLE\n" },
};

static void
test_idle(void **state)
{
	struct dump_run r = run_default;

	(void)state;
	r.raw_after = "IDLE";
	check_table(idle_cases, NELEM(idle_cases), &r);
}

/* --- literals and limits --------------------------------------------------- */

static const struct pcase literal_cases[] = {
	/* sync over the limit (1 KiB here): the caller rejects, the client
	 * sends no data, the next line is a new command */
	{ S("a LOGIN {1025}\r\nb NOOP\r\n"), PRE,
	    "+ 1025 too big\nb NOOP\n" },
	{ S("a APPEND INBOX {1025}\r\nb NOOP\r\n"), 0,
	    "+ 1025 msg too big\nb NOOP\n" },
	{ S("a LOGIN {1024}\r\n"), PRE, "+ 1024\n" },
	/* non-sync over the limit: read, dropped, BAD [TOOBIG] */
	{ S("a LOGIN x {1025+}\r\n"), PRE, "a BAD [TOOBIG] Literal too big\n" },
	/* two literals share the limit */
	{ S("a LOGIN {600+}\r\n"), PRE, "" },
	/* LITERAL-: {n+} only up to 4096, the rest is read and dropped */
	{ S("a LOGIN {4097+}\r\n"), A | LM,
	    "a BAD [TOOBIG] Literal too big\n" },
	{ S("a LOGIN {4+}\r\nfred {4}\r\npass\r\n"), PRE | LM,
	    "+ 4\na LOGIN fred pass\n" },
	{ S("a LOGIN {0+}\r\n {0}\r\n\r\n"), PRE | LM,
	    "+ 0\na LOGIN \"\" \"\"\n" },
};

static void
test_literals(void **state)
{
	struct dump_run r = run_default;
	struct buf in;
	char *log;

	(void)state;
	r.literal_max = 1024;
	check_table(literal_cases, NELEM(literal_cases), &r);

	/* a 1025-byte non-sync literal is skipped exactly, then a command */
	buf_init(&in, DUMP_MAX);
	(void)buf_append_str(&in, "a LOGIN x {1025+}\r\n");
	for (int i = 0; i < 1025; i++)
		(void)buf_append(&in, i % 7 == 0 ? "\n" : "z", 1);
	(void)buf_append_str(&in, " {3+}\r\n\r\n\r\r\nb NOOP\r\n");
	log = run_log(in.p, in.len, NULL, 0, &r);
	assert_string_equal(log, "a BAD [TOOBIG] Literal too big\nb NOOP\n");
	free(log);
	/* two literals of 600 pass 1 KiB together */
	buf_reset(&in);
	(void)buf_append_str(&in, "a LOGIN {600+}\r\n");
	for (int i = 0; i < 600; i++)
		(void)buf_append(&in, "x", 1);
	(void)buf_append_str(&in, " {600}\r\nb NOOP\r\n");
	log = run_log(in.p, in.len, NULL, 0, &r);
	assert_string_equal(log, "+ 600 too big\nb NOOP\n");
	free(log);
	buf_reset(&in);
	(void)buf_append_str(&in, "a LOGIN {600+}\r\n");
	for (int i = 0; i < 600; i++)
		(void)buf_append(&in, "x", 1);
	(void)buf_append_str(&in, " {600+}\r\nb NOOP\r\n");
	log = run_log(in.p, in.len, NULL, 0, &r);
	assert_string_equal(log, "a BAD [TOOBIG] Literal too big\n");
	free(log);
	buf_free(&in);
}

/* The command line limit counts everything but literal bytes. */
static void
test_line_limit(void **state)
{
	struct dump_run r = run_default;
	struct buf in;
	char *log;

	(void)state;
	r.line_max = 64;
	r.literal_max = 1024;
	buf_init(&in, DUMP_MAX);
	/* "a LOGIN " + 52 + " x\r\n" = 64 */
	(void)buf_append_str(&in, "a LOGIN ");
	for (int i = 0; i < 52; i++)
		(void)buf_append(&in, "u", 1);
	(void)buf_append_str(&in, " x\r\n");
	log = run_log(in.p, in.len, NULL, 0, &r);
	assert_int_equal(strncmp(log, "a LOGIN uuu", 11), 0);
	free(log);
	/* one more byte is too long; the next command still parses */
	buf_reset(&in);
	(void)buf_append_str(&in, "a LOGIN ");
	for (int i = 0; i < 53; i++)
		(void)buf_append(&in, "u", 1);
	(void)buf_append_str(&in, " x\r\nb NOOP\r\n");
	log = run_log(in.p, in.len, NULL, 0, &r);
	assert_string_equal(log,
	    "a BAD [TOOBIG] Command line too long\nb NOOP\n");
	free(log);
	/* literal bytes do not count, the lines around them do */
	buf_reset(&in);
	(void)buf_append_str(&in, "a LOGIN {200+}\r\n");
	for (int i = 0; i < 200; i++)
		(void)buf_append(&in, "p", 1);
	(void)buf_append_str(&in, " x\r\n");
	log = run_log(in.p, in.len, NULL, 0, &r);
	assert_int_equal(strncmp(log, "a LOGIN ppp", 11), 0);
	free(log);
	/* a line without end: one error, then everything is dropped until
	 * a line end, over any number of feeds */
	buf_reset(&in);
	for (int i = 0; i < 1000; i++)
		(void)buf_append(&in, "a", 1);
	(void)buf_append_str(&in, "\r\nb NOOP\r\n");
	log = run_log(in.p, in.len, NULL, 0, &r);
	assert_string_equal(log, "* BAD [TOOBIG] Command line too long\n"
	    "b NOOP\n");
	free(log);
	/* raw lines have the same limit */
	buf_reset(&in);
	(void)buf_append_str(&in, "a AUTHENTICATE PLAIN\r\n");
	for (int i = 0; i < 100; i++)
		(void)buf_append(&in, "=", 1);
	(void)buf_append_str(&in, " {3+}\r\nb NOOP\r\n");
	log = run_log(in.p, in.len, NULL, 0, &r);
	assert_string_equal(log, "a AUTHENTICATE PLAIN\n* BAD [TOOBIG] Line "
	    "too long\nb NOOP\n");
	free(log);
	buf_free(&in);
}

/* IMAP_PARSE_ARGS_MAX nodes per command. */
static void
test_args_limit(void **state)
{
	struct buf in;
	char *log;

	(void)state;
	for (int extra = 0; extra <= 1; extra++) {
		buf_init(&in, DUMP_MAX);
		(void)buf_append_str(&in, "a STORE 1 FLAGS");
		for (int i = 0; i < IMAP_PARSE_ARGS_MAX - 2 + extra; i++)
			(void)buf_append_str(&in, " k");
		(void)buf_append_str(&in, "\r\nb NOOP\r\n");
		log = run_log(in.p, in.len, NULL, 0, &run_default);
		if (extra)
			assert_string_equal(log, "a BAD Too many arguments\n"
			    "b NOOP\n");
		else
			assert_int_equal(strncmp(log, "a STORE 1 FLAGS (k k",
			    20), 0);
		free(log);
		buf_free(&in);
	}
}

/* The limit also holds for a literal (the client then sends nothing for a
 * synchronising one), and LITERAL- allows {4096+} exactly. */
static void
test_args_limit_literal(void **state)
{
	struct dump_run r = run_default;
	struct buf in;
	char *log;

	(void)state;
	for (int sync = 0; sync <= 1; sync++) {
		buf_init(&in, DUMP_MAX);
		(void)buf_append_str(&in, "a STORE 1 FLAGS");
		for (int i = 0; i < IMAP_PARSE_ARGS_MAX - 2; i++)
			(void)buf_append_str(&in, " k");
		(void)buf_append_str(&in, sync ? " {2}\r\nb NOOP\r\n" :
		    " {2+}\r\nxx\r\nb NOOP\r\n");
		log = run_log(in.p, in.len, NULL, 0, &r);
		assert_string_equal(log, "a BAD Too many arguments\nb NOOP\n");
		free(log);
		buf_free(&in);
	}
	r.flags = A | IMAP_PARSE_F_LITERAL_MINUS;
	buf_init(&in, DUMP_MAX);
	(void)buf_append_str(&in, "a LOGIN x {4096+}\r\n");
	for (int i = 0; i < 4096; i++)
		(void)buf_append(&in, "p", 1);
	(void)buf_append_str(&in, "\r\n");
	log = run_log(in.p, in.len, NULL, 0, &r);
	assert_int_equal(strncmp(log, "a LOGIN x ppp", 13), 0);
	free(log);
	/* a mailbox name of 801 bytes is not even decoded */
	buf_reset(&in);
	(void)buf_append_str(&in, "a SELECT ");
	for (int i = 0; i < 4 * IMAP_MAILBOX_NAME_MAX + 1; i++)
		(void)buf_append(&in, "m", 1);
	(void)buf_append_str(&in, "\r\n");
	{
		struct imap_parser *p = imap_parse_new(IMAP_PARSE_LINE_MAX, 0);
		struct imap_parse_event ev;
		size_t used;

		imap_parse_set_flags(p, A);
		assert_int_equal(imap_parse_feed(p, in.p, in.len, &used, &ev),
		    IMAP_PARSE_COMMAND);
		assert_null(ev.cmd->u.select.mbox.name.p);
		assert_string_equal(ev.cmd->u.select.mbox.err,
		    "Mailbox name too long");
		imap_parse_free(&p);
	}
	buf_free(&in);
}

/* --- mailbox names: wire form and decoded form ------------------------ */

static const struct {
	const char	*cmd;
	unsigned	 flags;
	const char	*name;	/* NULL: undecodable */
	const char	*err;
} names[] = {
	{ "a SELECT inbox\r\n", A, "INBOX", NULL },
	{ "a SELECT InBoX/Sub\r\n", A, "INBOX/Sub", NULL },
	{ "a SELECT INBOXES\r\n", A, "INBOXES", NULL },
	{ "a SELECT \"Entw&APw-rfe\"\r\n", A, "Entw\xc3\xbcrfe", NULL },
	{ "a SELECT &U,BTFw-\r\n", A, "\xe5\x8f\xb0\xe5\x8c\x97", NULL },
	{ "a SELECT \"Entw\xc3\xbcrfe\"\r\n", A | U8, "Entw\xc3\xbcrfe",
	    NULL },
	{ "a SELECT \"Entw&APw-rfe\"\r\n", A | U8, "Entw&APw-rfe", NULL },
	{ "a SELECT \"Entw\xc3\xbcrfe\"\r\n", A, NULL,
	    "Mailbox name is not valid modified UTF-7" },
	{ "a SELECT \"a\xff\"\r\n", A | U8, NULL,
	    "Mailbox name is not valid UTF-8" },
	{ "a SELECT &AC4ALg-\r\n", A, NULL,
	    "Mailbox name is not valid modified UTF-7" },
	{ "a SELECT ../x\r\n", A, "../x",
	    "Mailbox name has a \".\" or \"..\" component" },
	{ "a SELECT a/./b\r\n", A | U8, "a/./b",
	    "Mailbox name has a \".\" or \"..\" component" },
	{ "a SELECT /etc\r\n", A, "/etc",
	    "Mailbox name has an empty component" },
	{ "a SELECT \"\"\r\n", A, "", "Empty mailbox name" },
	{ "a SELECT &AAE-\r\n", A, "\x01",
	    "Mailbox name has control characters" },
	{ "a SELECT {3+}\r\na\nb\r\n", A | U8, "a\nb",
	    "Mailbox name has control characters" },
};

static void
test_names(void **state)
{
	struct imap_parser *p;
	struct imap_parse_event ev;
	size_t used;

	(void)state;
	for (size_t i = 0; i < NELEM(names); i++) {
		const struct imap_mailbox *m;

		p = imap_parse_new(IMAP_PARSE_LINE_MAX, 1024);
		imap_parse_set_flags(p, names[i].flags);
		assert_int_equal(imap_parse_feed(p, names[i].cmd,
		    strlen(names[i].cmd), &used, &ev), IMAP_PARSE_COMMAND);
		m = &ev.cmd->u.select.mbox;
		if (names[i].name == NULL)
			assert_null(m->name.p);
		else {
			assert_non_null(m->name.p);
			assert_int_equal(m->name.len, strlen(names[i].name));
			assert_memory_equal(m->name.p, names[i].name,
			    m->name.len);
			assert_int_equal(m->name.p[m->name.len], '\0');
		}
		if (names[i].err == NULL)
			assert_null(m->err);
		else
			assert_string_equal(m->err, names[i].err);
		imap_parse_free(&p);
	}
}

/* --- the event API itself ---------------------------------------------- */

static void
test_api(void **state)
{
	struct imap_parser *p = imap_parse_new(IMAP_PARSE_LINE_MAX, 100);
	struct imap_parse_event ev;
	const char *in = "a APPEND INBOX {10}\r\n";
	size_t used;

	(void)state;
	imap_parse_set_flags(p, A);
	assert_int_equal(imap_parse_flags(p), A);
	assert_int_equal(imap_parse_feed(p, in, strlen(in), &used, &ev),
	    IMAP_PARSE_LITERAL);
	assert_int_equal(used, strlen(in));
	assert_true(ev.tag.len == 1 && ev.tag.p[0] == 'a');
	assert_int_equal(ev.id, IMAP_CMD_APPEND);
	assert_int_equal(ev.lit_size, 10);
	assert_true(ev.lit_message);
	assert_false(ev.lit_too_big);
	assert_int_equal(imap_parse_literal_accept(p), 0);
	assert_int_equal(imap_parse_feed(p, "0123456789\r\nb NOOP\r\n", 20,
	    &used, &ev), IMAP_PARSE_COMMAND);
	assert_int_equal(used, 12);
	assert_int_equal(ev.cmd->u.append.msg.len, 10);
	assert_memory_equal(ev.cmd->u.append.msg.p, "0123456789", 10);
	assert_string_equal(ev.cmd->u.append.mbox.name.p, "INBOX");
	assert_int_equal(imap_parse_feed(p, "b NOOP\r\n", 8, &used, &ev),
	    IMAP_PARSE_COMMAND);
	assert_int_equal(ev.cmd->id, IMAP_CMD_NOOP);
	/* reset drops a half-read command (STARTTLS) */
	assert_int_equal(imap_parse_feed(p, "c LOG", 5, &used, &ev),
	    IMAP_PARSE_MORE);
	imap_parse_reset(p);
	assert_int_equal(imap_parse_feed(p, "IN x y\r\n", 8, &used, &ev),
	    IMAP_PARSE_ERROR);
	assert_string_equal(ev.text, "Unknown command");
	assert_true(ev.tag.len == 2 && memcmp(ev.tag.p, "IN", 2) == 0);
	assert_int_equal(used, 5);		/* the rest is dropped silently */
	assert_int_equal(imap_parse_feed(p, "y\r\n", 3, &used, &ev),
	    IMAP_PARSE_MORE);
	assert_int_equal(used, 3);
	/* a date-time converts to seconds */
	{
		struct imap_datetime dt;

		assert_int_equal(imap_parse_datetime(str_cstr(
		    " 7-Feb-1994 22:43:04 -0800"), &dt), 0);
		assert_int_equal(imap_parse_datetime_time(&dt), 760689784);
		assert_int_equal(imap_parse_datetime(str_cstr(
		    "01-Jan-1970 00:00:00 +0100"), &dt), 0);
		assert_int_equal(imap_parse_datetime_time(&dt), -3600);
	}
	/* trim gives memory back between commands, never inside one */
	assert_int_equal(imap_parse_feed(p, "d LOGIN {3}\r\n", 13, &used,
	    &ev), IMAP_PARSE_LITERAL);
	imap_parse_trim(p);
	assert_int_equal(imap_parse_literal_accept(p), 0);
	assert_int_equal(imap_parse_feed(p, "abc x\r\n", 7, &used, &ev),
	    IMAP_PARSE_COMMAND);
	assert_memory_equal(ev.cmd->u.login.user.p, "abc", 3);
	imap_parse_trim(p);
	assert_null(p->data.p);
	assert_int_equal(imap_parse_feed(p, "e NO", 4, &used, &ev),
	    IMAP_PARSE_MORE);
	imap_parse_trim(p);
	assert_int_equal(imap_parse_feed(p, "OP\r\n", 4, &used, &ev),
	    IMAP_PARSE_COMMAND);
	assert_int_equal(ev.cmd->id, IMAP_CMD_NOOP);
	assert_string_equal(imap_parse_cmd_name(IMAP_CMD_THREAD), "THREAD");
	assert_string_equal(imap_search_parse_key_name(IMAP_SK_SENTON),
	    "SENTON");
	imap_parse_free(&p);
	imap_parse_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session),
		cmocka_unit_test(test_reader),
		cmocka_unit_test(test_mailbox),
		cmocka_unit_test(test_fetch),
		cmocka_unit_test(test_search),
		cmocka_unit_test(test_search_depth),
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_args_limit),
		cmocka_unit_test(test_args_limit_literal),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_api),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
