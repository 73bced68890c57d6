/* mta_reply.c: the SMTP client's reply parser (see mta_reply.h). */
#include <stdio.h>
#include <string.h>

#include "core/str.h"
#include "mta/mta_reply.h"

struct mta_reply_kw {
	const char	*name;
	unsigned	 flag;
};

static const struct mta_reply_kw mta_reply_exts[] = {
	{ "PIPELINING", MTA_EXT_PIPELINING },
	{ "SIZE", MTA_EXT_SIZE },
	{ "8BITMIME", MTA_EXT_8BITMIME },
	{ "SMTPUTF8", MTA_EXT_SMTPUTF8 },
	{ "STARTTLS", MTA_EXT_STARTTLS },
	{ "AUTH", MTA_EXT_AUTH },
	{ "DSN", MTA_EXT_DSN },
	{ "CHUNKING", MTA_EXT_CHUNKING },
	{ "ENHANCEDSTATUSCODES", MTA_EXT_ENHANCEDSTATUSCODES },
};

static const struct mta_reply_kw mta_reply_mechs[] = {
	{ "PLAIN", MTA_AUTH_PLAIN },
	{ "LOGIN", MTA_AUTH_LOGIN },
	{ "CRAM-MD5", MTA_AUTH_CRAM_MD5 },
	{ "SCRAM-SHA-256", MTA_AUTH_SCRAM_SHA_256 },
};

#define MTA_REPLY_NEXTS	(sizeof(mta_reply_exts) / sizeof(mta_reply_exts[0]))
#define MTA_REPLY_NMECHS (sizeof(mta_reply_mechs) / sizeof(mta_reply_mechs[0]))

void
mta_reply_init(struct mta_reply *r)
{
	memset(r, 0, sizeof(*r));
}

static bool
mta_reply_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* 1 to 3 digits at p[*ip]; advances *ip. */
static bool
mta_reply_status_num(const char *p, size_t len, size_t *ip)
{
	size_t i = *ip, start = i;

	while (i < len && i - start < 4 && mta_reply_digit(p[i]))
		i++;
	if (i == start || i - start > 3)
		return false;
	*ip = i;
	return true;
}

size_t
mta_reply_status_len(const char *p, size_t len, char cls)
{
	size_t i;

	if (len < 5 || (p[0] != '2' && p[0] != '4' && p[0] != '5') ||
	    (cls != 0 && p[0] != cls) || p[1] != '.')
		return 0;
	i = 2;
	if (!mta_reply_status_num(p, len, &i) || i >= len || p[i] != '.')
		return 0;
	i++;
	if (!mta_reply_status_num(p, len, &i))
		return 0;
	if (i < len && p[i] != ' ' && p[i] != '\t')
		return 0;
	return i;
}

/* Append text to r->text, a space before all but the first piece,
 * control bytes as '?', silently cut at the end. */
