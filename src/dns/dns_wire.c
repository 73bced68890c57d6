/* dns_wire.c: DNS reply and rdata parsers (see dns_wire.h).  No I/O, no
 * allocation: fuzzed by fuzz/fuzz_dns.c. */
#include <string.h>

#include "dns/dns_wire.h"

#define DNS_WIRE_LABEL_MAX	63
#define DNS_WIRE_RR_FIXED	10	/* type, class, ttl, rdlength */

static uint16_t
dns_wire_u16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t
dns_wire_u32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | p[3];
}

static bool
dns_wire_host_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static uint8_t
dns_wire_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

/*
 * Names.
 */

int
dns_wire_name_read(const uint8_t *msg, size_t len, size_t off,
    struct dns_wire_name *name, size_t *next_r)
{
	size_t pos = off, floor = off, next = 0, o = 0, ptr;
	bool jumped = false;
	uint8_t c;

	for (;;) {
		if (pos >= len)
			return -1;
		c = msg[pos];
		if ((c & 0xc0) == 0xc0) {
			if (pos + 1 >= len)
				return -1;
			ptr = ((size_t)(c & 0x3f) << 8) | msg[pos + 1];
			/* strictly before this label sequence: no loop */
			if (ptr >= floor)
				return -1;
			if (!jumped)
				next = pos + 2;
			jumped = true;
			floor = pos = ptr;
			continue;
		}
		if ((c & 0xc0) != 0)
			return -1;		/* 0x40, 0x80: not labels */
		if (c == 0)
			break;
		if (c > len - pos - 1 || o + 1 + c + 1 > DNS_WIRE_NAME_MAX)
			return -1;
		name->b[o++] = c;
		memcpy(name->b + o, msg + pos + 1, c);
		o += c;
		pos += 1 + (size_t)c;
	}
	name->b[o++] = 0;
	name->len = o;
	if (next_r != NULL)
		*next_r = jumped ? next : pos + 1;
	return 0;
}

bool
dns_wire_name_eq(const struct dns_wire_name *a, const struct dns_wire_name *b)
{
	if (a->len != b->len)
		return false;
	/* length bytes are at most 63, below 'A': lowering leaves them */
	for (size_t i = 0; i < a->len; i++) {
		if (dns_wire_lower(a->b[i]) != dns_wire_lower(b->b[i]))
			return false;
	}
	return true;
}

int
dns_wire_name_text(const struct dns_wire_name *name, char *out)
{
	size_t i = 0, o = 0, n;

	while (i < name->len && name->b[i] != 0) {
		n = name->b[i++];
		if (n > name->len - i || o + n + 1 > DNS_NAME_TEXT_MAX)
			return -1;
		if (o > 0)
			out[o++] = '.';
		for (size_t k = 0; k < n; k++) {
			if (!dns_wire_host_char(name->b[i + k]))
				return -1;
			out[o++] = (char)name->b[i + k];
		}
		i += n;
	}
	out[o] = '\0';
	return 0;
}

bool
dns_wire_name_valid(const char *name)
{
	size_t len = strlen(name), label = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_TEXT_MAX - 1)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && name[i] != '.') {
			if (!dns_wire_host_char((uint8_t)name[i]))
				return false;
			label++;
			continue;
		}
		if (label == 0 || label > DNS_WIRE_LABEL_MAX)
			return false;
		label = 0;
	}
	return true;
}

int
dns_wire_name_from_text(const char *text, struct dns_wire_name *name)
{
	size_t len = strlen(text), o = 0, start = 0, n;
	const char *dot;

	if (!dns_wire_name_valid(text))
		return -1;
	if (text[len - 1] == '.')
		len--;
	while (start < len) {
		dot = memchr(text + start, '.', len - start);
		n = dot == NULL ? len - start : (size_t)(dot - text) - start;
		name->b[o++] = (uint8_t)n;
		memcpy(name->b + o, text + start, n);
		o += n;
		start += n + 1;
	}
	name->b[o++] = 0;
	name->len = o;
	return 0;
}

/*
 * Resource records and the reply.
 */

int
dns_wire_rr_read(const uint8_t *msg, size_t len, size_t off,
    struct dns_wire_rr *rr, size_t *next_r)
{
	size_t pos;

	if (dns_wire_name_read(msg, len, off, &rr->owner, &pos) == -1)
		return -1;
	if (len - pos < DNS_WIRE_RR_FIXED)
		return -1;
	rr->type = dns_wire_u16(msg + pos);
	rr->class = dns_wire_u16(msg + pos + 2);
	rr->ttl = dns_wire_u32(msg + pos + 4);
	rr->rdlen = dns_wire_u16(msg + pos + 8);
	rr->rdoff = pos + DNS_WIRE_RR_FIXED;
	if (rr->rdlen > len - rr->rdoff)
		return -1;
	*next_r = rr->rdoff + rr->rdlen;
	return 0;
}

/* Check every answer RR's shape, so that reading them later cannot fail. */
static int
dns_wire_reply_scan(const struct dns_wire_reply *r)
{
	struct dns_wire_rr rr;
	size_t off = r->an_off;

	for (unsigned i = 0; i < r->ancount; i++) {
		if (dns_wire_rr_read(r->msg, r->len, off, &rr, &off) == -1)
			return -1;
	}
	return 0;
}

