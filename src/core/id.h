/* id.h: random 64-bit session and queue ids. */
#ifndef FACTEUR_CORE_ID_H
#define FACTEUR_CORE_ID_H

#include <stdint.h>

uint64_t	id_new(void);
void		id_reset(void);	/* in a child after fork() */
/* buf must hold 17 bytes */
void		id_fmt(uint64_t id, char buf[17]);

#endif
