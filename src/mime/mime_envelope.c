/* mime_envelope.c: ENVELOPE and RFC 5322 address lists.
 *
 * An address list is read item by item.  An item is scanned once to
 * find its shape (group "name:", angle address "phrase <...>", bare
 * "local@domain", or words alone) and where its pieces lie; the pieces
 * are then written from those spans.  Whatever does not fit the
 * grammar is skipped up to the next ',' (';' ends a group), so that
 * broken headers still give every address they plainly hold. */
#include <stdbool.h>
#include <string.h>

#include "mime/mime_envelope.h"
#include "mime/mime_imap.h"

enum mime_envelope_tok {
	MIME_ENVELOPE_END,
	MIME_ENVELOPE_WS,
	MIME_ENVELOPE_COMMENT,
	MIME_ENVELOPE_QSTR,
	MIME_ENVELOPE_DLIT,
	MIME_ENVELOPE_WORD,
	MIME_ENVELOPE_SPECIAL,
};

/* How a span's tokens are joined into text. */
enum mime_envelope_join {
	MIME_ENVELOPE_PHRASE,	/* words by one space, quotes removed */
	MIME_ENVELOPE_VERBATIM,	/* tokens as written, no space or comment */
	MIME_ENVELOPE_ROUTE,	/* verbatim, "," between "@domain"s */
};

struct mime_envelope_span {
	size_t	 from, to;
};

struct mime_envelope_scan {
	struct str	 s;
	size_t		 i;
	bool		 group;		/* inside a group: ':' is junk */
	struct str	 comment;	/* last comment of the item */
	struct buf	*tmp;		/* scratch for one piece of text */
};

struct mime_envelope_addr {
	struct mime_envelope_span name, route, local, domain;
	bool		 at;		/* has "@domain" */
	bool		 angle;
};

/* --- tokens ----------------------------------------------------------- */

static bool
mime_envelope_is_special(const struct mime_envelope_scan *sc, char c)
{
	if (c == ':')
		return !sc->group;
	return c != '\0' && strchr("<>@,;.", c) != NULL;
}

/* The end of a run delimited by open/close with quoted pairs, nested
 * when open != close; unterminated runs end at the end. */
static size_t
mime_envelope_delimited(struct str s, size_t i, char open, char close)
{
	unsigned depth = 1;

	for (i++; i < s.len && depth > 0; i++) {
		if (s.p[i] == '\\')
			i++;
		else if (s.p[i] == close)
			depth--;
		else if (s.p[i] == open && open != close)
			depth++;
	}
	return i < s.len ? i : s.len;
}

static bool
mime_envelope_is_word(const struct mime_envelope_scan *sc, char c)
{
	return c != ' ' && c != '\t' && c != '\r' && c != '\n' &&
	    c != '"' && c != '(' && c != '[' &&
	    !mime_envelope_is_special(sc, c);
}

/* The token at sc->i; *start_r is where it begins. */
static enum mime_envelope_tok
mime_envelope_next(struct mime_envelope_scan *sc, size_t *start_r)
{
	struct str s = sc->s;
	size_t i = sc->i;
	char c;

	*start_r = i;
	if (i >= s.len)
		return MIME_ENVELOPE_END;
	c = s.p[i];
	if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
		while (i < s.len && (s.p[i] == ' ' || s.p[i] == '\t' ||
		    s.p[i] == '\r' || s.p[i] == '\n'))
			i++;
		sc->i = i;
		return MIME_ENVELOPE_WS;
	}
	if (c == '(') {
		sc->i = mime_envelope_delimited(s, i, '(', ')');
		sc->comment = str_make(s.p + i, sc->i - i);
		return MIME_ENVELOPE_COMMENT;
	}
	if (c == '"' || c == '[') {
		sc->i = mime_envelope_delimited(s, i, c, c == '"' ? '"' : ']');
		return c == '"' ? MIME_ENVELOPE_QSTR : MIME_ENVELOPE_DLIT;
	}
	if (mime_envelope_is_special(sc, c)) {
		sc->i = i + 1;
		return MIME_ENVELOPE_SPECIAL;
	}
	while (i < s.len && mime_envelope_is_word(sc, s.p[i]))
		i++;
	sc->i = i;
	return MIME_ENVELOPE_WORD;
}

/* Skip tokens that are not specials, or specials listed in also;
 * stop before any other special (or at the end).  The special it
 * stopped at, or '\0'. */
