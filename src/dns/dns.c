/* dns.c: libunbound on our libevent base; queries, their lookups, their
 * deadline and delivery.
 *
 * libunbound may call its callback from inside ub_resolve_event (cached
 * or local answers), and the packet it hands over lives in a buffer it
 * reuses for the next lookup.  So its callback only copies the packet and
 * wakes the query's step event; parsing, starting more lookups and
 * calling the owner all happen from there, on the loop. */
#include <arpa/inet.h>
#include <assert.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>
#include <unbound-event.h>

#include "config/conf.h"
#include "core/log.h"
#include "core/mem.h"
#include "dns/dns_int.h"

#define DNS_TRUST_ANCHOR_DEFAULT	"/usr/share/dns/root.key"

static int	dns_setup_dnssec(struct ub_ctx *, const struct dns_options *,
		    const char **);
static void	dns_query_step_cb(evutil_socket_t, short, void *);
static void	dns_query_timeout_cb(evutil_socket_t, short, void *);

static uint32_t
dns_random(void)
{
	return arc4random();
}

const char *
dns_status_name(enum dns_status st)
{
	switch (st) {
	case DNS_OK:
		return "ok";
	case DNS_NODATA:
		return "nodata";
	case DNS_NXDOMAIN:
		return "nxdomain";
	case DNS_TEMP:
		return "temp";
	case DNS_PERM:
		return "perm";
	case DNS_NULL_MX:
		return "nullmx";
	}
	return "?";
}

const char *
dns_ip_ntop(const struct dns_ip *ip, char *buf, size_t len)
{
	if (inet_ntop(ip->family, &ip->u, buf, (socklen_t)len) == NULL)
		(void)snprintf(buf, len, "?");
	return buf;
}

