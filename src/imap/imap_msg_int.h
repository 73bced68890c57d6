/* imap_msg_int.h: the pure layer under imap_msg.h, shared by
 * imap_msg.c, imap_fetch.c, imap_search.c, imap_sort.c, imap_thread.c
 * and their tests.  Nothing here touches the store: a message is its
 * bytes, its MIME tree and its struct mstore_msg. */
#ifndef FACTEUR_IMAP_IMAP_MSG_INT_H
#define FACTEUR_IMAP_IMAP_MSG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"
#include "core/str.h"
#include "imap/imap_msg.h"

/* Bytes of one message's cached strings (ENVELOPE, BODYSTRUCTURE, ...):
 * a BODYSTRUCTURE of MIME_PARTS_MAX parts fits. */
#define IMAP_MSG_CACHE_MAX	(32 * 1024 * 1024)
/* A top header block longer than this is not cached: header keys and
 * sections read it from the file. */
#define IMAP_MSG_HEADER_CACHE_MAX	(32 * 1024)
/* A message larger than this is not parsed only to cache its header:
 * the header is found by a scan of the file instead. */
#define IMAP_MSG_HEADER_FILL_MAX	(8 * 1024 * 1024)
/* References kept per message for THREAD, and bytes of one id. */
#define IMAP_MSG_REFS_MAX	100
#define IMAP_MSG_ID_MAX		998
/* Bytes of one header value decoded for SEARCH. */
#define IMAP_MSG_VALUE_MAX	(1024 * 1024)

/* A message given by its bytes, without a store (tests, fuzzing):
 * md->m points to m; md->v is NULL. */
void	imap_msg_init_data(struct imap_msg *md, const struct mstore_msg *m,
	    uint32_t seq, const char *data, size_t len);

/* Where the top header ends: after its blank line, or at the end (the
 * parser's rule for a message's header with no boundary above it). */
size_t	imap_msg_header_end(const char *p, size_t len);
/* The top header of a loaded message, its blank line included. */
struct str imap_msg_header(const struct imap_msg *md);
/* The top header block, its blank line included, without opening the
 * file when the index has it (cache.header); a message whose cache is
 * missing has it computed and stored first, unless it is larger than
 * IMAP_MSG_HEADER_FILL_MAX.  *hdr_r lives as long as md. */
int	imap_msg_top_header(struct imap_msg *md, struct str *hdr_r,
	    const char **err_r);
/* Bytes [a, b) of a loaded message, clamped to its length. */
struct str imap_msg_slice(const struct imap_msg *md, uint64_t a, uint64_t b);

/* Every cache field of a parsed message, computed in one pass; strings
 * are kept in mem (reset first) and c points into it. */
int	imap_msg_cache_compute(struct buf *mem, const char *data, size_t len,
	    const struct mime_message *mime, struct mstore_cache *c);

/* An RFC 5322 date-time (obsolete forms too): the instant, and the
 * date as written (its own zone).  -1 when it is not one. */
int	imap_msg_date_parse(struct str s, time_t *t_r,
	    struct imap_date *d_r);
/* The date of t in the server's zone, as INTERNALDATE shows it. */
void	imap_msg_local_date(time_t t, struct imap_date *d_r);
int	imap_msg_date_cmp(const struct imap_date *a,
	    const struct imap_date *b);
/* "\"dd-Mon-yyyy hh:mm:ss +zzzz\"" (INTERNALDATE) in the server's zone. */
int	imap_msg_internaldate(struct buf *out, time_t t);

/* Reading an ENVELOPE as imap_msg_cache_compute() writes it: the
 * nstring at *ip (quoted or literal, NIL gives p == NULL), copied into
 * out when it needs unescaping.  -1 on malformed text. */
int	imap_msg_env_nstring(struct str s, size_t *ip, struct buf *tmp,
	    struct str *r);
/* The envelope's k-th item (0: date, 1: subject, ...). */
int	imap_msg_env_item(struct str env, int k, struct buf *tmp,
	    struct str *r);

/* UTF-8 simple case folding: appends the folded form of in to out.
 * *carry (up to 3 bytes, *ncarry of them) holds an incomplete sequence
 * between calls of a stream; pass NULL for a whole string. */
int	imap_msg_fold(struct buf *out, const char *in, size_t len,
	    char *carry, size_t *ncarry);

/* RFC 5256 base subject; *reply_r (may be NULL) tells whether a
 * "Re:", "Fwd:" or "(fwd)" was removed. */
void	imap_msg_base_subject(struct buf *out, struct str subject,
	    bool *reply_r);

/* THREAD over messages described without a store. */
struct imap_thread_msg {
	uint32_t	 num;		/* number written: UID or seq */
	uint32_t	 seq;		/* order of equal dates */
	time_t		 date;		/* sent, else internal date */
	struct str	 subject;	/* base subject */
	bool		 reply;		/* a reply or forward */
	struct str	 message_id, in_reply_to, references;
};
int	imap_thread_run(struct imap_thread_msg *msgs, size_t n,
	    enum imap_thread_alg alg, struct buf *out);

/* SORT over keys gathered without a store. */
struct imap_sort_msg {
	uint32_t	 idx;		/* view index */
	uint32_t	 seq;
	time_t		 arrival, date;
	uint64_t	 size;
	struct str	 subject, from, to, cc, display_from, display_to;
};
void	imap_sort_run(struct imap_sort_msg *msgs, size_t n,
	    const struct imap_sort_crit *crit, size_t ncrit);
/* i;ascii-casemap (RFC 4790) */
int	imap_sort_casemap_cmp(struct str a, struct str b);

#endif
