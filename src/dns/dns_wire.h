/* dns_wire.h: pure parsers for DNS replies (RFC 1035 §4) and the rdata
 * we use: MX, A, AAAA, TXT, TLSA.
 *
 * libunbound's event API hands us whole reply packets, names compressed.
 * Everything here is bounds-checked against the packet: a name has at most
 * 255 bytes in wire form, compression pointers must point strictly before
 * the label sequence that uses them (so they cannot loop), the 0x40 and
 * 0x80 label types are refused.  Functions return 0 or -1 (malformed). */
#ifndef FACTEUR_DNS_DNS_WIRE_H
#define FACTEUR_DNS_DNS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"

#define DNS_WIRE_HDR_LEN	12
#define DNS_WIRE_NAME_MAX	255	/* wire form, root label included */
#define DNS_WIRE_CNAME_MAX	16	/* links followed in one answer */

#define DNS_TYPE_A		1
#define DNS_TYPE_CNAME		5
#define DNS_TYPE_MX		15
#define DNS_TYPE_TXT		16
#define DNS_TYPE_AAAA		28
#define DNS_TYPE_TLSA		52
#define DNS_CLASS_IN		1

#define DNS_RCODE_NOERROR	0
#define DNS_RCODE_SERVFAIL	2
#define DNS_RCODE_NXDOMAIN	3

/* A name in uncompressed wire form. */
struct dns_wire_name {
	uint8_t		 b[DNS_WIRE_NAME_MAX];
	size_t		 len;		/* 1 (root) .. 255 */
};

struct dns_wire_rr {
	struct dns_wire_name owner;
	uint16_t	 type, class;
	uint32_t	 ttl;
	size_t		 rdoff, rdlen;	/* the rdata within the packet */
};

/* A reply, checked once; the answers we want are then read with
 * dns_wire_reply_next, which cannot fail. */
struct dns_wire_reply {
	const uint8_t	*msg;
	size_t		 len;
	unsigned	 rcode;
	uint16_t	 qtype, qclass;
	struct dns_wire_name qname;	/* as asked */
	struct dns_wire_name name;	/* qname after the CNAME chain */
	size_t		 an_off;	/* the first answer RR */
	unsigned	 ancount;
};

/* The name at off: its uncompressed form in *name and, in *next_r, the
 * offset just past it where it was written (after its first pointer). */
int	dns_wire_name_read(const uint8_t *msg, size_t len, size_t off,
	    struct dns_wire_name *name, size_t *next_r);
/* ASCII case-insensitive equality. */
bool	dns_wire_name_eq(const struct dns_wire_name *a,
	    const struct dns_wire_name *b);
/* A host name's text: labels of letters, digits, '-' and '_' only,
 * without the trailing dot; the root gives "".  out holds
 * DNS_NAME_TEXT_MAX bytes.  -1 for other bytes. */
int	dns_wire_name_text(const struct dns_wire_name *name, char *out);
/* A name we accept to look up: LDH and '_' labels of 1 to 63 bytes, at
 * most 253 bytes, one trailing dot allowed (dns_name_valid). */
bool	dns_wire_name_valid(const char *name);
/* Text that dns_wire_name_valid accepts to wire form. */
int	dns_wire_name_from_text(const char *text, struct dns_wire_name *name);

int	dns_wire_rr_read(const uint8_t *msg, size_t len, size_t off,
	    struct dns_wire_rr *rr, size_t *next_r);

/* Header, the one question, every answer RR's shape, the CNAME chain. */
int	dns_wire_reply_parse(struct dns_wire_reply *r, const uint8_t *msg,
	    size_t len);
/* The next answer of type qtype, class IN, owned by r->name, from index
 * *idx (start at 0); 1 found, 0 no more. */
int	dns_wire_reply_next(const struct dns_wire_reply *r, unsigned *idx,
	    size_t *off, struct dns_wire_rr *rr);
/* How many answers dns_wire_reply_next will return. */
size_t	dns_wire_reply_count(const struct dns_wire_reply *r);

/* rdata parsers: the rdata is msg[rdoff .. rdoff + rdlen), which lies
 * within msg[0 .. len); MX names may point back into msg. */
int	dns_wire_mx(const uint8_t *msg, size_t len, size_t rdoff, size_t rdlen,
	    uint16_t *pref_r, struct dns_wire_name *exchange);
int	dns_wire_a(const uint8_t *msg, size_t rdoff, size_t rdlen,
	    struct dns_ip *ip);
int	dns_wire_aaaa(const uint8_t *msg, size_t rdoff, size_t rdlen,
	    struct dns_ip *ip);
/* The character-strings concatenated into out (rdlen bytes suffice). */
int	dns_wire_txt(const uint8_t *msg, size_t rdoff, size_t rdlen,
	    char *out, size_t *outlen_r);
/* tlsa->data points into msg. */
int	dns_wire_tlsa(const uint8_t *msg, size_t rdoff, size_t rdlen,
	    struct dns_tlsa *tlsa);

#endif