socklen_t
dns_ip_sockaddr(const struct dns_ip *ip, uint16_t port,
    struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (ip->family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr = ip->u.v4;
		return sizeof(*sin);
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	sin6->sin6_addr = ip->u.v6;
	return sizeof(*sin6);
}

bool
dns_name_valid(const char *name)
{
	return dns_wire_name_valid(name);
}

/*
 * The context.
 */

static int
dns_setup(struct ub_ctx *ub, const struct dns_options *opt,
    const char **err_r)
{
	/* forwarders on loopback (a local cache, tests) are fine */
	if (ub_ctx_set_option(ub, "do-not-query-localhost:", "no") != 0) {
		*err_r = "dns: cannot set do-not-query-localhost";
		return -1;
	}
	/* libunbound answers NXDOMAIN for "test." itself (RFC 6761); a
	 * forwarder we are told to use may serve it (test setups) */
	if (opt->resolver != NULL && ub_ctx_set_option(ub, "local-zone:",
	    "test. transparent") != 0) {
		*err_r = "dns: cannot set local-zone";
		return -1;
	}
	if (opt->resolver != NULL && ub_ctx_set_fwd(ub, opt->resolver) != 0) {
		*err_r = "dns: bad resolver address (ADDR or ADDR@PORT)";
		return -1;
	}
	if (opt->resolver == NULL && ub_ctx_resolvconf(ub, NULL) != 0) {
		*err_r = "dns: cannot use /etc/resolv.conf";
		return -1;
	}
	return dns_setup_dnssec(ub, opt, err_r);
}

static int
dns_setup_dnssec(struct ub_ctx *ub, const struct dns_options *opt,
    const char **err_r)
{
	const char *ta = opt->trust_anchor != NULL ? opt->trust_anchor :
	    DNS_TRUST_ANCHOR_DEFAULT;
	FILE *f;

	if (!opt->dnssec) {
		/* no validator: answers are never "secure" */
		if (ub_ctx_set_option(ub, "module-config:", "iterator") != 0) {
			*err_r = "dns: cannot turn DNSSEC validation off";
			return -1;
		}
		return 0;
	}
	/* libunbound reads it only at the first lookup: fail now instead */
	if ((f = fopen(ta, "r")) == NULL) {
		*err_r = "dns: cannot read the DNSSEC trust anchor file";
		return -1;
	}
	(void)fclose(f);
	if (ub_ctx_add_ta_file(ub, ta) != 0) {
		*err_r = "dns: cannot read the DNSSEC trust anchor file";
		return -1;
	}
	return 0;
}

void
dns_options_conf(struct dns_options *opt, const struct conf *conf)
{
	memset(opt, 0, sizeof(*opt));
	opt->resolver = conf->dns_resolver;
	opt->dnssec = conf->dns_dnssec;
	opt->trust_anchor = conf->dns_trust_anchor;
	opt->families = conf->dns_prefer_ipv4 ? DNS_FAM_V4_V6 : DNS_FAM_V6_V4;
}

struct dns *
dns_new(struct event_base *base, const struct dns_options *opt,
    const char **err_r)
{
	struct dns *dns = xcalloc(1, sizeof(*dns));

	dns->base = base;
	dns->families = opt->families;
	dns->timeout_ms = opt->timeout_ms != 0 ? opt->timeout_ms :
	    DNS_TIMEOUT_DEFAULT_MS;
	dns->random = dns_random;
	TAILQ_INIT(&dns->queries);
	if ((dns->ub = ub_ctx_create_event(base)) == NULL) {
		*err_r = "dns: ub_ctx_create_event failed";
		goto fail;
	}
	if (dns_setup(dns->ub, opt, err_r) == -1)
		goto fail;
	return dns;
fail:
	dns_free(&dns);
	return NULL;
}

void
dns_free(struct dns **dnsp)
{
	struct dns *dns = *dnsp;
	struct dns_query *q;

	if (dns == NULL)
		return;
	*dnsp = NULL;
	while ((q = TAILQ_FIRST(&dns->queries)) != NULL)
		dns_cancel(q);
	if (dns->ub != NULL)
		ub_ctx_delete(dns->ub);
	free(dns);
}

/*
 * Queries.
 */

struct dns_query *
dns_query_new(struct dns *dns, enum dns_kind kind, const char *name)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));
	struct timeval tv;

	q->dns = dns;
	q->kind = kind;
	for (size_t i = 0; i < DNS_SUBS_MAX; i++)
		q->subs[i].q = q;
	q->step = event_new(dns->base, -1, 0, dns_query_step_cb, q);
	q->timer = evtimer_new(dns->base, dns_query_timeout_cb, q);
	if (q->step == NULL || q->timer == NULL)
		fatalx("dns: event_new failed");
	TAILQ_INSERT_TAIL(&dns->queries, q, entry);
	if (strlen(name) >= sizeof(q->name) || !dns_name_valid(name)) {
		q->invalid = "not a valid domain name";
		(void)snprintf(q->name, sizeof(q->name), "%s", name);
		event_active(q->step, 0, 0);
		return q;
	}
	memcpy(q->name, name, strlen(name) + 1);
	tv.tv_sec = dns->timeout_ms / 1000;
	tv.tv_usec = (dns->timeout_ms % 1000) * 1000;
	evtimer_add(q->timer, &tv);
	return q;
}

static void
dns_query_free(struct dns_query *q)
{
	for (size_t i = 0; i < DNS_SUBS_MAX; i++)
		free(q->subs[i].pkt);
	event_free(q->step);
	event_free(q->timer);
	free(q->pend);
	free(q->mem);
	free(q);
}

void
dns_cancel(struct dns_query *q)
{
	struct dns_sub *sub;

	if (q == NULL)
		return;
	for (size_t i = 0; i < DNS_SUBS_MAX; i++) {
		sub = &q->subs[i];
		/* libunbound drops a cancelled query's callback */
		if (sub->state == DNS_SUB_BUSY)
			(void)ub_cancel(q->dns->ub, sub->id);
	}
	TAILQ_REMOVE(&q->dns->queries, q, entry);
	dns_query_free(q);
}

