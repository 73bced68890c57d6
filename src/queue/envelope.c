/* envelope.c: the envelope file of a queued message (grammar in
 * doc/QUEUE.md, "Envelope files").
 *
 *   facteur-envelope 1
 *   qid 0f3c91aa11e4b7a2
 *   created 1764150000
 *   size 5120
 *   from a@x.org
 *   rcpt b@y.net
 *   state pending
 *   attempts 2
 *   text 451%204.4.1%20try%20later
 *   end
 *
 * One table (envelope_keys) drives both the writer and the parser, so
 * the two cannot drift apart.  Values are escaped: a byte below 0x21,
 * '%' or above 0x7e is written "%XX" (upper-case hex), so a value never
 * holds a space or a line end and any byte but NUL round-trips.  The
 * parser accepts only the canonical form (what the writer produces):
 * format(parse(file)) == file for every file it accepts. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "queue/envelope.h"
#include "smtp/smtp_parse.h"

#define ENVELOPE_KEY_MAX	16	/* longest key name, with room */
#define ENVELOPE_NUM_MAX	20	/* digits of a uint64_t */
#define ENVELOPE_ERR_MAX	128

enum envelope_sect {
	ENVELOPE_S_MSG,		/* before the first "rcpt" */
	ENVELOPE_S_RCPT,	/* inside a recipient block */
};

enum envelope_type {
	ENVELOPE_T_STR,		/* char[max + 1] */
	ENVELOPE_T_QID,		/* uint64_t, 16 lower-case hex digits */
	ENVELOPE_T_TIME,	/* time_t >= 0 */
	ENVELOPE_T_SIZE,	/* size_t */
	ENVELOPE_T_UINT,	/* unsigned */
	ENVELOPE_T_BOOL,	/* bool, "1" (false is never written) */
	ENVELOPE_T_RET,		/* int SMTP_RET_*: "full" | "hdrs" */
	ENVELOPE_T_NOTIFY,	/* unsigned SMTP_NOTIFY_* */
	ENVELOPE_T_STATE,	/* enum rcpt_state */
	ENVELOPE_T_STATUS,	/* char[16], "C.S.D" enhanced status */
};

/* Key flags */
#define ENVELOPE_K_REQUIRED	0x01	/* must appear (in its section) */
#define ENVELOPE_K_EMPTY_OK	0x02	/* required but may be empty */
#define ENVELOPE_K_ALWAYS	0x04	/* written even when default */

struct envelope_key {
	const char		*name;
	enum envelope_sect	 sect;
	enum envelope_type	 type;
	size_t			 off;	/* in struct envelope or _rcpt */
	size_t			 max;	/* string bytes */
	unsigned		 flags;
};

/* Fields checked at compile time to have type T (as in conf.c). */
#define ENVELOPE_FIELD(S, f, T) (offsetof(struct S, f) + 0 * sizeof(char[ \
	_Generic(((struct S *)0)->f, T: 1, default: -1)]))
#define M_STR(n, f, fl) { n, ENVELOPE_S_MSG, ENVELOPE_T_STR, \
	offsetof(struct envelope, f), sizeof(((struct envelope *)0)->f) - 1, fl }
#define R_STR(n, f, fl) { n, ENVELOPE_S_RCPT, ENVELOPE_T_STR, \
	offsetof(struct envelope_rcpt, f), \
	sizeof(((struct envelope_rcpt *)0)->f) - 1, fl }
#define M_KEY(n, t, f, T, fl) { n, ENVELOPE_S_MSG, t, \
	ENVELOPE_FIELD(envelope, f, T), 0, fl }
#define R_KEY(n, t, f, T, fl) { n, ENVELOPE_S_RCPT, t, \
	ENVELOPE_FIELD(envelope_rcpt, f, T), 0, fl }

#define REQ	(ENVELOPE_K_REQUIRED | ENVELOPE_K_ALWAYS)

/* In the order they are written.  "rcpt" starts a block; "end" ends
 * the file and is not in the table. */
