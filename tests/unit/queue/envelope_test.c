/* envelope_test.c: tests for src/queue/envelope.c: every byte round-trips,
 * the file is canonical (format(parse(f)) == f), every malformed input
 * is refused, the limits hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/envelope.h"
#include "smtp/smtp_parse.h"

#define HDR	"facteur-envelope 1\nqid 0f3c91aa11e4b7a2\ncreated 1764150000\n" \
		"size 5120\nfrom a@x.org\n"

/* Two envelopes hold the same values (rcpts compared bytewise: both
 * come from memset-zeroed memory). */
static void
assert_env_equal(const struct envelope *a, const struct envelope *b)
{
	struct envelope x = *a, y = *b;

	x.rcpts = y.rcpts = NULL;
	assert_memory_equal(&x, &y, sizeof(x));
	assert_int_equal(a->nrcpts, b->nrcpts);
	if (a->nrcpts > 0)
		assert_memory_equal(a->rcpts, b->rcpts,
		    a->nrcpts * sizeof(*a->rcpts));
}

/* format, parse, compare, format again: the same bytes. */
static void
roundtrip(const struct envelope *e)
{
	struct envelope back;
	const char *err = NULL;
	char *text, *again;
	size_t len, len2;

	text = envelope_format(e, &len);
	assert_true(len <= ENVELOPE_FILE_MAX);
	if (envelope_parse(text, len, &back, &err) != 0)
		fail_msg("parse: %s\n%.*s", err, (int)(len > 2000 ? 2000 : len),
		    text);
	assert_env_equal(e, &back);
	again = envelope_format(&back, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(text, again, len);
	free(text);
	free(again);
	envelope_clear(&back);
}

/* Every byte 1..255 in a string of max bytes, starting at byte `from`. */
static void
fill_bytes(char *dst, size_t max, unsigned from)
{
	for (size_t i = 0; i < max; i++)
		dst[i] = (char)(1 + (from + i) % 255);
	dst[max] = '\0';
}

static void
test_minimal(void **state)
{
	static const char want[] = HDR "rcpt b@y.net\nstate pending\nend\n";
	struct envelope e;
	char *text;
	size_t len;

	memset(&e, 0, sizeof(e));
	e.qid = 0x0f3c91aa11e4b7a2ULL;
	e.created = 1764150000;
	e.size = 5120;
	strcpy(e.from, "a@x.org");
	assert_int_equal(envelope_add_rcpt(&e, "b@y.net", NULL, 0), 0);
	text = envelope_format(&e, &len);
	assert_int_equal(len, sizeof(want) - 1);
	assert_memory_equal(text, want, len);
	free(text);
	roundtrip(&e);
	envelope_clear(&e);
	assert_null(e.rcpts);
	assert_int_equal(e.nrcpts, 0);
}

static void
test_null_sender(void **state)
{
	struct envelope e, back;
	const char *err;
	char *text;
	size_t len;

	memset(&e, 0, sizeof(e));
	e.qid = 1;
	e.is_bounce = true;
	e.double_bounce = true;
	assert_int_equal(envelope_add_rcpt(&e, "postmaster", NULL, 0), 0);
	text = envelope_format(&e, &len);
	assert_non_null(strstr(text, "\nfrom\n"));
	assert_non_null(strstr(text, "\ncreated 0\n"));
	assert_int_equal(envelope_parse(text, len, &back, &err), 0);
	assert_string_equal(back.from, "");
	assert_true(back.is_bounce);
	assert_true(back.double_bounce);
	free(text);
	envelope_clear(&back);
	envelope_clear(&e);
}

/* Every field set, every byte value in the strings. */
static void
test_nasty_values(void **state)
{
	struct envelope e;
	struct envelope_rcpt *r;

	memset(&e, 0, sizeof(e));
	e.qid = UINT64_MAX;
	e.created = INT64_MAX;
	e.size = SIZE_MAX;
	fill_bytes(e.from, ENVELOPE_ADDR_MAX, 0);
	fill_bytes(e.helo, ENVELOPE_HELO_MAX, 7);
	fill_bytes(e.client_addr, ENVELOPE_CLIENT_MAX, 100);
	strcpy(e.auth_user, "user name%25 with\r\nCRLF\x7f\xff");
	fill_bytes(e.envid, ENVELOPE_ENVID_MAX, 200);
	e.ret = SMTP_RET_FULL;
	e.eightbit = e.smtputf8 = e.hold = e.is_bounce = true;
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(envelope_add_rcpt(&e, "x", NULL, 0), 0);
		r = &e.rcpts[i];
		fill_bytes(r->addr, ENVELOPE_ADDR_MAX, i * 50);
		fill_bytes(r->orcpt, ENVELOPE_ORCPT_MAX, i * 13);
		fill_bytes(r->text, ENVELOPE_TEXT_MAX, i * 31);
		fill_bytes(r->relay, ENVELOPE_RELAY_MAX, i * 3);
		r->state = (enum rcpt_state)(i % 3);
		r->attempts = i == 4 ? UINT32_MAX : i;
		r->next_try = i == 4 ? INT64_MAX : (time_t)i;
		r->last_try = 1764150000 + i;
		r->delay_notified = i & 1;
		r->dsn_sent = i & 2;
		strcpy(r->status, i == 4 ? "5.999.999" : "4.4.1");
	}
	e.rcpts[0].notify = SMTP_NOTIFY_NEVER;
	e.rcpts[1].notify = SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE |
	    SMTP_NOTIFY_DELAY;
	e.rcpts[2].notify = SMTP_NOTIFY_DELAY;
	e.rcpts[3].notify = SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_DELAY;
	roundtrip(&e);
	e.ret = SMTP_RET_HDRS;
	roundtrip(&e);
	envelope_clear(&e);
}

