/* dns.h: asynchronous DNS for outbound delivery (doc/DNS.md).
 *
 * libunbound runs on the process's libevent base.  Every lookup takes a
 * callback; the answer always arrives later from the event loop, never
 * from inside the call that started it.  A lookup can be cancelled
 * (dns_cancel) until its callback runs; once the callback has run the
 * handle is gone.  The result passed to the callback, and everything it
 * points to, lives only during the callback: copy what you keep.
 *
 * Outcomes:
 *   dns_mx:               DNS_OK, DNS_TEMP, DNS_PERM, DNS_NULL_MX
 *   dns_addr, txt, tlsa:  DNS_OK, DNS_NODATA, DNS_NXDOMAIN, DNS_TEMP,
 *                         DNS_PERM (the name given was not a valid name)
 * DNS_TEMP covers SERVFAIL, timeouts, DNSSEC failures and malformed
 * replies: try again later. */
#ifndef FACTEUR_DNS_DNS_H
#define FACTEUR_DNS_DNS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A name in text: at most 253 bytes, no trailing dot, plus NUL. */
#define DNS_NAME_TEXT_MAX	254
/* RFC 5321 §5.1 tries MX hosts in order; more than this is abuse. */
#define DNS_MX_HOSTS_MAX	10
/* Addresses handed to the SMTP client for one domain, all hosts. */
#define DNS_MX_ADDRS_MAX	20
/* Addresses of one name (dns_addr), each family. */
#define DNS_ADDRS_MAX		20
/* Default for dns_options.timeout_ms: one whole lookup, MX and the
 * addresses of its hosts included. */
#define DNS_TIMEOUT_DEFAULT_MS	30000

struct event_base;
struct dns;
struct dns_query;

enum dns_status {
	DNS_OK,		/* records found */
	DNS_NODATA,	/* the name exists, with no record of that type */
	DNS_NXDOMAIN,	/* the name does not exist */
	DNS_TEMP,	/* try again later */
	DNS_PERM,	/* MX: the domain cannot receive mail; or a bad name */
	DNS_NULL_MX,	/* MX: RFC 7505 null MX, no mail accepted */
};

/* Which address families to look up, and in which order. */
enum dns_families {
	DNS_FAM_V6_V4,	/* IPv6 first, then IPv4 (default) */
	DNS_FAM_V4_V6,
	DNS_FAM_V4,	/* IPv4 only */
	DNS_FAM_V6,	/* IPv6 only */
};

struct dns_options {
	const char	*resolver;	/* NULL: /etc/resolv.conf; else a
					 * forwarder "ADDR" or "ADDR@PORT" */
	bool		 dnssec;	/* validate with trust_anchor */
	const char	*trust_anchor;	/* file of DS/DNSKEY records; NULL:
					 * /usr/share/dns/root.key */
	enum dns_families families;
	unsigned	 timeout_ms;	/* 0: DNS_TIMEOUT_DEFAULT_MS */
};

struct dns_ip {
	sa_family_t	 family;	/* AF_INET or AF_INET6 */
	union {
		struct in_addr	v4;
		struct in6_addr	v6;
	}		 u;
};

struct dns_mx_host {
	char		 name[DNS_NAME_TEXT_MAX];
	unsigned	 pref;
	size_t		 first, naddr;	/* its addresses: addrs[first..] */
	bool		 temp;		/* an address lookup failed for now */
	bool		 dnssec_secure;	/* its address answers validated */
};

struct dns_mx_result {
	enum dns_status	 status;
	const char	*why;		/* for logs and DSNs when not DNS_OK */
	const char	*domain;
	bool		 implicit;	/* no MX: the domain itself, pref 0 */
	bool		 partial;	/* some host failed temporarily */
	bool		 dnssec_secure;	/* the MX answer validated */
	size_t		 nhosts;	/* in the order to try them */
	struct dns_mx_host hosts[DNS_MX_HOSTS_MAX];
	size_t		 naddrs;
	struct dns_ip	 addrs[DNS_MX_ADDRS_MAX];
};

struct dns_addr_result {
	enum dns_status	 status;
	const char	*why;
	const char	*name;
	bool		 dnssec_secure;	/* all answers validated */
	size_t		 naddrs;	/* in the order of dns_options */
	struct dns_ip	 addrs[2 * DNS_ADDRS_MAX];
};

/* One TXT record: its character-strings concatenated (RFC 7208 §3.3),
 * with a NUL after len bytes; the bytes may contain NULs. */
struct dns_txt {
	const char	*p;
	size_t		 len;
};

struct dns_txt_result {
	enum dns_status	 status;
	const char	*why;
	const char	*name;
	bool		 dnssec_secure;
	size_t		 ntxt;
	const struct dns_txt *txt;
};

struct dns_tlsa {
	uint8_t		 usage, selector, mtype;
	size_t		 len;
	const uint8_t	*data;
};

struct dns_tlsa_result {
	enum dns_status	 status;
	const char	*why;
	const char	*name;		/* "_25._tcp.mx.example.net" */
	bool		 dnssec_secure;	/* DANE uses the records only if so */
	size_t		 ntlsa;
	const struct dns_tlsa *tlsa;
};

typedef void	dns_mx_cb(void *arg, const struct dns_mx_result *res);
typedef void	dns_addr_cb(void *arg, const struct dns_addr_result *res);
typedef void	dns_txt_cb(void *arg, const struct dns_txt_result *res);
typedef void	dns_tlsa_cb(void *arg, const struct dns_tlsa_result *res);

struct conf;

/* The options the configuration gives (dns_resolver, dns_dnssec,
 * dns_trust_anchor, dns_prefer); they point into conf. */
void		 dns_options_conf(struct dns_options *opt,
		    const struct conf *conf);
/* One per process.  Free it (dns_free) before the event base.  On error
 * returns NULL with a static message in *err_r. */
struct dns	*dns_new(struct event_base *base, const struct dns_options *opt,
		    const char **err_r);
/* Cancels every pending lookup without calling its callback. */
void		 dns_free(struct dns **dnsp);

/* The mail exchangers of domain, each with its addresses (RFC 5321 §5.1,
 * RFC 7505).  domain: an A-label name, a trailing dot allowed. */
struct dns_query *dns_mx(struct dns *dns, const char *domain, dns_mx_cb *cb,
		    void *arg);
/* The A and AAAA records of one host. */
struct dns_query *dns_addr(struct dns *dns, const char *name, dns_addr_cb *cb,
		    void *arg);
struct dns_query *dns_txt(struct dns *dns, const char *name, dns_txt_cb *cb,
		    void *arg);
/* The TLSA records of _PORT._tcp.HOST (RFC 6698). */
struct dns_query *dns_tlsa(struct dns *dns, const char *host, uint16_t port,
		    dns_tlsa_cb *cb, void *arg);
/* Forget a lookup: its callback will not run.  Only before it ran. */
void		 dns_cancel(struct dns_query *q);

const char	*dns_status_name(enum dns_status st);
/* Numeric text of ip into buf (INET6_ADDRSTRLEN bytes). */
const char	*dns_ip_ntop(const struct dns_ip *ip, char *buf, size_t len);
/* ip and port as a sockaddr for connect(); returns its length. */
socklen_t	 dns_ip_sockaddr(const struct dns_ip *ip, uint16_t port,
		    struct sockaddr_storage *ss);
/* A name we accept to look up: LDH and '_' labels of 1 to 63 bytes, at
 * most 253 bytes, one trailing dot allowed. */
bool		 dns_name_valid(const char *name);

#endif
