/* mime_testlib.h: helpers shared by the tests of src/mime: messages are
 * written with LF and sent with CR LF (as they are stored), expected
 * IMAP text is written with ` for ", and every parse is also done with
 * the input cut in pieces, which must change nothing. */
#ifndef FACTEUR_TESTS_MIME_TESTLIB_H
#define FACTEUR_TESTS_MIME_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "mime/mime_parse.h"

/* "a\nb" as "a\r\nb" (a new buffer, *len_r bytes). */
char	*mime_test_crlf(const char *lf, size_t *len_r);
/* ` becomes ", in a new string. */
char	*mime_test_q(const char *s);
/* Everything the tree says, as text: offsets, flags, BODYSTRUCTURE,
 * BODY, ENVELOPE of every message part. */
void	 mime_test_dump(struct buf *out, const struct mime_message *msg);
/* Parse data fed in the pieces that cuts (ascending offsets) give. */
struct mime_message *mime_test_parse_cuts(const char *data, size_t len,
	    const size_t *cuts, size_t ncuts);
/* Parse whole, at every single cut, byte by byte (or, past max_exact
 * bytes, in random pieces): every dump must be the same. */
void	 mime_test_trickle(const char *data, size_t len, size_t max_exact);

#endif
