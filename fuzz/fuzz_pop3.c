/* fuzz_pop3.c: libFuzzer target for src/pop3/pop3_parse.c.
 *
 * Input: byte 0 = flags, bytes 1-2 = a cut offset, the rest = data.
 *  - The data is read as POP3 input by the line finder, fed whole, split
 *    at the cut and byte by byte: any difference aborts.  Every line is
 *    split into a command, its arguments read as numbers, base64 and
 *    SASL PLAIN, with invariants checked.
 *  - The data is read as a Maildir file name (base, size, flags), made
 *    into a UIDL (1 to 70 bytes of 0x21..0x7E, deterministic) and given
 *    the \Seen flag.
 *  - The data is sent through RETR's and TOP's transformer, whole,
 *    split and byte by byte (same output); RETR's output, unstuffed,
 *    must be the input with CRLF line ends, and a lone "." line never
 *    appears before the end. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/pop3_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_pop3: %s:%d: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
		abort();						\
	}								\
} while (0)

#define FUZZ_MAX_INPUT	(64 * 1024)

/* --- lines and commands ---------------------------------------------- */

static bool
fuzz_pop3_within(struct str in, struct str part)
{
	return part.len == 0 || (part.p >= in.p &&
	    part.p + part.len <= in.p + in.len);
}

static void
fuzz_pop3_sasl(struct str arg)
{
	unsigned char out[FUZZ_MAX_INPUT];
	struct str z, c, p;
	size_t len;

	if (pop3_parse_base64(arg, out, sizeof(out), &len) == -1)
		return;
	FUZZ_CHECK(arg.len % 4 == 0 && len <= arg.len / 4 * 3);
	FUZZ_CHECK(len + 2 >= arg.len / 4 * 3);
	if (pop3_parse_plain(out, len, &z, &c, &p) == -1)
		return;
	FUZZ_CHECK(c.len > 0 && p.len > 0);
	FUZZ_CHECK(z.len + c.len + p.len + 2 == len);
	FUZZ_CHECK(memchr(c.p, '\0', c.len) == NULL);
	FUZZ_CHECK(memchr(p.p, '\0', p.len) == NULL);
}

static void
fuzz_pop3_cmd(struct str line)
{
	struct pop3_cmdline cl;
	uint32_t n;

	if (pop3_parse_cmd(line, &cl) == -1)
		return;
	FUZZ_CHECK(cl.keyword.p == line.p);
	FUZZ_CHECK(cl.keyword.len >= 1 && cl.keyword.len <= POP3_KEYWORD_MAX);
	FUZZ_CHECK(cl.argc <= POP3_ARGV_MAX);
	FUZZ_CHECK(fuzz_pop3_within(line, cl.rest));
	if (cl.verb == POP3_VERB_PASS) {
		FUZZ_CHECK(memchr(cl.rest.p, '\0', cl.rest.len) == NULL);
		FUZZ_CHECK(memchr(cl.rest.p, '\n', cl.rest.len) == NULL);
		return;
	}
	for (size_t i = 0; i < cl.argc; i++) {
		FUZZ_CHECK(cl.argv[i].len > 0);
		FUZZ_CHECK(fuzz_pop3_within(line, cl.argv[i]));
		FUZZ_CHECK(memchr(cl.argv[i].p, ' ', cl.argv[i].len) == NULL);
		for (size_t j = 0; j < cl.argv[i].len; j++)
			FUZZ_CHECK((unsigned char)cl.argv[i].p[j] >= 0x20 &&
			    cl.argv[i].p[j] != 0x7f);
		if (pop3_parse_num(cl.argv[i], &n) == 0)
			FUZZ_CHECK(cl.argv[i].len <= 10);
		fuzz_pop3_sasl(cl.argv[i]);
	}
}

/* Run the line finder over data[0..size) delivered in pieces ending at
 * cuts[]; the events ('L' + line, 'T') go to out.  Returns their size. */
