/* id.c: random ids from the kernel's generator, buffered. */
#include <stdio.h>
#include <sys/random.h>

#include "core/id.h"
#include "core/log.h"

static uint64_t	id_pool[64];
static unsigned	id_left;

/* After fork() both processes would hand out the same ids: call this. */
void
id_reset(void)
{
	id_left = 0;
}

uint64_t
id_new(void)
{
	uint64_t id;

	do {
		if (id_left == 0) {
			if (getrandom(id_pool, sizeof(id_pool), 0) !=
			    sizeof(id_pool))
				fatal("getrandom");
			id_left = 64;
		}
		id = id_pool[--id_left];
	} while (id == 0);
	return id;
}

void
id_fmt(uint64_t id, char buf[17])
{
	snprintf(buf, 17, "%016llx", (unsigned long long)id);
}
