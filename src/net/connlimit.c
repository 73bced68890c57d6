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

#define CONNLIMIT_BUCKETS	4096

struct connlimit_row {
	atomic_uint	total;
	atomic_uint	per_ip[CONNLIMIT_BUCKETS];
};

struct connlimit {
	uint64_t		key;
	unsigned		nrows;
	struct connlimit_row	rows[];
};

struct connlimit *
connlimit_new(unsigned nrows)
{
	struct connlimit *cl;
	size_t size = sizeof(*cl) + nrows * sizeof(struct connlimit_row);

	cl = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (cl == MAP_FAILED)
		fatal("mmap(connlimit, %zu)", size);
	if (getrandom(&cl->key, sizeof(cl->key), 0) != sizeof(cl->key))
		fatal("getrandom");
	cl->nrows = nrows;
	return cl;
}

unsigned
connlimit_rows(const struct connlimit *cl)
{
	return cl->nrows;
}

/* FNV-1a over the address bytes, seeded: a client cannot aim at a
 * bucket it shares with a victim.  IPv6 counts per /64. */
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

/* Count first, then check the sums: two workers racing for the last
 * place may both be refused, never both admitted. */
bool
connlimit_take(struct connlimit *cl, unsigned row,
    const struct sockaddr_storage *sa, unsigned max_total,
    unsigned max_per_ip, const char **why_r)
{
	struct connlimit_row *mine = &cl->rows[row];
	unsigned b = connlimit_bucket(cl, sa), total = 0, ip = 0;

	atomic_fetch_add(&mine->total, 1);
	atomic_fetch_add(&mine->per_ip[b], 1);
	for (unsigned r = 0; r < cl->nrows; r++) {
		total += atomic_load(&cl->rows[r].total);
		ip += atomic_load(&cl->rows[r].per_ip[b]);
	}
	if (total <= max_total && ip <= max_per_ip)
		return true;
	atomic_fetch_sub(&mine->per_ip[b], 1);
	atomic_fetch_sub(&mine->total, 1);
	*why_r = total > max_total ? "too many connections" :
	    "too many connections from your address";
	return false;
}

void
connlimit_release(struct connlimit *cl, unsigned row,
    const struct sockaddr_storage *sa)
{
	struct connlimit_row *mine = &cl->rows[row];

	atomic_fetch_sub(&mine->per_ip[connlimit_bucket(cl, sa)], 1);
	atomic_fetch_sub(&mine->total, 1);
}

void
connlimit_clear_row(struct connlimit *cl, unsigned row)
{
	struct connlimit_row *r = &cl->rows[row];

	atomic_store(&r->total, 0);
	for (size_t i = 0; i < CONNLIMIT_BUCKETS; i++)
		atomic_store(&r->per_ip[i], 0);
}