static const struct envelope_key envelope_keys[] = {
	M_KEY("qid", ENVELOPE_T_QID, qid, uint64_t, REQ),
	M_KEY("created", ENVELOPE_T_TIME, created, time_t, REQ),
	M_KEY("size", ENVELOPE_T_SIZE, size, size_t, REQ),
	M_STR("from", from, REQ | ENVELOPE_K_EMPTY_OK),
	M_STR("helo", helo, 0),
	M_STR("client_addr", client_addr, 0),
	M_STR("auth_user", auth_user, 0),
	M_STR("envid", envid, 0),
	M_KEY("ret", ENVELOPE_T_RET, ret, int, 0),
	M_KEY("eightbit", ENVELOPE_T_BOOL, eightbit, bool, 0),
	M_KEY("smtputf8", ENVELOPE_T_BOOL, smtputf8, bool, 0),
	M_KEY("hold", ENVELOPE_T_BOOL, hold, bool, 0),
	M_KEY("bounce", ENVELOPE_T_BOOL, is_bounce, bool, 0),
	M_KEY("double_bounce", ENVELOPE_T_BOOL, double_bounce, bool, 0),
	R_STR("rcpt", addr, REQ),
	R_STR("orcpt", orcpt, 0),
	R_KEY("notify", ENVELOPE_T_NOTIFY, notify, unsigned, 0),
	R_KEY("state", ENVELOPE_T_STATE, state, enum rcpt_state, REQ),
	R_KEY("attempts", ENVELOPE_T_UINT, attempts, unsigned, 0),
	R_KEY("next_try", ENVELOPE_T_TIME, next_try, time_t, 0),
	R_KEY("last_try", ENVELOPE_T_TIME, last_try, time_t, 0),
	R_KEY("delay_notified", ENVELOPE_T_BOOL, delay_notified, bool, 0),
	R_KEY("dsn_sent", ENVELOPE_T_BOOL, dsn_sent, bool, 0),
	{ "status", ENVELOPE_S_RCPT, ENVELOPE_T_STATUS,
	    offsetof(struct envelope_rcpt, status), ENVELOPE_STATUS_MAX, 0 },
	R_STR("text", text, 0),
	R_STR("relay", relay, 0),
};

#define ENVELOPE_NKEYS	(sizeof(envelope_keys) / sizeof(envelope_keys[0]))

/* The largest file the writer can make must be accepted by the parser:
 * every string fully escaped (3 bytes a byte) plus key, space, LF. */
#define ENVELOPE_LINE_WORST(n)	(ENVELOPE_KEY_MAX + 2 + 3 * (n))
#define ENVELOPE_MSG_WORST	(64 + 16 * ENVELOPE_LINE_WORST(ENVELOPE_NUM_MAX) + \
	ENVELOPE_LINE_WORST(ENVELOPE_ADDR_MAX) * 2 + \
	ENVELOPE_LINE_WORST(ENVELOPE_HELO_MAX) + \
	ENVELOPE_LINE_WORST(ENVELOPE_CLIENT_MAX) + \
	ENVELOPE_LINE_WORST(ENVELOPE_ENVID_MAX))
#define ENVELOPE_RCPT_WORST	(16 * ENVELOPE_LINE_WORST(ENVELOPE_NUM_MAX) + \
	ENVELOPE_LINE_WORST(ENVELOPE_ADDR_MAX) + \
	ENVELOPE_LINE_WORST(ENVELOPE_ORCPT_MAX) + \
	ENVELOPE_LINE_WORST(ENVELOPE_TEXT_MAX) + \
	ENVELOPE_LINE_WORST(ENVELOPE_RELAY_MAX))
_Static_assert(ENVELOPE_MSG_WORST + ENVELOPE_RCPTS_MAX *
    (size_t)ENVELOPE_RCPT_WORST < ENVELOPE_FILE_MAX,
    "ENVELOPE_FILE_MAX too small for the largest envelope");

static const char *const envelope_states[] = {
	[RCPT_PENDING] = "pending",
	[RCPT_DELIVERED] = "delivered",
	[RCPT_FAILED] = "failed",
};

/* NOTIFY words in the order they are written. */
static const struct {
	const char	*word;
	unsigned	 bit;
} envelope_notify_words[] = {
	{ "never", SMTP_NOTIFY_NEVER },
	{ "success", SMTP_NOTIFY_SUCCESS },
	{ "failure", SMTP_NOTIFY_FAILURE },
	{ "delay", SMTP_NOTIFY_DELAY },
};

