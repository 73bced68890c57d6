/* pop3_parse.c: POP3 tokenizers (see pop3_parse.h).  Pure: no I/O, no
 * allocation, no global state. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "pop3/pop3_parse.h"

/* --- lines ------------------------------------------------------------ */

void
pop3_lex_init(struct pop3_lexer *lx, size_t max, size_t long_max)
{
	memset(lx, 0, sizeof(*lx));
	lx->max = max < 8 ? 8 : max;
	lx->long_max = long_max < lx->max ? lx->max : long_max;
}

void
pop3_lex_reset(struct pop3_lexer *lx)
{
	lx->skipping = false;
	lx->sasl = false;
	lx->scanned = 0;
}

/* PASS and AUTH may carry long secrets: they get the long limit. */
static size_t
pop3_lex_limit(const struct pop3_lexer *lx, const char *p, size_t len)
{
	if (lx->sasl)
		return lx->long_max;
	if (len >= 5 && (strncasecmp(p, "PASS ", 5) == 0 ||
	    strncasecmp(p, "AUTH ", 5) == 0))
		return lx->long_max;
	return lx->max;
}

enum pop3_lex
pop3_lex_line(struct pop3_lexer *lx, const char *p, size_t len,
    struct str *line_r, size_t *used_r)
{
	const char *lf;
	size_t limit, end, n;

	*used_r = 0;
	*line_r = str_make(p, 0);
	if (lx->scanned > len)
		lx->scanned = 0;
	lf = memchr(p + lx->scanned, '\n', len - lx->scanned);
	if (lx->skipping) {
		lx->scanned = 0;
		if (lf == NULL) {
			*used_r = len;
			return POP3_LEX_MORE;
		}
		lx->skipping = false;
		*used_r = (size_t)(lf - p) + 1;
		return POP3_LEX_MORE;
	}
	limit = pop3_lex_limit(lx, p, len);
	if (lf == NULL) {
		if (len < limit) {
			lx->scanned = len;
			return POP3_LEX_MORE;
		}
		lx->scanned = 0;
		lx->skipping = true;
		*used_r = len;
		return POP3_LEX_TOOLONG;
	}
	lx->scanned = 0;
	end = (size_t)(lf - p) + 1;
	*used_r = end;
	if (end > limit)
		return POP3_LEX_TOOLONG;
	n = end - 1;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	*line_r = str_make(p, n);
	return POP3_LEX_LINE;
}

/* --- commands --------------------------------------------------------- */

static const struct {
	const char	*name;
	enum pop3_verb	 verb;
} pop3_verbs[] = {
	{ "CAPA", POP3_VERB_CAPA }, { "USER", POP3_VERB_USER },
	{ "PASS", POP3_VERB_PASS }, { "AUTH", POP3_VERB_AUTH },
	{ "APOP", POP3_VERB_APOP }, { "STLS", POP3_VERB_STLS },
	{ "STAT", POP3_VERB_STAT }, { "LIST", POP3_VERB_LIST },
	{ "UIDL", POP3_VERB_UIDL }, { "RETR", POP3_VERB_RETR },
	{ "TOP", POP3_VERB_TOP }, { "DELE", POP3_VERB_DELE },
	{ "RSET", POP3_VERB_RSET }, { "NOOP", POP3_VERB_NOOP },
	{ "QUIT", POP3_VERB_QUIT },
};

#define POP3_NVERBS	(sizeof(pop3_verbs) / sizeof(pop3_verbs[0]))

const char *
pop3_verb_name(enum pop3_verb verb)
{
	for (size_t i = 0; i < POP3_NVERBS; i++)
		if (pop3_verbs[i].verb == verb)
			return pop3_verbs[i].name;
	return "?";
}

static bool
pop3_parse_is_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool
pop3_parse_is_ctl(char c)
{
	return (unsigned char)c < 0x20 || c == 0x7f;
}

static int
pop3_parse_args(struct str line, size_t i, struct pop3_cmdline *out)
{
	size_t start;

	while (i < line.len) {
		if (line.p[i] == ' ') {
			i++;
			continue;
		}
		start = i;
		while (i < line.len && line.p[i] != ' ') {
			if (pop3_parse_is_ctl(line.p[i]))
				return -1;
			i++;
		}
		if (out->argc == POP3_ARGV_MAX)
			out->too_many = true;
		else
			out->argv[out->argc++] = str_make(line.p + start,
			    i - start);
	}
	return 0;
}