/* The CNAME whose owner is r->name, if any, into *target: 1, 0 none. */
static int
dns_wire_reply_cname(const struct dns_wire_reply *r,
    struct dns_wire_name *target)
{
	struct dns_wire_rr rr;
	size_t off = r->an_off, end;

	for (unsigned i = 0; i < r->ancount; i++) {
		(void)dns_wire_rr_read(r->msg, r->len, off, &rr, &off);
		if (rr.type != DNS_TYPE_CNAME || rr.class != DNS_CLASS_IN ||
		    !dns_wire_name_eq(&rr.owner, &r->name))
			continue;
		if (dns_wire_name_read(r->msg, r->len, rr.rdoff, target,
		    &end) == -1 || end != rr.rdoff + rr.rdlen)
			return -1;
		return 1;
	}
	return 0;
}

static int
dns_wire_reply_chain(struct dns_wire_reply *r)
{
	struct dns_wire_name target;
	int rc;

	r->name = r->qname;
	if (r->qtype == DNS_TYPE_CNAME)
		return 0;
	for (unsigned hop = 0; hop <= DNS_WIRE_CNAME_MAX; hop++) {
		if ((rc = dns_wire_reply_cname(r, &target)) <= 0)
			return rc;
		r->name = target;
	}
	return -1;			/* too long, or a loop */
}

int
dns_wire_reply_parse(struct dns_wire_reply *r, const uint8_t *msg,
    size_t len)
{
	size_t pos;

	memset(r, 0, sizeof(*r));
	r->msg = msg;
	r->len = len;
	if (len < DNS_WIRE_HDR_LEN)
		return -1;
	/* QR set, opcode QUERY, exactly one question */
	if ((msg[2] & 0x80) == 0 || (msg[2] & 0x78) != 0 ||
	    dns_wire_u16(msg + 4) != 1)
		return -1;
	r->rcode = msg[3] & 0x0f;
	r->ancount = dns_wire_u16(msg + 6);
	if (dns_wire_name_read(msg, len, DNS_WIRE_HDR_LEN, &r->qname,
	    &pos) == -1 || len - pos < 4)
		return -1;
	r->qtype = dns_wire_u16(msg + pos);
	r->qclass = dns_wire_u16(msg + pos + 2);
	r->an_off = pos + 4;
	if (dns_wire_reply_scan(r) == -1)
		return -1;
	return dns_wire_reply_chain(r);
}

int
dns_wire_reply_next(const struct dns_wire_reply *r, unsigned *idx,
    size_t *off, struct dns_wire_rr *rr)
{
	if (*idx == 0)
		*off = r->an_off;
	while (*idx < r->ancount) {
		(*idx)++;
		(void)dns_wire_rr_read(r->msg, r->len, *off, rr, off);
		if (rr->type == r->qtype && rr->class == DNS_CLASS_IN &&
		    dns_wire_name_eq(&rr->owner, &r->name))
			return 1;
	}
	return 0;
}

size_t
dns_wire_reply_count(const struct dns_wire_reply *r)
{
	struct dns_wire_rr rr;
	unsigned idx = 0;
	size_t off = 0, n = 0;

	while (dns_wire_reply_next(r, &idx, &off, &rr) == 1)
		n++;
	return n;
}

/*
 * rdata.
 */

int
dns_wire_mx(const uint8_t *msg, size_t len, size_t rdoff, size_t rdlen,
    uint16_t *pref_r, struct dns_wire_name *exchange)
{
	size_t end;

	if (rdlen < 3 || rdoff > len || rdlen > len - rdoff)
		return -1;
	/* the name must end inside the rdata, exactly at its end */
	if (dns_wire_name_read(msg, rdoff + rdlen, rdoff + 2, exchange,
	    &end) == -1 || end != rdoff + rdlen)
		return -1;
	*pref_r = dns_wire_u16(msg + rdoff);
	return 0;
}

int
dns_wire_a(const uint8_t *msg, size_t rdoff, size_t rdlen, struct dns_ip *ip)
{
	if (rdlen != 4)
		return -1;
	memset(ip, 0, sizeof(*ip));
	ip->family = AF_INET;
	memcpy(&ip->u.v4, msg + rdoff, 4);
	return 0;
}

int
dns_wire_aaaa(const uint8_t *msg, size_t rdoff, size_t rdlen,
    struct dns_ip *ip)
{
	if (rdlen != 16)
		return -1;
	memset(ip, 0, sizeof(*ip));
	ip->family = AF_INET6;
	memcpy(&ip->u.v6, msg + rdoff, 16);
	return 0;
}

int
dns_wire_txt(const uint8_t *msg, size_t rdoff, size_t rdlen, char *out,
    size_t *outlen_r)
{
	size_t pos = 0, o = 0, n;

	if (rdlen == 0)
		return -1;		/* at least one character-string */
	while (pos < rdlen) {
		n = msg[rdoff + pos++];
		if (n > rdlen - pos)
			return -1;
		memcpy(out + o, msg + rdoff + pos, n);
		o += n;
		pos += n;
	}
	*outlen_r = o;
	return 0;
}

int
dns_wire_tlsa(const uint8_t *msg, size_t rdoff, size_t rdlen,
    struct dns_tlsa *tlsa)
{
	if (rdlen < 3)
		return -1;
	tlsa->usage = msg[rdoff];
	tlsa->selector = msg[rdoff + 1];
	tlsa->mtype = msg[rdoff + 2];
	tlsa->len = rdlen - 3;
	tlsa->data = msg + rdoff + 3;
	return 0;
}