static char
mime_envelope_skip(struct mime_envelope_scan *sc, const char *also)
{
	enum mime_envelope_tok t;
	size_t start;

	for (;;) {
		size_t save = sc->i;

		t = mime_envelope_next(sc, &start);
		if (t == MIME_ENVELOPE_END)
			return '\0';
		if (t == MIME_ENVELOPE_SPECIAL &&
		    strchr(also, sc->s.p[start]) == NULL) {
			sc->i = save;
			return sc->s.p[start];
		}
	}
}

static void
mime_envelope_skip_cfws(struct mime_envelope_scan *sc)
{
	enum mime_envelope_tok t;
	size_t start, save;

	for (;;) {
		save = sc->i;
		t = mime_envelope_next(sc, &start);
		if (t != MIME_ENVELOPE_WS && t != MIME_ENVELOPE_COMMENT) {
			sc->i = save;
			return;
		}
	}
}

/* --- text of a span --------------------------------------------------- */

static int
mime_envelope_unquote(struct buf *out, struct str q)
{
	size_t i, end = q.len;
	int r = 0;

	if (end > 1 && q.p[end - 1] == q.p[0])
		end--;			/* closed */
	for (i = 1; i < end; i++) {
		if (q.p[i] == '\\' && i + 1 < end)
			i++;
		r |= buf_append(out, q.p + i, 1);
	}
	return r;
}

static int
mime_envelope_word(struct buf *out, struct str tok, enum mime_envelope_tok t,
    enum mime_envelope_join join, bool space)
{
	int r = 0;

	if (join == MIME_ENVELOPE_PHRASE && space && out->len > 0)
		r |= buf_append(out, " ", 1);
	if (join == MIME_ENVELOPE_ROUTE && tok.p[0] == '@' && out->len > 0 &&
	    out->p[out->len - 1] != ',')
		r |= buf_append(out, ",", 1);
	if (t == MIME_ENVELOPE_QSTR && join == MIME_ENVELOPE_PHRASE)
		return r | mime_envelope_unquote(out, tok);
	return r | buf_append(out, tok.p, tok.len);
}

static int
mime_envelope_text(struct buf *out, const struct mime_envelope_scan *base,
    struct mime_envelope_span sp, enum mime_envelope_join join)
{
	struct mime_envelope_scan sc = *base;
	enum mime_envelope_tok t;
	bool space = false;
	size_t start;
	int r = 0;

	sc.s.len = sp.to;
	sc.i = sp.from;
	while ((t = mime_envelope_next(&sc, &start)) != MIME_ENVELOPE_END) {
		if (t == MIME_ENVELOPE_WS || t == MIME_ENVELOPE_COMMENT) {
			space = true;
			continue;
		}
		r |= mime_envelope_word(out, str_make(sc.s.p + start,
		    sc.i - start), t, join, space);
		space = false;
	}
	return r;
}

/* --- one address ------------------------------------------------------ */

static int
mime_envelope_field(struct buf *out, struct buf *tmp,
    const struct mime_envelope_scan *sc, struct mime_envelope_span sp,
    enum mime_envelope_join join, const char *missing)
{
	int r;

	buf_reset(tmp);
	if (mime_envelope_text(tmp, sc, sp, join) == -1)
		return -1;
	if (tmp->len > 0)
		r = mime_imap_string(out, str_make(tmp->p, tmp->len));
	else if (missing != NULL)
		r = mime_imap_string(out, str_make(missing, strlen(missing)));
	else
		r = buf_append(out, "NIL", 3);
	return r;
}

/* The name: the phrase, else the last comment's text, else NIL. */
static int
mime_envelope_name(struct buf *out, struct buf *tmp,
    const struct mime_envelope_scan *sc, const struct mime_envelope_addr *a)
{
	struct str c = sc->comment, t;
	size_t i, end;

	buf_reset(tmp);
	if (mime_envelope_text(tmp, sc, a->name, MIME_ENVELOPE_PHRASE) == -1)
		return -1;
	if (tmp->len == 0 && c.len >= 2) {
		end = c.p[c.len - 1] == ')' ? c.len - 1 : c.len;
		for (i = 1; i < end; i++) {
			if (c.p[i] == '\\' && i + 1 < end)
				i++;
			if (buf_append(tmp, c.p + i, 1) == -1)
				return -1;
		}
	}
	t = str_make(tmp->p, tmp->len);
	while (t.len > 0 && (t.p[0] == ' ' || t.p[0] == '\t')) {
		t.p++;
		t.len--;
	}
	while (t.len > 0 && (t.p[t.len - 1] == ' ' || t.p[t.len - 1] == '\t'))
		t.len--;
	if (t.len == 0)
		return buf_append(out, "NIL", 3);
	return mime_imap_string(out, t);
}