/* The largest possible file: every byte escaped, 1000 recipients. */
static void
test_worst_case_size(void **state)
{
	struct envelope e;
	struct envelope_rcpt *r;
	char *text;
	size_t len;

	memset(&e, 0, sizeof(e));
	e.qid = 1;
	memset(e.from, ' ', ENVELOPE_ADDR_MAX);
	memset(e.helo, ' ', ENVELOPE_HELO_MAX);
	memset(e.auth_user, ' ', ENVELOPE_ADDR_MAX);
	for (unsigned i = 0; i < ENVELOPE_RCPTS_MAX; i++) {
		assert_int_equal(envelope_add_rcpt(&e, "x", NULL, 0), 0);
		r = &e.rcpts[i];
		memset(r->addr, '%', ENVELOPE_ADDR_MAX);
		memset(r->orcpt, '\n', ENVELOPE_ORCPT_MAX);
		memset(r->text, '\xff', ENVELOPE_TEXT_MAX);
		memset(r->relay, '\x01', ENVELOPE_RELAY_MAX);
		r->attempts = UINT32_MAX;
		r->next_try = r->last_try = INT64_MAX;
	}
	assert_int_equal(envelope_add_rcpt(&e, "x", NULL, 0), -1);
	text = envelope_format(&e, &len);
	assert_true(len > 4 * 1024 * 1024);
	assert_true(len <= ENVELOPE_FILE_MAX);
	free(text);
	roundtrip(&e);
	envelope_clear(&e);
}

/* Whatever the struct holds, the writer makes a file the parser takes
 * (a refused envelope would strand its message). */