int
pop3_parse_cmd(struct str line, struct pop3_cmdline *out)
{
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	out->verb = POP3_VERB_UNKNOWN;
	while (i < line.len && pop3_parse_is_alpha(line.p[i]))
		i++;
	if (i == 0 || i > POP3_KEYWORD_MAX)
		return -1;
	if (i < line.len && line.p[i] != ' ')
		return -1;
	out->keyword = str_make(line.p, i);
	for (size_t v = 0; v < POP3_NVERBS; v++)
		if (str_eq_ci_cstr(out->keyword, pop3_verbs[v].name))
			out->verb = pop3_verbs[v].verb;
	if (i < line.len)
		i++;
	out->rest = str_make(line.p + i, line.len - i);
	if (out->verb == POP3_VERB_PASS) {
		for (size_t j = 0; j < out->rest.len; j++)
			if (out->rest.p[j] == '\0' || out->rest.p[j] == '\r' ||
			    out->rest.p[j] == '\n')
				return -1;
		return 0;
	}
	return pop3_parse_args(line, i, out);
}

int
pop3_parse_num(struct str s, uint32_t *n_r)
{
	uint64_t v = 0;

	if (s.len == 0 || s.len > 10)
		return -1;
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s.p[i] - '0');
	}
	if (v > UINT32_MAX)
		return -1;
	*n_r = (uint32_t)v;
	return 0;
}

/* --- SASL ------------------------------------------------------------- */

static int
pop3_parse_b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* One group of 4 characters into 1 to 3 bytes; -1 when malformed. */
static int
pop3_parse_b64quad(const char *q, bool last, uint32_t *triple_r)
{
	uint32_t triple = 0;
	int v, pad = 0;

	for (int j = 0; j < 4; j++) {
		if (q[j] == '=' && last && j >= 2) {
			pad++;
			triple <<= 6;
			continue;
		}
		if (pad > 0 || (v = pop3_parse_b64val((unsigned char)q[j])) < 0)
			return -1;
		triple = (triple << 6) | (uint32_t)v;
	}
	*triple_r = triple;
	return 3 - pad;
}

int
pop3_parse_base64(struct str in, unsigned char *out, size_t cap,
    size_t *len_r)
{
	size_t o = 0;
	uint32_t triple;
	int n;

	if (in.len % 4 != 0)
		return -1;
	for (size_t i = 0; i < in.len; i += 4) {
		n = pop3_parse_b64quad(in.p + i, i + 4 == in.len, &triple);
		if (n < 0 || (size_t)n > cap - o)
			return -1;
		out[o++] = (unsigned char)(triple >> 16);
		if (n > 1)
			out[o++] = (unsigned char)(triple >> 8);
		if (n > 2)
			out[o++] = (unsigned char)triple;
	}
	*len_r = o;
	return 0;
}

int
pop3_parse_plain(const unsigned char *p, size_t len, struct str *authz_r,
    struct str *authc_r, struct str *pass_r)
{
	const unsigned char *n1, *n2, *end = p + len;

	if (len == 0 || (n1 = memchr(p, '\0', len)) == NULL)
		return -1;
	n2 = memchr(n1 + 1, '\0', (size_t)(end - n1 - 1));
	if (n2 == NULL || memchr(n2 + 1, '\0', (size_t)(end - n2 - 1)) != NULL)
		return -1;
	*authz_r = str_make((const char *)p, (size_t)(n1 - p));
	*authc_r = str_make((const char *)n1 + 1, (size_t)(n2 - n1 - 1));
	*pass_r = str_make((const char *)n2 + 1, (size_t)(end - n2 - 1));
	if (authc_r->len == 0 || pass_r->len == 0)
		return -1;
	return 0;
}

/* --- Maildir names ---------------------------------------------------- */

/* Digits at p[*i..end) into *v (no overflow); how many were read. */
static size_t
pop3_parse_digits(const char *p, size_t end, size_t *i, uint64_t *v)
{
	size_t start = *i;

	*v = 0;
	while (*i < end && p[*i] >= '0' && p[*i] <= '9') {
		if (*i - start == 19)
			return 0;	/* past 64 bits: not a number */
		*v = *v * 10 + (uint64_t)(p[*i] - '0');
		(*i)++;
	}
	return *i - start;
}

static void
pop3_parse_mdsize(struct str head, size_t from, struct pop3_mdname *out)
{
	size_t i;
	uint64_t v;

	for (i = from; i + 3 <= head.len; i++) {
		if (head.p[i] != ',' || head.p[i + 1] != 'S' ||
		    head.p[i + 2] != '=')
			continue;
		i += 3;
		if (pop3_parse_digits(head.p, head.len, &i, &v) > 0 &&
		    (i == head.len || head.p[i] == ',')) {
			out->has_size = true;
			out->size = v;
		}
		return;
	}
}

