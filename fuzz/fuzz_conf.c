/* fuzz_conf.c: the configuration parser on arbitrary bytes.  Every input
 * either parses (and the result is freed) or yields an error string. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config/conf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *conf;
	char *err = NULL;

	conf = conf_parse("fuzz.conf", (const char *)data, size, &err);
	if ((conf == NULL) == (err == NULL))
		abort();	/* exactly one of them */
	conf_free(&conf);
	free(err);
	return 0;
}
