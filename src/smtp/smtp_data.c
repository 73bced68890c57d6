/* smtp_data.c: the DATA/BDAT byte state machine (declared in
 * smtp_parse.h).  No I/O, no allocation. */
#include <stdint.h>
#include <string.h>

#include "smtp/smtp_parse.h"

_Static_assert(SMTP_DATA_LINE_MAX >= 3, "\".\\r\\n\" must fit in a line");

/* --- DATA and BDAT --------------------------------------------------- *
 *
 * Only CRLF "." CRLF ends DATA.  SMTP_DATA_ST_BOL ("at the start of a
 * line") is reached only through CRLF (and is the initial state), never
 * through a bare LF or CR, so no other byte sequence can end a message
 * (SMTP smuggling, CVE-2023-51764).  Output goes out in spans of the
 * input: only a dropped leading dot (and the CR after it, held until we
 * know it is not the end marker) splits a span.  Bare CR and 8-bit
 * bytes are looked for over the consumed input at the end of each feed
 * with memchr and a word-wide scan; a CR ending the input is judged
 * with the next feed's first byte (SMTP_DATA_ST_CR). */

enum {
	SMTP_DATA_ST_BOL = 0,	/* start of a line */
	SMTP_DATA_ST_DOT,	/* BOL ".": the dot is dropped */
	SMTP_DATA_ST_DOT_CR,	/* BOL ".\r": the CR is held back */
	SMTP_DATA_ST_MID,	/* inside a line */
	SMTP_DATA_ST_CR,	/* inside a line, the input ended with CR */
	SMTP_DATA_ST_DONE,
	SMTP_DATA_ST_TOO_LONG,
};

/* One smtp_data_feed() call. */
struct smtp_data_run {
	struct smtp_data	*d;
	const char		*in;
	size_t			 len;
	size_t			 i;	/* next input byte */
	size_t			 span;	/* first byte not yet sent to out */
	smtp_data_out_fn	 out;
	void			*arg;
};

void
smtp_data_init(struct smtp_data *d, uint64_t max_size, size_t max_header)
{
	memset(d, 0, sizeof(*d));
	d->max_size = max_size;
	d->max_header = max_header;
	d->state = SMTP_DATA_ST_BOL;
	d->in_header = true;
}

static void
smtp_data_header_at(struct smtp_data *d, uint64_t size)
{
	d->header_len = size > SIZE_MAX ? SIZE_MAX : (size_t)size;
	if (d->header_len > d->max_header)
		d->errors |= SMTP_DATA_ERR_HEADER;
}

/* Message bytes: to out while under max_size, counted always. */
static int
smtp_data_emit(struct smtp_data *d, const char *p, size_t n,
    smtp_data_out_fn out, void *arg)
{
	uint64_t room;

	if (n == 0)
		return 0;
	if (d->size < d->max_size && out != NULL) {
		room = d->max_size - d->size;
		if (out(arg, p, n < room ? n : (size_t)room) == -1)
			return -1;
	}
	d->size += n;
	if (d->size > d->max_size)
		d->errors |= SMTP_DATA_ERR_TOO_BIG;
	if (d->in_header)
		smtp_data_header_at(d, d->size);
	return 0;
}

static int
smtp_data_flush(struct smtp_data_run *r, size_t end)
{
	size_t start = r->span;

	if (end == start)
		return 0;
	r->span = end;
	return smtp_data_emit(r->d, r->in + start, end - start, r->out,
	    r->arg);
}

static bool
smtp_data_has_8bit(const char *p, size_t n)
{
	const uint64_t high = 0x8080808080808080ULL;
	uint64_t w[4];
	size_t i = 0;

	for (; i + sizeof(w) <= n; i += sizeof(w)) {
		memcpy(w, p + i, sizeof(w));
		if ((w[0] | w[1] | w[2] | w[3]) & high)
			return true;
	}
	for (; i < n; i++)
		if ((unsigned char)p[i] & 0x80)
			return true;
	return false;
}

