/* mstore.h: one user's mail as IMAP sees it: the Maildir (INBOX), its
 * Maildir++ folders, and a per-user SQLite index beside them.
 *
 * The Maildir is the truth; the index is a cache that can be deleted at
 * any time and is rebuilt from the files without losing a message, a
 * flag or (where the file name carries it) a UID.
 *
 * On disk (ROOT is the user's Maildir, account_maildir_path()):
 *	ROOT/{tmp,new,cur}		INBOX
 *	ROOT/.Name/{tmp,new,cur}	folder "Name"; "A/B" is ROOT/.A.B
 *					(Maildir++; component names in
 *					modified UTF-7, a '.' inside a
 *					component written "&AC4-")
 *	ROOT/.Name/maildirfolder	Maildir++ marker
 *	ROOT/subscriptions		one UTF-8 name per line
 *	DIR/dovecot-keywords		"N name" lines: keyword N is letter
 *					'a' + N in file names (Dovecot)
 *	DIR/facteur-uidvalidity		the folder's UIDVALIDITY, decimal
 *	ROOT/facteur-index.sqlite	the index (WAL), all folders
 *
 * File names in cur/: "BASE,S=SIZE,U=UID:2,FLAGS": BASE as delivered
 * (maildir.h), ",U=" the IMAP UID once one was given, FLAGS sorted
 * letters: D draft, F flagged, R answered, S seen, T deleted, then
 * keyword letters a..z.  Files in new/ are moved to cur/ with their UID
 * when a folder is synced.
 *
 * Every function blocks (SQLite, readdir, rename, fsync): call them from
 * the thread pool, never on the event loop.  One struct mstore and its
 * views are used by one thread at a time.  Several processes may work on
 * the same user at once: UIDs are given under the index's write lock.
 *
 * Errors: functions return 0 or one of the negative MSTORE_E* codes;
 * *err_r (when err_r is not NULL) then says what, in a thread-local
 * buffer valid until the next mstore call in the same thread. */
#ifndef FACTEUR_IMAP_MSTORE_H
#define FACTEUR_IMAP_MSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/str.h"

#define MSTORE_INDEX_NAME	"facteur-index.sqlite"
/* Folder name bytes (UTF-8) and hierarchy depth. */
#define MSTORE_NAME_MAX		512
#define MSTORE_DEPTH_MAX	16
/* Folders per user. */
#define MSTORE_FOLDERS_MAX	10000
/* Keywords per folder: Dovecot's letters a..z. */
#define MSTORE_KEYWORDS_MAX	26
#define MSTORE_KEYWORD_MAX	100	/* bytes of one keyword */

enum mstore_err {
	MSTORE_OK = 0,
	MSTORE_ERROR = -1,	/* I/O or database trouble: NO [SERVERBUG] */
	MSTORE_ENOENT = -2,	/* no such folder: NO [NONEXISTENT] */
	MSTORE_EEXIST = -3,	/* already there: NO [ALREADYEXISTS] */
	MSTORE_EINVAL = -4,	/* bad name (INBOX rules, depth): NO
				 * [CANNOT] */
	MSTORE_ELIMIT = -5,	/* too many folders, keywords: NO [LIMIT] */
	MSTORE_EGONE = -6,	/* the message was expunged: NO
				 * [EXPUNGEISSUED] */
	MSTORE_EINUSE = -7,	/* delete a folder with children: NO
				 * [INUSE] */
};

/* Flags: the IMAP_FLAG_* bits of imap_parse.h (\Answered \Flagged
 * \Deleted \Seen \Draft); keywords a bit per folder keyword. */

struct mstore;

/* Open the user's store: create ROOT (maildir_create) if missing, open
 * or create the index (WAL).  A store whose index is new and that has
 * no folder yet gets Sent, Drafts, Trash, Junk and Archive with their
 * SPECIAL-USE attributes (subscribed).  Deleting the index file is
 * always safe: the next open rebuilds it. */
int	mstore_open(const char *root, struct mstore **st_r,
	    const char **err_r);
void	mstore_close(struct mstore **stp);
/* The session is going idle (IDLE, or between commands): close the
 * SQLite handle, free caches and pack the store's views (their
 * per-message records freed, UIDs kept as runs); the next call reopens
 * and rebuilds them, and a refresh then reports what it would have
 * reported anyway.  Keeps 10,000 idle sessions small. */
void	mstore_idle(struct mstore *st);

/* --- folders --------------------------------------------------------- */

struct mstore_folder {
	char		*name;		/* UTF-8, "/" separated; "INBOX" */
	unsigned	 use;		/* IMAP_USE_* (SPECIAL-USE) */
	bool		 subscribed;
	bool		 children;	/* some folder below it exists */
	bool		 noselect;	/* only a parent of others (\Noselect
					 * / \NonExistent) */
};

