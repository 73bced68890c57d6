/* mta_qp.h: 8bit -> quoted-printable conversion of a message on its way
 * to a peer without 8BITMIME (RFC 6152 §3: a message declared 8bit must
 * be converted or returned; RFC 2045 §6.7: quoted-printable).
 *
 * A streaming filter: the message goes in, in pieces of any size, and
 * comes out in the same order, never held whole.  It walks the MIME
 * structure line by line:
 *
 *   - every entity's header block is collected (at most MTA_QP_HEADER_MAX
 *     bytes) and parsed for Content-Type (type, boundary) and
 *     Content-Transfer-Encoding;
 *   - a leaf declaring "8bit" gets "Content-Transfer-Encoding:
 *     quoted-printable" instead, and its body is encoded (lines of at
 *     most 76 characters, soft breaks, trailing white space and '='
 *     encoded, CRLF kept as hard breaks);
 *   - multipart bodies are walked along their boundaries (at most
 *     MTA_QP_DEPTH levels), message/rfc822 bodies as nested messages; a
 *     container declaring 8bit is relabelled 7bit;
 *   - everything else (7bit, base64, quoted-printable parts, preambles,
 *     epilogues) passes unchanged.
 *
 * What it cannot handle (a "binary" part, a multipart without boundary,
 * too deep a nesting, an over-long header block) makes it give up: the
 * rest of the message passes unchanged, and mta_qp_gave_up() says why,
 * for the log.  Line ends on output are CRLF where a line was converted
 * or rewritten; passed-through bytes are untouched. */
#ifndef FACTEUR_MTA_MTA_QP_H
#define FACTEUR_MTA_MTA_QP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

#define MTA_QP_HEADER_MAX	(256 * 1024)
#define MTA_QP_DEPTH		16
#define MTA_QP_BOUNDARY_MAX	200	/* RFC 2046 says 70 */
#define MTA_QP_LINE_MAX		1024	/* longer lines are cut in pieces */

struct mta_qp;

struct mta_qp	*mta_qp_new(void);
void		 mta_qp_free(struct mta_qp **);
/* Convert the next len bytes; the output is appended to out (whose max
 * must allow it: at most 3.1 times the input plus MTA_QP_HEADER_MAX).
 * -1 when out is full. */
int		 mta_qp_feed(struct mta_qp *qp, const char *p, size_t len,
		    struct buf *out);
/* The end of the message: flush what is held. */
int		 mta_qp_end(struct mta_qp *qp, struct buf *out);
/* NULL, or why part of the message went out unconverted. */
const char	*mta_qp_gave_up(const struct mta_qp *qp);
/* How many parts were converted; whether 8bit bytes went out as is. */
unsigned	 mta_qp_converted(const struct mta_qp *qp);
bool		 mta_qp_left_8bit(const struct mta_qp *qp);

#endif
