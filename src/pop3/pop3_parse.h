/* pop3_parse.h: POP3 tokenizers (RFC 1939, 2449, 5034): pure functions
 * over bytes, no I/O, no allocation; fuzzed by fuzz/fuzz_pop3.c.
 *
 *  - the line finder (resumable: fed the session's input buffer as it
 *    grows; over-long lines are refused whole and skipped to their LF);
 *  - the command line: keyword and arguments;
 *  - numbers, base64, SASL PLAIN;
 *  - Maildir file names: base name, size, flags, and the UIDL made from
 *    the base name;
 *  - the RETR/TOP transformer: dot-stuffing, CRLF line ends, TOP's line
 *    count, resumable at any byte. */
#ifndef FACTEUR_POP3_POP3_PARSE_H
#define FACTEUR_POP3_POP3_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

/* RFC 1939 §7: a unique-id is 1 to 70 characters in 0x21..0x7E. */
#define POP3_UIDL_MAX		70

/* --- lines ------------------------------------------------------------ */

struct pop3_lexer {
	size_t	max;		/* longest command line, line end included */
	size_t	long_max;	/* PASS and AUTH lines, SASL responses */
	bool	sasl;		/* the next line answers a SASL challenge */
	bool	skipping;	/* discarding the rest of an over-long line */
	size_t	scanned;	/* bytes already searched for LF */
};

enum pop3_lex {
	POP3_LEX_MORE,		/* no complete line yet */
	POP3_LEX_LINE,		/* *line_r holds one (without its line end) */
	POP3_LEX_TOOLONG,	/* over the limit: "-ERR line too long" */
};

void	pop3_lex_init(struct pop3_lexer *lx, size_t max, size_t long_max);
/* Look at the buffered input p[0..len).  *used_r is how many bytes the
 * caller must drop from the front of its buffer after handling the
 * result (it may be > 0 with POP3_LEX_MORE while skipping); nothing
 * else may change the buffer between calls but appending.  A line ends
 * with CRLF or a bare LF; the CR is not part of *line_r. */
enum pop3_lex	pop3_lex_line(struct pop3_lexer *lx, const char *p,
		    size_t len, struct str *line_r, size_t *used_r);
/* Forget buffered state (STLS threw the input away). */
void	pop3_lex_reset(struct pop3_lexer *lx);

/* --- commands --------------------------------------------------------- */

enum pop3_verb {
	POP3_VERB_UNKNOWN,
	POP3_VERB_CAPA,
	POP3_VERB_USER,
	POP3_VERB_PASS,
	POP3_VERB_AUTH,
	POP3_VERB_APOP,
	POP3_VERB_STLS,
	POP3_VERB_STAT,
	POP3_VERB_LIST,
	POP3_VERB_UIDL,
	POP3_VERB_RETR,
	POP3_VERB_TOP,
	POP3_VERB_DELE,
	POP3_VERB_RSET,
	POP3_VERB_NOOP,
	POP3_VERB_QUIT,
};

#define POP3_ARGV_MAX		2	/* TOP n lines; AUTH mech response */
#define POP3_KEYWORD_MAX	4	/* RFC 2449 §3: 3 or 4 characters */

struct pop3_cmdline {
	enum pop3_verb	 verb;
	struct str	 keyword;	/* as sent */
	struct str	 rest;		/* everything after "KEYWORD " (PASS) */
	struct str	 argv[POP3_ARGV_MAX];
	size_t		 argc;		/* at most POP3_ARGV_MAX */
	bool		 too_many;	/* more than POP3_ARGV_MAX arguments */
};

/* Split a command line: a keyword of letters, then arguments separated
 * by spaces (runs of spaces and trailing spaces are tolerated).  -1 for
 * an empty line, a keyword that is not 1..4 letters, or a control
 * character outside the PASS argument (which may hold anything but
 * NUL, CR and LF: RFC 1939 lets passwords contain spaces). */
int	pop3_parse_cmd(struct str line, struct pop3_cmdline *out);
const char	*pop3_verb_name(enum pop3_verb verb);

/* A decimal number of 1 to 10 digits fitting in 32 bits: 0 or -1. */
int	pop3_parse_num(struct str s, uint32_t *n_r);

/* --- SASL ------------------------------------------------------------- */

/* Strict base64 (RFC 4648, padded, no spaces) into out[cap]: 0 or -1. */
int	pop3_parse_base64(struct str in, unsigned char *out, size_t cap,
	    size_t *len_r);
/* SASL PLAIN (RFC 4616): authzid NUL authcid NUL passwd.  The authcid
 * and passwd must be non-empty; no other NUL.  0 or -1; the results
 * point into p. */
int	pop3_parse_plain(const unsigned char *p, size_t len, struct str *authz_r,
	    struct str *authc_r, struct str *pass_r);

/* --- Maildir names ---------------------------------------------------- */

struct pop3_mdname {
	struct str	 base;		/* up to the first ',' or ':' */
	bool		 has_size;	/* ",S=SIZE" before the info */
	uint64_t	 size;
	bool		 has_info;	/* ":2," present */
	struct str	 flags;		/* after ":2," */
	uint64_t	 secs;		/* leading "SECS" of the base, or 0 */
	uint64_t	 usecs;		/* ".M<usec>" after it, or 0 */
};

/* Never fails: a name without ",S=" or ":2," just lacks them. */
void	pop3_parse_mdname(struct str name, struct pop3_mdname *out);
/* The UIDL of a base name into out[POP3_UIDL_MAX + 1] (NUL-terminated),
 * returns its length.  Bytes outside 0x21..0x7E and '%' become "%XX"
 * (so distinct names keep distinct UIDLs); a result longer than 70
 * becomes its first 37 bytes, '~' and 32 hex digits of the SHA-256 of
 * the whole base name.  The same base name always gives the same UIDL. */
size_t	pop3_parse_uidl(struct str base, char out[POP3_UIDL_MAX + 1]);
/* The flags with 'S' added in ASCII order (Maildir: flags sorted) into
 * out[size]; -1 when it does not fit. */
int	pop3_parse_add_seen(struct str flags, char *out, size_t size);

/* --- RETR and TOP ----------------------------------------------------- */

struct pop3_stuffer {
	uint64_t	 lines;		/* TOP: body lines still to send */
	size_t		 linelen;	/* bytes of the current line so far */
	bool		 top;		/* stop after the body lines */
	bool		 bol;		/* at the start of a line */
	bool		 cr;		/* the last byte was CR */
	bool		 body;		/* past the empty line after the header */
	bool		 done;		/* TOP sent all it must */
};

/* top: send the header, the empty line and `lines` body lines. */
void	pop3_stuff_init(struct pop3_stuffer *st, bool top, uint64_t lines);
/* Transform in[0..n) into out (room for 2 * n bytes): a '.' starting a
 * line is doubled, a bare LF becomes CRLF.  Returns the bytes written;
 * *used_r is the input consumed (less than n only once st->done). */
size_t	pop3_stuff(struct pop3_stuffer *st, const char *in, size_t n,
	    char *out, size_t *used_r);
/* The end: CRLF when the last line lacked one, then ".\r\n" (out: room
 * for 5 bytes).  Returns the bytes written. */
size_t	pop3_stuff_end(struct pop3_stuffer *st, char *out);

#endif
