/* smtp_parse.h: the pure SMTP tokenizers (no I/O, no allocation beyond
 * what is documented).  Resumable: callers feed whatever bytes arrived.
 *
 *   smtp_parse_line()   finds one command line in buffered input
 *   smtp_parse_verb()   splits a line into verb and arguments
 *   smtp_parse_mail()   MAIL FROM:<path> [params]
 *   smtp_parse_rcpt()   RCPT TO:<path> [params]
 *   smtp_data_*()       the DATA byte state machine (CRLF.CRLF only,
 *                       dot-unstuffing, bare CR/LF detection, limits)
 */
#ifndef FACTEUR_SMTP_SMTP_PARSE_H
#define FACTEUR_SMTP_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"
#include "core/str.h"

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_HELP,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
};

/* Find the end of one command line in in[0..len).
 * Returns >0: bytes of the line including its terminator (CRLF, or a
 *             bare LF, which commands tolerate); *line_r is the line
 *             without the terminator.
 *          0: no terminator yet and len < max: need more input.
 *         -1: no terminator within max bytes: the line is too long.
 *             The caller replies 500 and calls smtp_parse_skip_line()
 *             on further input until it returns >0. */
int	smtp_parse_line(const char *in, size_t len, size_t max,
	    struct str *line_r);
/* Discard up to and including the next LF: >0 consumed (line ended),
 * 0 all of it discarded and the line has not ended yet (*consumed_r=len). */
int	smtp_parse_skip_line(const char *in, size_t len, size_t *consumed_r);

/* Split "VERB args": the verb is case-insensitive, separated from its
 * arguments by one or more spaces.  Unknown verbs give SMTP_VERB_UNKNOWN.
 * args has no leading space; trailing spaces are removed. */
enum smtp_verb	smtp_parse_verb(struct str line, struct str *args_r);
/* "MAIL", "STARTTLS", ...; "UNKNOWN" for SMTP_VERB_UNKNOWN or junk. */
const char	*smtp_verb_name(enum smtp_verb verb);

enum smtp_body {
	SMTP_BODY_UNSPEC = 0,
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME,
};

enum smtp_ret {
	SMTP_RET_UNSPEC = 0,
	SMTP_RET_FULL,
	SMTP_RET_HDRS,
};

/* DSN NOTIFY flags (RFC 3461) */
#define SMTP_NOTIFY_NEVER	0x01
#define SMTP_NOTIFY_SUCCESS	0x02
#define SMTP_NOTIFY_FAILURE	0x04
#define SMTP_NOTIFY_DELAY	0x08

/* A parsed address, copied into fixed arrays sized by the RFC limits.
 * An empty path ("<>") has addr[0] == '\0'.  The local part keeps its
 * original form (quoted-string included); domain is as written, with
 * address literals ("[192.0.2.1]") kept verbatim.  A source route
 * ("<@a,@b:u@c>") is checked and dropped (RFC 5321 §C).  Limits: local
 * part SMTP_LOCALPART_MAX, domain SMTP_DOMAIN_MAX, and the path with its
 * brackets SMTP_PATH_MAX (§4.5.3.1.3), so strlen(addr) <= 254. */
struct smtp_path {
	char	addr[SMTP_PATH_MAX + 1];	/* "local@domain", NUL-terminated */
	size_t	local_len;			/* bytes of addr before '@' */
	bool	utf8;				/* holds non-ASCII */
};

struct smtp_mail_args {
	struct smtp_path	path;
	bool			has_size;
	uint64_t		size;		/* SIZE= */
	enum smtp_body		body;		/* BODY= */
	bool			smtputf8;	/* SMTPUTF8 */
	enum smtp_ret		ret;		/* RET= */
	char			envid[101];	/* ENVID= xtext as received
						 * (RFC 3461: <= 100) */
	char			auth[SMTP_PATH_MAX + 3]; /* AUTH= xtext or "<>"
						 * as received, or "" */
};

struct smtp_rcpt_args {
	struct smtp_path	path;
	unsigned		notify;		/* SMTP_NOTIFY_* or 0 */
	char			orcpt[SMTP_PARAM_MAX + 1]; /* ORCPT= as received
						 * (RFC 3461: <= 500), or "" */
};

/* What went wrong, as an SMTP reply: code, enhanced code, text. */
struct smtp_parse_err {
	int		 code;		/* 501, 555, 553, ... */
	const char	*ecode;		/* "5.5.4" */
	const char	*text;		/* static string */
};

/* args is what follows the verb ("FROM:<a@b> SIZE=10").  "FROM:" is
 * case-insensitive; spaces after the colon are tolerated; the angle
 * brackets are required.  Parameters are read first: non-ASCII (well-
 * formed UTF-8) in the path is allowed only when this same command
 * carries SMTPUTF8 (RFC 6531 §3.4), else 553 5.6.7.  Whether SMTPUTF8,
 * BINARYMIME, ... were advertised is the caller's business.  Errors:
 * 501 5.5.4 command or parameter syntax, 501 5.1.7 bad sender address,
 * 555 5.5.4 unknown parameter.  0 or -1. */
