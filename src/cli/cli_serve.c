/* cli_serve.c: `facteur serve`: run the server in the foreground. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/serve.h"

int
cli_serve(struct conf *conf, int argc, char **argv)
{
	if (argc > 1) {
		fprintf(stderr, "usage: facteur [-c FILE] serve\n");
		return 2;
	}
	return serve_parent_main(conf);
}
