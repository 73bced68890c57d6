/* mime_bodystructure.h: BODY and BODYSTRUCTURE (RFC 9051 §7.5.2) from
 * a parsed part tree.  Sizes are raw bytes of the stored message (CR
 * LF line ends in the Maildir); lines are LF counts. */
#ifndef FACTEUR_MIME_MIME_BODYSTRUCTURE_H
#define FACTEUR_MIME_MIME_BODYSTRUCTURE_H

#include <stdbool.h>

#include "core/buf.h"
#include "mime/mime_parse.h"

/* "(...)" for part (the root for FETCH BODYSTRUCTURE), with extension
 * data (MD5, disposition, language, location; multipart parameters)
 * when extended.  -1 when out's cap is reached. */
int	 mime_bs_write(struct buf *out, const struct mime_part *part,
	    bool extended);

#endif