static void
dns_sub_done(struct dns_sub *sub)
{
	sub->state = DNS_SUB_DONE;
	sub->q->nbusy--;
	event_active(sub->q->step, 0, 0);
}

static void
dns_ub_cb(void *arg, int rcode, void *pkt, int len, int sec, char *why_bogus,
    int ratelimited)
{
	struct dns_sub *sub = arg;

	sub->rcode = rcode;
	sub->sec = sec;
	if (rcode == 0 && pkt != NULL && len > 0) {
		sub->pkt = xmemdup(pkt, (size_t)len);
		sub->pktlen = (size_t)len;
	}
	if (sec == 1 && why_bogus != NULL)
		log_debug(0, "dns", "bogus", "name=%s why=<%s>", sub->q->name,
		    why_bogus);
	dns_sub_done(sub);
}

void
dns_sub_start(struct dns_query *q, const char *name, uint16_t type,
    size_t host)
{
	struct dns_sub *sub = NULL;
	int id = 0, rc;

	for (size_t i = 0; i < DNS_SUBS_MAX && sub == NULL; i++) {
		if (q->subs[i].state == DNS_SUB_IDLE)
			sub = &q->subs[i];
	}
	assert(sub != NULL);		/* DNS_SUBS_MAX covers an MX query */
	sub->state = DNS_SUB_BUSY;
	sub->type = type;
	sub->host = host;
	sub->fail = NULL;
	sub->rcode = 0;
	sub->sec = 0;
	q->nbusy++;
	if (q->timed_out) {
		sub->fail = "DNS timeout";
		dns_sub_done(sub);
		return;
	}
	rc = ub_resolve_event(q->dns->ub, name, type, DNS_CLASS_IN, sub,
	    dns_ub_cb, &id);
	/* the callback may have run already, from inside */
	if (sub->state != DNS_SUB_BUSY)
		return;
	if (rc != 0) {
		sub->fail = "resolver error";
		log_warnx("dns: ub_resolve_event(%s): %s", name,
		    ub_strerror(rc));
		dns_sub_done(sub);
		return;
	}
	sub->id = id;
}

/* What one lookup's reply says. */
static void
dns_sub_classify(const struct dns_sub *sub, struct dns_answer *a)
{
	memset(a, 0, sizeof(*a));
	a->status = DNS_TEMP;
	if (sub->fail != NULL) {
		a->why = sub->fail;
		return;
	}
	if (sub->rcode != 0 || sub->pkt == NULL) {
		a->why = "DNS server failure";
		return;
	}
	if (sub->sec == 1) {
		a->why = "DNSSEC validation failed";
		return;
	}
	if (dns_wire_reply_parse(&a->reply, sub->pkt, sub->pktlen) == -1 ||
	    a->reply.qtype != sub->type || a->reply.qclass != DNS_CLASS_IN) {
		a->why = "malformed DNS reply";
		return;
	}
	a->secure = sub->sec == 2;
	switch (a->reply.rcode) {
	case DNS_RCODE_NOERROR:
		a->status = dns_wire_reply_count(&a->reply) > 0 ? DNS_OK :
		    DNS_NODATA;
		a->why = a->status == DNS_NODATA ? "no such record" : NULL;
		break;
	case DNS_RCODE_NXDOMAIN:
		a->status = DNS_NXDOMAIN;
		a->why = "no such domain";
		break;
	case DNS_RCODE_SERVFAIL:
		a->why = "DNS server failure";
		break;
	default:
		a->why = "DNS error";
		break;
	}
}

static void
dns_query_finish(struct dns_query *q)
{
	evtimer_del(q->timer);
	TAILQ_REMOVE(&q->dns->queries, q, entry);
	q->deliver(q);
	dns_query_free(q);
}