#define ENVELOPE_NOTIFY_ALL	(SMTP_NOTIFY_NEVER | SMTP_NOTIFY_SUCCESS | \
	SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY)

static _Thread_local char	envelope_errbuf[ENVELOPE_ERR_MAX];

static int	envelope_status(const char *, size_t);

const char *
envelope_state_name(enum rcpt_state state)
{
	if ((size_t)state >= sizeof(envelope_states) / sizeof(envelope_states[0]))
		return "?";
	return envelope_states[state];
}

size_t
envelope_count(const struct envelope *e, enum rcpt_state state)
{
	size_t n = 0;

	for (size_t i = 0; i < e->nrcpts; i++)
		n += e->rcpts[i].state == state;
	return n;
}

void
envelope_clear(struct envelope *e)
{
	free(e->rcpts);
	memset(e, 0, sizeof(*e));
}

int
envelope_add_rcpt(struct envelope *e, const char *addr, const char *orcpt,
    unsigned notify)
{
	struct envelope_rcpt *r;
	size_t alen = strlen(addr), olen = orcpt != NULL ? strlen(orcpt) : 0;

	if (e->nrcpts >= ENVELOPE_RCPTS_MAX || alen == 0 ||
	    alen > ENVELOPE_ADDR_MAX || olen > ENVELOPE_ORCPT_MAX ||
	    (notify & ~ENVELOPE_NOTIFY_ALL) != 0)
		return -1;
	/* grow by doubling: nrcpts is a power of two when full */
	if ((e->nrcpts & (e->nrcpts - 1)) == 0)
		e->rcpts = xrealloc(e->rcpts, (e->nrcpts == 0 ? 1 :
		    e->nrcpts * 2) * sizeof(*e->rcpts));
	r = &e->rcpts[e->nrcpts++];
	memset(r, 0, sizeof(*r));
	memcpy(r->addr, addr, alen);
	if (olen > 0)
		memcpy(r->orcpt, orcpt, olen);
	r->notify = notify;
	r->state = RCPT_PENDING;
	return 0;
}

/*
 * Writer.
 */

static bool
envelope_must_escape(unsigned char c)
{
	return c < 0x21 || c == '%' || c > 0x7e;
}

/* Escaped value of s into p (room for 3 * strlen(s)); returns the end. */
static char *
envelope_escape(char *p, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (envelope_must_escape(c)) {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		} else
			*p++ = (char)c;
	}
	return p;
}

/* The value of a key as text (unescaped) into val; false when it has
 * the default value and may be left out. */
static bool
envelope_value(const struct envelope_key *k, const void *base,
    char val[static ENVELOPE_ORCPT_MAX + 1])
{
	const char *f = (const char *)base + k->off;
	unsigned n;
	size_t len = 0;

	/* what the parser would refuse is left out, never written */
	val[0] = '\0';
	switch (k->type) {
	case ENVELOPE_T_STR:
		snprintf(val, ENVELOPE_ORCPT_MAX + 1, "%.*s", (int)k->max, f);
		break;
	case ENVELOPE_T_STATUS:
		snprintf(val, ENVELOPE_ORCPT_MAX + 1, "%.*s", (int)k->max, f);
		if (envelope_status(val, strlen(val)) == -1)
			val[0] = '\0';
		break;
	case ENVELOPE_T_QID:
		snprintf(val, 17, "%016llx",
		    (unsigned long long)*(const uint64_t *)f);
		break;
	case ENVELOPE_T_TIME:
		if (*(const time_t *)f > 0)
			snprintf(val, 24, "%lld", (long long)*(const time_t *)f);
		break;
	case ENVELOPE_T_SIZE:
		if (*(const size_t *)f != 0)
			snprintf(val, 24, "%zu", *(const size_t *)f);
		break;
	case ENVELOPE_T_UINT:
		if (*(const unsigned *)f != 0)
			snprintf(val, 24, "%u", *(const unsigned *)f);
		break;
	case ENVELOPE_T_BOOL:
		if (*(const bool *)f)
			memcpy(val, "1", 2);
		break;
	case ENVELOPE_T_RET:
		if (*(const int *)f == SMTP_RET_FULL)
			memcpy(val, "full", 5);
		else if (*(const int *)f == SMTP_RET_HDRS)
			memcpy(val, "hdrs", 5);
		break;
	case ENVELOPE_T_NOTIFY:
		n = *(const unsigned *)f;
		if (n & SMTP_NOTIFY_NEVER)
			n = SMTP_NOTIFY_NEVER;
		for (size_t i = 0; i < 4; i++) {
			if ((n & envelope_notify_words[i].bit) == 0)
				continue;
			len += (size_t)snprintf(val + len, 64 - len, "%s%s",
			    len > 0 ? "," : "", envelope_notify_words[i].word);
		}
		break;
	case ENVELOPE_T_STATE:
		snprintf(val, 16, "%s", envelope_state_name(
		    *(const enum rcpt_state *)f));
		if (val[0] == '?')
			memcpy(val, "pending", 8);
		break;
	}
	if (val[0] == '\0' && (k->type == ENVELOPE_T_TIME ||
	    k->type == ENVELOPE_T_SIZE) && (k->flags & ENVELOPE_K_ALWAYS))
		memcpy(val, "0", 2);
	return val[0] != '\0' || (k->flags & ENVELOPE_K_ALWAYS) != 0;
}

