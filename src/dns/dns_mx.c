/* dns_mx.c: where to deliver mail for a domain (RFC 5321 §5.1).
 *
 *   MX records      sorted by preference, random order among equals,
 *                   at most DNS_MX_HOSTS_MAX hosts, duplicates dropped
 *   null MX         only "." exchanges (RFC 7505): DNS_NULL_MX, permanent;
 *                   a "." beside real hosts is ignored
 *   no MX (NODATA)  the domain itself, preference 0 (implicit MX)
 *   NXDOMAIN        DNS_PERM
 *   SERVFAIL, timeout, DNSSEC failure: DNS_TEMP
 *
 * Then the AAAA and A records of every host, all at once; the result lists
 * at most DNS_MX_ADDRS_MAX addresses, hosts in order, each host's IPv6
 * first unless told otherwise.  A host whose lookups failed for now is
 * kept without addresses and marked temp; if no host has an address the
 * result is DNS_TEMP when any lookup failed for now, DNS_PERM otherwise. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/mem.h"
#include "dns/dns_int.h"

static int
dns_mx_cmp(const void *a, const void *b)
{
	const struct dns_mx_rr *x = a, *y = b;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->rdoff < y->rdoff ? -1 : x->rdoff > y->rdoff;
}

void
dns_mx_sort(struct dns_mx_rr *rrs, size_t n)
{
	if (n > 1)
		qsort(rrs, n, sizeof(*rrs), dns_mx_cmp);
}

static bool
dns_mx_seen(const struct dns_mx_host *hosts, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(hosts[i].name, name) == 0)
			return true;
	}
	return false;
}

/* The records of an MX answer, each with its random key; the count of
 * well-formed ones in *n_r and of "." exchanges in *nroot_r. */
static struct dns_mx_rr *
dns_mx_records(const struct dns_wire_reply *r, uint32_t (*rnd)(void),
    size_t *n_r, size_t *nroot_r)
{
	struct dns_mx_rr *rrs = xcalloc(dns_wire_reply_count(r), sizeof(*rrs));
	struct dns_wire_name exchange;
	struct dns_wire_rr rr;
	size_t n = 0, nroot = 0, off = 0;
	unsigned idx = 0;
	uint16_t pref;

	while (dns_wire_reply_next(r, &idx, &off, &rr) == 1) {
		if (dns_wire_mx(r->msg, r->len, rr.rdoff, rr.rdlen, &pref,
		    &exchange) == -1)
			continue;
		if (exchange.len == 1)
			nroot++;
		rrs[n].pref = pref;
		rrs[n].key = rnd();
		rrs[n].rdoff = rr.rdoff;
		rrs[n].rdlen = rr.rdlen;
		n++;
	}
	*n_r = n;
	*nroot_r = nroot;
	return rrs;
}

enum dns_status
dns_mx_hosts(const struct dns_wire_reply *r, uint32_t (*rnd)(void),
    struct dns_mx_host *hosts, size_t max, size_t *nhosts_r)
{
	struct dns_wire_name exchange;
	struct dns_mx_rr *rrs;
	char name[DNS_NAME_TEXT_MAX];
	size_t n, nroot, nhosts = 0;
	uint16_t pref;

	rrs = dns_mx_records(r, rnd, &n, &nroot);
	*nhosts_r = 0;
	if (n > 0 && nroot == n) {
		free(rrs);
		return DNS_NULL_MX;
	}
	dns_mx_sort(rrs, n);
	for (size_t i = 0; i < n && nhosts < max; i++) {
		(void)dns_wire_mx(r->msg, r->len, rrs[i].rdoff, rrs[i].rdlen,
		    &pref, &exchange);
		/* "." beside others; names that are no host names */
		if (exchange.len == 1 ||
		    dns_wire_name_text(&exchange, name) == -1 ||
		    dns_mx_seen(hosts, nhosts, name))
			continue;
		memset(&hosts[nhosts], 0, sizeof(hosts[nhosts]));
		memcpy(hosts[nhosts].name, name, strlen(name) + 1);
		hosts[nhosts].pref = pref;
		nhosts++;
	}
	free(rrs);
	*nhosts_r = nhosts;
	return nhosts > 0 ? DNS_OK : DNS_PERM;
}

/*
 * A host's addresses.
 */

