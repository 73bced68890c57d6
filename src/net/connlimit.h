/* connlimit.h: connection counts shared by every worker (one anonymous
 * shared mapping made by the parent before fork): a global count and a
 * count per client address, bucketed by a keyed hash.  Two addresses
 * that share a bucket only make the limit stricter for both. */
#ifndef FACTEUR_NET_CONNLIMIT_H
#define FACTEUR_NET_CONNLIMIT_H

#include <stdbool.h>
#include <sys/socket.h>

struct connlimit;

struct connlimit *connlimit_new(void);
/* Count a new connection; false (nothing counted) when over a limit,
 * with *why_r saying which. */
bool	connlimit_take(struct connlimit *cl, const struct sockaddr_storage *sa,
	    unsigned max_total, unsigned max_per_ip, const char **why_r);
void	connlimit_release(struct connlimit *cl,
	    const struct sockaddr_storage *sa);

#endif