/* The lines of one section for the struct at base. */
static char *
envelope_write_sect(char *p, enum envelope_sect sect, const void *base)
{
	char val[ENVELOPE_ORCPT_MAX + 1];
	size_t n;

	for (size_t i = 0; i < ENVELOPE_NKEYS; i++) {
		if (envelope_keys[i].sect != sect ||
		    !envelope_value(&envelope_keys[i], base, val))
			continue;
		n = strlen(envelope_keys[i].name);
		memcpy(p, envelope_keys[i].name, n);
		p += n;
		if (val[0] != '\0') {
			*p++ = ' ';
			p = envelope_escape(p, val);
		}
		*p++ = '\n';
	}
	return p;
}

char *
envelope_format(const struct envelope *e, size_t *len_r)
{
	size_t cap = ENVELOPE_MSG_WORST + e->nrcpts * ENVELOPE_RCPT_WORST;
	char *out = xmalloc(cap), *p = out;

	memcpy(p, ENVELOPE_MAGIC "\n", sizeof(ENVELOPE_MAGIC));
	p += sizeof(ENVELOPE_MAGIC);
	p = envelope_write_sect(p, ENVELOPE_S_MSG, e);
	for (size_t i = 0; i < e->nrcpts; i++)
		p = envelope_write_sect(p, ENVELOPE_S_RCPT, &e->rcpts[i]);
	memcpy(p, "end\n", 4);
	p += 4;
	*len_r = (size_t)(p - out);
	return out;
}

/*
 * Parser.
 */

struct envelope_parser {
	struct envelope	*e;
	size_t		 lineno;
	unsigned char	 seen_msg[ENVELOPE_NKEYS];
	unsigned char	 seen_rcpt[ENVELOPE_NKEYS];
	size_t		 last;		/* index of the previous key + 1 */
	char		 val[ENVELOPE_ORCPT_MAX + 1];	/* unescaped */
	size_t		 vlen;
};

static int __attribute__((format(printf, 3, 4)))
envelope_fail(struct envelope_parser *ep, const char **err_r,
    const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(envelope_errbuf, sizeof(envelope_errbuf), "line %zu: ",
	    ep->lineno);
	va_start(ap, fmt);
	vsnprintf(envelope_errbuf + n, sizeof(envelope_errbuf) - (size_t)n,
	    fmt, ap);
	va_end(ap);
	*err_r = envelope_errbuf;
	return -1;
}

static int
envelope_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;	/* lower case is not canonical */
}

