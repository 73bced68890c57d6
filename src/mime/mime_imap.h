/* mime_imap.h: IMAP strings (RFC 9051 §4.3) for ENVELOPE and
 * BODYSTRUCTURE.  A string is quoted when it can be: 7-bit, no CR, LF
 * or NUL; otherwise a literal "{n}\r\n...", which both IMAP4rev1 and
 * IMAP4rev2 accept, so one cached text serves both.  A NUL (which no
 * IMAP string may hold) is written as U+FFFD. */
#ifndef FACTEUR_MIME_MIME_IMAP_H
#define FACTEUR_MIME_MIME_IMAP_H

#include "core/buf.h"
#include "core/str.h"

/* 0, or -1 when the buffer's cap is reached. */
int	 mime_imap_string(struct buf *b, struct str s);
/* NIL when s.p == NULL. */
int	 mime_imap_nstring(struct buf *b, struct str s);

#endif