static size_t
fuzz_pop3_lex(const char *data, size_t size, const size_t *cuts,
    size_t ncuts, size_t max, bool sasl, char *buf, char *out, bool cmds)
{
	struct pop3_lexer lx;
	enum pop3_lex r;
	struct str line;
	size_t blen = 0, olen = 0, pos = 0, end, used;

	pop3_lex_init(&lx, max, max * 4);
	lx.sasl = sasl;
	for (size_t k = 0; k <= ncuts; k++) {
		end = k < ncuts ? cuts[k] : size;
		memcpy(buf + blen, data + pos, end - pos);
		blen += end - pos;
		pos = end;
		for (;;) {
			r = pop3_lex_line(&lx, buf, blen, &line, &used);
			FUZZ_CHECK(used <= blen);
			if (r == POP3_LEX_LINE) {
				FUZZ_CHECK(line.len < used &&
				    line.len <= lx.long_max);
				FUZZ_CHECK(memchr(line.p, '\n', line.len) ==
				    NULL);
				out[olen++] = 'L';
				memcpy(out + olen, line.p, line.len);
				olen += line.len;
				out[olen++] = '\n';
				if (cmds)
					fuzz_pop3_cmd(line);
			} else if (r == POP3_LEX_TOOLONG) {
				out[olen++] = 'T';
			}
			memmove(buf, buf + used, blen - used);
			blen -= used;
			if (r == POP3_LEX_MORE && used == 0)
				break;
		}
		/* the buffer never holds a line past the limit */
		FUZZ_CHECK(blen <= lx.long_max);
	}
	return olen;
}

static void
fuzz_pop3_lines(const char *data, size_t size, size_t cut, uint8_t flags)
{
	static char buf[FUZZ_MAX_INPUT], a[2 * FUZZ_MAX_INPUT],
	    b[2 * FUZZ_MAX_INPUT];
	static size_t cuts[FUZZ_MAX_INPUT];
	size_t max = 8 + (size_t)(flags >> 2) * 8, na, nb;
	bool sasl = flags & 2;

	na = fuzz_pop3_lex(data, size, NULL, 0, max, sasl, buf, a, true);
	nb = fuzz_pop3_lex(data, size, &cut, 1, max, sasl, buf, b, false);
	FUZZ_CHECK(na == nb && memcmp(a, b, na) == 0);
	if (size > 1024)
		return;
	for (size_t k = 0; k < size; k++)
		cuts[k] = k + 1;
	nb = fuzz_pop3_lex(data, size, cuts, size, max, sasl, buf, b, false);
	FUZZ_CHECK(na == nb && memcmp(a, b, na) == 0);
}

/* --- Maildir names --------------------------------------------------- */

static void
fuzz_pop3_name(const char *data, size_t size)
{
	char u[POP3_UIDL_MAX + 1], v[POP3_UIDL_MAX + 1], flags[300];
	struct pop3_mdname md;
	struct str name = str_make(data, size);
	size_t n;

	pop3_parse_mdname(name, &md);
	FUZZ_CHECK(md.base.p == data && md.base.len <= size);
	FUZZ_CHECK(memchr(md.base.p, ',', md.base.len) == NULL);
	FUZZ_CHECK(memchr(md.base.p, ':', md.base.len) == NULL);
	if (md.has_info)
		FUZZ_CHECK(fuzz_pop3_within(name, md.flags));
	n = pop3_parse_uidl(md.base, u);
	FUZZ_CHECK(n >= 1 && n <= POP3_UIDL_MAX && strlen(u) == n);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(u[i] >= 0x21 && u[i] <= 0x7e);
	FUZZ_CHECK(pop3_parse_uidl(md.base, v) == n && strcmp(u, v) == 0);
	if (md.base.len > 0 && md.base.len <= 70 && memchr(u, '%', n) == NULL &&
	    memchr(u, '~', n) == NULL)
		FUZZ_CHECK(n == md.base.len &&
		    memcmp(u, md.base.p, n) == 0);
	/* file names hold no NUL: strlen() below would stop early */
	if (md.flags.len > 0 && memchr(md.flags.p, '\0', md.flags.len) != NULL)
		return;
	if (pop3_parse_add_seen(md.flags, flags, sizeof(flags)) == 0) {
		FUZZ_CHECK(strchr(flags, 'S') != NULL);
		FUZZ_CHECK(strlen(flags) == md.flags.len + (md.flags.len ==
		    0 || memchr(md.flags.p, 'S', md.flags.len) == NULL));
	}
}