static void
mta_reply_add_text(struct mta_reply *r, const char *p, size_t len)
{
	size_t room;
	unsigned char c;

	if (r->textlen > 0 && len > 0 && r->textlen < MTA_REPLY_TEXT_MAX - 1)
		r->text[r->textlen++] = ' ';
	room = MTA_REPLY_TEXT_MAX - 1 - r->textlen;
	if (len > room)
		len = room;
	for (size_t i = 0; i < len; i++) {
		c = (unsigned char)p[i];
		r->text[r->textlen++] = c == '\t' ? ' ' :
		    c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	r->text[r->textlen] = '\0';
}

static const struct mta_reply_kw *
mta_reply_kw_find(const struct mta_reply_kw *t, size_t n, struct str w)
{
	for (size_t i = 0; i < n; i++)
		if (str_eq_ci_cstr(w, t[i].name))
			return &t[i];
	return NULL;
}

/* The next space-separated word of s from *ip. */
static struct str
mta_reply_word(struct str s, size_t *ip)
{
	size_t i = *ip, start;

	while (i < s.len && (s.p[i] == ' ' || s.p[i] == '\t'))
		i++;
	start = i;
	while (i < s.len && s.p[i] != ' ' && s.p[i] != '\t')
		i++;
	*ip = i;
	return str_make(s.p + start, i - start);
}

static void
mta_reply_auth(struct mta_reply *r, struct str params, size_t i)
{
	const struct mta_reply_kw *m;
	struct str w;

	r->ext.flags |= MTA_EXT_AUTH;
	while ((w = mta_reply_word(params, &i)).len > 0)
		if ((m = mta_reply_kw_find(mta_reply_mechs, MTA_REPLY_NMECHS,
		    w)) != NULL)
			r->ext.auth |= m->flag;
}

static void
mta_reply_size(struct mta_reply *r, struct str params, size_t i)
{
	struct str w = mta_reply_word(params, &i);
	uint64_t n = 0;

	for (size_t k = 0; k < w.len; k++) {
		if (!mta_reply_digit(w.p[k]))
			return;		/* not a number: no limit known */
		if (n > (UINT64_MAX - 9) / 10)
			return;		/* absurdly large: no limit */
		n = n * 10 + (uint64_t)(w.p[k] - '0');
	}
	r->ext.size_max = n;
}

/* One line of an EHLO reply after the first: "KEYWORD params". */
static void
mta_reply_ehlo_line(struct mta_reply *r, struct str line)
{
	const struct mta_reply_kw *k;
	struct str w;
	size_t i = 0;

	/* the old "AUTH=PLAIN LOGIN" form some servers still send */
	if (str_has_prefix_ci(line, "AUTH=")) {
		mta_reply_auth(r, line, 5);
		return;
	}
	w = mta_reply_word(line, &i);
	if ((k = mta_reply_kw_find(mta_reply_exts, MTA_REPLY_NEXTS, w)) == NULL)
		return;
	r->ext.flags |= k->flag;
	if (k->flag == MTA_EXT_AUTH)
		mta_reply_auth(r, line, i);
	else if (k->flag == MTA_EXT_SIZE)
		mta_reply_size(r, line, i);
}

/* The text of a line (after "NNN-"): the enhanced code is kept apart. */
static void
mta_reply_text_line(struct mta_reply *r, struct str t)
{
	size_t n;

	if (r->nlines == 0 && (n = mta_reply_status_len(t.p, t.len,
	    (char)('0' + r->code / 100))) > 0 && n < MTA_STATUS_MAX) {
		memcpy(r->status, t.p, n);
		r->status[n] = '\0';
	}
	if (r->status[0] != '\0' && (n = mta_reply_status_len(t.p, t.len, 0))
	    > 0) {
		while (n < t.len && (t.p[n] == ' ' || t.p[n] == '\t'))
			n++;
		t = str_make(t.p + n, t.len - n);
	}
	mta_reply_add_text(r, t.p, t.len);
}

/* Check one line (without its end); 1 last line, 0 more follow, -1 bad. */
static int
mta_reply_line_parse(struct mta_reply *r, const char *p, size_t len)
{
	int code;
	bool last;
	struct str text;

	if (len < 3 || p[0] < '2' || p[0] > '5' || !mta_reply_digit(p[1]) ||
	    !mta_reply_digit(p[2]))
		return -1;
	if (len > 3 && p[3] != ' ' && p[3] != '-')
		return -1;
	code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	if (r->nlines > 0 && code != r->code)
		return -1;
	r->code = code;
	last = len == 3 || p[3] == ' ';
	text = len > 4 ? str_make(p + 4, len - 4) : str_make(p, 0);
	if (r->ehlo && r->nlines > 0)
		mta_reply_ehlo_line(r, text);
	mta_reply_text_line(r, text);
	r->nlines++;
	return last ? 1 : 0;
}

int
mta_reply_parse(struct mta_reply *r, const char *p, size_t len)
{
	const char *nl;
	size_t end, llen;
	int rc;

	while (r->off < len) {
		nl = memchr(p + r->off, '\n', len - r->off);
		if (nl == NULL) {
			if (len - r->off > MTA_REPLY_LINE_MAX)
				return -1;
			return 0;
		}
		end = (size_t)(nl - p);
		llen = end - r->off;
		if (llen > 0 && p[end - 1] == '\r')
			llen--;
		if (llen > MTA_REPLY_LINE_MAX ||
		    r->nlines >= MTA_REPLY_LINES_MAX)
			return -1;
		rc = mta_reply_line_parse(r, p + r->off, llen);
		r->off = end + 1;
		if (rc == -1)
			return -1;
		if (rc == 1)
			return (int)r->off;
	}
	return 0;
}

void
mta_reply_line(const struct mta_reply *r, char *buf, size_t size)
{
	snprintf(buf, size, "%d%s%s%s%s", r->code,
	    r->status[0] != '\0' ? " " : "", r->status,
	    r->text[0] != '\0' ? " " : "", r->text);
}
