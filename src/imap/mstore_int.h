/* mstore_int.h: what the mstore*.c files share (doc/IMAP_STORE.md
 * describes the layout, the index and the sync algorithm). */
#ifndef FACTEUR_IMAP_MSTORE_INT_H
#define FACTEUR_IMAP_MSTORE_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "imap/mstore.h"
#include "store/maildir.h"

#define MSTORE_SCHEMA_VERSION	2
#define MSTORE_BUSY_MS		5000
/* Commits between two wal_checkpoint(TRUNCATE) attempts. */
#define MSTORE_CHECKPOINT_EVERY	500
#define MSTORE_UIDVALIDITY_FILE	"facteur-uidvalidity"
#define MSTORE_SPECIAL_USE_FILE	"facteur-special-use"
#define MSTORE_KEYWORDS_FILE	"dovecot-keywords"
#define MSTORE_SUBS_FILE	"subscriptions"
/* A directory being deleted: "..name" never decodes as a folder. */
#define MSTORE_TRASH_PREFIX	"..facteur-deleted."
/* Bytes of one line of subscriptions / dovecot-keywords we accept. */
#define MSTORE_LINE_MAX		1024
/* Message files in one folder a view can hold. */
#define MSTORE_MSGS_MAX		10000000
/* Expunge history kept per folder (QRESYNC), looked at every
 * MSTORE_EXPUNGED_EVERY modseqs. */
#define MSTORE_EXPUNGED_KEEP	100000
#define MSTORE_EXPUNGED_EVERY	4096
/* Vanished UIDs returned when the expunge history is gone. */
#define MSTORE_VANISHED_MAX	(4U * 1024 * 1024)

/* cache_put()s kept back and written in one transaction. */
#define MSTORE_CACHE_BATCH	32

/* Prepared statements, kept while the connection is open. */
enum mstore_stmt {
	MS_FOLDER_GET,
	MS_FOLDER_INS,
	MS_FOLDER_SAVE,
	MS_FOLDER_DEL,
	MS_FOLDER_USE,
	MS_FOLDERS_ALL,
	MS_MSGS_FOLDER,		/* uid base fname flags kw (sync) */
	MS_MSGS_VIEW,		/* uid flags kw modseq size idate */
	MS_MSGS_SINCE,		/* modseq > ? */
	MS_MSGS_NEWER,		/* uid >= ? */
	MS_MSG_INS,
	MS_MSG_FLAGS,
	MS_MSG_FNAME,
	MS_MSG_GET,		/* fname flags kw modseq by uid */
	MS_MSG_BY_BASE,
	MS_MSG_DEL,
	MS_MSG_DELETED,		/* flags & \Deleted, uid < ? */
	MS_EXP_INS,
	MS_EXP_SINCE,
	MS_CACHE_DEL,
	MS_CACHE_GET,
	MS_CACHE_PUT,
	MS_KW_ALL,
	MS_KW_DEL,
	MS_KW_INS,
	MS_STATUS,
	MS_META_GET,
	MS_META_SET,
	MS_STMT_COUNT
};

/* A cache_put() not written yet: the fields point into mem. */
struct mstore_cput {
	int64_t			 folder;
	uint32_t		 uid;
	struct mstore_cache	 c;
	char			*mem;
};

struct mstore {
	char		*root;
	char		*index_path;
	sqlite3		*db;
	sqlite3_stmt	*stmt[MS_STMT_COUNT];
	bool		 in_tx;
	bool		 corrupt;	/* rename the index aside at reopen */
	unsigned	 commits;	/* since the last checkpoint */
	bool		 no_wait;	/* busy handler gives up at once */
	uint64_t	 busy_since;	/* us (monotonic), this wait's start */
	struct mstore_view *views;	/* open views (packed when idle) */
	struct mstore_cput *cq;		/* MSTORE_CACHE_BATCH, or NULL */
	size_t		 ncq;
	bool		 flushing;
	/* mstore_batch(): cache reads share one read transaction */
	bool		 read_want;
	bool		 read_held;
};

/* End the shared read transaction of mstore_batch(), if any. */
void	mstore_read_release(struct mstore *st);

/* A folder as the index knows it (one row of folders). */
struct mstore_fold {
	int64_t		 id;
	char		*name;			/* canonical, owned */
	char		*dir;			/* owned */
	uint32_t	 uidvalidity, uidnext, recent_uid;
	uint64_t	 modseq;		/* highestmodseq */
	uint64_t	 floor_modseq;		/* expunges known above it */
	unsigned	 use;
	int64_t		 cur_mtime;		/* ns; 0: scan cur/ */
	int64_t		 kw_mtime;		/* of dovecot-keywords */
};

/* A packed view (mstore_idle()): a run of messages with consecutive
 * UIDs and the same recent/gone bits. */
