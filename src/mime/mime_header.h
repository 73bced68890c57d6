/* mime_header.h: the header fields a part keeps, and how their values
 * are read (RFC 2045, 2183, 2231, 3282, 2557, 1864).  Values arrive
 * unfolded; what is kept is copied into the message's pool. */
#ifndef FACTEUR_MIME_MIME_HEADER_H
#define FACTEUR_MIME_MIME_HEADER_H

#include <stdbool.h>

#include "core/buf.h"
#include "core/str.h"
#include "mime/mime_parse.h"
#include "mime/mime_pool.h"

enum mime_header_kind {
	MIME_HDR_NONE = -1,
	MIME_HDR_TYPE = MIME_ENV_COUNT,	/* 0.. are enum mime_env_field */
	MIME_HDR_ENCODING,
	MIME_HDR_DISPOSITION,
	MIME_HDR_ID,
	MIME_HDR_DESCRIPTION,
	MIME_HDR_LANGUAGE,
	MIME_HDR_LOCATION,
	MIME_HDR_MD5,
};

/* Which field a name is; envelope fields only for message headers. */
enum mime_header_kind mime_header_lookup(struct str name, bool message);
/* Read a value into the part.  -1 when the pool is full (the value is
 * then not kept). */
int	 mime_header_apply(struct mime_pool *pool, struct mime_part *part,
	    enum mime_header_kind kind, struct str value);

/* One field of a header block held in memory (for HEADER.FIELDS and
 * SEARCH HEADER): raw is the whole field with its folding and final
 * line break, value what follows the colon (still folded).  A line
 * without a colon is a field with an empty name and no value. */
struct mime_header_field {
	struct str	 name;
	struct str	 value;
	struct str	 raw;
};

/* The field at *ip in block (a part's [hdr_off, body_off)); 1, or 0 at
 * the blank line that ends the header or at the end of the block. */
int	 mime_header_next(struct str block, size_t *ip,
	    struct mime_header_field *f);
/* value unfolded (line breaks of folding removed), leading and
 * trailing white space dropped. */
int	 mime_header_unfold(struct buf *out, struct str value);

/* Lexical helpers, also for mime_2047.c and mime_envelope.c.  Each
 * takes the position *ip in s and moves it. */
void	 mime_header_skip_cfws(struct str s, size_t *ip);
bool	 mime_header_is_tspecial(unsigned char c);
/* A MIME token (RFC 2045 §5.1, 8-bit bytes allowed); empty if none. */
struct str mime_header_token(struct str s, size_t *ip);

#endif
