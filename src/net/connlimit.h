/* connlimit.h: connection counts shared by every worker (one anonymous
 * shared mapping made by the parent before fork).
 *
 * Each worker process counts in a row of its own: a global count and a
 * count per client address bucket (a keyed hash; two addresses that
 * share a bucket only make the limit stricter for both).  A limit is
 * checked against the sum over all rows.  When a worker dies, the parent
 * clears its row, so a crash cannot leave connections counted forever. */
#ifndef FACTEUR_NET_CONNLIMIT_H
#define FACTEUR_NET_CONNLIMIT_H

#include <stdbool.h>
#include <sys/socket.h>

struct connlimit;

struct connlimit *connlimit_new(unsigned nrows);
/* Count a new connection in row; false (nothing counted) when over a
 * limit, with *why_r saying which. */
bool	connlimit_take(struct connlimit *cl, unsigned row,
	    const struct sockaddr_storage *sa, unsigned max_total,
	    unsigned max_per_ip, const char **why_r);
void	connlimit_release(struct connlimit *cl, unsigned row,
	    const struct sockaddr_storage *sa);
/* Forget everything a (dead) worker counted. */
void	connlimit_clear_row(struct connlimit *cl, unsigned row);
unsigned connlimit_rows(const struct connlimit *cl);

#endif
