/* mta_route.c: the addresses a session tries: the smarthost's, an
 * address literal's, or the domain's MX hosts' (dns_mx: preference
 * order, random among equals, the domain itself without MX), without
 * those at or below our own preference (RFC 5321 §5.1); DNS failures
 * become the job's result (null MX 5.1.10, NXDOMAIN 5.1.2, no host
 * 5.4.4, trouble 4.4.3). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/conf.h"
#include "mta/mta_int.h"

static void
mta_route_add_addr(struct mta_session *s, const char *name,
    const struct dns_ip *ip)
{
	if (s->naddrs == DNS_MX_ADDRS_MAX)
		return;
	snprintf(s->addrs[s->naddrs].name, sizeof(s->addrs[0].name), "%s",
	    name);
	s->addrs[s->naddrs].ip = *ip;
	s->naddrs++;
}

static void
mta_route_on_addr(void *arg, const struct dns_addr_result *res)
{
	struct mta_session *s = arg;

	s->dq = NULL;
	if (res->status != DNS_OK || res->naddrs == 0) {
		mta_session_failure(s, res->status == DNS_TEMP ? MTA_TEMP :
		    MTA_PERM, res->status == DNS_TEMP ? "4.4.3" : "5.4.4", false,
		    "cannot find the address of %s: %s", res->name,
		    res->why != NULL ? res->why : dns_status_name(res->status));
		if (s->dest->smarthost)
			s->fres = MTA_TEMP;	/* our configuration: wait */
		mta_session_give_up(s);
		return;
	}
	for (size_t i = 0; i < res->naddrs; i++)
		mta_route_add_addr(s, res->name, &res->addrs[i]);
	mta_session_try(s);
}

static void
mta_route_mx_failed(struct mta_session *s, const struct dns_mx_result *res)
{
	const char *why = res->why != NULL ? res->why :
	    dns_status_name(res->status);

	if (res->status == DNS_NULL_MX)
		mta_session_failure(s, MTA_PERM, "5.1.10", false,
		    "%s accepts no mail (null MX)", res->domain);
	else if (res->status == DNS_PERM && strcmp(why, "no such domain") == 0)
		mta_session_failure(s, MTA_PERM, "5.1.2", false,
		    "%s: no such domain", res->domain);
	else if (res->status == DNS_PERM)
		mta_session_failure(s, MTA_PERM, "5.4.4", false, "%s: %s",
		    res->domain, why);
	else
		mta_session_failure(s, MTA_TEMP, "4.4.3", false,
		    "DNS lookup for %s failed: %s", res->domain, why);
	mta_session_give_up(s);
}

/* RFC 5321 §5.1: if we are one of the MX hosts, only the more preferred
 * ones may be tried; the preference at which the list is cut, or
 * UINT_MAX. */
static unsigned
mta_route_self_pref(struct mta_session *s, const struct dns_mx_result *res)
{
	const char *me = s->mta->conf->hostname;

	if (res->implicit || me == NULL)
		return ~0u;
	for (size_t i = 0; i < res->nhosts; i++)
		if (strcasecmp(res->hosts[i].name, me) == 0)
			return res->hosts[i].pref;
	return ~0u;
}

static void
mta_route_on_mx(void *arg, const struct dns_mx_result *res)
{
	struct mta_session *s = arg;
	unsigned cut;

	s->dq = NULL;
	if (res->status != DNS_OK) {
		mta_route_mx_failed(s, res);
		return;
	}
	cut = mta_route_self_pref(s, res);
	for (size_t h = 0; h < res->nhosts; h++) {
		const struct dns_mx_host *mx = &res->hosts[h];

		if (mx->pref >= cut)
			break;
		for (size_t i = 0; i < mx->naddr; i++)
			mta_route_add_addr(s, mx->name,
			    &res->addrs[mx->first + i]);
	}
	if (s->naddrs == 0) {
		if (cut != ~0u)
			mta_session_failure(s, MTA_PERM, "5.4.6", false,
			    "mail for %s loops back to myself", res->domain);
		else
			mta_session_failure(s, res->partial ? MTA_TEMP :
			    MTA_PERM, res->partial ? "4.4.3" : "5.4.4", false,
			    "no address for the mail servers of %s",
			    res->domain);
		mta_session_give_up(s);
		return;
	}
	mta_session_try(s);
}

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]" as the domain: that address. */
static bool
mta_route_literal(struct mta_session *s, const char *domain)
{
	char a[INET6_ADDRSTRLEN + 8];
	const char *p = domain + 1;
	size_t n = strlen(domain);
	struct dns_ip ip;

	if (domain[0] != '[' || n < 3 || domain[n - 1] != ']' ||
	    n - 2 >= sizeof(a))
		return false;
	memset(&ip, 0, sizeof(ip));
	if (strncasecmp(p, "IPv6:", 5) == 0) {
		snprintf(a, sizeof(a), "%.*s", (int)(n - 7), p + 5);
		ip.family = AF_INET6;
		if (inet_pton(AF_INET6, a, &ip.u.v6) != 1)
			return false;
	} else {
		snprintf(a, sizeof(a), "%.*s", (int)(n - 2), p);
		ip.family = AF_INET;
		if (inet_pton(AF_INET, a, &ip.u.v4) != 1)
			return false;
	}
	mta_route_add_addr(s, domain, &ip);
	return true;
}

void
mta_route_resolve(struct mta_session *s)
{
	struct mta *mta = s->mta;
	const char *domain = s->job->req->domain;

	mta_session_enter(s, MTA_ST_RESOLVE);
	if (s->dest->smarthost) {
		if (mta->sh_user == NULL && mta->sh_auth_err != NULL) {
			mta_session_failure(s, MTA_TEMP, "4.7.0", false,
			    "smarthost credentials unusable: %s",
			    mta->sh_auth_err);
			mta_session_give_up(s);
			return;
		}
		if (mta->sh_literal) {
			mta_route_add_addr(s, mta->sh_host, &mta->sh_ip);
			mta_session_try(s);
			return;
		}
		s->dq = dns_addr(mta->dns, mta->sh_host, mta_route_on_addr, s);
		return;
	}
	if (mta_route_literal(s, domain)) {
		mta_session_try(s);
		return;
	}
	s->dq = dns_mx(mta->dns, domain, mta_route_on_mx, s);
}