/* Every folder, INBOX first, then by name; parents that exist only as
 * names of their children are listed with noselect.  Subscribed names
 * that no longer exist are listed too (noselect, subscribed) for LSUB
 * and LIST (SUBSCRIBED). */
int	mstore_list(struct mstore *st, struct mstore_folder **list_r,
	    size_t *n_r, const char **err_r);
void	mstore_list_free(struct mstore_folder *list, size_t n);

/* name as the parser gave it (UTF-8, checked with
 * imap_utf7_mailbox_check()); "INBOX" any case is INBOX.  Creating
 * "a/b/c" creates missing parents.  use: IMAP_USE_* or 0. */
int	mstore_create(struct mstore *st, const char *name, unsigned use,
	    const char **err_r);
/* Delete a folder and its messages.  INBOX cannot be deleted (EINVAL);
 * a folder with children loses its messages and becomes noselect
 * (RFC 9051 §6.3.4). */
int	mstore_delete(struct mstore *st, const char *name,
	    const char **err_r);
/* Rename a folder and its children.  Renaming INBOX moves its messages
 * into a new folder and leaves INBOX empty (RFC 9051 §6.3.5). */
int	mstore_rename(struct mstore *st, const char *from, const char *to,
	    const char **err_r);
int	mstore_subscribe(struct mstore *st, const char *name, bool on,
	    const char **err_r);

struct mstore_status {
	uint32_t	messages, recent, unseen, deleted;
	uint32_t	uidnext, uidvalidity;
	uint64_t	size;		/* sum of RFC822.SIZE */
	uint64_t	highestmodseq;
};

/* Sync the folder with its files, then count. */
int	mstore_status(struct mstore *st, const char *name,
	    struct mstore_status *out, const char **err_r);

/* Store a message (APPEND): written to tmp/, fdatasync'ed, given a UID
 * under the index lock and renamed into cur/ with its flags, then cur/
 * fsync'ed: when this returns 0 the message is durable.  Bare LF line
 * ends are turned into CRLF.  internaldate 0: now.  Keywords by name
 * (created in the folder as needed).  *uidvalidity_r and *uid_r for
 * APPENDUID (RFC 4315). */
int	mstore_append(struct mstore *st, const char *folder,
	    const void *msg, size_t len, unsigned flags,
	    const struct str *kw, size_t nkw, time_t internaldate,
	    uint32_t *uidvalidity_r, uint32_t *uid_r, const char **err_r);

/* --- a selected folder --------------------------------------------------- */

/* One message as a view sees it. */
struct mstore_msg {
	uint32_t	uid;
	unsigned	flags;		/* IMAP_FLAG_* */
	uint32_t	kw;		/* keyword bits of the folder */
	bool		recent;		/* \Recent in this view */
	bool		gone;		/* expunged elsewhere, not yet
					 * announced to this view */
	uint64_t	modseq;
	uint64_t	size;		/* RFC822.SIZE: bytes of the file */
	time_t		internaldate;	/* delivery time */
};

struct mstore_view;

/* Select a folder: sync it with its files (new/ moved to cur/, UIDs
 * given, flags read from file names, vanished files expunged) and take
 * a snapshot in UID order, which is the message sequence.  Unless
 * readonly, messages no session has seen yet become \Recent here (and
 * nowhere else). */
int	mstore_view_open(struct mstore *st, const char *name, bool readonly,
	    struct mstore_view **v_r, const char **err_r);
void	mstore_view_close(struct mstore_view **vp);

/* The folder's Maildir directory (for change notification). */
const char	*mstore_view_dir(const struct mstore_view *v);
uint32_t	 mstore_view_count(const struct mstore_view *v);
/* Message with sequence number i + 1. */
const struct mstore_msg *mstore_view_msg(const struct mstore_view *v,
	    uint32_t i);
uint32_t	 mstore_view_uidvalidity(const struct mstore_view *v);
uint32_t	 mstore_view_uidnext(const struct mstore_view *v);
uint64_t	 mstore_view_highestmodseq(const struct mstore_view *v);
/* Index of the message with this UID, or -1. */
int64_t		 mstore_view_find_uid(const struct mstore_view *v,
		    uint32_t uid);
/* The folder's keywords: names[i] is bit i. */
size_t		 mstore_view_keywords(const struct mstore_view *v,
		    const char *const **names_r);
/* Bit of a keyword (ASCII case-insensitive), created when create is
 * set; -1 when unknown, or MSTORE_ELIMIT past MSTORE_KEYWORDS_MAX. */
int		 mstore_view_keyword(struct mstore_view *v, struct str name,
		    bool create);