void
pop3_parse_mdname(struct str name, struct pop3_mdname *out)
{
	const char *colon;
	struct str head;
	size_t b = 0, i = 0;
	uint64_t v;

	memset(out, 0, sizeof(*out));
	colon = name.len > 0 ? memchr(name.p, ':', name.len) : NULL;
	head = str_make(name.p, colon != NULL ? (size_t)(colon - name.p) :
	    name.len);
	while (b < head.len && head.p[b] != ',')
		b++;
	out->base = str_make(name.p, b);
	pop3_parse_mdsize(head, b, out);
	if (colon != NULL && name.len - head.len >= 3 &&
	    memcmp(colon, ":2,", 3) == 0) {
		out->has_info = true;
		out->flags = str_make(colon + 3, name.len - head.len - 3);
	}
	if (pop3_parse_digits(name.p, b, &i, &v) == 0)
		return;
	out->secs = v;
	if (i + 2 < b && name.p[i] == '.' && name.p[i + 1] == 'M') {
		i += 2;
		if (pop3_parse_digits(name.p, b, &i, &v) > 0)
			out->usecs = v;
	}
}

/* Bytes kept from a long base name before '~' and the hash. */
#define POP3_UIDL_PREFIX	37
#define POP3_UIDL_HASHHEX	32

static bool
pop3_parse_uidl_plain(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != '%' && c != '~';
}

/* Escape base into out while it fits in max; false when it does not. */
static bool
pop3_parse_uidl_escape(struct str base, char *out, size_t max, size_t *o_r)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	unsigned char c;

	for (size_t i = 0; i < base.len; i++) {
		c = (unsigned char)base.p[i];
		if (pop3_parse_uidl_plain(c)) {
			if (o + 1 > max)
				break;
			out[o++] = (char)c;
			continue;
		}
		if (o + 3 > max)
			break;
		out[o++] = '%';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	*o_r = o;
	for (size_t i = 0, n = 0; i < base.len; i++) {
		n += pop3_parse_uidl_plain((unsigned char)base.p[i]) ? 1 : 3;
		if (n > max)
			return false;
	}
	return true;
}

size_t
pop3_parse_uidl(struct str base, char out[POP3_UIDL_MAX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t o;

	if (base.len > 0 && pop3_parse_uidl_escape(base, out, POP3_UIDL_MAX,
	    &o)) {
		out[o] = '\0';
		return o;
	}
	pop3_parse_uidl_escape(base, out, POP3_UIDL_PREFIX, &o);
	out[o++] = '~';
	if (EVP_Digest(base.p, base.len, md, &mdlen, EVP_sha256(), NULL) != 1)
		memset(md, 0, sizeof(md));
	for (size_t i = 0; i < POP3_UIDL_HASHHEX / 2; i++)
		o += (size_t)snprintf(out + o, 3, "%02x", md[i]);
	out[o] = '\0';
	return o;
}

int
pop3_parse_add_seen(struct str flags, char *out, size_t size)
{
	size_t i = 0, o = 0;

	if (flags.len + 2 > size)
		return -1;
	if (flags.len > 0 && memchr(flags.p, 'S', flags.len) != NULL) {
		memcpy(out, flags.p, flags.len);
		out[flags.len] = '\0';
		return 0;
	}
	while (i < flags.len && (unsigned char)flags.p[i] < 'S')
		out[o++] = flags.p[i++];
	out[o++] = 'S';
	while (i < flags.len)
		out[o++] = flags.p[i++];
	out[o] = '\0';
	return 0;
}

/* --- RETR and TOP ----------------------------------------------------- */

void
pop3_stuff_init(struct pop3_stuffer *st, bool top, uint64_t lines)
{
	memset(st, 0, sizeof(*st));
	st->top = top;
	st->lines = lines;
	st->bol = true;
}

/* A line ended (its LF was written): header end, TOP's count. */
static void
pop3_stuff_eol(struct pop3_stuffer *st)
{
	bool empty = st->linelen == 0 || (st->linelen == 1 && st->cr);

	if (!st->body) {
		if (empty) {
			st->body = true;
			if (st->top && st->lines == 0)
				st->done = true;
		}
	} else if (st->top && --st->lines == 0) {
		st->done = true;
	}
	st->bol = true;
	st->linelen = 0;
	st->cr = false;
}

size_t
pop3_stuff(struct pop3_stuffer *st, const char *in, size_t n, char *out,
    size_t *used_r)
{
	size_t i, o = 0;
	char c;

	for (i = 0; i < n && !st->done; i++) {
		c = in[i];
		if (c == '\n') {
			if (!st->cr)
				out[o++] = '\r';
			out[o++] = '\n';
			pop3_stuff_eol(st);
			continue;
		}
		if (st->bol && c == '.')
			out[o++] = '.';
		out[o++] = c;
		st->bol = false;
		st->linelen++;
		st->cr = c == '\r';
	}
	*used_r = i;
	return o;
}

size_t
pop3_stuff_end(struct pop3_stuffer *st, char *out)
{
	size_t o = 0;

	if (!st->bol) {
		if (!st->cr)
			out[o++] = '\r';
		out[o++] = '\n';
		st->bol = true;
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}