static void
test_writer_never_refused(void **state)
{
	struct envelope e, back;
	const char *err;
	char *text;
	size_t len;

	memset(&e, 0, sizeof(e));
	e.qid = 3;
	e.created = -5;
	e.ret = 77;
	assert_int_equal(envelope_add_rcpt(&e, "b@y", NULL, 0), 0);
	strcpy(e.rcpts[0].status, "4.4.1 ");		/* not a status */
	e.rcpts[0].notify = SMTP_NOTIFY_NEVER | SMTP_NOTIFY_FAILURE;
	e.rcpts[0].state = (enum rcpt_state)42;
	e.rcpts[0].next_try = -1;
	text = envelope_format(&e, &len);
	if (envelope_parse(text, len, &back, &err) != 0)
		fail_msg("%s\n%.*s", err, (int)len, text);
	assert_int_equal(back.created, 0);
	assert_int_equal(back.ret, 0);
	assert_string_equal(back.rcpts[0].status, "");
	assert_int_equal(back.rcpts[0].notify, SMTP_NOTIFY_NEVER);
	assert_int_equal(back.rcpts[0].state, RCPT_PENDING);
	assert_int_equal(back.rcpts[0].next_try, 0);
	free(text);
	envelope_clear(&back);
	envelope_clear(&e);
}

static void
test_add_rcpt_limits(void **state)
{
	char addr[ENVELOPE_ADDR_MAX + 2], orcpt[ENVELOPE_ORCPT_MAX + 2];
	struct envelope e;

	memset(&e, 0, sizeof(e));
	memset(addr, 'a', sizeof(addr) - 1);
	addr[sizeof(addr) - 1] = '\0';
	memset(orcpt, 'o', sizeof(orcpt) - 1);
	orcpt[sizeof(orcpt) - 1] = '\0';
	assert_int_equal(envelope_add_rcpt(&e, addr, NULL, 0), -1);
	assert_int_equal(envelope_add_rcpt(&e, "", NULL, 0), -1);
	assert_int_equal(envelope_add_rcpt(&e, "b@y", orcpt, 0), -1);
	assert_int_equal(envelope_add_rcpt(&e, "b@y", NULL, 0x100), -1);
	addr[ENVELOPE_ADDR_MAX] = '\0';
	orcpt[ENVELOPE_ORCPT_MAX] = '\0';
	assert_int_equal(envelope_add_rcpt(&e, addr, orcpt,
	    SMTP_NOTIFY_FAILURE), 0);
	assert_int_equal(e.nrcpts, 1);
	assert_string_equal(e.rcpts[0].orcpt, orcpt);
	assert_int_equal(e.rcpts[0].state, RCPT_PENDING);
	envelope_clear(&e);
}

struct bad_case {
	const char	*name;
	const char	*text;
	const char	*err;	/* substring of the message */
};

#define RCN	"rcpt b@y.net\n"
#define ST	"state pending\n"
#define RC	RCN ST
#define END	"end\n"

