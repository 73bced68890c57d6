/* imap_parse.h: the IMAP4rev2/IMAP4rev1 command parser (RFC 9051, RFC
 * 3501 and the extensions listed in doc/IMAP.md).  No I/O: the caller
 * feeds whatever bytes arrived and gets events back.
 *
 * Two layers:
 *  - the reader (imap_parse.c): resumable byte state machine; tag,
 *    command name, then a tree of arguments (atoms, quoted strings,
 *    literals of every kind, lists, NIL, FETCH section brackets), with
 *    the line, literal, argument and nesting limits, error recovery at
 *    the next line end (never inside a literal) and the synchronising
 *    literal hand-shake;
 *  - the command grammar (imap_parse_cmd.c, imap_parse_fetch.c,
 *    imap_search_parse.c, over the values of imap_parse_value.c): each
 *    command's arguments typed and validated (sequence sets, dates,
 *    flags, FETCH items and sections, STORE, SEARCH keys, ...).
 *
 *	struct imap_parse_event ev;
 *	size_t used;
 *	for (;;) switch (imap_parse_feed(p, in, len, &used, &ev)) { ... }
 *
 * Everything an event points to lives in the parser and stays valid
 * until the next imap_parse_feed() or imap_parse_free(). */
#ifndef FACTEUR_IMAP_IMAP_PARSE_H
#define FACTEUR_IMAP_IMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/str.h"

/* --- limits ----------------------------------------------------------- */

/* A command's bytes outside its literals, line ends included (Dovecot:
 * 64 KiB). */
#define IMAP_PARSE_LINE_MAX		(64 * 1024)
/* Argument tree nodes in one command (each needs >= 2 line bytes). */
#define IMAP_PARSE_ARGS_MAX		4096
/* List nesting before and after authentication (Dovecot login: 1). */
#define IMAP_PARSE_DEPTH_PREAUTH	1
#define IMAP_PARSE_DEPTH_MAX		32
#define IMAP_PARSE_TAG_MAX		64
/* Literal bytes in one command before authentication (LOGIN, ID). */
#define IMAP_PARSE_PREAUTH_LITERAL	8192
/* RFC 7888 LITERAL- (and IMAP4rev2): {n+} only up to this size. */
#define IMAP_PARSE_NONSYNC_MINUS	4096
/* NOT / OR / parentheses nesting in a SEARCH program. */
#define IMAP_SEARCH_DEPTH_MAX		256
/* Parts in a section specifier ("1.2.3"). */
#define IMAP_SECTION_PARTS_MAX		32
/* RFC 2971 §3.3: 30 field-value pairs. */
#define IMAP_ID_PAIRS_MAX		30

/* --- the argument tree ---------------------------------------------- */

enum imap_arg_type {
	IMAP_ARG_ATOM,		/* also flags "\Seen", sets "1:*", ... */
	IMAP_ARG_NIL,		/* the atom NIL, any case */
	IMAP_ARG_QUOTED,	/* "..." with \" and \\ undone */
	IMAP_ARG_LITERAL,	/* {n} {n+}; lit8 for ~{n} ~{n+} */
	IMAP_ARG_LIST,		/* ( ... ) */
	IMAP_ARG_SECTION,	/* FETCH only: PREFIX[ ... ]SUFFIX */
};

struct imap_arg {
	enum imap_arg_type	 type;
	bool			 lit8;	/* literal8 (RFC 3516) */
	struct str		 str;	/* text; SECTION: "BODY.PEEK" */
	struct str		 suffix;/* SECTION: what follows ']' */
	const struct imap_arg	*list;	/* LIST, SECTION: the children */
	size_t			 count;
};

/* --- values ---------------------------------------------------------- */

/* A sequence set: ranges as written; 0 stands for '*'.  last is the
 * SEARCHRES "$" (RFC 5182), which is accepted alone only. */
#define IMAP_SEQ_STAR	0u
struct imap_seq_range {
	uint32_t	lo, hi;
};
struct imap_seqset {
	const struct imap_seq_range	*r;
	size_t				 n;
	bool				 last;
};

struct imap_date {
	uint16_t	year;
	uint8_t		mon;	/* 1..12 */
	uint8_t		day;	/* 1..31, checked against the month */
};

struct imap_datetime {
	struct imap_date	date;
	uint8_t			hour, min, sec;
	int16_t			zone;	/* minutes east of UTC */
};