struct mstore_run {
	uint32_t	uid;		/* first */
	uint32_t	n : 30;
	uint32_t	recent : 1;
	uint32_t	gone : 1;
};

struct mstore_view {
	struct mstore		*st;
	struct mstore_view	*next, *prev;	/* st->views */
	bool			 linked;
	bool			 packed;	/* msgs freed: runs, own */
	struct mstore_run	*runs;
	uint32_t		 nruns;
	uint32_t		 npacked;	/* messages in runs */
	struct mstore_msg	*own;		/* records the index cannot
						 * give back: flags stored
						 * by this view (modseq
						 * above the view's), gone */
	uint32_t		 nown;
	struct mstore_fold	 f;
	bool			 readonly;
	struct mstore_msg	*msgs;
	uint32_t		 n, cap;
	uint32_t		 uidnext;	/* what the view has seen */
	uint64_t		 modseq;
	char			**kw;		/* names, index = bit */
	uint32_t		 nkw;		/* entries of kw (holes NULL) */
	uint32_t		 nkw_told;	/* keywords() told up to here */
	char			*cbuf;		/* cache_get strings */
	size_t			 cbuf_len;
};

/* Parts of a Maildir file name. */
struct mstore_fname {
	struct str	base;		/* up to the first ',' or ':' */
	bool		has_size;
	uint64_t	size;
	bool		has_uid;
	uint32_t	uid;
	bool		has_info;	/* ":2," */
	struct str	info;		/* the letters after ":2," */
};

/* mstore.c */
int	mstore_fail(const char **, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
int	mstore_failx(const char **, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
int	mstore_dbfail(struct mstore *, const char **, const char *);
int	mstore_db(struct mstore *, const char **);
sqlite3_stmt *mstore_stmt(struct mstore *, enum mstore_stmt,
	    const char **);
int	mstore_step_done(struct mstore *, sqlite3_stmt *, const char **);
int	mstore_begin(struct mstore *, bool, const char **);
int	mstore_commit(struct mstore *, const char **);
void	mstore_rollback(struct mstore *);
uint64_t mstore_now_us(void);
int64_t	mstore_mtime_ns(const struct stat *);
uint32_t mstore_uidvalidity_new(struct mstore *, const char **, int *);

/* mstore_name.c */
int	mstore_name_dir(const struct mstore *, const char *, char *,
	    size_t, char *, size_t, const char **);
int	mstore_name_from_dir(const char *, char *, size_t);
bool	mstore_name_is_inbox(const char *);
void	mstore_fname_parse(const char *, struct mstore_fname *);
bool	mstore_fname_valid(const char *);
int	mstore_fname_build(char *, size_t, const char *, uint32_t,
	    bool, unsigned, uint32_t);
void	mstore_fname_flags(const struct mstore_fname *, unsigned *,
	    uint32_t *);
int	mstore_path(char *, size_t, const char *, const char *,
	    const char *);
int	mstore_file_read(const char *, char **, size_t *, size_t);
int	mstore_file_write(const char *, const char *, size_t,
	    const char **);
int	mstore_fsync_dir(const char *, const char *, const char **);
int	mstore_rename_noreplace(int, const char *, int, const char *);

/* mstore_sync.c */
#define MSTORE_SYNC_FORCE	0x01	/* readdir cur/ whatever its mtime */
int	mstore_fold_load(struct mstore *, const char *,
	    struct mstore_fold *, const char **);
void	mstore_fold_clear(struct mstore_fold *);
int	mstore_fold_reload(struct mstore *, struct mstore_fold *,
	    const char **);
int	mstore_fold_drop(struct mstore *, int64_t, const char **);
int	mstore_fold_save(struct mstore *, const struct mstore_fold *,
	    const char **);
int	mstore_sync(struct mstore *, struct mstore_fold *, unsigned,
	    const char **);
int	mstore_sync_keywords(struct mstore *, struct mstore_fold *,
	    const char **);
int	mstore_expunge_row(struct mstore *, struct mstore_fold *,
	    uint32_t, const char **);
void	mstore_expunged_prune(struct mstore *, struct mstore_fold *,
	    uint64_t);
int	mstore_msg_insert(struct mstore *, struct mstore_fold *, uint32_t,
	    const char *, uint64_t, time_t, const char **);
int	mstore_keyword_add(struct mstore *, struct mstore_fold *,
	    struct str, const char **);
int	mstore_fold_read_kw(struct mstore *, struct mstore_fold *,
	    char ***, uint32_t *, const char **);
void	mstore_kw_free(char **, uint32_t);

/* mstore_view.c */
void	mstore_view_pack(struct mstore_view *);
void	mstore_view_unpack(struct mstore_view *);

/* mstore_cache.c */
void	mstore_cache_flush(struct mstore *);

/* mstore_folder.c */
int	mstore_folder_make(struct mstore *, const char *, unsigned,
	    const char **);

#endif