static const struct bad_case bad_cases[] = {
	{ "empty", "", "not a facteur envelope" },
	{ "no magic", "qid 0f3c91aa11e4b7a2\n", "not a facteur envelope" },
	{ "version 2", "facteur-envelope 2\n" RC END, "not a facteur" },
	{ "magic CRLF", "facteur-envelope 1\r\n" RC END, "not a facteur" },
	{ "magic only", "facteur-envelope 1\n", "truncated" },
	{ "no end", HDR RC, "truncated" },
	{ "no final LF", HDR RC "end", "no end" },
	{ "after end", HDR RC END "x", "after \"end\"" },
	{ "line after end", HDR RC END "end\n", "after \"end\"" },
	{ "no rcpt", HDR END, "no rcpt" },
	{ "unknown key", HDR "color blue\n" RC END, "unknown key \"color\"" },
	{ "upper-case key", HDR "HOLD 1\n" RC END, "unknown key" },
	{ "key with CR", HDR RC "attempts 1\r\n" END, "unescaped byte 0x0d" },
	{ "empty line", HDR "\n" RC END, "unknown key \"\"" },
	{ "leading space", HDR " hold 1\n" RC END, "unknown key" },
	{ "two spaces", HDR "hold  1\n" RC END, "unescaped byte 0x20" },
	{ "trailing space", HDR "helo \n" RC END, "space without a value" },
	{ "space in value", HDR "helo a b\n" RC END, "unescaped byte 0x20" },
	{ "tab in value", HDR "helo a\tb\n" RC END, "unescaped byte 0x09" },
	{ "8bit in value", HDR "helo \xc3\xa9\n" RC END, "unescaped byte 0xc3" },
	{ "DEL in value", HDR "helo a\x7f\n" RC END, "unescaped byte 0x7f" },
	{ "NUL byte", HDR "helo a%00b\n" RC END, "NUL byte" },
	{ "raw NUL", HDR "helo a\0b\n" RC END, "unescaped byte 0x00" },
	{ "lower-case hex", HDR "helo a%2fb\n" RC END, "bad % escape" },
	{ "bad hex", HDR "helo a%G0\n" RC END, "bad % escape" },
	{ "short escape", HDR "helo a%2\n" RC END, "truncated % escape" },
	{ "short escape 2", HDR "helo a%\n" RC END, "truncated % escape" },
	{ "needless escape", HDR "helo %41\n" RC END, "needless % escape" },
	{ "missing qid", "facteur-envelope 1\ncreated 1\nsize 1\nfrom\n" RC END,
	    "missing \"qid\"" },
	{ "missing created", "facteur-envelope 1\nqid 0000000000000001\n"
	    "size 1\nfrom\n" RC END, "missing \"created\"" },
	{ "missing size", "facteur-envelope 1\nqid 0000000000000001\n"
	    "created 1\nfrom\n" RC END, "missing \"size\"" },
	{ "missing from", "facteur-envelope 1\nqid 0000000000000001\n"
	    "created 1\nsize 1\n" RC END, "missing \"from\"" },
	{ "duplicate qid", HDR "qid 0f3c91aa11e4b7a2\n" RC END,
	    "duplicate \"qid\"" },
	{ "duplicate in rcpt", HDR RC "state failed\n" END,
	    "duplicate \"state\"" },
	{ "missing state", HDR RCN END, "missing \"state\"" },
	{ "missing state 1st", HDR RCN "rcpt c@y\n" ST END,
	    "line 7: missing \"state\"" },
	{ "msg order", "facteur-envelope 1\nqid 0000000000000001\nsize 1\n"
	    "created 1\n", "\"created\" out of order" },
	{ "msg order 2", HDR "hold 1\nhelo x\n" RC END,
	    "\"helo\" out of order" },
	{ "rcpt order", HDR RC "text a\nstatus 4.4.1\n" END,
	    "\"status\" out of order" },
	{ "state first", HDR RCN ST "orcpt rfc822;b@y.net\n" END,
	    "\"orcpt\" out of order" },
	{ "msg key after rcpt", HDR RC "hold 1\n" END,
	    "\"hold\" after the first rcpt" },
	{ "rcpt key before rcpt", HDR "state pending\n" RC END,
	    "\"state\" before any rcpt" },
	{ "qid short", "facteur-envelope 1\nqid 0f3c\n", "bad value for \"qid\"" },
	{ "qid upper", "facteur-envelope 1\nqid 0F3C91AA11E4B7A2\n",
	    "bad value for \"qid\"" },
	{ "qid zero", "facteur-envelope 1\nqid 0000000000000000\n",
	    "bad value for \"qid\"" },
	{ "qid long", "facteur-envelope 1\nqid 0f3c91aa11e4b7a20\n",
	    "bad value for \"qid\"" },
	{ "created negative", "facteur-envelope 1\ncreated -1\n",
	    "bad value for \"created\"" },
	{ "created leading zero", "facteur-envelope 1\ncreated 01\n",
	    "bad value for \"created\"" },
	{ "created overflow", "facteur-envelope 1\n"
	    "created 9223372036854775808\n", "bad value for \"created\"" },
	{ "created letters", "facteur-envelope 1\ncreated 12a\n",
	    "bad value for \"created\"" },
	{ "created plus", "facteur-envelope 1\ncreated +1\n",
	    "bad value for \"created\"" },
	{ "created empty", "facteur-envelope 1\ncreated\n",
	    "\"created\" needs a value" },
	{ "size overflow", "facteur-envelope 1\n"
	    "size 18446744073709551616\n", "bad value for \"size\"" },
	{ "attempts overflow", HDR RC "attempts 4294967296\n" END,
	    "bad value for \"attempts\"" },
	{ "attempts zero written", HDR RC "attempts 0\n" END,
	    "bad value for \"attempts\"" },
	{ "next_try zero written", HDR RC "next_try 0\n" END,
	    "bad value for \"next_try\"" },
	{ "created zero", "facteur-envelope 1\nqid 0000000000000001\n"
	    "created 0\nsize 0\nfrom\n" RC END, NULL },
	{ "bool 0", HDR "hold 0\n" RC END, "bad value for \"hold\"" },
	{ "bool yes", HDR "hold yes\n" RC END, "bad value for \"hold\"" },
	{ "bool empty", HDR "hold\n" RC END, "\"hold\" needs a value" },
	{ "ret bad", HDR "ret FULL\n" RC END, "bad value for \"ret\"" },
	{ "state bad", HDR RCN "state done\n" END, "bad value for \"state\"" },
	{ "notify upper", HDR RCN "notify FAILURE\n" ST END,
	    "bad value for \"notify\"" },
	{ "notify never+", HDR RCN "notify never,failure\n" ST END,
	    "bad value for \"notify\"" },
	{ "notify order", HDR RCN "notify failure,success\n" ST END,
	    "bad value for \"notify\"" },
	{ "notify twice", HDR RCN "notify failure,failure\n" ST END,
	    "bad value for \"notify\"" },
	{ "notify comma", HDR RCN "notify failure,\n" ST END,
	    "bad value for \"notify\"" },
	{ "notify lead comma", HDR RCN "notify ,failure\n" ST END,
	    "bad value for \"notify\"" },
	{ "notify unknown", HDR RCN "notify always\n" ST END,
	    "bad value for \"notify\"" },
	{ "notify ok", HDR RCN "notify success,delay\n" ST END, NULL },
	{ "status class", HDR RC "status 3.1.1\n" END, "bad value for \"status\"" },
	{ "status short", HDR RC "status 5.1\n" END, "bad value for \"status\"" },
	{ "status long part", HDR RC "status 5.1234.1\n" END,
	    "bad value for \"status\"" },
	{ "status zero lead", HDR RC "status 5.01.1\n" END,
	    "bad value for \"status\"" },
	{ "status trailing", HDR RC "status 5.1.1.\n" END,
	    "bad value for \"status\"" },
	{ "status too long", HDR RC "status 5.100.1000000000\n" END,
	    "longer than 15" },
	{ "empty rcpt", HDR "rcpt\n" END, "\"rcpt\" needs a value" },
	{ "empty helo", HDR "helo\n" RC END, "\"helo\" needs a value" },
	{ "end with value", HDR RC "end now\n", "unknown key \"end\"" },
	{ "end in header", HDR END, "no rcpt" },
};