static int
mime_envelope_addr_write(struct buf *out, const struct mime_envelope_scan *sc,
    const struct mime_envelope_addr *a)
{
	int r = 0;

	r |= buf_append(out, "(", 1);
	r |= mime_envelope_name(out, sc->tmp, sc, a);
	r |= buf_append(out, " ", 1);
	r |= mime_envelope_field(out, sc->tmp, sc, a->route,
	    MIME_ENVELOPE_ROUTE, NULL);
	r |= buf_append(out, " ", 1);
	r |= mime_envelope_field(out, sc->tmp, sc, a->local,
	    MIME_ENVELOPE_VERBATIM, MIME_ENVELOPE_NO_MAILBOX);
	r |= buf_append(out, " ", 1);
	r |= mime_envelope_field(out, sc->tmp, sc, a->domain,
	    MIME_ENVELOPE_VERBATIM, MIME_ENVELOPE_NO_DOMAIN);
	r |= buf_append(out, ")", 1);
	return r == 0 ? 0 : -1;
}

/* "@a,@b:" inside angle brackets; empty when there is none. */
static void
mime_envelope_route(struct mime_envelope_scan *sc, struct mime_envelope_addr *a)
{
	size_t save = sc->i;

	mime_envelope_skip_cfws(sc);
	if (sc->i >= sc->s.len || sc->s.p[sc->i] != '@') {
		sc->i = save;
		return;
	}
	a->route.from = sc->i;
	if (mime_envelope_skip(sc, ".@,") != ':') {
		sc->i = save;
		a->route.from = 0;
		return;
	}
	a->route.to = sc->i;
	sc->i++;
}

/* local-part ["@" domain] from sc->i. */
static void
mime_envelope_addr_spec(struct mime_envelope_scan *sc,
    struct mime_envelope_addr *a)
{
	a->local.from = sc->i;
	(void)mime_envelope_skip(sc, ".");
	a->local.to = sc->i;
	if (sc->i < sc->s.len && sc->s.p[sc->i] == '@') {
		a->at = true;
		a->domain.from = ++sc->i;
		(void)mime_envelope_skip(sc, ".");
		a->domain.to = sc->i;
	}
}

static void
mime_envelope_angle(struct mime_envelope_scan *sc, struct mime_envelope_addr *a)
{
	a->angle = true;
	sc->i++;			/* '<' */
	mime_envelope_route(sc, a);
	mime_envelope_addr_spec(sc, a);
	if (sc->i < sc->s.len && sc->s.p[sc->i] == '>')
		sc->i++;
}

static bool
mime_envelope_has_text(const struct mime_envelope_scan *sc,
    struct mime_envelope_span sp)
{
	struct mime_envelope_scan t = *sc;
	enum mime_envelope_tok k;
	size_t start;

	t.s.len = sp.to;
	t.i = sp.from;
	while ((k = mime_envelope_next(&t, &start)) != MIME_ENVELOPE_END) {
		if (k != MIME_ENVELOPE_WS && k != MIME_ENVELOPE_COMMENT)
			return true;
	}
	return false;
}

/* Move to the end of the item: the next ',' (or ';' in a group). */
static void
mime_envelope_item_end(struct mime_envelope_scan *sc)
{
	enum mime_envelope_tok t;
	size_t start, save;

	for (;;) {
		save = sc->i;
		t = mime_envelope_next(sc, &start);
		if (t == MIME_ENVELOPE_END)
			return;
		if (t != MIME_ENVELOPE_SPECIAL)
			continue;
		if (sc->s.p[start] == ',' ||
		    (sc->s.p[start] == ';' && !sc->group))
			return;
		if (sc->s.p[start] == ';') {
			sc->i = save;
			return;
		}
	}
}

/* A mailbox whose phrase ran from sc->i to the special d. */
static int
mime_envelope_mailbox(struct buf *out, struct mime_envelope_scan *sc,
    struct mime_envelope_span phrase, char d, bool *wrote)
{
	struct mime_envelope_addr a;

	memset(&a, 0, sizeof(a));
	if (d == '<') {
		a.name = phrase;
		mime_envelope_angle(sc, &a);
	} else if (d == '@') {
		sc->i = phrase.from;
		mime_envelope_addr_spec(sc, &a);
	} else {
		if (!mime_envelope_has_text(sc, phrase)) {
			mime_envelope_item_end(sc);
			return 0;
		}
		a.local = phrase;
	}
	mime_envelope_item_end(sc);
	*wrote = true;
	return mime_envelope_addr_write(out, sc, &a);
}