void
dns_mx_pending_start(struct dns_query *q, const char *name, size_t host)
{
	enum dns_families fam = q->dns->families;

	if (fam != DNS_FAM_V4)
		dns_sub_start(q, name, DNS_TYPE_AAAA, host);
	if (fam != DNS_FAM_V6)
		dns_sub_start(q, name, DNS_TYPE_A, host);
}

void
dns_mx_pending_add(struct dns_mx_pending *p, const struct dns_answer *a)
{
	const struct dns_wire_reply *r = &a->reply;
	struct dns_wire_rr rr;
	struct dns_ip ip;
	size_t off = 0;
	unsigned idx = 0;

	p->answers++;
	if (a->secure)
		p->secure++;
	if (a->status == DNS_NXDOMAIN)
		p->nxdomain++;
	if (a->status != DNS_OK && a->status != DNS_NODATA &&
	    a->status != DNS_NXDOMAIN) {
		p->temp = true;
		if (p->why == NULL)
			p->why = a->why;
		return;
	}
	if (a->status != DNS_OK)
		return;
	while (dns_wire_reply_next(r, &idx, &off, &rr) == 1) {
		if (r->qtype == DNS_TYPE_A && p->n4 < DNS_ADDRS_MAX &&
		    dns_wire_a(r->msg, rr.rdoff, rr.rdlen, &ip) == 0)
			p->v4[p->n4++] = ip;
		if (r->qtype == DNS_TYPE_AAAA && p->n6 < DNS_ADDRS_MAX &&
		    dns_wire_aaaa(r->msg, rr.rdoff, rr.rdlen, &ip) == 0)
			p->v6[p->n6++] = ip;
	}
}

static size_t
dns_mx_copy(struct dns_ip *out, size_t n, size_t max, const struct dns_ip *in,
    size_t nin)
{
	size_t k = 0;

	while (k < nin && n + k < max) {
		out[n + k] = in[k];
		k++;
	}
	return n + k;
}

size_t
dns_mx_pending_addrs(const struct dns_mx_pending *p, enum dns_families fam,
    struct dns_ip *out, size_t max)
{
	size_t n = 0;

	switch (fam) {
	case DNS_FAM_V6_V4:
		n = dns_mx_copy(out, n, max, p->v6, p->n6);
		n = dns_mx_copy(out, n, max, p->v4, p->n4);
		break;
	case DNS_FAM_V4_V6:
		n = dns_mx_copy(out, n, max, p->v4, p->n4);
		n = dns_mx_copy(out, n, max, p->v6, p->n6);
		break;
	case DNS_FAM_V4:
		n = dns_mx_copy(out, n, max, p->v4, p->n4);
		break;
	case DNS_FAM_V6:
		n = dns_mx_copy(out, n, max, p->v6, p->n6);
		break;
	}
	return n;
}

void
dns_mx_pending_status(const struct dns_mx_pending *p, size_t naddrs,
    enum dns_status *st_r, const char **why_r)
{
	*why_r = NULL;
	if (naddrs > 0)
		*st_r = DNS_OK;
	else if (p->temp) {
		*st_r = DNS_TEMP;
		*why_r = p->why != NULL ? p->why : "DNS timeout";
	} else if (p->nxdomain > 0) {
		*st_r = DNS_NXDOMAIN;
		*why_r = "no such domain";
	} else {
		*st_r = DNS_NODATA;
		*why_r = "no address record";
	}
}

void
dns_mx_assemble(struct dns_mx_result *res, const struct dns_mx_pending *pend,
    enum dns_families fam)
{
	struct dns_mx_host *h;
	bool temp = false;

	res->naddrs = 0;
	for (size_t i = 0; i < res->nhosts; i++) {
		h = &res->hosts[i];
		h->first = res->naddrs;
		res->naddrs += dns_mx_pending_addrs(&pend[i], fam,
		    res->addrs + res->naddrs, DNS_MX_ADDRS_MAX - res->naddrs);
		h->naddr = res->naddrs - h->first;
		/* no answer at all (the deadline came first) is temp too */
		h->temp = pend[i].temp || pend[i].answers == 0;
		h->dnssec_secure = pend[i].answers > 0 && !h->temp &&
		    pend[i].secure == pend[i].answers;
		temp = temp || h->temp;
	}
	res->partial = temp;
	res->why = NULL;
	if (res->naddrs > 0)
		res->status = DNS_OK;
	else if (temp) {
		res->status = DNS_TEMP;
		res->why = res->implicit ? "cannot resolve the domain's address "
		    "for now" : "cannot resolve the MX hosts for now";
	} else {
		res->status = DNS_PERM;
		res->why = res->implicit ? "no MX and no address record" :
		    "no address record for any MX host";
	}
}