/* Each case is refused with its message, and leaves e cleared; a NULL
 * message marks a valid input near the refused ones.  The parser takes
 * only the writer's canonical form: keys in order, defaults left out. */
static void
test_bad_inputs(void **state)
{
	const struct bad_case *bc;
	struct envelope e;
	const char *err;
	size_t len;
	int rc;

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		bc = &bad_cases[i];
		/* the raw NUL case holds a NUL: measure to "end\n" */
		len = strlen(bc->text);
		if (strcmp(bc->name, "raw NUL") == 0)
			len = sizeof(HDR "helo a\0b\n" RC END) - 1;
		err = NULL;
		rc = envelope_parse(bc->text, len, &e, &err);
		if (bc->err == NULL) {
			if (rc != 0)
				fail_msg("%s: refused: %s", bc->name, err);
			envelope_clear(&e);
			continue;
		}
		if (rc != -1)
			fail_msg("%s: accepted", bc->name);
		assert_non_null(err);
		if (strstr(err, bc->err) == NULL)
			fail_msg("%s: error \"%s\", expected \"%s\"", bc->name,
			    err, bc->err);
		/* a refused parse leaves e cleared */
		assert_null(e.rcpts);
		assert_int_equal(e.nrcpts, 0);
		assert_int_equal(e.qid, 0);
	}
}