/* --- RETR and TOP ---------------------------------------------------- */

static size_t
fuzz_pop3_stuff_run(const char *data, size_t size, const size_t *cuts,
    size_t ncuts, bool top, uint64_t lines, char *out)
{
	struct pop3_stuffer st;
	size_t o = 0, pos = 0, end, used;

	pop3_stuff_init(&st, top, lines);
	for (size_t k = 0; k <= ncuts && !st.done; k++) {
		end = k < ncuts ? cuts[k] : size;
		o += pop3_stuff(&st, data + pos, end - pos, out + o, &used);
		FUZZ_CHECK(used <= end - pos);
		FUZZ_CHECK(st.done || used == end - pos);
		pos = end;
	}
	o += pop3_stuff_end(&st, out + o);
	FUZZ_CHECK(o <= 2 * size + 5);
	return o;
}

/* The input with CRLF line ends, as RETR must deliver it unstuffed. */
static size_t
fuzz_pop3_crlf(const char *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			out[o++] = '\r';
		out[o++] = in[i];
	}
	if (n > 0 && in[n - 1] != '\n') {
		if (in[n - 1] != '\r')
			out[o++] = '\r';
		out[o++] = '\n';
	}
	return o;
}

/* Undo dot-stuffing; check there is no early end and no bare LF. */
static size_t
fuzz_pop3_unstuff(const char *in, size_t n, char *out)
{
	size_t o = 0, i = 0, eol;

	FUZZ_CHECK(n >= 3 && memcmp(in + n - 3, ".\r\n", 3) == 0);
	n -= 3;
	FUZZ_CHECK(n == 0 || (n >= 2 && in[n - 2] == '\r' && in[n - 1] == '\n'));
	while (i < n) {
		const char *lf = memchr(in + i, '\n', n - i);

		FUZZ_CHECK(lf != NULL && lf > in + i && lf[-1] == '\r');
		eol = (size_t)(lf - in) + 1;
		FUZZ_CHECK(!(eol - i == 3 && in[i] == '.'));
		if (in[i] == '.') {
			FUZZ_CHECK(eol - i > 3 && in[i + 1] == '.');
			i++;
		}
		memcpy(out + o, in + i, eol - i);
		o += eol - i;
		i = eol;
	}
	return o;
}

static void
fuzz_pop3_retr(const char *data, size_t size, size_t cut, uint8_t flags)
{
	static char a[2 * FUZZ_MAX_INPUT + 8], b[2 * FUZZ_MAX_INPUT + 8],
	    c[2 * FUZZ_MAX_INPUT + 8];
	static size_t cuts[FUZZ_MAX_INPUT];
	bool top = flags & 1;
	uint64_t lines = flags >> 4;
	size_t na, nb, nc;

	na = fuzz_pop3_stuff_run(data, size, NULL, 0, top, lines, a);
	nb = fuzz_pop3_stuff_run(data, size, &cut, 1, top, lines, b);
	FUZZ_CHECK(na == nb && memcmp(a, b, na) == 0);
	if (size <= 1024) {
		for (size_t k = 0; k < size; k++)
			cuts[k] = k + 1;
		nb = fuzz_pop3_stuff_run(data, size, cuts, size, top, lines,
		    b);
		FUZZ_CHECK(na == nb && memcmp(a, b, na) == 0);
	}
	nb = fuzz_pop3_unstuff(a, na, b);
	if (top)
		return;
	nc = fuzz_pop3_crlf(data, size, c);
	FUZZ_CHECK(nb == nc && memcmp(b, c, nb) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p;
	size_t n, cut;
	uint8_t flags;

	if (size < 3 || size - 3 > FUZZ_MAX_INPUT)
		return 0;
	flags = data[0];
	p = (const char *)data + 3;
	n = size - 3;
	cut = ((size_t)data[1] << 8 | data[2]);
	if (cut > n)
		cut = n;
	fuzz_pop3_lines(p, n, cut, flags);
	fuzz_pop3_name(p, n < 1024 ? n : 1024);
	fuzz_pop3_retr(p, n, cut, flags);
	return 0;
}
