/* fuzz_dns.c: the DNS reply parser (src/dns/dns_wire.c) and the MX logic
 * on arbitrary packets, as libunbound would hand them to us.  Whatever
 * the bytes, nothing is read out of bounds, names stay within 255 bytes,
 * and each rdata parser keeps within its rdata. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns_int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t fuzz_dns_counter;

static uint32_t
fuzz_dns_rnd(void)
{
	return fuzz_dns_counter++ * 2654435761u;
}

static void
fuzz_dns_rdata(const struct dns_wire_reply *r, const struct dns_wire_rr *rr)
{
	struct dns_wire_name name;
	struct dns_tlsa tlsa;
	struct dns_ip ip;
	char text[DNS_NAME_TEXT_MAX], *out;
	size_t outlen;
	uint16_t pref;

	if (dns_wire_mx(r->msg, r->len, rr->rdoff, rr->rdlen, &pref,
	    &name) == 0) {
		if (name.len == 0 || name.len > DNS_WIRE_NAME_MAX)
			abort();
		if (dns_wire_name_text(&name, text) == 0 &&
		    strlen(text) >= DNS_NAME_TEXT_MAX)
			abort();
	}
	(void)dns_wire_a(r->msg, rr->rdoff, rr->rdlen, &ip);
	(void)dns_wire_aaaa(r->msg, rr->rdoff, rr->rdlen, &ip);
	/* exactly rdlen bytes: ASan catches a write past them */
	out = malloc(rr->rdlen + 1);
	if (out == NULL)
		abort();
	if (dns_wire_txt(r->msg, rr->rdoff, rr->rdlen, out, &outlen) == 0 &&
	    outlen >= rr->rdlen)
		abort();
	free(out);
	if (dns_wire_tlsa(r->msg, rr->rdoff, rr->rdlen, &tlsa) == 0 &&
	    (tlsa.data < r->msg + rr->rdoff ||
	    tlsa.data + tlsa.len != r->msg + rr->rdoff + rr->rdlen))
		abort();
}

static void
fuzz_dns_mx(const struct dns_wire_reply *r)
{
	struct dns_mx_host hosts[DNS_MX_HOSTS_MAX];
	size_t n = 0;
	enum dns_status st;

	st = dns_mx_hosts(r, fuzz_dns_rnd, hosts, DNS_MX_HOSTS_MAX, &n);
	if (n > DNS_MX_HOSTS_MAX || (st == DNS_OK) != (n > 0))
		abort();
	for (size_t i = 1; i < n; i++) {
		if (hosts[i].pref < hosts[i - 1].pref)
			abort();
	}
}

static void
fuzz_dns_addrs(const struct dns_wire_reply *r)
{
	struct dns_mx_pending pend;
	struct dns_answer a;
	struct dns_ip out[2 * DNS_ADDRS_MAX];

	memset(&pend, 0, sizeof(pend));
	memset(&a, 0, sizeof(a));
	a.status = DNS_OK;
	a.reply = *r;
	dns_mx_pending_add(&pend, &a);
	if (pend.n4 > DNS_ADDRS_MAX || pend.n6 > DNS_ADDRS_MAX ||
	    dns_mx_pending_addrs(&pend, DNS_FAM_V6_V4, out, 2 * DNS_ADDRS_MAX)
	    != pend.n4 + pend.n6)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_wire_reply r;
	struct dns_wire_rr rr;
	uint8_t *msg;
	unsigned idx = 0;
	size_t off = 0, n = 0;

	/* a copy of exactly size bytes, so ASan sees any overread */
	if ((msg = malloc(size + 1)) == NULL)
		abort();
	if (size > 0)
		memcpy(msg, data, size);
	if (dns_wire_reply_parse(&r, msg, size) == 0) {
		if (r.name.len == 0 || r.name.len > DNS_WIRE_NAME_MAX)
			abort();
		while (dns_wire_reply_next(&r, &idx, &off, &rr) == 1) {
			fuzz_dns_rdata(&r, &rr);
			n++;
		}
		if (n != dns_wire_reply_count(&r) || n > r.ancount)
			abort();
		if (r.qtype == DNS_TYPE_MX)
			fuzz_dns_mx(&r);
		if (r.qtype == DNS_TYPE_A || r.qtype == DNS_TYPE_AAAA)
			fuzz_dns_addrs(&r);
	}
	free(msg);
	return 0;
}