static void
test_error_line_numbers(void **state)
{
	struct envelope e;
	const char *err;
	const char *text = HDR RC "color red\n" END;

	assert_int_equal(envelope_parse(text, strlen(text), &e, &err), -1);
	assert_string_equal(err, "line 8: unknown key \"color\"");
}

/* Every proper prefix of a valid file is refused. */
static void
test_truncations(void **state)
{
	struct envelope e, back;
	const char *err;
	char *text;
	size_t len;

	memset(&e, 0, sizeof(e));
	e.qid = 42;
	e.created = 1;
	strcpy(e.helo, "mx");
	assert_int_equal(envelope_add_rcpt(&e, "b@y", "rfc822;b@y", 0), 0);
	assert_int_equal(envelope_add_rcpt(&e, "c@y", NULL, 0), 0);
	strcpy(e.rcpts[1].text, "451 try later");
	text = envelope_format(&e, &len);
	for (size_t cut = 0; cut < len; cut++) {
		if (envelope_parse(text, cut, &back, &err) == 0)
			fail_msg("prefix of %zu bytes accepted", cut);
	}
	assert_int_equal(envelope_parse(text, len, &back, &err), 0);
	envelope_clear(&back);
	free(text);
	envelope_clear(&e);
}

/* A file with from FROM, an extra message line, rcpt ADDR and an extra
 * recipient line (each "" for none), each key where the order wants. */
static size_t
mk_file(char *buf, size_t size, const char *from, const char *mline,
    const char *addr, const char *rline)
{
	bool pre = strncmp(rline, "orcpt ", 6) == 0;	/* before "state" */
	int n = snprintf(buf, size, "facteur-envelope 1\nqid 0000000000000001\n"
	    "created 1\nsize 1\nfrom%s%s\n%s%srcpt %s\n%s%sstate pending\n"
	    "%s%send\n",
	    *from != '\0' ? " " : "", from, mline, *mline != '\0' ? "\n" : "",
	    addr, pre ? rline : "", pre ? "\n" : "", pre ? "" : rline,
	    !pre && *rline != '\0' ? "\n" : "");

	assert_true(n > 0 && (size_t)n < size);
	return (size_t)n;
}

static void
test_field_limits(void **state)
{
	static const struct {
		const char	*key;
		size_t		 max;
		bool		 rcpt;
	} f[] = {
		{ "from", ENVELOPE_ADDR_MAX, false },
		{ "helo", ENVELOPE_HELO_MAX, false },
		{ "client_addr", ENVELOPE_CLIENT_MAX, false },
		{ "auth_user", ENVELOPE_ADDR_MAX, false },
		{ "envid", ENVELOPE_ENVID_MAX, false },
		{ "rcpt", ENVELOPE_ADDR_MAX, true },
		{ "orcpt", ENVELOPE_ORCPT_MAX, true },
		{ "text", ENVELOPE_TEXT_MAX, true },
		{ "relay", ENVELOPE_RELAY_MAX, true },
	};
	char buf[8192], val[ENVELOPE_ORCPT_MAX * 3 + 8], line[sizeof(val) + 32];
	struct envelope e;
	const char *err;
	size_t len;

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		for (size_t n = f[i].max; n <= f[i].max + 1; n++) {
			/* the last byte escaped: the limit counts decoded bytes */
			memset(val, 'v', n - 1);
			strcpy(val + n - 1, "%20");
			snprintf(line, sizeof(line), "%s %s", f[i].key, val);
			if (strcmp(f[i].key, "from") == 0)
				len = mk_file(buf, sizeof(buf), val, "", "r", "");
			else if (strcmp(f[i].key, "rcpt") == 0)
				len = mk_file(buf, sizeof(buf), "", "", val, "");
			else
				len = mk_file(buf, sizeof(buf), "",
				    f[i].rcpt ? "" : line, "r",
				    f[i].rcpt ? line : "");
			if (n == f[i].max) {
				if (envelope_parse(buf, len, &e, &err) != 0)
					fail_msg("%s at %zu: %s", f[i].key, n,
					    err);
				envelope_clear(&e);
				continue;
			}
			assert_int_equal(envelope_parse(buf, len, &e, &err), -1);
			if (strstr(err, "longer than") == NULL)
				fail_msg("%s: %s", f[i].key, err);
		}
	}
}

