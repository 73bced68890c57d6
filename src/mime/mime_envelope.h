/* mime_envelope.h: the IMAP ENVELOPE (RFC 9051 §7.5.2) of a message,
 * from the raw fields mime_parse.c kept.  Address lists are read by
 * RFC 5322 (groups, quoted local parts, comments, obsolete routes);
 * encoded words are left as they are, as IMAP requires. */
#ifndef FACTEUR_MIME_MIME_ENVELOPE_H
#define FACTEUR_MIME_MIME_ENVELOPE_H

#include "core/buf.h"
#include "core/str.h"
#include "mime/mime_parse.h"

/* Filled in for an address with no domain or no local part. */
#define MIME_ENVELOPE_NO_DOMAIN		"MISSING_DOMAIN"
#define MIME_ENVELOPE_NO_MAILBOX	"MISSING_MAILBOX"

/* "(date subject from sender reply-to to cc bcc in-reply-to
 * message-id)" for a message's top part (the root, or the child of a
 * message/rfc822 part).  -1 when out's cap is reached. */
int	 mime_envelope_write(struct buf *out, const struct mime_part *msg);
/* One address list as IMAP writes it: "((name adl mailbox host)...)"
 * or NIL when it holds no address.  -1 when out's cap is reached. */
int	 mime_envelope_addresses(struct buf *out, struct str value);

#endif
