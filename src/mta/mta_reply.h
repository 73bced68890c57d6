/* mta_reply.h: the SMTP client's reply parser (pure, resumable, fuzzed).
 *
 * A reply is one or more lines "NNN-text" ... "NNN text" (RFC 5321
 * §4.2).  The caller keeps the unconsumed bytes in its buffer and calls
 * mta_reply_parse() on all of them each time more arrive; the parser
 * remembers how far it has checked (r->off), so every byte is looked at
 * once.  It returns the length of the whole reply once its last line is
 * in, 0 while more is needed, -1 when the peer broke the grammar:
 *
 *   - a line that does not start with 3 digits, the first 2 to 5,
 *     followed by '-', ' ' or the line end;
 *   - a code that differs from the first line's;
 *   - a line longer than MTA_REPLY_LINE_MAX, or more than
 *     MTA_REPLY_LINES_MAX lines.
 *
 * Lines end with CRLF; a bare LF is accepted too (this is what peers
 * say to us: being lenient costs nothing).
 *
 * The result: the code, the enhanced status code (RFC 3463 "X.Y.Z", when
 * the first line starts with one whose class matches the code; it is
 * then taken off the start of every line), and the text of every line
 * joined by spaces (tabs as spaces, other control bytes as '?'), cut to
 * MTA_REPLY_TEXT_MAX - 1 bytes.  With r->ehlo set before parsing, the
 * extension keywords of an EHLO reply (every line but the first) are
 * collected into r->ext. */
#ifndef FACTEUR_MTA_MTA_REPLY_H
#define FACTEUR_MTA_MTA_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 5321 §4.5.3.1.5 says 512 octets; real servers send longer ones. */
#define MTA_REPLY_LINE_MAX	4096
#define MTA_REPLY_LINES_MAX	200
#define MTA_REPLY_TEXT_MAX	512
#define MTA_STATUS_MAX		16	/* "5.123.123" and a NUL */

/* EHLO extensions we use */
#define MTA_EXT_PIPELINING	0x0001
#define MTA_EXT_SIZE		0x0002
#define MTA_EXT_8BITMIME	0x0004
#define MTA_EXT_SMTPUTF8	0x0008
#define MTA_EXT_STARTTLS	0x0010
#define MTA_EXT_AUTH		0x0020
#define MTA_EXT_DSN		0x0040
#define MTA_EXT_CHUNKING	0x0080
#define MTA_EXT_ENHANCEDSTATUSCODES 0x0100

/* SASL mechanisms offered after AUTH (or the old AUTH=) */
#define MTA_AUTH_PLAIN		0x01
#define MTA_AUTH_LOGIN		0x02
#define MTA_AUTH_CRAM_MD5	0x04
#define MTA_AUTH_SCRAM_SHA_256	0x08

struct mta_ext {
	unsigned	 flags;		/* MTA_EXT_* */
	uint64_t	 size_max;	/* SIZE n; 0 = no limit given */
	unsigned	 auth;		/* MTA_AUTH_* */
};

struct mta_reply {
	/* set by the caller before the first byte */
	bool		 ehlo;		/* collect extensions into ext */
	/* parser state */
	size_t		 off;		/* bytes of whole lines checked */
	size_t		 nlines;
	size_t		 textlen;
	/* the result, complete once mta_reply_parse() returned > 0 */
	int		 code;		/* 200..559 */
	char		 status[MTA_STATUS_MAX];	/* "5.1.1" or "" */
	char		 text[MTA_REPLY_TEXT_MAX];	/* NUL-terminated */
	struct mta_ext	 ext;
};

/* Reset for the next reply (keeps nothing but the ehlo switch off). */
void	mta_reply_init(struct mta_reply *r);
/* See above: > 0 the reply's length, 0 need more, -1 malformed. */
int	mta_reply_parse(struct mta_reply *r, const char *p, size_t len);
/* The reply as one line for logs and DSNs: "550 5.1.1 text..." */
void	mta_reply_line(const struct mta_reply *r, char *buf, size_t size);
/* An enhanced status code "X.Y.Z" at the start of p: its length, or 0.
 * cls: the class it must have ('2', '4', '5'), or 0 for any. */
size_t	mta_reply_status_len(const char *p, size_t len, char cls);

#endif
