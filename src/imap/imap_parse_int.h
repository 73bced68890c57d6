/* imap_parse_int.h: what the parser's own files share (imap_parse.c,
 * imap_parse_value.c, imap_parse_cmd.c, imap_parse_fetch.c,
 * imap_search_parse.c).  Not for the server. */
#ifndef FACTEUR_IMAP_IMAP_PARSE_INT_H
#define FACTEUR_IMAP_IMAP_PARSE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"
#include "imap/imap_parse.h"

/* A node of the tree while it is read: offsets into p->data, siblings
 * linked; imap_parse_finish() lays the tree out as struct imap_arg. */
struct imap_parse_node {
	uint8_t		type;		/* enum imap_arg_type */
	bool		lit8;
	uint32_t	off, len;	/* text in p->data */
	uint32_t	soff, slen;	/* SECTION suffix */
	uint32_t	first, last;	/* children (0: none) */
	uint32_t	next;		/* next sibling (0: none) */
	uint32_t	count;		/* children */
};

struct imap_parse_chunk {
	struct imap_parse_chunk	*next;
	size_t			 used, size;
	max_align_t		 data[];
};

struct imap_parser {
	/* settings */
	size_t		 line_max;
	uint64_t	 literal_max;
	unsigned	 flags;		/* IMAP_PARSE_F_* */
	/* reader state */
	int		 state;
	int		 pending;	/* event of this feed, or MORE */
	bool		 done;		/* an event's data can be released */
	bool		 need_sp;	/* an argument just ended */
	bool		 section;	/* FETCH: '[' opens a section */
	bool		 sect_open;	/* inside PREFIX[ ... ] */
	uint32_t	 cur;		/* node being read */
	bool		 raw;		/* next line is raw (want_line) */
	bool		 skip_raw;	/* skipping an over-long raw line */
	size_t		 line_len;	/* command bytes outside literals */
	size_t		 tag_len;	/* the tag is data[0..tag_len) */
	char		 name[16];	/* command name being read */
	size_t		 name_len;
	enum imap_cmd_id id;
	bool		 uid;
	/* literal being announced or read */
	uint64_t	 lit_size, lit_left, lit_total;
	int		 lit_digits;
	bool		 lit_sync, lit8, lit_nul;
	/* error recovery: a "{n+}" at the end of a skipped line */
	int		 sk_state;
	uint64_t	 sk_num;
	uint64_t	 skip_left;
	/* the tree */
	struct buf	 data;
	struct imap_parse_node *nodes;	/* [0] is the top level */
	size_t		 nnodes, nodes_cap;
	uint32_t	 stack[IMAP_PARSE_DEPTH_MAX + 2];
	size_t		 depth;		/* open lists and sections */
	/* results */
	struct imap_parse_chunk *arena;
	struct buf	 scratch;	/* mailbox name decoding */
	struct imap_command cmd;
	const char	*err_resp, *err_code, *err_text;
};

/* An argument cursor for the command grammar. */
struct imap_pargs {
	const struct imap_arg	*a;
	size_t			 n, i;
};

/* imap_parse.c */
void	*imap_parse_alloc(struct imap_parser *p, size_t n);
int	 imap_parse_bad(struct imap_parser *p, const char *text);
int	 imap_parse_no(struct imap_parser *p, const char *code,
	    const char *text);

/* imap_parse_value.c: argument helpers; -1 with the error set */
bool	 imap_parse_word(struct str s, const char *w);
struct imap_pargs imap_parse_sub(const struct imap_arg *list);
bool	 imap_parse_is_list(const struct imap_arg *a);
int	 imap_parse_modseq(struct imap_parser *p, const struct imap_arg *a,
	    uint64_t *r, bool zero_ok);
const struct imap_arg *imap_parse_next(struct imap_pargs *a);
const struct imap_arg *imap_parse_peek(const struct imap_pargs *a);
bool	 imap_parse_is_atom(const struct imap_arg *a, const char *word);
bool	 imap_parse_atom_only(struct str s, const char *also);
int	 imap_parse_astring(struct imap_parser *p, const struct imap_arg *a,
	    struct str *r);
int	 imap_parse_string(struct imap_parser *p, const struct imap_arg *a,
	    struct str *r);
int	 imap_parse_arg_seqset(struct imap_parser *p,
	    const struct imap_arg *a, struct imap_seqset *set);
int	 imap_parse_arg_number64(struct imap_parser *p,
	    const struct imap_arg *a, uint64_t *r);
int	 imap_parse_arg_date(struct imap_parser *p, const struct imap_arg *a,
	    struct imap_date *d);
int	 imap_parse_keyword(struct imap_parser *p, const struct imap_arg *a,
	    struct str *r);
struct str imap_parse_upper(struct imap_parser *p, struct str s);

/* imap_parse_cmd.c */
enum imap_cmd_id imap_parse_cmd_lookup(struct str name, bool uid);
int	 imap_parse_cmd_args(struct imap_parser *p, struct imap_command *c);

/* imap_parse_fetch.c */
int	 imap_parse_fetch_args(struct imap_parser *p, struct imap_command *c,
	    struct imap_pargs *a);

/* imap_search_parse.c: SEARCH's [RETURN (...)] [CHARSET x] keys; the
 * pieces are also used by SORT and THREAD. */
int	 imap_search_parse(struct imap_parser *p, struct imap_pargs *a,
	    struct imap_search *s);
int	 imap_search_parse_return(struct imap_parser *p, struct imap_pargs *a,
	    struct imap_search *s);
int	 imap_search_parse_charset(struct imap_parser *p,
	    const struct imap_arg *arg, struct imap_search *s);
int	 imap_search_parse_keys(struct imap_parser *p, struct imap_pargs *a,
	    struct imap_search *s);

#endif