static void
dns_query_step(struct dns_query *q)
{
	struct dns_answer a;
	struct dns_sub *sub;
	bool pending = false;

	for (size_t i = 0; i < DNS_SUBS_MAX; i++) {
		sub = &q->subs[i];
		if (sub->state != DNS_SUB_DONE)
			continue;
		dns_sub_classify(sub, &a);
		q->answer(q, sub, &a);		/* may start lookups */
		free(sub->pkt);
		sub->pkt = NULL;
		sub->state = DNS_SUB_IDLE;
	}
	for (size_t i = 0; i < DNS_SUBS_MAX; i++) {
		if (q->subs[i].state == DNS_SUB_DONE)
			pending = true;
	}
	if (q->nbusy == 0 && !pending)
		dns_query_finish(q);
}

static void
dns_query_step_cb(evutil_socket_t fd, short what, void *arg)
{
	dns_query_step(arg);
}

static void
dns_query_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;
	struct dns_sub *sub;

	q->timed_out = true;
	for (size_t i = 0; i < DNS_SUBS_MAX; i++) {
		sub = &q->subs[i];
		if (sub->state != DNS_SUB_BUSY)
			continue;
		(void)ub_cancel(q->dns->ub, sub->id);
		sub->fail = "DNS timeout";
		dns_sub_done(sub);
	}
	dns_query_step(q);
}

/*
 * Addresses of one name.
 */

static void
dns_addr_answer(struct dns_query *q, struct dns_sub *sub,
    const struct dns_answer *a)
{
	dns_mx_pending_add(&q->pend[0], a);
}

static void
dns_addr_deliver(struct dns_query *q)
{
	struct dns_addr_result *res = &q->res.addr;
	const struct dns_mx_pending *p = &q->pend[0];

	res->name = q->name;
	if (q->invalid != NULL) {
		res->status = DNS_PERM;
		res->why = q->invalid;
	} else {
		res->naddrs = dns_mx_pending_addrs(p, q->dns->families,
		    res->addrs, 2 * DNS_ADDRS_MAX);
		res->dnssec_secure = p->answers > 0 && p->secure == p->answers;
		dns_mx_pending_status(p, res->naddrs, &res->status, &res->why);
	}
	log_debug(0, "dns", "answer", "type=addr name=%s status=%s addrs=%zu",
	    res->name, dns_status_name(res->status), res->naddrs);
	q->cb.addr(q->arg, res);
}

struct dns_query *
dns_addr(struct dns *dns, const char *name, dns_addr_cb *cb, void *arg)
{
	struct dns_query *q = dns_query_new(dns, DNS_KIND_ADDR, name);

	q->cb.addr = cb;
	q->arg = arg;
	q->answer = dns_addr_answer;
	q->deliver = dns_addr_deliver;
	q->pend = xcalloc(1, sizeof(*q->pend));
	if (q->invalid == NULL)
		dns_mx_pending_start(q, q->name, 0);
	return q;
}

/*
 * TXT.
 */

static void
dns_txt_answer(struct dns_query *q, struct dns_sub *sub,
    const struct dns_answer *a)
{
	struct dns_txt_result *res = &q->res.txt;
	const struct dns_wire_reply *r = &a->reply;
	struct dns_wire_rr rr;
	struct dns_txt *txt;
	char *bytes;
	size_t n, off = 0, used = 0, len;
	unsigned idx = 0;

	res->status = a->status;
	res->why = a->why;
	res->dnssec_secure = a->secure;
	if (a->status != DNS_OK)
		return;
	n = dns_wire_reply_count(r);
	/* records, then their bytes: rdata plus a NUL each fits */
	q->mem = xmalloc(n * sizeof(*txt) + r->len + n);
	txt = q->mem;
	bytes = (char *)(txt + n);
	for (size_t i = 0; dns_wire_reply_next(r, &idx, &off, &rr) == 1; i++) {
		if (dns_wire_txt(r->msg, rr.rdoff, rr.rdlen, bytes + used,
		    &len) == -1) {
			res->status = DNS_TEMP;
			res->why = "malformed TXT record";
			return;
		}
		bytes[used + len] = '\0';
		txt[i].p = bytes + used;
		txt[i].len = len;
		used += len + 1;
	}
	res->txt = txt;
	res->ntxt = n;
}