/* System flags (\Recent only as a SEARCH key: clients cannot set it). */
#define IMAP_FLAG_ANSWERED	0x01
#define IMAP_FLAG_FLAGGED	0x02
#define IMAP_FLAG_DELETED	0x04
#define IMAP_FLAG_SEEN		0x08
#define IMAP_FLAG_DRAFT		0x10

struct imap_flags {
	unsigned		 sys;	/* IMAP_FLAG_* */
	const struct str	*kw;	/* keywords as sent */
	size_t			 nkw;
};

/* A mailbox argument: the wire form and the name it stands for (UTF-8;
 * "INBOX" in any case, also as the first component, is upper-cased).
 * Names are mUTF-7 unless IMAP_PARSE_F_UTF8 is set.  name.p is NULL
 * when the wire form cannot be decoded; err (static) says why the name
 * is unusable (undecodable or failing imap_utf7_mailbox_check()): the
 * server then answers NO.  LIST patterns are decoded but not checked. */
struct imap_mailbox {
	struct str	 wire;
	struct str	 name;	/* NUL-terminated */
	const char	*err;
};

/* --- FETCH ------------------------------------------------------------ */

enum imap_fetch_item {
	IMAP_FETCH_ENVELOPE,
	IMAP_FETCH_FLAGS,
	IMAP_FETCH_INTERNALDATE,
	IMAP_FETCH_RFC822,
	IMAP_FETCH_RFC822_HEADER,
	IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_RFC822_TEXT,
	IMAP_FETCH_BODY,		/* BODY without a section */
	IMAP_FETCH_BODYSTRUCTURE,
	IMAP_FETCH_UID,
	IMAP_FETCH_MODSEQ,		/* RFC 7162 */
	IMAP_FETCH_BODY_SECTION,	/* BODY[...], BODY.PEEK[...] */
	IMAP_FETCH_BINARY,		/* RFC 3516 BINARY[...], .PEEK */
	IMAP_FETCH_BINARY_SIZE,
};

enum imap_section_text {
	IMAP_SECTION_ALL = 0,		/* [] or [1.2] */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME,		/* only after a part number */
};

struct imap_section {
	const uint32_t		*part;	/* "1.2" -> {1, 2} */
	size_t			 nparts;
	enum imap_section_text	 text;
	const struct str	*fields;/* HEADER.FIELDS(.NOT) names */
	size_t			 nfields;
};

struct imap_fetch_att {
	enum imap_fetch_item	item;
	bool			peek;	/* BODY.PEEK, BINARY.PEEK */
	struct imap_section	sec;
	bool			partial;/* <offset.count> */
	uint64_t		offset, count;
};

/* --- SEARCH ---------------------------------------------------------- */

enum imap_search_op {
	IMAP_SK_AND,		/* ( ... ), and the program itself */
	IMAP_SK_OR,
	IMAP_SK_NOT,
	IMAP_SK_SEQSET,
	IMAP_SK_ALL, IMAP_SK_ANSWERED, IMAP_SK_DELETED, IMAP_SK_DRAFT,
	IMAP_SK_FLAGGED, IMAP_SK_NEW, IMAP_SK_OLD, IMAP_SK_RECENT,
	IMAP_SK_SEEN, IMAP_SK_UNANSWERED, IMAP_SK_UNDELETED,
	IMAP_SK_UNDRAFT, IMAP_SK_UNFLAGGED, IMAP_SK_UNSEEN,
	IMAP_SK_BCC, IMAP_SK_BODY, IMAP_SK_CC, IMAP_SK_FROM,
	IMAP_SK_SUBJECT, IMAP_SK_TEXT, IMAP_SK_TO,
	IMAP_SK_KEYWORD, IMAP_SK_UNKEYWORD,
	IMAP_SK_HEADER,
	IMAP_SK_BEFORE, IMAP_SK_ON, IMAP_SK_SINCE,
	IMAP_SK_SENTBEFORE, IMAP_SK_SENTON, IMAP_SK_SENTSINCE,
	IMAP_SK_LARGER, IMAP_SK_SMALLER,
	IMAP_SK_OLDER, IMAP_SK_YOUNGER,	/* RFC 5032 WITHIN */
	IMAP_SK_UID,
	IMAP_SK_MODSEQ,			/* RFC 7162 */
	IMAP_SK_COUNT_
};

enum imap_modseq_entry {
	IMAP_MODSEQ_ENTRY_NONE,
	IMAP_MODSEQ_ENTRY_PRIV,
	IMAP_MODSEQ_ENTRY_SHARED,
	IMAP_MODSEQ_ENTRY_ALL,
};

