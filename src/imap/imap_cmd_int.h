/* imap_cmd_int.h: helpers shared by the store-backed command handlers
 * (imap_cmd_mbox.c, imap_cmd_list.c, imap_cmd_msg.c, imap_cmd_search.c,
 * imap_update.c).  Job context only.  Not part of any other module's
 * interface. */
#ifndef FACTEUR_IMAP_IMAP_CMD_INT_H
#define FACTEUR_IMAP_IMAP_CMD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"
#include "imap/imap_parse.h"
#include "imap/imap_session.h"

/* The tagged NO for a failed store call: the MSTORE_E* code becomes a
 * response code (NONEXISTENT, ALREADYEXISTS, ...); MSTORE_ERROR is
 * logged with err and answered NO [SERVERBUG].  what names the
 * operation in the log line. */
enum imap_job_res imap_cmd_fail(struct imap_session *s, struct buf *out,
	    int rc, const char *err, const char *what);
/* Log a store error that does not end the command. */
void	imap_cmd_log_error(struct imap_session *s, const char *what,
	    const char *err);

/* A usable mailbox name, or false after answering NO. */
bool	imap_cmd_mailbox_ok(struct imap_session *s, struct buf *out,
	    const struct imap_mailbox *mb);
/* A mailbox name (UTF-8) as the client reads it: mUTF-7 unless the
 * session has UTF-8 names, then quoted. */
void	imap_cmd_write_mailbox(const struct imap_session *s, struct buf *out,
	    const char *name);
/* A quoted string ('"' and '\' escaped). */
void	imap_cmd_write_quoted(struct buf *out, struct str str);

/* A sequence set resolved against the selected view: the indexes of the
 * messages it names, ascending, each once (*idx_r malloc'ed, NULL when
 * empty).  Message numbers past the end are an error (-1: answer BAD,
 * RFC 9051 §9 seq-number); UIDs that do not exist simply match nothing.
 * "$" is the saved search result. */
int	imap_cmd_resolve(const struct imap_session *s,
	    const struct imap_seqset *set, bool uid, uint32_t **idx_r,
	    size_t *n_r);
/* Is uid in a UID set as written (with "*" the highest UID uidmax)? */
bool	imap_cmd_set_has_uid(const struct imap_seqset *set, uint32_t uidmax,
	    uint32_t uid);
/* Ascending numbers as a compact set ("1:3,7"); nothing when n is 0. */
void	imap_cmd_write_set(struct buf *out, const uint32_t *v, size_t n);

/* Untagged "* n FETCH (FLAGS (...) UID u MODSEQ (m))" for message i of
 * the view; flags and modseq as asked. */
void	imap_cmd_write_flags_fetch(const struct imap_session *s,
	    struct buf *out, uint32_t i, bool flags, bool uid, bool modseq);

/* "* STATUS name (ITEM n ...)" with the IMAP_STATUS_* items asked. */
void	imap_cmd_write_status(const struct imap_session *s, struct buf *out,
	    const char *name, unsigned items, const struct mstore_status *st);
/* "* LIST (attributes) "/" name" for one existing folder (SELECT in
 * IMAP4rev2, RFC 9051 §6.3.2).  0, or an MSTORE_E* code. */
int	imap_cmd_list_one(struct imap_session *s, struct buf *out,
	    const char *name, const char **err_r);

#endif
