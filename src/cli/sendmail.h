/* sendmail.h: the message side of facteur sendmail (sendmail_msg.c),
 * used by cli_sendmail.c (options, the SMTP session, the modes). */
#ifndef FACTEUR_CLI_SENDMAIL_H
#define FACTEUR_CLI_SENDMAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/limits.h"
#include "core/str.h"

#define SENDMAIL_HEADER_MAX	(1024 * 1024)	/* the header block */
#define SENDMAIL_LINE_MAX	998		/* RFC 5322 §2.1.1 */
#define SENDMAIL_MEM_MAX	65536		/* body held before spooling */
#define SENDMAIL_IO_MAX		65536		/* stdin reads, socket writes */
#define SENDMAIL_NAME_MAX	256		/* -F */

#define SENDMAIL_PREFIX	"facteur sendmail: "

struct conf;

enum sendmail_mode {
	SENDMAIL_MODE_DELIVER,		/* -bm, the default */
	SENDMAIL_MODE_MAILQ,		/* -bp */
	SENDMAIL_MODE_SMTP,		/* -bs */
	SENDMAIL_MODE_NOOP,		/* -bi (newaliases): no-op */
};

struct sendmail_opts {
	bool			 extract;	/* -t */
	bool			 ignore_dots;	/* -i, -oi */
	bool			 verbose;	/* -v */
	enum sendmail_mode	 mode;
	const char		*sender;	/* -f, -r; NULL: LOGIN@HOST */
	const char		*fullname;	/* -F */
	const char		*conf_path;	/* -C */
	const char		*notify;	/* -N */
	const char		*ret;		/* -R */
	const char		*envid;		/* -V */
	char			**args;		/* the recipient arguments */
	int			 nargs;
};

enum sendmail_rstate {
	SENDMAIL_R_PENDING,
	SENDMAIL_R_TRYING,	/* taken in this transaction */
	SENDMAIL_R_SENT,
	SENDMAIL_R_TEMP,
	SENDMAIL_R_PERM,
};

struct sendmail_rcpt {
	char			*addr;
	enum sendmail_rstate	 state;
};

struct sendmail_rcpts {
	struct sendmail_rcpt	*v;
	size_t			 n, cap;
};

/* The body: in mem while it fits, else in fd (mem then buffers). */
struct sendmail_spool {
	char			*mem;
	size_t			 len;
	int			 fd;
	uint64_t		 total;
};

struct sendmail_msg {
	const struct sendmail_opts *o;
	const struct conf	*conf;
	char			 sender[SMTP_PATH_MAX + 1];
	struct buf		 hdr;	/* the header block, CRLF lines */
	struct buf		 from;	/* "From: ...\r\n" when it has none */
	struct sendmail_spool	 body;	/* after the blank line */
	bool			 in_body;
	bool			 dot_end;	/* a lone "." ended the input */
	bool			 eightbit, utf8_addr;
	bool			 first;		/* no line seen yet */
	bool			 cont;	/* the line continues a broken one */
	bool			 cr;		/* the last byte was a CR */
	char			 line[SENDMAIL_LINE_MAX];
	size_t			 linelen;
	uint64_t		 size;	/* as sent, before dot-stuffing */
	struct sendmail_rcpts	 rcpts;		/* the envelope's */
	struct sendmail_rcpts	 to;		/* -t: To/Cc/Bcc */
	struct sendmail_rcpts	 resent;	/* -t: Resent-To/Cc/Bcc */
	int			 rc;	/* the exit code of a failure */
};

/* "facteur sendmail: <what>" on stderr; returns rc. */
int	sendmail_err(int rc, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	sendmail_write_all(int fd, const char *p, size_t n);

/* The envelope sender from -f into m->sender; login_r (SMTP_PATH_MAX +
 * 1 bytes) gets LOGIN@HOSTNAME. */
int	sendmail_sender(struct sendmail_msg *m, char *login_r);
/* An RFC 5322 address list (an argument, a header field's value). */
int	sendmail_addrlist(struct sendmail_msg *m, struct sendmail_rcpts *l,
	    const char *p, size_t n);
/* Standard input to its end (or a lone "."), normalised, into m. */
int	sendmail_read_input(struct sendmail_msg *m);
/* After the input: -t's recipients, the From: to add, m->size. */
int	sendmail_prepare(struct sendmail_msg *m, const char *login);
/* The header block's fields in turn (continuation lines included). */
bool	sendmail_field_next(const struct buf *hdr, size_t *pos, struct str *f);
/* Bcc: and Resent-Bcc: are not sent. */
bool	sendmail_field_dropped(struct str f);
void	sendmail_msg_init(struct sendmail_msg *m, const struct sendmail_opts *o,
	    const struct conf *conf);
void	sendmail_msg_free(struct sendmail_msg *m);

#endif