int	smtp_parse_mail(struct str args, struct smtp_mail_args *out,
	    struct smtp_parse_err *err_r);
/* "TO:<path> [NOTIFY=..] [ORCPT=..]"; "<postmaster>" without a domain is
 * accepted, in any case (addr = "postmaster", local_len = 10).  "<>" is
 * refused.  utf8_ok: the transaction's MAIL carried SMTPUTF8 (non-ASCII
 * path, and raw UTF-8 in ORCPT per RFC 6533).  Errors as for MAIL, with
 * 501 5.1.3 for a bad recipient address.  0 or -1. */
int	smtp_parse_rcpt(struct str args, bool utf8_ok,
	    struct smtp_rcpt_args *out, struct smtp_parse_err *err_r);

/* Validate a HELO/EHLO argument: a domain or an address literal
 * ("[192.0.2.1]", "[IPv6:2001:db8::1]").  Lenient on purpose, since the
 * name is only informational: one label is enough ("localhost"),
 * labels may hold '_' and '-' anywhere (real clients send both) and
 * UTF-8 (RFC 6531 U-labels), one trailing dot is allowed, no empty
 * label, ASCII labels <= 63, whole <= SMTP_DOMAIN_MAX. */
bool	smtp_parse_helo_ok(struct str arg);

/* --- DATA ------------------------------------------------------------ */

enum smtp_data_status {
	SMTP_DATA_MORE = 0,	/* all input consumed, need more */
	SMTP_DATA_DONE,		/* saw CRLF.CRLF; *consumed_r stops after it */
	SMTP_DATA_LINE_TOO_LONG,/* a line passed SMTP_DATA_LINE_MAX: reply 500
				 * and close the connection */
};
/* A line's length counts every byte up to and including its LF (a bare
 * LF ends a line for this count).  Once DONE or LINE_TOO_LONG, further
 * feeds return the same status with *consumed_r = 0: call
 * smtp_data_init() for the next message. */

/* Reasons a finished message is refused (checked after DONE). */
#define SMTP_DATA_ERR_BARE_LF	0x01	/* bare LF seen */
#define SMTP_DATA_ERR_BARE_CR	0x02	/* bare CR seen */
#define SMTP_DATA_ERR_TOO_BIG	0x04	/* passed max_size */
#define SMTP_DATA_ERR_HEADER	0x08	/* header block passed max_header */

struct smtp_data {
	/* limits, set by smtp_data_init */
	uint64_t	max_size;
	size_t		max_header;
	/* state */
	int		state;		/* private */
	size_t		line_len;	/* bytes in the current line */
	uint64_t	size;		/* message bytes after unstuffing
					 * (all, even past max_size) */
	size_t		header_len;	/* bytes of the header block so far,
					 * its ending empty line included */
	bool		in_header;	/* still before the first empty line */
	unsigned	errors;		/* SMTP_DATA_ERR_* */
	bool		eightbit;	/* saw a byte >= 0x80 */
};

/* The output callback receives unstuffed message bytes, with CRLF line
 * ends, never the final ".CRLF", in spans as long as the input allows
 * (a dot-stuffed line splits a span).  Output is exactly the first
 * max_size bytes of the message, then the callback is no longer called;
 * the state machine still runs to the end marker.  out may be NULL.
 * The callback returns 0, or -1 to abort (feed returns -1; the state
 * is then unusable). */
typedef int (*smtp_data_out_fn)(void *arg, const char *p, size_t n);

void	smtp_data_init(struct smtp_data *d, uint64_t max_size,
	    size_t max_header);
/* Feed in[0..len): returns an smtp_data_status, or -1 when out failed.
 * *consumed_r is how many input bytes were used; after DONE the rest
 * of the input is the next (pipelined) command. */
int	smtp_data_feed(struct smtp_data *d, const char *in, size_t len,
	    size_t *consumed_r, smtp_data_out_fn out, void *arg);

/* BDAT chunks: the same checks (bare CR/LF unless binary, size, header,
 * 8-bit) without dot-unstuffing, end marker or line-length limit (the
 * client announced the chunk size).  A CR that ends a chunk pairs with
 * an LF that starts the next one.  Pass the same binary for every chunk
 * of a message (BODY=BINARYMIME).  Returns 0, or -1 when out failed. */
int	smtp_data_feed_chunk(struct smtp_data *d, const char *in, size_t len,
	    bool binary, smtp_data_out_fn out, void *arg);
/* After the LAST chunk: a non-empty message that does not end in CRLF
 * gets the missing "\r\n" (or "\n" after a final CR) appended through
 * out and counted in size (RFC 3030 leaves this open; Maildir readers
 * expect it).  Returns 0, or -1 when out failed. */
int	smtp_data_finish_chunks(struct smtp_data *d, smtp_data_out_fn out,
	    void *arg);

#endif
