/* dns_int.h: what dns.c (libunbound, queries) and dns_mx.c (the MX
 * logic) share.  Not for other directories. */
#ifndef FACTEUR_DNS_DNS_INT_H
#define FACTEUR_DNS_DNS_INT_H

#include <sys/queue.h>

#include "dns/dns.h"
#include "dns/dns_wire.h"

/* One libunbound lookup of a query.  MX: the MX itself, then AAAA and A
 * of each host. */
#define DNS_SUBS_MAX	(1 + 2 * DNS_MX_HOSTS_MAX)

enum dns_sub_state {
	DNS_SUB_IDLE,
	DNS_SUB_BUSY,		/* in libunbound, id valid */
	DNS_SUB_DONE,		/* answered, waiting for dns_query_step */
};

struct dns_sub {
	struct dns_query *q;
	enum dns_sub_state state;
	int		 id;		/* libunbound's async id */
	uint16_t	 type;
	size_t		 host;		/* MX: the host it resolves */
	const char	*fail;		/* no answer: why */
	int		 rcode;		/* libunbound's: 0 or SERVFAIL */
	int		 sec;		/* 0 insecure, 1 bogus, 2 secure */
	uint8_t		*pkt;		/* a copy of the reply */
	size_t		 pktlen;
};

/* One sub's outcome. */
struct dns_answer {
	enum dns_status	 status;	/* OK NODATA NXDOMAIN TEMP */
	const char	*why;
	bool		 secure;
	struct dns_wire_reply reply;	/* when OK */
};

/* MX: a host's addresses while they arrive. */
struct dns_mx_pending {
	struct dns_ip	 v6[DNS_ADDRS_MAX], v4[DNS_ADDRS_MAX];
	size_t		 n6, n4;
	unsigned	 answers, secure, nxdomain;
	bool		 temp;
	const char	*why;		/* the first failure */
};

/* MX: a record, for sorting. */
struct dns_mx_rr {
	uint16_t	 pref;
	uint32_t	 key;		/* random: order among equals */
	size_t		 rdoff, rdlen;
};

enum dns_kind {
	DNS_KIND_MX,
	DNS_KIND_ADDR,
	DNS_KIND_TXT,
	DNS_KIND_TLSA,
};

struct dns {
	struct event_base *base;
	struct ub_ctx	*ub;
	enum dns_families families;
	unsigned	 timeout_ms;
	uint32_t	(*random)(void);	/* tests may replace it */
	TAILQ_HEAD(, dns_query) queries;
};

struct dns_query {
	TAILQ_ENTRY(dns_query) entry;
	struct dns	*dns;
	enum dns_kind	 kind;
	char		 name[DNS_NAME_TEXT_MAX];
	struct event	*step;		/* processes answers, delivers */
	struct event	*timer;		/* the deadline */
	bool		 timed_out;
	bool		 mx_hosts;	/* MX: host lookups started */
	const char	*invalid;	/* set: deliver DNS_PERM, this why */
	size_t		 nbusy;
	struct dns_sub	 subs[DNS_SUBS_MAX];
	/* what it collects, per kind */
	void		(*answer)(struct dns_query *, struct dns_sub *,
			    const struct dns_answer *);
	void		(*deliver)(struct dns_query *);
	union {
		dns_mx_cb	*mx;
		dns_addr_cb	*addr;
		dns_txt_cb	*txt;
		dns_tlsa_cb	*tlsa;
	}		 cb;
	void		*arg;
	union {
		struct dns_mx_result	 mx;
		struct dns_addr_result	 addr;
		struct dns_txt_result	 txt;
		struct dns_tlsa_result	 tlsa;
	}		 res;
	struct dns_mx_pending *pend;	/* a host's addresses: MX one per
					 * host, ADDR one */
	void		*mem;		/* TXT, TLSA: records and bytes */
};

/* dns.c */
/* A query for name; an invalid name makes it deliver DNS_PERM. */
struct dns_query *dns_query_new(struct dns *dns, enum dns_kind kind,
		    const char *name);
/* Start a lookup of name, type for q; its answer comes to q->answer. */
void		 dns_sub_start(struct dns_query *q, const char *name,
		    uint16_t type, size_t host);

/* dns_mx.c */
void		 dns_mx_sort(struct dns_mx_rr *rrs, size_t n);
/* From an MX answer: the hosts to try, sorted, at most max; returns
 * DNS_OK, DNS_NULL_MX, or DNS_PERM (no usable host). */
enum dns_status	 dns_mx_hosts(const struct dns_wire_reply *r,
		    uint32_t (*rnd)(void), struct dns_mx_host *hosts,
		    size_t max, size_t *nhosts_r);
/* Start the address lookups of name (AAAA, A as dns->families says)
 * into q->pend[host]. */
void		 dns_mx_pending_start(struct dns_query *q, const char *name,
		    size_t host);
/* One AAAA or A answer into p. */
void		 dns_mx_pending_add(struct dns_mx_pending *p,
		    const struct dns_answer *a);
/* p's addresses in the order fam says, at most max; returns how many. */
size_t		 dns_mx_pending_addrs(const struct dns_mx_pending *p,
		    enum dns_families fam, struct dns_ip *out, size_t max);
/* The status of a name's address lookups that gave naddrs addresses. */
void		 dns_mx_pending_status(const struct dns_mx_pending *p,
		    size_t naddrs, enum dns_status *st_r, const char **why_r);
/* The final result from the hosts and their pending addresses. */
void		 dns_mx_assemble(struct dns_mx_result *res,
		    const struct dns_mx_pending *pend, enum dns_families fam);

#endif