/* A CR followed by anything but LF within p[0..n). */
static bool
smtp_data_has_bare_cr(const char *p, size_t n)
{
	const char *end = p + n, *cr;

	while (p < end && (cr = memchr(p, '\r', (size_t)(end - p))) != NULL) {
		if (cr + 1 < end && cr[1] != '\n')
			return true;
		p = cr + 1;
	}
	return false;
}

static void
smtp_data_scan(struct smtp_data *d, const char *p, size_t n)
{
	if (!d->eightbit && smtp_data_has_8bit(p, n))
		d->eightbit = true;
	if (!(d->errors & SMTP_DATA_ERR_BARE_CR) &&
	    smtp_data_has_bare_cr(p, n))
		d->errors |= SMTP_DATA_ERR_BARE_CR;
}

static int
smtp_data_too_long(struct smtp_data_run *r)
{
	r->d->state = SMTP_DATA_ST_TOO_LONG;
	return SMTP_DATA_LINE_TOO_LONG;
}

/* A CRLF ended a line of d->line_len bytes; r->i is past the LF. */
static int
smtp_data_eol(struct smtp_data_run *r)
{
	struct smtp_data *d = r->d;

	if (d->line_len == 2 && d->in_header) {
		smtp_data_header_at(d, d->size + (r->i - r->span));
		d->in_header = false;
	}
	d->line_len = 0;
	d->state = SMTP_DATA_ST_BOL;
	return SMTP_DATA_MORE;
}

static int
smtp_data_bol(struct smtp_data_run *r)
{
	if (r->in[r->i] != '.') {
		r->d->state = SMTP_DATA_ST_MID;
		return SMTP_DATA_MORE;
	}
	if (smtp_data_flush(r, r->i) == -1)
		return -1;
	r->span = ++r->i;
	r->d->line_len = 1;
	r->d->state = SMTP_DATA_ST_DOT;
	return SMTP_DATA_MORE;
}

static int
smtp_data_dot(struct smtp_data_run *r)
{
	if (r->in[r->i] != '\r') {
		r->d->state = SMTP_DATA_ST_MID;
		return SMTP_DATA_MORE;
	}
	r->span = ++r->i;
	r->d->line_len++;
	r->d->state = SMTP_DATA_ST_DOT_CR;
	return SMTP_DATA_MORE;
}

/* After BOL ".\r": LF ends the message, anything else makes the held
 * CR a bare one, which is content. */
static int
smtp_data_dot_cr(struct smtp_data_run *r)
{
	struct smtp_data *d = r->d;

	if (r->in[r->i] == '\n') {
		r->span = ++r->i;
		d->state = SMTP_DATA_ST_DONE;
		return SMTP_DATA_DONE;
	}
	d->errors |= SMTP_DATA_ERR_BARE_CR;
	d->state = SMTP_DATA_ST_MID;
	if (smtp_data_emit(d, "\r", 1, r->out, r->arg) == -1)
		return -1;
	return SMTP_DATA_MORE;
}

/* The previous feed ended with a CR inside a line. */
static int
smtp_data_cr(struct smtp_data_run *r)
{
	struct smtp_data *d = r->d;

	if (d->line_len >= SMTP_DATA_LINE_MAX)
		return smtp_data_too_long(r);
	if (r->in[r->i] != '\n') {
		d->errors |= SMTP_DATA_ERR_BARE_CR;
		d->state = SMTP_DATA_ST_MID;
		return SMTP_DATA_MORE;
	}
	r->i++;
	d->line_len++;
	return smtp_data_eol(r);
}

/* Inside a line: jump to the next LF (within the line limit). */
static int
smtp_data_mid(struct smtp_data_run *r)
{
	struct smtp_data *d = r->d;
	const char *p = r->in + r->i, *lf;
	size_t room = SMTP_DATA_LINE_MAX - d->line_len, n = r->len - r->i;

	if (room == 0)
		return smtp_data_too_long(r);
	if (n > room)
		n = room;
	if ((lf = memchr(p, '\n', n)) == NULL) {
		d->line_len += n;
		r->i += n;
		d->state = p[n - 1] == '\r' ? SMTP_DATA_ST_CR :
		    SMTP_DATA_ST_MID;
		return SMTP_DATA_MORE;
	}
	n = (size_t)(lf - p);
	d->line_len += n + 1;
	r->i += n + 1;
	if (n > 0 && p[n - 1] == '\r')
		return smtp_data_eol(r);
	d->errors |= SMTP_DATA_ERR_BARE_LF;
	d->line_len = 0;
	return SMTP_DATA_MORE;
}

