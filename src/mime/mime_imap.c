/* mime_imap.c: quoted strings and literals. */
#include <stdbool.h>
#include <string.h>

#include "mime/mime_imap.h"

#define MIME_IMAP_U_FFFD	"\xef\xbf\xbd"

static bool
mime_imap_quotable(struct str s, size_t *nuls_r)
{
	bool ok = true;
	size_t i;

	*nuls_r = 0;
	for (i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c == '\0')
			(*nuls_r)++;
		if (c == '\0' || c == '\r' || c == '\n' || c >= 0x80)
			ok = false;
	}
	return ok;
}

static int
mime_imap_quoted(struct buf *b, struct str s)
{
	size_t i, start = 0;
	int r = 0;

	r |= buf_append(b, "\"", 1);
	for (i = 0; i < s.len; i++) {
		if (s.p[i] != '"' && s.p[i] != '\\')
			continue;
		r |= buf_append(b, s.p + start, i - start);
		r |= buf_append(b, "\\", 1);
		start = i;
	}
	r |= buf_append(b, s.p + start, s.len - start);
	r |= buf_append(b, "\"", 1);
	return r;
}

static int
mime_imap_literal(struct buf *b, struct str s, size_t nuls)
{
	size_t i, start = 0;
	int r = 0;

	r |= buf_printf(b, "{%zu}\r\n", s.len + 2 * nuls);
	for (i = 0; i < s.len && nuls > 0; i++) {
		if (s.p[i] != '\0')
			continue;
		r |= buf_append(b, s.p + start, i - start);
		r |= buf_append(b, MIME_IMAP_U_FFFD, 3);
		start = i + 1;
	}
	r |= buf_append(b, s.p + start, s.len - start);
	return r;
}

int
mime_imap_string(struct buf *b, struct str s)
{
	size_t nuls;

	if (s.p == NULL)
		s = STR_LIT("");
	if (mime_imap_quotable(s, &nuls))
		return mime_imap_quoted(b, s) == 0 ? 0 : -1;
	return mime_imap_literal(b, s, nuls) == 0 ? 0 : -1;
}

int
mime_imap_nstring(struct buf *b, struct str s)
{
	if (s.p == NULL)
		return buf_append(b, "NIL", 3);
	return mime_imap_string(b, s);
}
