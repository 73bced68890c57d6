/* mime_2047.h: text for SEARCH, in UTF-8.  Encoded words in headers
 * (RFC 2047, B and Q), RFC 2231 parameter values (charset'lang'%xx),
 * and charset conversion of body text, with iconv from glibc (every
 * charset it knows: UTF-8, US-ASCII, ISO-8859-1..16, Windows-125x,
 * KOI8, the CJK ones...).  Bytes that do not convert become U+FFFD;
 * text in an unknown charset, or none, is read as UTF-8 when it is
 * valid UTF-8 and as ISO-8859-1 when it is not. */
#ifndef FACTEUR_MIME_MIME_2047_H
#define FACTEUR_MIME_MIME_2047_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/str.h"
#include "mime/mime_parse.h"

/* A header value with its encoded words decoded; white space between
 * two encoded words goes, adjacent words in one charset are decoded
 * together (a character may be split between them).  -1 when out's cap
 * is reached. */
int	 mime_2047_decode(struct buf *out, struct str value);
/* A parameter's value as text: "name*" values by RFC 2231, others with
 * encoded words decoded (a common misuse, e.g. in filename). */
int	 mime_2047_param(struct buf *out, const struct mime_param *param);

/* Streaming conversion of text in a charset (NULL p: none) to UTF-8. */
struct mime_2047_conv;

struct mime_2047_conv *mime_2047_conv_new(struct str charset);
/* false when the charset was not known (the text is read as above). */
bool	 mime_2047_conv_known(const struct mime_2047_conv *c);
int	 mime_2047_conv_feed(struct mime_2047_conv *c, struct buf *out,
	    const void *in, size_t len);
int	 mime_2047_conv_finish(struct mime_2047_conv *c, struct buf *out);
void	 mime_2047_conv_free(struct mime_2047_conv **cp);
/* One-shot. */
int	 mime_2047_to_utf8(struct buf *out, struct str charset,
	    const void *in, size_t len);

#endif