/* What changed since the view last looked: the folder is synced with
 * its files, then the callbacks say what this view must announce, in
 * this order:
 *   expunge(arg, i, uid)	message at index i is gone (indexes of
 *				later messages drop by one at once); only
 *				when allow_expunge, else such messages stay
 *				with gone set;
 *   exists(arg, count)		new messages were added at the end;
 *   flags(arg, i, msg)		flags or keywords of message i changed
 *				(by another session, or on disk);
 *   keywords(arg)		the folder gained keywords (FLAGS).
 * Changes the view made itself (store, expunge, copy) are reported too,
 * except flags set with mstore_view_store(), which the caller answers. */
struct mstore_update_ops {
	void	(*expunge)(void *arg, uint32_t i, uint32_t uid);
	void	(*exists)(void *arg, uint32_t count);
	void	(*flags)(void *arg, uint32_t i, const struct mstore_msg *m);
	void	(*keywords)(void *arg);
};
int	mstore_view_refresh(struct mstore_view *v, bool allow_expunge,
	    const struct mstore_update_ops *ops, void *arg,
	    const char **err_r);

enum mstore_store_op { MSTORE_FLAGS_SET, MSTORE_FLAGS_ADD,
	MSTORE_FLAGS_REMOVE };

/* Change flags of messages idx[0..n) (indexes, ascending) in one
 * transaction: file renamed, index row updated, modseq raised.  With
 * unchangedsince (non-zero, CONDSTORE), a message whose modseq is
 * higher is left alone and its index added to failed_r (room for n).
 * A message whose flags do not change keeps its modseq.  Gone messages
 * are skipped.  The view's records are updated (the caller sends the
 * FETCH answers). */
int	mstore_view_store(struct mstore_view *v, const uint32_t *idx,
	    size_t n, enum mstore_store_op op, unsigned flags, uint32_t kw,
	    uint64_t unchangedsince, uint32_t *failed_r, size_t *nfailed_r,
	    const char **err_r);

/* Remove messages with \Deleted: all of them, or only those among
 * idx[0..n) when idx is not NULL (UID EXPUNGE).  Files are unlinked and
 * the folder fsync'ed; the view learns of it at the next refresh (which
 * reports the expunges to the caller, as to every other view). */
int	mstore_view_expunge(struct mstore_view *v, const uint32_t *idx,
	    size_t n, const char **err_r);

/* Copy messages idx[0..n) to folder dest (hard links, a copy across
 * file systems), keeping flags (not \Recent) and keywords by name; new
 * UIDs under dest's lock.  src_uids_r and dst_uids_r (room for n) for
 * COPYUID (RFC 4315); *ncopied_r may be less than n when messages were
 * gone.  With move set the originals are then expunged (RFC 6851). */
int	mstore_view_copy(struct mstore_view *v, const uint32_t *idx,
	    size_t n, const char *dest, bool move, uint32_t *uidvalidity_r,
	    uint32_t *src_uids_r, uint32_t *dst_uids_r, size_t *ncopied_r,
	    const char **err_r);

/* Open message i read-only (found again by BASE when it was renamed).
 * -1 with errno ENOENT when the file is gone. */
int	mstore_view_open_msg(struct mstore_view *v, uint32_t i);

/* QRESYNC (RFC 7162): UIDs expunged with a modseq above modseq, in
 * ascending order, restricted to [1, uidnext).  *uids_r is malloc'ed. */
int	mstore_view_vanished(struct mstore_view *v, uint64_t modseq,
	    uint32_t **uids_r, size_t *n_r, const char **err_r);

/* Cached parse results of a message; fields not cached yet have p ==
 * NULL.  The strings stay valid until the next call on the view. */
struct mstore_cache {
	struct str	envelope;	/* "(...)" ENVELOPE */
	struct str	bodystructure;	/* with extension data */
	struct str	body;		/* BODY, without */
	/* For SORT and THREAD (RFC 5256): decoded, UTF-8. */
	time_t		sent;		/* Date: header, 0 when none/bad */
	struct str	subject;	/* base subject */
	struct str	from, to, cc;	/* first address's mailbox */
	struct str	display_from, display_to;
	struct str	message_id, in_reply_to, references;
	/* The top header block as stored, its blank line included; p NULL
	 * when not cached (larger than the cap): read the file. */
	struct str	header;
};
/* Many cache reads in a row (a FETCH or SEARCH over a folder): on,
 * they share one read transaction until off, or until the store writes
 * (which ends it).  Turn it off before the job returns: a reader held
 * open keeps the WAL from being checkpointed. */
void	mstore_batch(struct mstore *st, bool on);
int	mstore_view_cache_get(struct mstore_view *v, uint32_t i,
	    struct mstore_cache *c, const char **err_r);
int	mstore_view_cache_put(struct mstore_view *v, uint32_t i,
	    const struct mstore_cache *c, const char **err_r);

#endif
