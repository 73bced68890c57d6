/* loop.h: libevent glue shared by every process. */
#ifndef FACTEUR_NET_LOOP_H
#define FACTEUR_NET_LOOP_H

/* Route libevent's own messages into our log format. */
void	loop_init(void);

#endif
