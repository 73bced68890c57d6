/* queue_sum.c: the checksum of queue files (queue_sum.h).
 *
 * A spare file reused in place (queue_fs.c) is written and synced
 * under its final name: after a power loss in the middle of its
 * fdatasync, its header may be new and some of its blocks old.  The
 * header line therefore carries a 64-bit sum of the rest of the file
 * (the envelope block, then the message), and the queue process checks
 * it at its first start after a reboot (queue_fs_scan).  Not a
 * cryptographic hash: it finds torn writes and bad blocks, nothing an
 * attacker chose.  Four lanes of 64-bit multiply-rotate rounds over
 * 32-byte stripes, chunk-independent (the message is summed as it
 * arrives, in pieces of any size).
 */
#include <string.h>

#include "queue/queue_sum.h"

#define QUEUE_SUM_P1	0x9e3779b185ebca87ULL
#define QUEUE_SUM_P2	0xc2b2ae3d27d4eb4fULL
#define QUEUE_SUM_P3	0x165667b19e3779f9ULL
#define QUEUE_SUM_P4	0x85ebca77c2b2ae63ULL
#define QUEUE_SUM_P5	0x27d4eb2f165667c5ULL

static uint64_t
queue_sum_rotl(uint64_t x, unsigned r)
{
	return x << r | x >> (64 - r);
}

static uint64_t
queue_sum_le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t
queue_sum_round(uint64_t acc, uint64_t w)
{
	acc += w * QUEUE_SUM_P2;
	return queue_sum_rotl(acc, 31) * QUEUE_SUM_P1;
}

void
queue_sum_init(struct queue_sum *s)
{
	memset(s, 0, sizeof(*s));
	s->v[0] = QUEUE_SUM_P1 + QUEUE_SUM_P2;
	s->v[1] = QUEUE_SUM_P2;
	s->v[2] = 0;
	s->v[3] = 0 - QUEUE_SUM_P1;
}

static void
queue_sum_stripe(struct queue_sum *s, const unsigned char *p)
{
	for (int i = 0; i < 4; i++)
		s->v[i] = queue_sum_round(s->v[i], queue_sum_le64(p + 8 * i));
}

void
queue_sum_update(struct queue_sum *s, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t take;

	s->total += len;
	if (s->nbuf > 0) {
		take = sizeof(s->buf) - s->nbuf < len ?
		    sizeof(s->buf) - s->nbuf : len;
		memcpy(s->buf + s->nbuf, p, take);
		s->nbuf += take;
		p += take;
		len -= take;
		if (s->nbuf < sizeof(s->buf))
			return;
		queue_sum_stripe(s, s->buf);
		s->nbuf = 0;
	}
	for (; len >= sizeof(s->buf); p += sizeof(s->buf),
	    len -= sizeof(s->buf))
		queue_sum_stripe(s, p);
	memcpy(s->buf, p, len);
	s->nbuf = len;
}

uint64_t
queue_sum_final(const struct queue_sum *s)
{
	uint64_t h = queue_sum_rotl(s->v[0], 1) + queue_sum_rotl(s->v[1], 7) +
	    queue_sum_rotl(s->v[2], 12) + queue_sum_rotl(s->v[3], 18);
	size_t i = 0;

	for (int k = 0; k < 4; k++) {
		h ^= queue_sum_round(0, s->v[k]);
		h = h * QUEUE_SUM_P1 + QUEUE_SUM_P4;
	}
	h += s->total;
	for (; i + 8 <= s->nbuf; i += 8) {
		h ^= queue_sum_round(0, queue_sum_le64(s->buf + i));
		h = queue_sum_rotl(h, 27) * QUEUE_SUM_P1 + QUEUE_SUM_P4;
	}
	for (; i < s->nbuf; i++) {
		h ^= s->buf[i] * QUEUE_SUM_P5;
		h = queue_sum_rotl(h, 11) * QUEUE_SUM_P1;
	}
	h ^= h >> 33;
	h *= QUEUE_SUM_P2;
	h ^= h >> 29;
	h *= QUEUE_SUM_P3;
	h ^= h >> 32;
	return h;
}

uint64_t
queue_sum_join(uint64_t block, uint64_t msg)
{
	struct queue_sum s;
	unsigned char b[16];

	for (int i = 0; i < 8; i++) {
		b[i] = (unsigned char)(block >> (8 * i));
		b[8 + i] = (unsigned char)(msg >> (8 * i));
	}
	queue_sum_init(&s);
	queue_sum_update(&s, b, sizeof(b));
	return queue_sum_final(&s);
}