/* Unescape p[0..len) into ep->val, at most max bytes. */
static int
envelope_unescape(struct envelope_parser *ep, const char *p, size_t len,
    size_t max, const char **err_r)
{
	unsigned char c;
	int hi, lo;

	ep->vlen = 0;
	for (size_t i = 0; i < len; i++) {
		c = (unsigned char)p[i];
		if (c == '%') {
			if (len - i < 3)
				return envelope_fail(ep, err_r,
				    "truncated %% escape");
			hi = envelope_hexval(p[i + 1]);
			lo = envelope_hexval(p[i + 2]);
			if (hi < 0 || lo < 0)
				return envelope_fail(ep, err_r,
				    "bad %% escape (upper-case hex expected)");
			c = (unsigned char)(hi << 4 | lo);
			if (c == 0)
				return envelope_fail(ep, err_r, "NUL byte");
			if (!envelope_must_escape(c))
				return envelope_fail(ep, err_r,
				    "needless %% escape");
			i += 2;
		} else if (envelope_must_escape(c))
			return envelope_fail(ep, err_r,
			    "unescaped byte 0x%02x", c);
		if (ep->vlen == max)
			return envelope_fail(ep, err_r,
			    "value longer than %zu bytes", max);
		ep->val[ep->vlen++] = (char)c;
	}
	ep->val[ep->vlen] = '\0';
	return 0;
}

