/* cidr.h: address prefixes ("127.0.0.0/8", "2001:db8::/32", or one
 * address), parsed from config lists and matched against peers. */
#ifndef FACTEUR_NET_CIDR_H
#define FACTEUR_NET_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct cidr {
	int	family;		/* AF_INET or AF_INET6 */
	uint8_t	addr[16];
	unsigned bits;
};

/* Parse one prefix (len bytes, not NUL-terminated).  0 or -1. */
int	cidr_parse(const char *p, size_t len, struct cidr *out);
/* Parse a space-separated list into a malloc'ed array; NULL list is
 * empty.  0 or -1 (a bad entry). */
int	cidr_parse_list(const char *list, struct cidr **out_r, size_t *n_r);
bool	cidr_match(const struct cidr *c, const struct sockaddr_storage *sa);
bool	cidr_match_any(const struct cidr *cs, size_t n,
	    const struct sockaddr_storage *sa);

#endif
