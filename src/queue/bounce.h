/* bounce.h: delivery status notifications (RFC 3464) for queued mail.
 *
 * A report is a multipart/report; report-type=delivery-status message
 * from MAILER-DAEMON@HOSTNAME, sent with the null envelope sender "<>":
 *   1. text/plain: what happened, for people;
 *   2. message/delivery-status: Reporting-MTA, Arrival-Date, then per
 *      recipient Final-Recipient, Original-Recipient (ORCPT), Action,
 *      Status, Remote-MTA, Diagnostic-Code, Last-Attempt-Date and, for
 *      delays, Will-Retry-Until;
 *   3. text/rfc822-headers with the original header block, or for a
 *      failure with RET=FULL the whole message as message/rfc822 when
 *      it is at most full_max bytes and has no line over 998 bytes.
 * With SMTPUTF8 the message/global-* types of RFC 6533 are used.  Lines
 * end in CRLF and never pass 998 bytes; Auto-Submitted: auto-replied
 * (RFC 3834).
 *
 * Who gets one (bounce_recipient): the envelope sender; never "<>".  A
 * failure of a message whose sender is "<>" (a DSN, an MDN) goes to the
 * postmaster instead (a "double bounce"); a failed double bounce is
 * dropped.  Which recipients are in it (bounce_rcpt_wanted): those in
 * the state of the kind, not reported yet, whose NOTIFY asks for it
 * (NEVER: none; no NOTIFY: FAILURE and DELAY, RFC 3461 §4.1).
 *
 * Use (in the queue process, off the event loop: it reads the .msg):
 *	n = bounce_build(e, msg_fd, BOUNCE_FAILURE, &params, &out, &dsn, &err);
 *	if n > 0: queue out with envelope dsn (queue_fs_new/write/commit)
 *	if n >= 0: bounce_mark(e, BOUNCE_FAILURE); queue_fs_update(e)
 */
#ifndef FACTEUR_QUEUE_BOUNCE_H
#define FACTEUR_QUEUE_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "queue/envelope.h"

struct buf;

/* RET=FULL returns the message only up to this size (else headers). */
#define BOUNCE_FULL_MAX		(100 * 1024)
/* The original header block returned, at most (cut at a line end). */
#define BOUNCE_HEADERS_MAX	(100 * 1024)
/* RFC 5322 §2.1.1 */
#define BOUNCE_LINE_MAX		998

enum bounce_kind {
	BOUNCE_FAILURE,		/* Action: failed, RCPT_FAILED recipients */
	BOUNCE_DELAY,		/* Action: delayed, RCPT_PENDING */
	BOUNCE_SUCCESS,		/* Action: delivered, RCPT_DELIVERED */
};

enum bounce_to {
	BOUNCE_TO_NOBODY,
	BOUNCE_TO_SENDER,
	BOUNCE_TO_POSTMASTER,	/* double bounce */
};

struct bounce_params {
	const char	*hostname;	/* Reporting-MTA; MAILER-DAEMON@ */
	const char	*postmaster;	/* where double bounces go */
	time_t		 now;		/* Date: */
	time_t		 retry_until;	/* Will-Retry-Until (delays); 0: none */
	uint64_t	 dsn_qid;	/* qid of the report (Message-ID);
					 * 0: a random one */
	size_t		 full_max;	/* 0: BOUNCE_FULL_MAX */
	off_t		 msg_off;	/* where the message starts in msg_fd */
};

/* Recipient i of e belongs in a report of this kind. */
bool		bounce_rcpt_wanted(const struct envelope *e, size_t i,
		    enum bounce_kind kind);
/* Who a report of this kind about e goes to. */
enum bounce_to	bounce_recipient(const struct envelope *e,
		    enum bounce_kind kind);
/* Append the report to out (the message to queue, CRLF line ends).
 * msg_fd is the original message (read with pread from bp->msg_off to
 * its end; -1: not available, the third part is left out).  dsn_r, if not NULL, receives the
 * report's envelope: qid dsn_qid, sender "", one recipient (the
 * original sender or the postmaster), is_bounce (and double_bounce),
 * eightbit/smtputf8 as the content needs, size, created = now.
 * Returns the number of recipients reported; 0 when no report is due
 * (out and dsn_r untouched); -1 with *err_r (a read error, out's cap;
 * out is left as it was). */
int		bounce_build(const struct envelope *e, int msg_fd,
		    enum bounce_kind kind, const struct bounce_params *bp,
		    struct buf *out, struct envelope *dsn_r,
		    const char **err_r);
/* Once the report is queued (or bounce_build returned 0): mark the
 * recipients of this kind's state as reported (dsn_sent for failures
 * and successes, delay_notified for delays, whatever their NOTIFY), so
 * that none is reported twice. */
void		bounce_mark(struct envelope *e, enum bounce_kind kind);

#endif