/* A canonical decimal number (no sign, no leading zero) up to max. */
static int
envelope_number(const char *s, size_t len, uint64_t max, uint64_t *n_r)
{
	uint64_t n = 0;

	if (len == 0 || len > ENVELOPE_NUM_MAX || (s[0] == '0' && len > 1))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (n > (max - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	*n_r = n;
	return 0;
}

static int
envelope_qid(const char *s, size_t len, uint64_t *qid_r)
{
	uint64_t q = 0;

	if (len != 16)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			q = q << 4 | (uint64_t)(s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			q = q << 4 | (uint64_t)(s[i] - 'a' + 10);
		else
			return -1;
	}
	if (q == 0)
		return -1;
	*qid_r = q;
	return 0;
}

/* "never" alone, or success/failure/delay in this order, comma-separated. */
static int
envelope_notify(const char *s, size_t len, unsigned *notify_r)
{
	unsigned n = 0;
	size_t w = 0, i = 0, end;

	while (i < len) {
		end = i;
		while (end < len && s[end] != ',')
			end++;
		for (; w < 4; w++) {
			if (strlen(envelope_notify_words[w].word) == end - i &&
			    memcmp(envelope_notify_words[w].word, s + i,
			    end - i) == 0)
				break;
		}
		if (w == 4)
			return -1;
		n |= envelope_notify_words[w++].bit;
		if (end < len && end + 1 == len)
			return -1;	/* trailing comma */
		i = end + 1;
	}
	if (n == 0 || ((n & SMTP_NOTIFY_NEVER) && n != SMTP_NOTIFY_NEVER))
		return -1;
	*notify_r = n;
	return 0;
}

/* RFC 3463: class "." subject "." detail, 2|4|5 and 1-3 digits each. */
static int
envelope_status(const char *s, size_t len)
{
	size_t i = 1, digits;

	if (len < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5'))
		return -1;
	for (int part = 0; part < 2; part++) {
		if (i >= len || s[i++] != '.')
			return -1;
		for (digits = 0; i < len && s[i] >= '0' && s[i] <= '9';
		    i++)
			digits++;
		if (digits == 0 || digits > 3 ||
		    (digits > 1 && s[i - digits] == '0'))
			return -1;
	}
	return i == len ? 0 : -1;
}

static int
envelope_state(const char *s, enum rcpt_state *st_r)
{
	for (size_t i = 0; i < sizeof(envelope_states) /
	    sizeof(envelope_states[0]); i++) {
		if (strcmp(s, envelope_states[i]) == 0) {
			*st_r = (enum rcpt_state)i;
			return 0;
		}
	}
	return -1;
}

/* Store ep->val (already unescaped) into the field of k at base. */
static int
envelope_store(struct envelope_parser *ep, const struct envelope_key *k,
    void *base)
{
	char *f = (char *)base + k->off;
	const char *v = ep->val;
	size_t len = ep->vlen;
	uint64_t n;

	switch (k->type) {
	case ENVELOPE_T_STR:
		memcpy(f, v, len + 1);
		return 0;
	case ENVELOPE_T_STATUS:
		if (envelope_status(v, len) == -1)
			return -1;
		memcpy(f, v, len + 1);
		return 0;
	case ENVELOPE_T_QID:
		return envelope_qid(v, len, (uint64_t *)f);
	case ENVELOPE_T_TIME:
		if (envelope_number(v, len, INT64_MAX, &n) == -1 ||
		    (n == 0 && !(k->flags & ENVELOPE_K_ALWAYS)))
			return -1;
		*(time_t *)f = (time_t)n;
		return 0;
	case ENVELOPE_T_SIZE:
		if (envelope_number(v, len, SIZE_MAX, &n) == -1 ||
		    (n == 0 && !(k->flags & ENVELOPE_K_ALWAYS)))
			return -1;
		*(size_t *)f = (size_t)n;
		return 0;
	case ENVELOPE_T_UINT:
		/* a default (0) is left out, never written */
		if (envelope_number(v, len, UINT32_MAX, &n) == -1 || n == 0)
			return -1;
		*(unsigned *)f = (unsigned)n;
		return 0;
	case ENVELOPE_T_BOOL:
		if (strcmp(v, "1") != 0)
			return -1;
		*(bool *)f = true;
		return 0;
	case ENVELOPE_T_RET:
		if (strcmp(v, "full") == 0)
			*(int *)f = SMTP_RET_FULL;
		else if (strcmp(v, "hdrs") == 0)
			*(int *)f = SMTP_RET_HDRS;
		else
			return -1;
		return 0;
	case ENVELOPE_T_NOTIFY:
		return envelope_notify(v, len, (unsigned *)f);
	case ENVELOPE_T_STATE:
		return envelope_state(v, (enum rcpt_state *)f);
	}
	return -1;
}

static const struct envelope_key *
envelope_key_find(const char *p, size_t len, size_t *idx_r)
{
	for (size_t i = 0; i < ENVELOPE_NKEYS; i++) {
		if (strlen(envelope_keys[i].name) == len &&
		    memcmp(envelope_keys[i].name, p, len) == 0) {
			*idx_r = i;
			return &envelope_keys[i];
		}
	}
	return NULL;
}

/* Every required key of a section was seen. */
static int
envelope_check_required(struct envelope_parser *ep, enum envelope_sect sect,
    const char **err_r)
{
	const unsigned char *seen = sect == ENVELOPE_S_MSG ? ep->seen_msg :
	    ep->seen_rcpt;

	for (size_t i = 0; i < ENVELOPE_NKEYS; i++) {
		if (envelope_keys[i].sect == sect &&
		    (envelope_keys[i].flags & ENVELOPE_K_REQUIRED) &&
		    !seen[i])
			return envelope_fail(ep, err_r, "missing \"%s\"",
			    envelope_keys[i].name);
	}
	return 0;
}

/* "rcpt ADDR": close the message section or the previous block. */
static int
envelope_new_rcpt(struct envelope_parser *ep, const char **err_r)
{
	struct envelope *e = ep->e;

	if (envelope_check_required(ep, e->nrcpts == 0 ? ENVELOPE_S_MSG :
	    ENVELOPE_S_RCPT, err_r) == -1)
		return -1;
	if (e->nrcpts >= ENVELOPE_RCPTS_MAX)
		return envelope_fail(ep, err_r,
		    "more than %d recipients", ENVELOPE_RCPTS_MAX);
	if ((e->nrcpts & (e->nrcpts - 1)) == 0)
		e->rcpts = xrealloc(e->rcpts, (e->nrcpts == 0 ? 1 :
		    e->nrcpts * 2) * sizeof(*e->rcpts));
	memset(&e->rcpts[e->nrcpts++], 0, sizeof(*e->rcpts));
	memset(ep->seen_rcpt, 0, sizeof(ep->seen_rcpt));
	ep->last = 0;
	return 0;
}

/* One line, without its LF. */
static int
envelope_parse_line(struct envelope_parser *ep, const char *p, size_t len,
    const char **err_r)
{
	const struct envelope_key *k;
	const char *sp = memchr(p, ' ', len);
	size_t klen = sp != NULL ? (size_t)(sp - p) : len, idx;
	unsigned char *seen;
	void *base;

	if ((k = envelope_key_find(p, klen, &idx)) == NULL)
		return envelope_fail(ep, err_r, "unknown key \"%.*s\"",
		    (int)(klen > 32 ? 32 : klen), p);
	if (sp != NULL && sp + 1 == p + len)
		return envelope_fail(ep, err_r, "space without a value");
	if (strcmp(k->name, "rcpt") == 0 && envelope_new_rcpt(ep, err_r) == -1)
		return -1;
	if (k->sect == ENVELOPE_S_MSG && ep->e->nrcpts > 0)
		return envelope_fail(ep, err_r, "\"%s\" after the first rcpt",
		    k->name);
	if (k->sect == ENVELOPE_S_RCPT && ep->e->nrcpts == 0)
		return envelope_fail(ep, err_r, "\"%s\" before any rcpt",
		    k->name);
	seen = k->sect == ENVELOPE_S_MSG ? ep->seen_msg : ep->seen_rcpt;
	if (seen[idx]++)
		return envelope_fail(ep, err_r, "duplicate \"%s\"", k->name);
	/* the writer's order only: one canonical file per envelope */
	if (idx < ep->last)
		return envelope_fail(ep, err_r, "\"%s\" out of order",
		    k->name);
	ep->last = idx + 1;
	if (envelope_unescape(ep, sp != NULL ? sp + 1 : p + len,
	    sp != NULL ? len - klen - 1 : 0, k->type == ENVELOPE_T_STR ||
	    k->type == ENVELOPE_T_STATUS ? k->max : ENVELOPE_KEY_MAX * 4,
	    err_r) == -1)
		return -1;
	if (ep->vlen == 0 && !(k->flags & ENVELOPE_K_EMPTY_OK))
		return envelope_fail(ep, err_r, "\"%s\" needs a value",
		    k->name);
	base = k->sect == ENVELOPE_S_MSG ? (void *)ep->e :
	    (void *)&ep->e->rcpts[ep->e->nrcpts - 1];
	if (ep->vlen > 0 && envelope_store(ep, k, base) == -1)
		return envelope_fail(ep, err_r, "bad value for \"%s\"",
		    k->name);
	return 0;
}

static int
envelope_parse_body(struct envelope_parser *ep, const char *p, size_t len,
    const char **err_r)
{
	const char *nl;
	size_t pos = 0, end;

	ep->lineno = 1;
	if (len < sizeof(ENVELOPE_MAGIC) ||
	    memcmp(p, ENVELOPE_MAGIC "\n", sizeof(ENVELOPE_MAGIC)) != 0)
		return envelope_fail(ep, err_r, "not a facteur envelope "
		    "(\"" ENVELOPE_MAGIC "\" expected)");
	pos = sizeof(ENVELOPE_MAGIC);
	for (;;) {
		ep->lineno++;
		if (pos == len)
			return envelope_fail(ep, err_r, "truncated (no \"end\")");
		if ((nl = memchr(p + pos, '\n', len - pos)) == NULL)
			return envelope_fail(ep, err_r, "last line has no end");
		end = (size_t)(nl - p);
		if (end - pos == 3 && memcmp(p + pos, "end", 3) == 0)
			break;
		if (envelope_parse_line(ep, p + pos, end - pos, err_r) == -1)
			return -1;
		pos = end + 1;
	}
	if (end + 1 != len)
		return envelope_fail(ep, err_r, "bytes after \"end\"");
	if (ep->e->nrcpts == 0)
		return envelope_fail(ep, err_r, "no rcpt");
	return envelope_check_required(ep, ENVELOPE_S_RCPT, err_r);
}

int
envelope_parse(const char *p, size_t len, struct envelope *e,
    const char **err_r)
{
	struct envelope_parser *ep;
	int rc = -1;

	memset(e, 0, sizeof(*e));
	if (len > ENVELOPE_FILE_MAX) {
		*err_r = "envelope file too big";
		return -1;
	}
	ep = xcalloc(1, sizeof(*ep));
	ep->e = e;
	if (envelope_parse_body(ep, p, len, err_r) == 0)
		rc = 0;
	else
		envelope_clear(e);
	free(ep);
	return rc;
}
