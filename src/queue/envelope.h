/* envelope.h: the envelope of a queued message: who sent it, to whom,
 * with the DSN parameters (RFC 3461) and each recipient's state.
 *
 * On disk it is text, one "key value" per line, values escaped so that
 * any byte round-trips (doc/QUEUE.md gives the grammar): in the header
 * block of the queue file (queue/<qid>.msg, also named queue/<qid>.env),
 * or a small file of its own once rewritten (queue_fs.h). */
#ifndef FACTEUR_QUEUE_ENVELOPE_H
#define FACTEUR_QUEUE_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define ENVELOPE_RCPTS_MAX	1000
#define ENVELOPE_ADDR_MAX	256
#define ENVELOPE_TEXT_MAX	512	/* last error text, per recipient */
/* The largest file envelope_format() can produce (every field full,
 * every byte escaped, ENVELOPE_RCPTS_MAX recipients) is about 5 MiB:
 * envelope.c checks that it fits at compile time. */
#define ENVELOPE_FILE_MAX	(8 * 1024 * 1024)
#define ENVELOPE_ORCPT_MAX	(ENVELOPE_ADDR_MAX * 2)
#define ENVELOPE_HELO_MAX	255
#define ENVELOPE_CLIENT_MAX	63
#define ENVELOPE_ENVID_MAX	100
#define ENVELOPE_STATUS_MAX	15
#define ENVELOPE_RELAY_MAX	299
/* First line of every file. */
#define ENVELOPE_MAGIC		"facteur-envelope 1"

enum rcpt_state {
	RCPT_PENDING,		/* to be tried (again) */
	RCPT_DELIVERED,		/* 2xx from the next hop */
	RCPT_FAILED,		/* permanent failure (5xx, expiry): bounced */
};

struct envelope_rcpt {
	char		addr[ENVELOPE_ADDR_MAX + 1];
	char		orcpt[ENVELOPE_ORCPT_MAX + 1];	/* RFC 3461 ORCPT, xtext as received */
	unsigned	notify;		/* SMTP_NOTIFY_* bits, 0 = default */
	enum rcpt_state	state;
	unsigned	attempts;
	time_t		next_try;	/* 0 = now */
	bool		delay_notified;	/* a delay DSN went out */
	char		status[ENVELOPE_STATUS_MAX + 1];	/* last enhanced status, e.g. "4.4.1" */
	char		text[ENVELOPE_TEXT_MAX + 1];	/* last reply / reason */
	char		relay[ENVELOPE_RELAY_MAX + 1];	/* last host tried, "mx.example.net[192.0.2.1]" */
	time_t		last_try;	/* last attempt, 0 = never tried */
	bool		dsn_sent;	/* the final DSN (failure or success)
					 * for this rcpt went out, or none
					 * was due: bounce_mark() */
};

struct envelope {
	uint64_t		 qid;
	time_t			 created;
	char			 from[ENVELOPE_ADDR_MAX + 1];	/* "" = null sender */
	char			 helo[ENVELOPE_HELO_MAX + 1];
	char			 client_addr[ENVELOPE_CLIENT_MAX + 1];
	char			 auth_user[ENVELOPE_ADDR_MAX + 1];	/* "" if none */
	char			 envid[ENVELOPE_ENVID_MAX + 1];
	int			 ret;		/* SMTP_RET_* */
	bool			 eightbit;	/* body is 8BITMIME */
	bool			 smtputf8;
	bool			 hold;		/* held by the operator */
	bool			 is_bounce;	/* a DSN we generated */
	bool			 double_bounce;	/* a failure report of a DSN,
						 * to postmaster: if it fails
						 * too, it is dropped */
	size_t			 size;		/* of the message, bytes */
	struct envelope_rcpt	*rcpts;
	size_t			 nrcpts;
};

/* Serialise into a malloc'ed buffer (*len_r bytes).  Never fails for
 * an envelope whose strings fit their arrays (the grammar has no other
 * limit that a struct envelope can break). */
char	*envelope_format(const struct envelope *e, size_t *len_r);
/* Parse; 0, or -1 with *err_r (static string, or for errors about a
 * line "line N: what" in a thread-local buffer valid until the next
 * call).  Strict: version line first, every key known and once (per
 * recipient block for recipient keys), values in range, "end" last.
 * On success e->rcpts is malloc'ed (envelope_clear() frees it); on
 * failure e is left cleared. */
int	 envelope_parse(const char *p, size_t len, struct envelope *e,
	    const char **err_r);
/* Free the recipients and zero the whole struct. */
void	 envelope_clear(struct envelope *e);
/* Append a recipient (malloc growth); -1 past ENVELOPE_RCPTS_MAX or
 * when addr (or orcpt, may be NULL) is empty or too long. */
int	 envelope_add_rcpt(struct envelope *e, const char *addr,
	    const char *orcpt, unsigned notify);
/* "pending", "delivered", "failed". */
const char *envelope_state_name(enum rcpt_state state);
/* Recipients in a state, and whether any is still to be tried. */
size_t	 envelope_count(const struct envelope *e, enum rcpt_state state);

#endif
