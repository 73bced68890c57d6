/* cli_check.c: "facteur check": load the configuration, print errors
 * (one per line, FILE:LINE:COL: ...) or "FILE: ok" and the listeners. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/conf.h"

static void
cli_check_listeners(const struct conf *conf)
{
	const struct conf_listen *l;
	int v6;

	printf("listen:");
	for (size_t i = 0; i < conf->nlisten; i++) {
		l = &conf->listen[i];
		v6 = l->addr[0] != '*' && strchr(l->addr, ':') != NULL;
		printf("%s %s %s%s%s:%u", i == 0 ? "" : ",",
		    conf_proto_name(l->proto), v6 ? "[" : "", l->addr,
		    v6 ? "]" : "", (unsigned)l->port);
	}
	printf("\n");
}

int
cli_check(const char *conf_path, int argc, char **argv)
{
	struct conf *conf;
	char *err = NULL;

	if (argc > 1) {
		fprintf(stderr, "facteur: check: unexpected argument: %s\n"
		    "usage: facteur [-c FILE] check\n", argv[1]);
		return 2;
	}
	if ((conf = conf_load(conf_path, &err)) == NULL) {
		fprintf(stderr, "%s\n", err);
		free(err);
		return 1;
	}
	printf("%s: ok\n", conf_path);
	cli_check_listeners(conf);
	conf_free(&conf);
	return 0;
}
