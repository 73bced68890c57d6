/* imap_msg.h: one message as FETCH, SEARCH, SORT and THREAD read it:
 * the file mapped on demand, the MIME tree parsed on demand, and the
 * parse results cached in the index (mstore_view_cache_*) so the next
 * ENVELOPE or BODYSTRUCTURE of it needs no parsing.
 *
 * Runs in the thread pool (it reads files and the index). */
#ifndef FACTEUR_IMAP_IMAP_MSG_H
#define FACTEUR_IMAP_IMAP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "imap/imap_parse.h"
#include "imap/mstore.h"
#include "mime/mime_parse.h"

struct imap_msg {
	struct mstore_view	*v;
	uint32_t		 i;		/* index in the view */
	uint32_t		 seq;		/* i + 1 */
	const struct mstore_msg	*m;
	/* loaded on demand */
	const char		*data;		/* the file, mmap'ed */
	size_t			 len;
	struct mime_message	*mime;
	struct mstore_cache	 cache;
	bool			 cache_loaded;
	bool			 cache_filled;	/* every field computed */
	bool			 gone;		/* file vanished */
	/* private to imap_msg.c */
	void			*map;		/* the mmap'ed region */
	size_t			 map_len;
	struct buf		 cache_mem;	/* owns cache's strings */
};

void	imap_msg_init(struct imap_msg *md, struct mstore_view *v, uint32_t i);
/* Unmap and free what was loaded. */
void	imap_msg_release(struct imap_msg *md);
/* Map the file: 0, MSTORE_EGONE when it vanished, MSTORE_ERROR. */
int	imap_msg_load(struct imap_msg *md, const char **err_r);
/* Parse the MIME tree (loads first). */
int	imap_msg_parse(struct imap_msg *md, const char **err_r);
/* Fill md->cache: from the index, else computed and stored. */
int	imap_msg_cache(struct imap_msg *md, const char **err_r);

/* FETCH context for one command. */
struct imap_fetch_ctx {
	const struct imap_fetch_att	*att;
	size_t				 n;
	bool				 uid;		/* UID FETCH: add UID */
	bool				 modseq;	/* CONDSTORE on: add
							 * MODSEQ */
	bool				 rev2;		/* IMAP4rev2 semantics */
	const char *const		*kwnames;	/* view keywords */
	size_t				 nkw;
};

/* Append "* SEQ FETCH (...)\r\n" for md to out, every item of ctx in
 * order (UID and MODSEQ added when asked by ctx).  Flags come from
 * md->m, so a caller that set \Seen for a non-peek BODY[] does that
 * first.  Returns 0; MSTORE_EGONE when the file is gone (nothing
 * written: the caller answers NO [EXPUNGEISSUED] or skips);
 * IMAP_MSG_UNKNOWN_CTE when BINARY met an encoding it cannot decode
 * (nothing written: NO [UNKNOWN-CTE]); MSTORE_ERROR. */
#define IMAP_MSG_UNKNOWN_CTE	(-100)
int	imap_fetch_write(struct buf *out, const struct imap_fetch_ctx *ctx,
	    struct imap_msg *md, const char **err_r);
/* "(\Seen \Flagged kw1 ...)" for flags and keyword bits (\Recent too
 * when recent). */
void	imap_flags_write(struct buf *out, unsigned flags, uint32_t kw,
	    bool recent, const char *const *kwnames, size_t nkw);

/* SEARCH: does md match the program?  ctx gives what keys need beyond
 * the message: the view's message count (for '*'), the SEARCHRES saved
 * set, the current time (YOUNGER/OLDER).  Decoded header and body text
 * is matched case-insensitively (UTF-8 simple case folding) as a
 * substring.  Returns 1 match, 0 no match, MSTORE_ERROR. */
struct imap_search_ctx {
	uint32_t		 count;		/* messages in view */
	uint32_t		 uidmax;	/* UID of the last message */
	const uint32_t		*saved;		/* "$" UIDs, sorted */
	size_t			 nsaved;
	time_t			 now;
	const char *const	*kwnames;
	size_t			 nkw;
};
int	imap_search_match(const struct imap_search_ctx *ctx,
	    const struct imap_search_key *key, struct imap_msg *md,
	    const char **err_r);
/* True when the program needs only flags, UIDs, sizes and dates (no
 * file access): lets SEARCH skip loading messages. */
bool	imap_search_cheap(const struct imap_search_key *key);

/* SORT (RFC 5256, RFC 5957): reorder idx[0..n) (view indexes) by crit.
 * Uses each message's cache. */
int	imap_sort(struct mstore_view *v, const struct imap_sort_crit *crit,
	    size_t ncrit, uint32_t *idx, size_t n, const char **err_r);
/* THREAD (RFC 5256): append " (1 2)(3 (4)(5))"-style threads of
 * idx[0..n) to out, numbered by UID when uid is set, else by sequence
 * number (index + 1).  The caller writes "* THREAD" before. */
int	imap_thread(struct mstore_view *v, enum imap_thread_alg alg,
	    const uint32_t *idx, size_t n, bool uid, struct buf *out,
	    const char **err_r);

/* RFC 5256 §2.1 base subject of a decoded (UTF-8) subject. */
void	imap_base_subject(struct buf *out, struct str subject);

#endif