static void
dns_txt_deliver(struct dns_query *q)
{
	struct dns_txt_result *res = &q->res.txt;

	res->name = q->name;
	if (q->invalid != NULL) {
		res->status = DNS_PERM;
		res->why = q->invalid;
	}
	log_debug(0, "dns", "answer", "type=txt name=%s status=%s records=%zu",
	    res->name, dns_status_name(res->status), res->ntxt);
	q->cb.txt(q->arg, res);
}

struct dns_query *
dns_txt(struct dns *dns, const char *name, dns_txt_cb *cb, void *arg)
{
	struct dns_query *q = dns_query_new(dns, DNS_KIND_TXT, name);

	q->cb.txt = cb;
	q->arg = arg;
	q->answer = dns_txt_answer;
	q->deliver = dns_txt_deliver;
	if (q->invalid == NULL)
		dns_sub_start(q, q->name, DNS_TYPE_TXT, 0);
	return q;
}

/*
 * TLSA.
 */

static void
dns_tlsa_answer(struct dns_query *q, struct dns_sub *sub,
    const struct dns_answer *a)
{
	struct dns_tlsa_result *res = &q->res.tlsa;
	const struct dns_wire_reply *r = &a->reply;
	struct dns_wire_rr rr;
	struct dns_tlsa *tlsa;
	uint8_t *bytes;
	size_t n, off = 0, used = 0;
	unsigned idx = 0;

	res->status = a->status;
	res->why = a->why;
	res->dnssec_secure = a->secure;
	if (a->status != DNS_OK)
		return;
	n = dns_wire_reply_count(r);
	q->mem = xmalloc(n * sizeof(*tlsa) + r->len);
	tlsa = q->mem;
	bytes = (uint8_t *)(tlsa + n);
	for (size_t i = 0; dns_wire_reply_next(r, &idx, &off, &rr) == 1; i++) {
		if (dns_wire_tlsa(r->msg, rr.rdoff, rr.rdlen, &tlsa[i]) == -1) {
			res->status = DNS_TEMP;
			res->why = "malformed TLSA record";
			return;
		}
		/* the packet goes away: keep the data */
		if (tlsa[i].len > 0)
			memcpy(bytes + used, tlsa[i].data, tlsa[i].len);
		tlsa[i].data = bytes + used;
		used += tlsa[i].len;
	}
	res->tlsa = tlsa;
	res->ntlsa = n;
}

static void
dns_tlsa_deliver(struct dns_query *q)
{
	struct dns_tlsa_result *res = &q->res.tlsa;

	res->name = q->name;
	if (q->invalid != NULL) {
		res->status = DNS_PERM;
		res->why = q->invalid;
	}
	log_debug(0, "dns", "answer", "type=tlsa name=%s status=%s records=%zu "
	    "secure=%d", res->name, dns_status_name(res->status), res->ntlsa,
	    res->dnssec_secure);
	q->cb.tlsa(q->arg, res);
}

struct dns_query *
dns_tlsa(struct dns *dns, const char *host, uint16_t port, dns_tlsa_cb *cb,
    void *arg)
{
	char name[DNS_NAME_TEXT_MAX + 16];
	struct dns_query *q;

	(void)snprintf(name, sizeof(name), "_%u._tcp.%s", port, host);
	q = dns_query_new(dns, DNS_KIND_TLSA, name);
	q->cb.tlsa = cb;
	q->arg = arg;
	q->answer = dns_tlsa_answer;
	q->deliver = dns_tlsa_deliver;
	if (q->invalid == NULL)
		dns_sub_start(q, q->name, DNS_TYPE_TLSA, 0);
	return q;
}