/*
 * The query.
 */

static void
dns_mx_got_mx(struct dns_query *q, const struct dns_answer *a)
{
	struct dns_mx_result *res = &q->res.mx;
	size_t len;

	res->dnssec_secure = a->secure;
	res->why = a->why;
	switch (a->status) {
	case DNS_OK:
		res->status = dns_mx_hosts(&a->reply, q->dns->random,
		    res->hosts, DNS_MX_HOSTS_MAX, &res->nhosts);
		res->why = res->status == DNS_NULL_MX ? "the domain accepts no "
		    "mail (null MX)" : res->status == DNS_PERM ?
		    "no usable MX host" : NULL;
		break;
	case DNS_NODATA:
		/* RFC 5321 §5.1: the domain itself, preference 0 */
		len = strlen(q->name);
		if (q->name[len - 1] == '.')
			len--;
		res->implicit = true;
		res->status = DNS_OK;
		res->nhosts = 1;
		memcpy(res->hosts[0].name, q->name, len);
		res->hosts[0].name[len] = '\0';
		break;
	case DNS_NXDOMAIN:
		res->status = DNS_PERM;
		res->why = "no such domain";
		break;
	default:
		res->status = DNS_TEMP;
		break;
	}
	if (res->status != DNS_OK)
		return;
	q->mx_hosts = true;
	for (size_t i = 0; i < res->nhosts; i++)
		dns_mx_pending_start(q, res->hosts[i].name, i);
}

static void
dns_mx_answer(struct dns_query *q, struct dns_sub *sub,
    const struct dns_answer *a)
{
	if (sub->type == DNS_TYPE_MX)
		dns_mx_got_mx(q, a);
	else
		dns_mx_pending_add(&q->pend[sub->host], a);
}

static void
dns_mx_log(const struct dns_mx_result *res)
{
	char ip[INET6_ADDRSTRLEN];

	if (!log_enabled(LOG_LEVEL_DEBUG))
		return;
	log_debug(0, "dns", "answer", "type=mx name=%s status=%s hosts=%zu "
	    "addrs=%zu implicit=%d partial=%d why=<%s>", res->domain,
	    dns_status_name(res->status), res->nhosts, res->naddrs,
	    res->implicit, res->partial, res->why != NULL ? res->why : "");
	for (size_t i = 0; i < res->nhosts; i++) {
		for (size_t k = 0; k < res->hosts[i].naddr; k++)
			log_debug(0, "dns", "mx", "name=%s host=%s pref=%u "
			    "addr=%s", res->domain, res->hosts[i].name,
			    res->hosts[i].pref, dns_ip_ntop(&res->addrs[
			    res->hosts[i].first + k], ip, sizeof(ip)));
	}
}

static void
dns_mx_deliver(struct dns_query *q)
{
	struct dns_mx_result *res = &q->res.mx;

	res->domain = q->name;
	if (q->invalid != NULL) {
		res->status = DNS_PERM;
		res->why = q->invalid;
	} else if (q->mx_hosts)
		dns_mx_assemble(res, q->pend, q->dns->families);
	dns_mx_log(res);
	q->cb.mx(q->arg, res);
}

struct dns_query *
dns_mx(struct dns *dns, const char *domain, dns_mx_cb *cb, void *arg)
{
	struct dns_query *q = dns_query_new(dns, DNS_KIND_MX, domain);

	q->cb.mx = cb;
	q->arg = arg;
	q->answer = dns_mx_answer;
	q->deliver = dns_mx_deliver;
	q->pend = xcalloc(DNS_MX_HOSTS_MAX, sizeof(*q->pend));
	q->res.mx.status = DNS_TEMP;
	if (q->invalid == NULL)
		dns_sub_start(q, q->name, DNS_TYPE_MX, 0);
	return q;
}
