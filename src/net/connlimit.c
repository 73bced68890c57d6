/* connlimit.c: shared connection counters (C11 atomics on a
 * MAP_SHARED|MAP_ANONYMOUS mapping inherited across fork). */
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "core/log.h"
#include "net/connlimit.h"

#define CONNLIMIT_BUCKETS	65536

struct connlimit {
	atomic_uint	total;
	uint64_t	key;
	atomic_uint	per_ip[CONNLIMIT_BUCKETS];
};

struct connlimit *
connlimit_new(void)
{
	struct connlimit *cl;

	cl = mmap(NULL, sizeof(*cl), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (cl == MAP_FAILED)
		fatal("mmap(connlimit)");
	if (getrandom(&cl->key, sizeof(cl->key), 0) != sizeof(cl->key))
		fatal("getrandom");
	return cl;
}

/* FNV-1a over the address bytes, seeded: a client cannot aim at a
 * bucket it shares with a victim. IPv6 counts per /64. */
static unsigned
connlimit_bucket(const struct connlimit *cl, const struct sockaddr_storage *sa)
{
	const unsigned char *p;
	size_t n;
	uint64_t h = 1469598103934665603ULL ^ cl->key;

	if (sa->ss_family == AF_INET6) {
		p = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
		n = 8;
	} else {
		p = (const unsigned char *)
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		n = 4;
	}
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return (unsigned)(h ^ (h >> 32)) % CONNLIMIT_BUCKETS;
}

bool
connlimit_take(struct connlimit *cl, const struct sockaddr_storage *sa,
    unsigned max_total, unsigned max_per_ip, const char **why_r)
{
	unsigned b = connlimit_bucket(cl, sa);

	if (atomic_fetch_add(&cl->total, 1) >= max_total) {
		atomic_fetch_sub(&cl->total, 1);
		*why_r = "too many connections";
		return false;
	}
	if (atomic_fetch_add(&cl->per_ip[b], 1) >= max_per_ip) {
		atomic_fetch_sub(&cl->per_ip[b], 1);
		atomic_fetch_sub(&cl->total, 1);
		*why_r = "too many connections from your address";
		return false;
	}
	return true;
}

void
connlimit_release(struct connlimit *cl, const struct sockaddr_storage *sa)
{
	atomic_fetch_sub(&cl->per_ip[connlimit_bucket(cl, sa)], 1);
	atomic_fetch_sub(&cl->total, 1);
}