struct imap_search_key {
	enum imap_search_op	 op;
	struct imap_search_key	*next;	/* next key of the same AND */
	union {
		struct str		 str;	/* strings, KEYWORD */
		struct {
			struct str	 name, value;
		}			 header;
		struct imap_date	 date;
		uint64_t		 num;	/* LARGER ... YOUNGER */
		struct imap_seqset	 set;	/* SEQSET, UID */
		struct imap_search_key	*sub;	/* AND (first), NOT */
		struct {
			struct imap_search_key *a, *b;
		}			 or;
		struct {
			uint64_t		 value;
			struct str		 entry;	/* "/flags/\Seen" */
			enum imap_modseq_entry	 type;
		}			 modseq;
	} u;
};

/* ESEARCH RETURN options (RFC 4731, RFC 5182 SAVE). */
#define IMAP_SEARCH_RET_MIN	0x01
#define IMAP_SEARCH_RET_MAX	0x02
#define IMAP_SEARCH_RET_ALL	0x04
#define IMAP_SEARCH_RET_COUNT	0x08
#define IMAP_SEARCH_RET_SAVE	0x10

struct imap_search {
	bool			 has_return;	/* ESEARCH answer wanted */
	unsigned		 ret;		/* IMAP_SEARCH_RET_*; "RETURN
						 * ()" means ALL */
	struct str		 charset;	/* upper-cased; "" if none */
	struct imap_search_key	*root;		/* IMAP_SK_AND */
};

/* --- commands ---------------------------------------------------------- */

enum imap_cmd_id {
	IMAP_CMD_NONE = 0,
	IMAP_CMD_CAPABILITY, IMAP_CMD_NOOP, IMAP_CMD_LOGOUT,
	IMAP_CMD_STARTTLS, IMAP_CMD_AUTHENTICATE, IMAP_CMD_LOGIN,
	IMAP_CMD_ENABLE, IMAP_CMD_ID,
	IMAP_CMD_SELECT, IMAP_CMD_EXAMINE, IMAP_CMD_CREATE,
	IMAP_CMD_DELETE, IMAP_CMD_RENAME, IMAP_CMD_SUBSCRIBE,
	IMAP_CMD_UNSUBSCRIBE, IMAP_CMD_LIST, IMAP_CMD_LSUB,
	IMAP_CMD_NAMESPACE, IMAP_CMD_STATUS, IMAP_CMD_APPEND,
	IMAP_CMD_IDLE, IMAP_CMD_CHECK, IMAP_CMD_CLOSE, IMAP_CMD_UNSELECT,
	IMAP_CMD_EXPUNGE, IMAP_CMD_SEARCH, IMAP_CMD_FETCH, IMAP_CMD_STORE,
	IMAP_CMD_COPY, IMAP_CMD_MOVE, IMAP_CMD_SORT, IMAP_CMD_THREAD,
	IMAP_CMD_COUNT_
};

/* SPECIAL-USE attributes (RFC 6154), CREATE ... (USE (...)). */
#define IMAP_USE_ALL		0x01
#define IMAP_USE_ARCHIVE	0x02
#define IMAP_USE_DRAFTS		0x04
#define IMAP_USE_FLAGGED	0x08
#define IMAP_USE_JUNK		0x10
#define IMAP_USE_SENT		0x20
#define IMAP_USE_TRASH		0x40

/* LIST-EXTENDED (RFC 5258, 6154, 5819). */
#define IMAP_LIST_SEL_SUBSCRIBED	0x01
#define IMAP_LIST_SEL_REMOTE		0x02
#define IMAP_LIST_SEL_RECURSIVEMATCH	0x04
#define IMAP_LIST_SEL_SPECIAL_USE	0x08
#define IMAP_LIST_RET_SUBSCRIBED	0x01
#define IMAP_LIST_RET_CHILDREN		0x02
#define IMAP_LIST_RET_SPECIAL_USE	0x04
#define IMAP_LIST_RET_STATUS		0x08

/* STATUS items. */
#define IMAP_STATUS_MESSAGES		0x01
#define IMAP_STATUS_UIDNEXT		0x02
#define IMAP_STATUS_UIDVALIDITY		0x04
#define IMAP_STATUS_UNSEEN		0x08
#define IMAP_STATUS_DELETED		0x10
#define IMAP_STATUS_SIZE		0x20
#define IMAP_STATUS_RECENT		0x40
#define IMAP_STATUS_HIGHESTMODSEQ	0x80

enum imap_store_op { IMAP_STORE_SET, IMAP_STORE_ADD, IMAP_STORE_REMOVE };

