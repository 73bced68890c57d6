/* imap_utf7.c: modified UTF-7 (RFC 3501 §5.1.3) and mailbox names. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"
#include "imap/imap_utf7.h"

static const char imap_utf7_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static bool
imap_utf7_direct(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

static int
imap_utf7_b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

static int
imap_utf7_put(struct buf *out, const void *p, size_t n)
{
	return out == NULL ? 0 : buf_append(out, p, n);
}

static int
imap_utf7_put_cp(struct buf *out, uint32_t cp)
{
	unsigned char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | (cp >> 18));
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return imap_utf7_put(out, u, n);
}

/* One UTF-16 unit of a shifted run; *hi holds a pending high surrogate. */
static int
imap_utf7_unit(struct buf *out, uint32_t u, uint32_t *hi)
{
	if (*hi != 0) {
		if (u < 0xdc00 || u > 0xdfff)
			return -1;
		u = 0x10000 + ((*hi - 0xd800) << 10) + (u - 0xdc00);
		*hi = 0;
		return imap_utf7_put_cp(out, u);
	}
	if (u >= 0xd800 && u <= 0xdbff) {
		*hi = u;
		return 0;
	}
	if (u >= 0xdc00 && u <= 0xdfff)
		return -1;
	if (u < 0x80 && imap_utf7_direct((unsigned char)u))
		return -1;		/* printable ASCII must be direct */
	return imap_utf7_put_cp(out, u);
}

/* Decode the shifted run starting after '&' at s[*ip]; leaves *ip
 * after its '-'. */
static int
imap_utf7_shifted(const unsigned char *s, size_t len, size_t *ip,
    struct buf *out)
{
	uint32_t bits = 0, hi = 0;
	unsigned nbits = 0;
	size_t i = *ip, units = 0;
	int v;

	for (; i < len && s[i] != '-'; i++) {
		if ((v = imap_utf7_b64val(s[i])) < 0)
			return -1;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits >= 16) {
			nbits -= 16;
			if (imap_utf7_unit(out, bits >> nbits, &hi) == -1)
				return -1;
			bits &= (1u << nbits) - 1;
			units++;
		}
	}
	if (i == len || units == 0 || hi != 0 || nbits >= 6 || bits != 0)
		return -1;
	*ip = i + 1;
	return 0;
}

int
imap_utf7_to_utf8(struct str in, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)in.p;
	size_t i = 0;
	bool after_run = false;

	while (i < in.len) {
		if (!imap_utf7_direct(s[i]))
			return -1;
		if (s[i] != '&') {
			if (imap_utf7_put(out, &s[i++], 1) == -1)
				return -1;
			after_run = false;
		} else if (i + 1 < in.len && s[i + 1] == '-') {
			if (imap_utf7_put(out, "&", 1) == -1)
				return -1;
			i += 2;
			after_run = false;
		} else {
			i++;
			if (after_run || imap_utf7_shifted(s, in.len, &i,
			    out) == -1)
				return -1;
			after_run = true;
		}
	}
	return 0;
}

bool
imap_utf7_valid(struct str in)
{
	return imap_utf7_to_utf8(in, NULL) == 0;
}

int
imap_utf7_utf8_next(const unsigned char *s, size_t len, uint32_t *cp_r)
{
	uint32_t cp, min;
	size_t n;

	if (len == 0)
		return -1;
	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2, cp = s[0] & 0x1f, min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3, cp = s[0] & 0x0f, min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4, cp = s[0] & 0x07, min = 0x10000;
	} else
		return -1;
	if (len < n)
		return -1;
	for (size_t k = 1; k < n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*cp_r = cp;
	return (int)n;
}

bool
imap_utf7_utf8_valid(struct str in)
{
	const unsigned char *s = (const unsigned char *)in.p;
	uint32_t cp;
	int n;

	for (size_t i = 0; i < in.len; i += (size_t)n)
		if ((n = imap_utf7_utf8_next(s + i, in.len - i, &cp)) < 0)
			return false;
	return true;
}

