/* mime_decode.c: base64 and quoted-printable, streaming.
 *
 * base64: characters outside the alphabet are skipped (line breaks are
 * expected, others are counted as errors); '=' ends a quantum, so that
 * concatenated encodings decode too.
 * quoted-printable: "=XX" and soft line breaks; white space at the end
 * of a line is transport padding and dropped (RFC 2045 §6.7 rule 3); an
 * '=' that starts no valid sequence is kept as it is. */
#include <stdbool.h>
#include <string.h>

#include "mime/mime_decode.h"

#define MIME_DECODE_OUT	4096

enum mime_decode_qp {
	MIME_DECODE_QP_TEXT,
	MIME_DECODE_QP_CR,	/* CR seen */
	MIME_DECODE_QP_EQ,	/* '=' seen */
	MIME_DECODE_QP_HEX,	/* '=' and one hex digit */
	MIME_DECODE_QP_EQ_WS,	/* '=' then white space */
	MIME_DECODE_QP_EQ_CR,	/* '=' [ws] CR */
};

/* A small output stage in front of the buf. */
struct mime_decode_out {
	struct buf	*buf;
	size_t		 n;
	int		 r;
	char		 p[MIME_DECODE_OUT];
};

static void
mime_decode_flush(struct mime_decode_out *o)
{
	o->r |= buf_append(o->buf, o->p, o->n);
	o->n = 0;
}

static void
mime_decode_put(struct mime_decode_out *o, const void *p, size_t n)
{
	if (n > sizeof(o->p) - o->n)
		mime_decode_flush(o);
	if (n > sizeof(o->p)) {
		o->r |= buf_append(o->buf, p, n);
		return;
	}
	memcpy(o->p + o->n, p, n);
	o->n += n;
}

static void
mime_decode_putc(struct mime_decode_out *o, char c)
{
	if (o->n == sizeof(o->p))
		mime_decode_flush(o);
	o->p[o->n++] = c;
}

enum mime_cte
mime_decode_cte(struct str enc)
{
	if (enc.p == NULL || str_eq_ci_cstr(enc, "7bit"))
		return MIME_CTE_7BIT;
	if (str_eq_ci_cstr(enc, "8bit"))
		return MIME_CTE_8BIT;
	if (str_eq_ci_cstr(enc, "binary"))
		return MIME_CTE_BINARY;
	if (str_eq_ci_cstr(enc, "base64"))
		return MIME_CTE_BASE64;
	if (str_eq_ci_cstr(enc, "quoted-printable"))
		return MIME_CTE_QP;
	return MIME_CTE_UNKNOWN;
}

void
mime_decode_init(struct mime_decode *d, enum mime_cte cte)
{
	memset(d, 0, sizeof(*d));
	d->cte = cte;
}

/* --- base64 ----------------------------------------------------------- */

static int
mime_decode_b64_value(unsigned char c)
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

/* Write out a partial quantum ('=' or the end). */
static void
mime_decode_b64_tail(struct mime_decode *d, struct mime_decode_out *o)
{
	if (d->nbits == 1)
		d->errors++;
	if (d->nbits >= 2)
		mime_decode_putc(o, (char)(d->bits >> (6 * d->nbits - 8)));
	if (d->nbits == 3)
		mime_decode_putc(o, (char)(d->bits >> 2));
	d->bits = 0;
	d->nbits = 0;
}

static void
mime_decode_b64(struct mime_decode *d, struct mime_decode_out *o,
    const unsigned char *in, size_t len)
{
	size_t i;
	int v;

	for (i = 0; i < len; i++) {
		if ((v = mime_decode_b64_value(in[i])) < 0) {
			if (in[i] == '=')
				mime_decode_b64_tail(d, o);
			else if (!strchr(" \t\r\n", in[i]) || in[i] == '\0')
				d->errors++;
			continue;
		}
		d->bits = d->bits << 6 | (uint32_t)v;
		if (++d->nbits < 4)
			continue;
		mime_decode_putc(o, (char)(d->bits >> 16));
		mime_decode_putc(o, (char)(d->bits >> 8));
		mime_decode_putc(o, (char)d->bits);
		d->bits = 0;
		d->nbits = 0;
	}
}

/* --- quoted-printable ------------------------------------------------- */

static int
mime_decode_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void
mime_decode_ws_flush(struct mime_decode *d, struct mime_decode_out *o)
{
	mime_decode_put(o, d->ws, d->nws);
	d->nws = 0;
}

static void
mime_decode_ws_add(struct mime_decode *d, struct mime_decode_out *o, char c)
{
	if (d->nws == sizeof(d->ws))
		mime_decode_ws_flush(d, o);
	d->ws[d->nws++] = c;
}

/* A byte that was not part of a valid '=' sequence: give back what was
 * held ('=', a hex digit, white space) as text, then read c again. */
static void
mime_decode_qp_undo(struct mime_decode *d, struct mime_decode_out *o)
{
	d->errors++;
	mime_decode_putc(o, '=');
	if (d->state == MIME_DECODE_QP_HEX)
		mime_decode_putc(o, (char)d->bits);
	mime_decode_ws_flush(d, o);	/* white space after the '=' */
	if (d->state == MIME_DECODE_QP_EQ_CR)
		mime_decode_putc(o, '\r');
	d->state = MIME_DECODE_QP_TEXT;
}