enum imap_sort_key {
	IMAP_SORT_ARRIVAL, IMAP_SORT_CC, IMAP_SORT_DATE, IMAP_SORT_FROM,
	IMAP_SORT_SIZE, IMAP_SORT_SUBJECT, IMAP_SORT_TO,
	IMAP_SORT_DISPLAYFROM, IMAP_SORT_DISPLAYTO,	/* RFC 5957 */
};

struct imap_sort_crit {
	enum imap_sort_key	key;
	bool			reverse;
};

enum imap_thread_alg { IMAP_THREAD_ORDEREDSUBJECT, IMAP_THREAD_REFERENCES };

struct imap_command {
	struct str		 tag;
	enum imap_cmd_id	 id;
	bool			 uid;	/* UID FETCH, UID EXPUNGE, ... */
	const struct imap_arg	*args;	/* the tree, top level */
	size_t			 argc;
	union {
		struct {
			struct str	 user, pass;
		} login;
		struct {
			struct str	 mech;	/* upper-cased */
			bool		 has_ir;/* SASL-IR; "=" is empty */
			struct str	 ir;
		} auth;
		struct {
			const struct str *caps;	/* upper-cased */
			size_t		 n;
		} enable;
		struct {
			const struct str *kv;	/* key, value, key, ...;
						 * NIL value: p == NULL */
			size_t		 n;	/* pairs; 0 for NIL */
		} id;
		struct {
			struct imap_mailbox	mbox;
			bool			condstore, qresync;
			uint32_t		uidvalidity;
			uint64_t		modseq;
			bool			has_known_uids;
			struct imap_seqset	known_uids;
			bool			has_seq_match;
			struct imap_seqset	match_seqs, match_uids;
		} select;			/* SELECT, EXAMINE */
		struct {
			struct imap_mailbox	mbox;
			unsigned		use;	/* IMAP_USE_* */
		} create;
		struct {
			struct imap_mailbox	mbox;
		} mailbox;			/* DELETE, (UN)SUBSCRIBE */
		struct {
			struct imap_mailbox	from, to;
		} rename;
		struct {
			bool			 extended;
			unsigned		 sel;	/* IMAP_LIST_SEL_* */
			struct imap_mailbox	 ref;
			const struct imap_mailbox *pat;
			size_t			 npat;
			unsigned		 ret;	/* IMAP_LIST_RET_* */
			unsigned		 status;/* IMAP_STATUS_* */
		} list;				/* LIST, LSUB */
		struct {
			struct imap_mailbox	mbox;
			unsigned		items;	/* IMAP_STATUS_* */
		} status;
		struct {
			struct imap_mailbox	mbox;
			struct imap_flags	flags;
			bool			has_date;
			struct imap_datetime	date;
			struct str		msg;
			bool			binary;	/* ~{n} */
		} append;
		struct {
			struct imap_seqset	 set;
			const struct imap_fetch_att *att;
			size_t			 n;
			bool			 has_changedsince;
			uint64_t		 changedsince;
			bool			 vanished;
		} fetch;
		struct {
			struct imap_seqset	set;
			enum imap_store_op	op;
			bool			silent;
			struct imap_flags	flags;
			bool			has_unchangedsince;
			uint64_t		unchangedsince;
		} store;
		struct {
			struct imap_seqset	set;
			struct imap_mailbox	mbox;
		} copy;				/* COPY, MOVE */
		struct {
			struct imap_seqset	set;
		} expunge;			/* UID EXPUNGE only */
		struct imap_search	search;
		struct {
			const struct imap_sort_crit *crit;
			size_t			 n;
			struct imap_search	 search;
		} sort;
		struct {
			enum imap_thread_alg	alg;
			struct imap_search	search;
		} thread;
	} u;
};

/* "FETCH", "SEARCH", ... (without "UID"). */
const char	*imap_parse_cmd_name(enum imap_cmd_id id);
/* "FROM", "SENTBEFORE", ...; "" for IMAP_SK_AND and IMAP_SK_SEQSET. */
const char	*imap_search_parse_key_name(enum imap_search_op op);

/* --- the parser ------------------------------------------------------- */

/* Parser flags, changed between commands as the session moves on. */
#define IMAP_PARSE_F_AUTH	0x01	/* authenticated: nesting 32, not 1 */
#define IMAP_PARSE_F_UTF8	0x02	/* mailbox names are UTF-8 (ENABLE
					 * IMAP4rev2 or UTF8=ACCEPT) */
#define IMAP_PARSE_F_LITERAL_MINUS 0x04	/* {n+} only up to 4096 bytes */