/* Emit the bits of UTF-16 unit u as base64 characters. */
static int
imap_utf7_emit(struct buf *out, uint32_t u, uint32_t *bits, unsigned *nbits)
{
	char c;

	*bits = (*bits << 16) | u;
	*nbits += 16;
	while (*nbits >= 6) {
		*nbits -= 6;
		c = imap_utf7_b64[(*bits >> *nbits) & 0x3f];
		if (buf_append(out, &c, 1) == -1)
			return -1;
	}
	*bits &= (1u << *nbits) - 1;
	return 0;
}

/* Encode the run of non-printable characters at s[*ip] as "&...-". */
static int
imap_utf7_encode_run(const unsigned char *s, size_t len, size_t *ip,
    struct buf *out)
{
	uint32_t cp, bits = 0;
	unsigned nbits = 0;
	size_t i = *ip;
	char c;
	int n;

	if (buf_append(out, "&", 1) == -1)
		return -1;
	while (i < len && !imap_utf7_direct(s[i])) {
		if ((n = imap_utf7_utf8_next(s + i, len - i, &cp)) < 0)
			return -1;
		i += (size_t)n;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			if (imap_utf7_emit(out, 0xd800 + (cp >> 10), &bits,
			    &nbits) == -1)
				return -1;
			cp = 0xdc00 + (cp & 0x3ff);
		}
		if (imap_utf7_emit(out, cp, &bits, &nbits) == -1)
			return -1;
	}
	if (nbits > 0) {
		c = imap_utf7_b64[(bits << (6 - nbits)) & 0x3f];
		if (buf_append(out, &c, 1) == -1)
			return -1;
	}
	*ip = i;
	return buf_append(out, "-", 1);
}

int
imap_utf7_from_utf8(struct str in, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)in.p;
	size_t i = 0;
	int r;

	while (i < in.len) {
		if (s[i] == '&')
			r = buf_append(out, "&-", 2), i++;
		else if (imap_utf7_direct(s[i]))
			r = buf_append(out, &s[i], 1), i++;
		else
			r = imap_utf7_encode_run(s, in.len, &i, out);
		if (r == -1)
			return -1;
	}
	return 0;
}

/* --- mailbox names --------------------------------------------------- */

static const char *
imap_utf7_component(const char *p, size_t len)
{
	if (len == 0)
		return "Mailbox name has an empty component";
	if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' &&
	    p[1] == '.'))
		return "Mailbox name has a \".\" or \"..\" component";
	return NULL;
}

static const char *
imap_utf7_chars(struct str name)
{
	const unsigned char *s = (const unsigned char *)name.p;
	uint32_t cp;
	int n;

	for (size_t i = 0; i < name.len; i += (size_t)n) {
		if ((n = imap_utf7_utf8_next(s + i, name.len - i, &cp)) < 0)
			return "Mailbox name is not valid UTF-8";
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return "Mailbox name has control characters";
		if (cp == '%' || cp == '*')
			return "Mailbox name has wildcards";
	}
	return NULL;
}

int
imap_utf7_mailbox_check(struct str name, const char **err_r)
{
	const char *err, *start, *sep, *end;
	size_t depth = 0;

	if (name.len == 0)
		return *err_r = "Empty mailbox name", -1;
	end = name.p + name.len;
	if (name.len > IMAP_MAILBOX_NAME_MAX)
		return *err_r = "Mailbox name too long", -1;
	if ((err = imap_utf7_chars(name)) != NULL)
		return *err_r = err, -1;
	for (start = name.p; ; start = sep + 1) {
		sep = memchr(start, IMAP_MAILBOX_SEP, (size_t)(end - start));
		if (sep == NULL)
			sep = end;
		if ((err = imap_utf7_component(start, (size_t)(sep - start)))
		    != NULL)
			return *err_r = err, -1;
		if (++depth > IMAP_MAILBOX_DEPTH_MAX)
			return *err_r = "Mailbox name too deep", -1;
		if (sep == end)
			break;
	}
	return 0;
}