static void
test_rcpt_count_limit(void **state)
{
	size_t cap = 64 + 32 * (ENVELOPE_RCPTS_MAX + 1), len;
	char *text = malloc(cap), *p;
	struct envelope e;
	const char *err;

	for (size_t n = ENVELOPE_RCPTS_MAX; n <= ENVELOPE_RCPTS_MAX + 1; n++) {
		p = text;
		p += sprintf(p, "%s", HDR);
		for (size_t i = 0; i < n; i++)
			p += sprintf(p, "rcpt r%zu\nstate pending\n", i);
		p += sprintf(p, "end\n");
		len = (size_t)(p - text);
		if (n == ENVELOPE_RCPTS_MAX) {
			assert_int_equal(envelope_parse(text, len, &e, &err), 0);
			assert_int_equal(e.nrcpts, ENVELOPE_RCPTS_MAX);
			assert_string_equal(e.rcpts[999].addr, "r999");
			envelope_clear(&e);
		} else {
			assert_int_equal(envelope_parse(text, len, &e, &err), -1);
			assert_non_null(strstr(err, "more than 1000"));
		}
	}
	free(text);
}

static void
test_file_too_big(void **state)
{
	size_t len = ENVELOPE_FILE_MAX + 1;
	char *text = malloc(len);
	struct envelope e;
	const char *err;

	memset(text, 'x', len);
	assert_int_equal(envelope_parse(text, len, &e, &err), -1);
	assert_string_equal(err, "envelope file too big");
	free(text);
}

static void
test_names(void **state)
{
	struct envelope e;

	assert_string_equal(envelope_state_name(RCPT_PENDING), "pending");
	assert_string_equal(envelope_state_name(RCPT_DELIVERED), "delivered");
	assert_string_equal(envelope_state_name(RCPT_FAILED), "failed");
	assert_string_equal(envelope_state_name((enum rcpt_state)9), "?");
	memset(&e, 0, sizeof(e));
	envelope_add_rcpt(&e, "a", NULL, 0);
	envelope_add_rcpt(&e, "b", NULL, 0);
	envelope_add_rcpt(&e, "c", NULL, 0);
	e.rcpts[1].state = RCPT_FAILED;
	assert_int_equal(envelope_count(&e, RCPT_PENDING), 2);
	assert_int_equal(envelope_count(&e, RCPT_FAILED), 1);
	assert_int_equal(envelope_count(&e, RCPT_DELIVERED), 0);
	envelope_clear(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_null_sender),
		cmocka_unit_test(test_nasty_values),
		cmocka_unit_test(test_worst_case_size),
		cmocka_unit_test(test_writer_never_refused),
		cmocka_unit_test(test_add_rcpt_limits),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_error_line_numbers),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_field_limits),
		cmocka_unit_test(test_rcpt_count_limit),
		cmocka_unit_test(test_file_too_big),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("queue/envelope", tests, NULL, NULL);
}
