/* fuzz_imap.c: libFuzzer target for src/imap/imap_parse*.c,
 * src/imap/imap_search_parse.c and src/imap/imap_utf7.c.
 *
 * Input: byte 0 = flags, bytes 1-2 = a cut offset, byte 3 = a chunk
 * size, the rest = data.
 *  - The data is fed to the command parser whole, cut at the offset, in
 *    chunks of the chosen size and (when short) byte by byte; the event
 *    logs, argument trees included, must be identical.  Synchronising
 *    literals are accepted, or rejected when over the limit; the raw
 *    line mode follows AUTHENTICATE (flag 0x08) or IDLE (0x28); 0x40
 *    trims the parser's memory after every event; 0x10 sets small
 *    limits; the low bits are the parser flags.
 *  - Every command parsed is printed in canonical form, parsed again and
 *    must print the same.
 *  - The data is read as modified UTF-7 (decoded, it must re-encode to
 *    itself) and as UTF-8 (encoded, it must decode to itself); a name
 *    that passes the mailbox check has no empty, "." or ".." component
 *    and no control character. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "imap/imap_parse.h"
#include "imap/imap_utf7.h"
#include "../tests/unit/imap/imap_dump.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_imap: %s:%d: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
		abort();						\
	}								\
} while (0)

#define FUZZ_MAX_INPUT		(64 * 1024)
#define FUZZ_BYTEWISE_MAX	4096

static char *
fuzz_imap_log(const char *in, size_t len, const size_t *cuts, size_t ncuts,
    const struct dump_run *r)
{
	struct buf log;

	buf_init(&log, DUMP_MAX);
	dump_anomalies = 0;
	dump_run_cuts(&log, in, len, cuts, ncuts, r);
	FUZZ_CHECK(dump_anomalies == 0);
	return (char *)buf_cstr(&log);
}

static void
fuzz_imap_same(const char *in, size_t len, const char *whole,
    const size_t *cuts, size_t ncuts, const struct dump_run *r)
{
	char *log = fuzz_imap_log(in, len, cuts, ncuts, r);

	if (strcmp(log, whole) != 0) {
		fprintf(stderr, "whole:\n%s\ncut:\n%s\n", whole, log);
		FUZZ_CHECK(!"cut input gave other events");
	}
	free(log);
}

static void
fuzz_imap_parser(const char *in, size_t len, uint8_t flags, size_t cut,
    size_t chunk)
{
	struct dump_run r = { 0 };
	char *whole;
	size_t *cuts, n = 0;

	r.flags = flags & 7;
	r.line_max = (flags & 0x10) ? 256 : IMAP_PARSE_LINE_MAX;
	r.literal_max = (flags & 0x10) ? 512 : 1024 * 1024;
	r.raw_after = (flags & 0x08) ? ((flags & 0x20) ? "IDLE" :
	    "AUTHENTICATE") : NULL;
	r.trim = (flags & 0x40) != 0;
	r.roundtrip = true;
	whole = fuzz_imap_log(in, len, NULL, 0, &r);
	free(whole);

	r.roundtrip = false;
	r.tree = true;
	whole = fuzz_imap_log(in, len, NULL, 0, &r);
	cut %= len + 1;
	fuzz_imap_same(in, len, whole, &cut, 1, &r);
	cuts = calloc(len + 1, sizeof(*cuts));
	for (size_t at = chunk; at < len; at += chunk)
		cuts[n++] = at;
	fuzz_imap_same(in, len, whole, cuts, n, &r);
	if (len <= FUZZ_BYTEWISE_MAX) {
		for (n = 0; n < len; n++)
			cuts[n] = n;
		fuzz_imap_same(in, len, whole, cuts, n, &r);
	}
	free(cuts);
	free(whole);
}

/* --- mailbox names ------------------------------------------------------- */

static void
fuzz_imap_name_check(struct str name)
{
	const char *err, *start, *end, *sep;

	if (imap_utf7_mailbox_check(name, &err) == -1) {
		FUZZ_CHECK(err != NULL);
		return;
	}
	start = name.p;
	end = name.p + name.len;
	FUZZ_CHECK(name.len > 0 && name.len <= IMAP_MAILBOX_NAME_MAX);
	FUZZ_CHECK(imap_utf7_utf8_valid(name));
	for (;; start = sep + 1) {
		size_t n;

		sep = memchr(start, '/', (size_t)(end - start));
		n = (size_t)((sep != NULL ? sep : end) - start);
		FUZZ_CHECK(n > 0);
		FUZZ_CHECK(!(n == 1 && start[0] == '.'));
		FUZZ_CHECK(!(n == 2 && start[0] == '.' && start[1] == '.'));
		if (sep == NULL)
			break;
	}
	for (size_t i = 0; i < name.len; i++)
		FUZZ_CHECK((unsigned char)name.p[i] >= 0x20 &&
		    name.p[i] != 0x7f && name.p[i] != '%' && name.p[i] != '*');
}

static void
fuzz_imap_utf7(const char *in, size_t len)
{
	struct buf a, b;

	buf_init(&a, 8 * len + 16);
	buf_init(&b, 8 * len + 16);
	if (imap_utf7_to_utf8(str_make(in, len), &a) == 0) {
		FUZZ_CHECK(imap_utf7_valid(str_make(in, len)));
		FUZZ_CHECK(imap_utf7_utf8_valid(str_make(a.p, a.len)));
		FUZZ_CHECK(imap_utf7_from_utf8(str_make(a.p, a.len), &b) == 0);
		FUZZ_CHECK(b.len == len && (len == 0 ||
		    memcmp(b.p, in, len) == 0));
		fuzz_imap_name_check(str_make(a.p, a.len));
	}
	buf_reset(&a);
	buf_reset(&b);
	if (imap_utf7_from_utf8(str_make(in, len), &a) == 0) {
		FUZZ_CHECK(imap_utf7_utf8_valid(str_make(in, len)));
		FUZZ_CHECK(imap_utf7_to_utf8(str_make(a.p, a.len), &b) == 0);
		FUZZ_CHECK(b.len == len && (len == 0 ||
		    memcmp(b.p, in, len) == 0));
		for (size_t i = 0; i < a.len; i++)
			FUZZ_CHECK(a.p[i] >= 0x20 && a.p[i] < 0x7f);
	} else
		FUZZ_CHECK(!imap_utf7_utf8_valid(str_make(in, len)));
	fuzz_imap_name_check(str_make(in, len));
	buf_free(&a);
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data + 4;
	size_t len, cut, chunk;

	if (size < 4 || size > FUZZ_MAX_INPUT)
		return 0;
	len = size - 4;
	cut = (size_t)data[1] << 8 | data[2];
	chunk = data[3] == 0 ? 1 : data[3];
	fuzz_imap_parser(in, len, data[0], cut, chunk);
	fuzz_imap_utf7(in, len);
	return 0;
}