static int mime_envelope_item(struct buf *, struct mime_envelope_scan *,
    bool *);

/* "name: mailbox, ...;" */
static int
mime_envelope_group(struct buf *out, struct mime_envelope_scan *sc,
    struct mime_envelope_span phrase, bool *wrote)
{
	int r = 0;

	buf_reset(sc->tmp);
	r |= mime_envelope_text(sc->tmp, sc, phrase, MIME_ENVELOPE_PHRASE);
	r |= buf_append(out, "(NIL NIL ", 9);
	r |= mime_imap_string(out, str_make(sc->tmp->p, sc->tmp->len));
	r |= buf_append(out, " NIL)", 5);
	sc->i++;			/* ':' */
	sc->group = true;
	while (r == 0 && sc->i < sc->s.len && sc->s.p[sc->i] != ';')
		r |= mime_envelope_item(out, sc, wrote);
	if (sc->i < sc->s.len)
		sc->i++;		/* ';' */
	sc->group = false;
	*wrote = true;
	return r | buf_append(out, "(NIL NIL NIL NIL)", 17);
}

/* One item of the list, and the ',' after it. */
static int
mime_envelope_item(struct buf *out, struct mime_envelope_scan *sc,
    bool *wrote)
{
	struct mime_envelope_span phrase;
	char d;

	sc->comment = (struct str){ NULL, 0 };
	phrase.from = sc->i;
	d = mime_envelope_skip(sc, ".");
	phrase.to = sc->i;
	if (d == ':')
		return mime_envelope_group(out, sc, phrase, wrote);
	if (d == ',' || (d == ';' && !sc->group)) {
		if (!mime_envelope_has_text(sc, phrase)) {
			sc->i++;
			return 0;
		}
		d = '\0';
	}
	if (d == '>' || d == ';')
		d = '\0';
	return mime_envelope_mailbox(out, sc, phrase, d, wrote);
}

int
mime_envelope_addresses(struct buf *out, struct str value)
{
	struct mime_envelope_scan sc;
	struct buf tmp;
	size_t mark = out->len;
	bool wrote = false;
	int r = 0;

	memset(&sc, 0, sizeof(sc));
	sc.s = value;
	sc.tmp = &tmp;
	/* a piece is no longer than the value, but for the ','s a route
	 * may gain */
	buf_init(&tmp, 2 * value.len + 16);
	r |= buf_append(out, "(", 1);
	while (r == 0 && sc.i < sc.s.len) {
		size_t before = sc.i;

		r |= mime_envelope_item(out, &sc, &wrote);
		if (sc.i == before)
			sc.i++;		/* never stall */
	}
	buf_free(&tmp);
	if (r != 0)
		return -1;
	if (!wrote) {
		out->len = mark;
		return buf_append(out, "NIL", 3);
	}
	return buf_append(out, ")", 1);
}

/* --- the envelope ----------------------------------------------------- */

/* Sender and Reply-To default to From when absent or empty. */
static int
mime_envelope_list(struct buf *out, const struct str *env,
    enum mime_env_field f)
{
	size_t mark = out->len;

	if (env[f].p != NULL && mime_envelope_addresses(out, env[f]) == -1)
		return -1;
	if (f != MIME_ENV_SENDER && f != MIME_ENV_REPLY_TO)
		return env[f].p == NULL ? buf_append(out, "NIL", 3) : 0;
	if (env[f].p != NULL && memcmp(out->p + mark, "NIL", 3) != 0)
		return 0;
	out->len = mark;
	if (env[MIME_ENV_FROM].p == NULL)
		return buf_append(out, "NIL", 3);
	return mime_envelope_addresses(out, env[MIME_ENV_FROM]);
}

int
mime_envelope_write(struct buf *out, const struct mime_part *msg)
{
	static const struct str none[MIME_ENV_COUNT];
	const struct str *env = msg->env != NULL ? msg->env : none;
	int f, r = 0;

	r |= buf_append(out, "(", 1);
	for (f = 0; f < MIME_ENV_COUNT && r == 0; f++) {
		if (f > 0)
			r |= buf_append(out, " ", 1);
		if (f >= MIME_ENV_FROM && f <= MIME_ENV_BCC)
			r |= mime_envelope_list(out, env, f);
		else
			r |= mime_imap_nstring(out, env[f]);
	}
	r |= buf_append(out, ")", 1);
	return r == 0 ? 0 : -1;
}