static void mime_decode_qp_byte(struct mime_decode *, struct mime_decode_out *,
    unsigned char);

static void
mime_decode_qp_text(struct mime_decode *d, struct mime_decode_out *o,
    unsigned char c)
{
	switch (c) {
	case '=':
		mime_decode_ws_flush(d, o);	/* not at the line's end */
		d->state = MIME_DECODE_QP_EQ;
		break;
	case ' ':
	case '\t':
		mime_decode_ws_add(d, o, (char)c);
		break;
	case '\r':
		d->state = MIME_DECODE_QP_CR;
		break;
	case '\n':
		d->nws = 0;		/* padding before a line break */
		mime_decode_putc(o, '\n');
		break;
	default:
		mime_decode_ws_flush(d, o);
		mime_decode_putc(o, (char)c);
	}
}

static void
mime_decode_qp_eq(struct mime_decode *d, struct mime_decode_out *o,
    unsigned char c)
{
	int v = mime_decode_hex(c);

	if (v >= 0) {
		d->nbits = (unsigned)v;
		d->bits = c;
		d->state = MIME_DECODE_QP_HEX;
	} else if (c == '\n') {
		d->nws = 0;		/* soft line break */
		d->state = MIME_DECODE_QP_TEXT;
	} else if (c == '\r') {
		d->state = MIME_DECODE_QP_EQ_CR;
	} else if (c == ' ' || c == '\t') {
		mime_decode_ws_add(d, o, (char)c);
		d->state = MIME_DECODE_QP_EQ_WS;
	} else {
		mime_decode_qp_undo(d, o);
		mime_decode_qp_byte(d, o, c);
	}
}

static void
mime_decode_qp_byte(struct mime_decode *d, struct mime_decode_out *o,
    unsigned char c)
{
	int v;

	switch (d->state) {
	case MIME_DECODE_QP_TEXT:
		mime_decode_qp_text(d, o, c);
		break;
	case MIME_DECODE_QP_CR:
		d->state = MIME_DECODE_QP_TEXT;
		if (c == '\n') {
			d->nws = 0;
			mime_decode_put(o, "\r\n", 2);
			break;
		}
		mime_decode_ws_flush(d, o);
		mime_decode_putc(o, '\r');
		mime_decode_qp_byte(d, o, c);
		break;
	case MIME_DECODE_QP_EQ:
		mime_decode_qp_eq(d, o, c);
		break;
	case MIME_DECODE_QP_HEX:
		if ((v = mime_decode_hex(c)) < 0) {
			mime_decode_qp_undo(d, o);
			mime_decode_qp_byte(d, o, c);
			break;
		}
		mime_decode_putc(o, (char)(d->nbits << 4 | (unsigned)v));
		d->state = MIME_DECODE_QP_TEXT;
		break;
	case MIME_DECODE_QP_EQ_WS:
		if (c == ' ' || c == '\t') {
			mime_decode_ws_add(d, o, (char)c);
			break;
		}
		if (c == '\n' || c == '\r') {
			d->state = MIME_DECODE_QP_EQ;
			mime_decode_qp_eq(d, o, c);
			break;
		}
		mime_decode_qp_undo(d, o);
		mime_decode_qp_byte(d, o, c);
		break;
	case MIME_DECODE_QP_EQ_CR:
		if (c == '\n') {
			d->nws = 0;
			d->state = MIME_DECODE_QP_TEXT;
			break;
		}
		mime_decode_qp_undo(d, o);
		mime_decode_qp_byte(d, o, c);
		break;
	}
}

/* --- the interface ---------------------------------------------------- */

int
mime_decode_feed(struct mime_decode *d, struct buf *out, const void *in,
    size_t len)
{
	struct mime_decode_out o;
	const unsigned char *p = in;
	size_t i;

	if (d->cte != MIME_CTE_BASE64 && d->cte != MIME_CTE_QP)
		return buf_append(out, in, len);
	o.buf = out;
	o.n = 0;
	o.r = 0;
	if (d->cte == MIME_CTE_BASE64)
		mime_decode_b64(d, &o, p, len);
	else {
		for (i = 0; i < len; i++)
			mime_decode_qp_byte(d, &o, p[i]);
	}
	mime_decode_flush(&o);
	return o.r == 0 ? 0 : -1;
}

int
mime_decode_finish(struct mime_decode *d, struct buf *out)
{
	struct mime_decode_out o;

	o.buf = out;
	o.n = 0;
	o.r = 0;
	if (d->cte == MIME_CTE_BASE64)
		mime_decode_b64_tail(d, &o);
	else if (d->cte == MIME_CTE_QP) {
		/* the end is a line's end: padding and a last '=' go */
		if (d->state == MIME_DECODE_QP_CR)
			mime_decode_putc(&o, '\r');
		else if (d->state == MIME_DECODE_QP_HEX)
			mime_decode_qp_undo(d, &o);
		d->nws = 0;
	}
	d->state = 0;
	mime_decode_flush(&o);
	return o.r == 0 ? 0 : -1;
}