static int
smtp_data_step(struct smtp_data_run *r)
{
	switch (r->d->state) {
	case SMTP_DATA_ST_BOL:
		return smtp_data_bol(r);
	case SMTP_DATA_ST_DOT:
		return smtp_data_dot(r);
	case SMTP_DATA_ST_DOT_CR:
		return smtp_data_dot_cr(r);
	case SMTP_DATA_ST_CR:
		return smtp_data_cr(r);
	default:
		return smtp_data_mid(r);
	}
}

int
smtp_data_feed(struct smtp_data *d, const char *in, size_t len,
    size_t *consumed_r, smtp_data_out_fn out, void *arg)
{
	struct smtp_data_run r = { d, in, len, 0, 0, out, arg };
	int st = SMTP_DATA_MORE;

	*consumed_r = 0;
	if (d->state == SMTP_DATA_ST_DONE)
		return SMTP_DATA_DONE;
	if (d->state == SMTP_DATA_ST_TOO_LONG)
		return SMTP_DATA_LINE_TOO_LONG;
	while (r.i < len && st == SMTP_DATA_MORE)
		st = smtp_data_step(&r);
	if (st == -1 || smtp_data_flush(&r, r.i) == -1)
		return -1;
	smtp_data_scan(d, in, r.i);
	*consumed_r = r.i;
	return st;
}

/* BDAT: bare LF and the header end, line by line. */
static void
smtp_data_chunk_lines(struct smtp_data *d, const char *in, size_t len,
    bool binary)
{
	const char *p = in, *end = in + len, *lf;
	size_t k;
	bool crlf;

	while ((lf = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		k = (size_t)(lf - in);
		crlf = k > 0 ? in[k - 1] == '\r' :
		    d->state == SMTP_DATA_ST_CR;
		d->line_len += (size_t)(lf - p) + 1;
		if (!crlf && !binary)
			d->errors |= SMTP_DATA_ERR_BARE_LF;
		if (crlf && d->line_len == 2 && d->in_header) {
			smtp_data_header_at(d, d->size + k + 1);
			d->in_header = false;
		}
		d->line_len = 0;
		p = lf + 1;
	}
	d->line_len += (size_t)(end - p);
}

int
smtp_data_feed_chunk(struct smtp_data *d, const char *in, size_t len,
    bool binary, smtp_data_out_fn out, void *arg)
{
	if (len == 0)
		return 0;
	if (!binary || d->in_header)
		smtp_data_chunk_lines(d, in, len, binary);
	if (!binary && d->state == SMTP_DATA_ST_CR && in[0] != '\n')
		d->errors |= SMTP_DATA_ERR_BARE_CR;
	if (!binary)
		smtp_data_scan(d, in, len);
	else if (!d->eightbit && smtp_data_has_8bit(in, len))
		d->eightbit = true;
	if (in[len - 1] == '\r')
		d->state = SMTP_DATA_ST_CR;
	else
		d->state = in[len - 1] == '\n' ? SMTP_DATA_ST_BOL :
		    SMTP_DATA_ST_MID;
	return smtp_data_emit(d, in, len, out, arg);
}

int
smtp_data_finish_chunks(struct smtp_data *d, smtp_data_out_fn out,
    void *arg)
{
	if (d->size == 0 || d->state == SMTP_DATA_ST_BOL)
		return 0;
	if (d->state == SMTP_DATA_ST_CR)
		return smtp_data_feed_chunk(d, "\n", 1, false, out, arg);
	return smtp_data_feed_chunk(d, "\r\n", 2, false, out, arg);
}
