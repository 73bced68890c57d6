/* dns_test_pkt.h: build DNS reply packets for the dns unit tests. */
#ifndef FACTEUR_TESTS_DNS_TEST_PKT_H
#define FACTEUR_TESTS_DNS_TEST_PKT_H

#include <stdint.h>
#include <string.h>

#define PKT_MAX		8192

struct pkt {
	uint8_t		 b[PKT_MAX];
	size_t		 len;
};

static inline void
pkt_u16(struct pkt *p, unsigned v)
{
	assert_true(p->len + 2 <= PKT_MAX);
	p->b[p->len++] = (uint8_t)(v >> 8);
	p->b[p->len++] = (uint8_t)v;
}

static inline void
pkt_bytes(struct pkt *p, const void *b, size_t n)
{
	assert_true(p->len + n <= PKT_MAX);
	memcpy(p->b + p->len, b, n);
	p->len += n;
}

/* "a.b.c" (or "" / "." for the root) uncompressed. */
static inline void
pkt_name(struct pkt *p, const char *text)
{
	const char *dot;
	size_t n;

	while (*text != '\0' && strcmp(text, ".") != 0) {
		dot = strchr(text, '.');
		n = dot == NULL ? strlen(text) : (size_t)(dot - text);
		p->b[p->len++] = (uint8_t)n;
		pkt_bytes(p, text, n);
		text += n;
		if (*text == '.')
			text++;
	}
	p->b[p->len++] = 0;
}

/* A reply header and question. */
static inline void
pkt_init(struct pkt *p, unsigned rcode, const char *qname, unsigned qtype)
{
	memset(p, 0, sizeof(*p));
	pkt_u16(p, 0x1234);
	pkt_u16(p, 0x8180 | rcode);	/* QR RD RA */
	pkt_u16(p, 1);
	pkt_u16(p, 0);
	pkt_u16(p, 0);
	pkt_u16(p, 0);
	pkt_name(p, qname);
	pkt_u16(p, qtype);
	pkt_u16(p, 1);
}

static inline void
pkt_ancount_inc(struct pkt *p)
{
	unsigned n = (unsigned)((p->b[6] << 8) | p->b[7]) + 1;

	p->b[6] = (uint8_t)(n >> 8);
	p->b[7] = (uint8_t)n;
}

/* Type, class IN, TTL, and rdata; the owner is written by the caller
 * (pkt_name, or a pointer). */
static inline void
pkt_rr_tail(struct pkt *p, unsigned type, const void *rd, size_t rdlen)
{
	pkt_u16(p, type);
	pkt_u16(p, 1);
	pkt_u16(p, 0);
	pkt_u16(p, 300);
	pkt_u16(p, (unsigned)rdlen);
	pkt_bytes(p, rd, rdlen);
	pkt_ancount_inc(p);
}

static inline void
pkt_rr(struct pkt *p, const char *owner, unsigned type, const void *rd,
    size_t rdlen)
{
	pkt_name(p, owner);
	pkt_rr_tail(p, type, rd, rdlen);
}

/* An MX record: preference, exchange uncompressed. */
static inline void
pkt_mx(struct pkt *p, const char *owner, unsigned pref, const char *exchange)
{
	struct pkt rd;

	rd.len = 0;
	pkt_u16(&rd, pref);
	pkt_name(&rd, exchange);
	pkt_rr(p, owner, 15, rd.b, rd.len);
}

#endif
