/* cidr.c: address prefixes. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "net/cidr.h"

int
cidr_parse(const char *p, size_t len, struct cidr *out)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long bits;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	memset(out, 0, sizeof(*out));
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
		out->bits = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
		out->bits = 128;
	} else
		return -1;
	if (slash != NULL) {
		if (*slash < '0' || *slash > '9')
			return -1;
		bits = strtoul(slash, &end, 10);
		if (*end != '\0' || bits > out->bits)
			return -1;
		out->bits = (unsigned)bits;
	}
	return 0;
}

int
cidr_parse_list(const char *list, struct cidr **out_r, size_t *n_r)
{
	const char *p = list, *e;
	struct cidr *cs = NULL;
	size_t n = 0;

	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		e = strchr(p, ' ');
		if (e == NULL)
			e = p + strlen(p);
		cs = xrealloc(cs, (n + 1) * sizeof(*cs));
		if (cidr_parse(p, (size_t)(e - p), &cs[n]) == -1) {
			free(cs);
			return -1;
		}
		n++;
		p = e;
	}
	*out_r = cs;
	*n_r = n;
	return 0;
}

bool
cidr_match(const struct cidr *c, const struct sockaddr_storage *sa)
{
	const uint8_t *a;
	unsigned full, rest;

	if (sa->ss_family != c->family)
		return false;
	if (c->family == AF_INET)
		a = (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr;
	else
		a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
	full = c->bits / 8;
	rest = c->bits % 8;
	if (memcmp(a, c->addr, full) != 0)
		return false;
	return rest == 0 ||
	    ((a[full] ^ c->addr[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

bool
cidr_match_any(const struct cidr *cs, size_t n,
    const struct sockaddr_storage *sa)
{
	for (size_t i = 0; i < n; i++)
		if (cidr_match(&cs[i], sa))
			return true;
	return false;
}
