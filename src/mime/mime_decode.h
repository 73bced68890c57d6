/* mime_decode.h: streaming Content-Transfer-Encoding decoders (RFC 2045
 * §6) for SEARCH BODY/TEXT and FETCH BINARY.  Fed chunks of any size;
 * output is the same however the input is cut.  Damaged input is
 * decoded as far as it goes and counted in errors. */
#ifndef FACTEUR_MIME_MIME_DECODE_H
#define FACTEUR_MIME_MIME_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"

enum mime_cte {
	MIME_CTE_7BIT,
	MIME_CTE_8BIT,
	MIME_CTE_BINARY,
	MIME_CTE_BASE64,
	MIME_CTE_QP,
	MIME_CTE_UNKNOWN,	/* BINARY answers [UNKNOWN-CTE] (RFC 3516) */
};

/* Pending trailing white space kept per quoted-printable line. */
#define MIME_DECODE_WS_MAX	256

struct mime_decode {
	enum mime_cte	 cte;
	unsigned	 state;
	uint32_t	 bits;		/* base64: sextets gathered */
	unsigned	 nbits;		/* base64: how many; qp: hex held */
	size_t		 nws;
	char		 ws[MIME_DECODE_WS_MAX];
	uint64_t	 errors;	/* bytes that made no sense */
};

/* From a part's encoding field (absent: 7bit). */
enum mime_cte mime_decode_cte(struct str encoding);
void	 mime_decode_init(struct mime_decode *d, enum mime_cte cte);
/* Append what in decodes to; -1 when out's cap is reached. */
int	 mime_decode_feed(struct mime_decode *d, struct buf *out,
	    const void *in, size_t len);
int	 mime_decode_finish(struct mime_decode *d, struct buf *out);

#endif
