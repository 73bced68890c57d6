/* fuzz_envelope.c: libFuzzer target for src/queue/envelope.c.
 *
 * The input is read as an envelope file.  When the parser accepts it,
 * the file is canonical: formatting the result gives back the same
 * bytes, and parsing that gives the same envelope.  Any difference
 * aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/envelope.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_envelope: %s:%d: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
		abort();						\
	}								\
} while (0)

#define FUZZ_MAX_INPUT	(256 * 1024)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envelope e, back;
	const char *err = NULL;
	char *text;
	size_t len;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (envelope_parse((const char *)data, size, &e, &err) == -1) {
		FUZZ_CHECK(err != NULL);
		FUZZ_CHECK(e.rcpts == NULL && e.nrcpts == 0);
		return 0;
	}
	FUZZ_CHECK(e.nrcpts >= 1 && e.nrcpts <= ENVELOPE_RCPTS_MAX);
	text = envelope_format(&e, &len);
	FUZZ_CHECK(len == size && memcmp(text, data, size) == 0);
	FUZZ_CHECK(envelope_parse(text, len, &back, &err) == 0);
	FUZZ_CHECK(back.nrcpts == e.nrcpts);
	FUZZ_CHECK(memcmp(back.rcpts, e.rcpts,
	    e.nrcpts * sizeof(*e.rcpts)) == 0);
	free(text);
	envelope_clear(&back);
	envelope_clear(&e);
	return 0;
}