enum imap_parse_status {
	IMAP_PARSE_ERROR = -1,	/* malformed: "<tag> <resp> [<code>] <text>"
				 * ("*" when the tag is unknown) */
	IMAP_PARSE_MORE = 0,	/* all input used: feed more */
	IMAP_PARSE_COMMAND,	/* ev->cmd is a complete command */
	IMAP_PARSE_LITERAL,	/* a synchronising literal was announced:
				 * call imap_parse_literal_accept() and
				 * send "+ Ready", or _reject() and answer
				 * BAD or NO [TOOBIG] */
	IMAP_PARSE_LINE,	/* ev->line: a raw line asked for with
				 * imap_parse_want_line() */
};

struct imap_parse_event {
	struct str		 tag;	/* "" when unknown */
	enum imap_cmd_id	 id;	/* IMAP_CMD_NONE when unknown */
	bool			 uid;
	/* IMAP_PARSE_COMMAND */
	const struct imap_command *cmd;
	/* IMAP_PARSE_LITERAL */
	uint64_t		 lit_size;
	bool			 lit8;
	bool			 lit_too_big;	/* over the literal limit */
	bool			 lit_message;	/* APPEND's message */
	/* IMAP_PARSE_ERROR; all static strings */
	const char		*resp;	/* "BAD", or "NO" (BADCHARSET, USEATTR) */
	const char		*code;	/* "TOOBIG", ... or NULL */
	const char		*text;
	/* IMAP_PARSE_LINE */
	struct str		 line;	/* without its line end */
};

/* line_max: a command's bytes outside literals (IMAP_PARSE_LINE_MAX);
 * literal_max: literal bytes in one command (the message size limit);
 * before IMAP_PARSE_F_AUTH at most IMAP_PARSE_PREAUTH_LITERAL. */
struct imap_parser *imap_parse_new(size_t line_max, uint64_t literal_max);
void	imap_parse_free(struct imap_parser **pp);
void	imap_parse_set_flags(struct imap_parser *p, unsigned flags);
unsigned imap_parse_flags(const struct imap_parser *p);

/* Read in[0..len).  *used_r: bytes consumed (the caller drops them);
 * every event but MORE consumes at least one byte.  ERROR events come
 * as soon as the problem is seen; the rest of that command (up to its
 * line end, non-synchronising literals skipped whole) is then dropped
 * silently.  A command's data stays valid until the next call. */
enum imap_parse_status imap_parse_feed(struct imap_parser *p,
	    const char *in, size_t len, size_t *used_r,
	    struct imap_parse_event *ev);
/* After IMAP_PARSE_LITERAL: read the literal (0), or -1 when it is over
 * the limit (lit_too_big): the caller must then reject it. */
int	imap_parse_literal_accept(struct imap_parser *p);
/* After IMAP_PARSE_LITERAL: drop the command; the client sends no
 * literal and its next line is a new command. */
void	imap_parse_literal_reject(struct imap_parser *p);
/* Deliver the next line raw (IMAP_PARSE_LINE): SASL responses after
 * AUTHENTICATE, "DONE" after IDLE.  An over-long line gives an ERROR
 * and is skipped. */
void	imap_parse_want_line(struct imap_parser *p);
/* Forget everything buffered (STARTTLS). */
void	imap_parse_reset(struct imap_parser *p);
/* The last event's data is no longer needed: give all memory back now
 * rather than at the next feed (a connection going idle, e.g. in IDLE).
 * Does nothing in the middle of a command. */
void	imap_parse_trim(struct imap_parser *p);

/* --- value parsers (also used by the server for its own needs) -------- */

/* nz-number (RFC 9051): 1..4294967295, no leading zero.  0 or -1. */
int	imap_parse_nz_number(struct str s, uint32_t *r);
/* number64: 0..2^63-1 decimal, no sign.  0 or -1. */
int	imap_parse_number64(struct str s, uint64_t *r);
/* sequence-set (or "$" alone) into set, its ranges stored in r, which
 * has room for imap_parse_seqset_count(s) of them.  0 or -1. */
size_t	imap_parse_seqset_count(struct str s);
int	imap_parse_seqset(struct str s, struct imap_seq_range *r,
	    struct imap_seqset *set);
/* date: "d-Mon-yyyy" (1 or 2 digit day); 0 or -1. */
int	imap_parse_date(struct str s, struct imap_date *d);
/* date-time: "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be " d"). */
int	imap_parse_datetime(struct str s, struct imap_datetime *dt);
/* Seconds since the epoch of a date-time. */
time_t	imap_parse_datetime_time(const struct imap_datetime *dt);

#endif
