/* conf.h: the configuration, parsed once by the parent and by the CLI.
 *
 * File format (doc/CONFIG.md): one option per line, "name value...",
 * '#' starts a comment, values may be "double quoted" (with \" and \\
 * escapes).  Sizes accept K, M, G suffixes (powers of 1024); durations
 * accept s, m, h, d suffixes (default seconds).  Errors are reported as
 * "FILE:LINE:COL: message". */
#ifndef FACTEUR_CONFIG_CONF_H
#define FACTEUR_CONFIG_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

/* Outbound queue retry policy: defaults and bounds, in seconds. */
#define QUEUE_RETRY_MIN_DEFAULT		(5 * 60)
#define QUEUE_RETRY_MIN_MIN		1
#define QUEUE_RETRY_MIN_MAX		(24 * 3600)
#define QUEUE_RETRY_MAX_DEFAULT		(4 * 3600)
#define QUEUE_RETRY_MAX_MIN		1
#define QUEUE_RETRY_MAX_MAX		(7 * 24 * 3600)
#define QUEUE_LIFETIME_DEFAULT		(5 * 24 * 3600)
#define QUEUE_LIFETIME_MIN		0	/* bounce at the first failure */
#define QUEUE_LIFETIME_MAX		(100 * 24 * 3600)
#define QUEUE_DELAY_WARNING_DEFAULT	(4 * 3600)
#define QUEUE_DELAY_WARNING_MIN		0	/* no delay notices */
#define QUEUE_DELAY_WARNING_MAX		(100 * 24 * 3600)

/* Outbound SMTP client (src/mta): timeouts in seconds, RFC 5321
 * §4.5.3.2 for the defaults, and per-destination limits. */
#define MTA_TIMEOUT_CONNECT_DEFAULT	30
#define MTA_TIMEOUT_GREETING_DEFAULT	(5 * 60)	/* also EHLO, STARTTLS, AUTH */
#define MTA_TIMEOUT_MAIL_DEFAULT	(5 * 60)	/* also RSET */
#define MTA_TIMEOUT_RCPT_DEFAULT	(5 * 60)
#define MTA_TIMEOUT_DATA_DEFAULT	(2 * 60)	/* the 354 to DATA */
#define MTA_TIMEOUT_DATA_BLOCK_DEFAULT	(3 * 60)	/* each block sent */
#define MTA_TIMEOUT_DATA_END_DEFAULT	(10 * 60)	/* the reply to "." */
#define MTA_TIMEOUT_MIN			1
#define MTA_TIMEOUT_MAX			3600
#define MTA_CONN_PER_DOMAIN_DEFAULT	5
#define MTA_CONN_PER_DOMAIN_MIN		1
#define MTA_CONN_PER_DOMAIN_MAX		1000
#define MTA_RATE_PER_DOMAIN_DEFAULT	0	/* messages a minute; 0: no limit */
#define MTA_RATE_PER_DOMAIN_MIN		0
#define MTA_RATE_PER_DOMAIN_MAX		1000000

enum conf_proto {
	CONF_PROTO_SMTP,	/* port 25: mail from the world */
	CONF_PROTO_SUBMISSION,	/* 587: STARTTLS, AUTH */
	CONF_PROTO_SUBMISSIONS,	/* 465: implicit TLS, AUTH */
	CONF_PROTO_IMAP,
	CONF_PROTO_IMAPS,
	CONF_PROTO_POP3,
	CONF_PROTO_POP3S,
};

/* "listen PROTO ADDRESS:PORT" ; ADDRESS is IPv4, [IPv6] or '*' */
struct conf_listen {
	enum conf_proto	 proto;
	char		 addr[64];	/* numeric, as written ("*" = any);
					 * IPv6 without its brackets */
	uint16_t	 port;		/* 1..65535 */
};

struct conf {
	char		*path;		/* the file this came from */

	/* general */
	char		*hostname;	/* "hostname"; default: gethostname() */
	char		*data_dir;	/* "data_dir"; default "/var/lib/facteur";
					 * relative paths are relative to the
					 * current directory at start */
	char		*user;		/* "user": unprivileged user when started
					 * as root; default "facteur" */
	unsigned	 workers;	/* "workers"; 0 (default) = one per core;
					 * 0..WORKERS_MAX */
	bool		 log_syslog;	/* "log stderr|syslog"; default stderr */
	bool		 log_debug;	/* "log_level info|debug"; default info */
	char		*tls_cert;	/* "tls_cert"; default DATA_DIR/tls/cert.pem */
	char		*tls_key;	/* "tls_key"; default DATA_DIR/tls/key.pem */
	char		*postmaster;	/* "postmaster": address (an account or
					 * alias) that receives mail for
					 * postmaster; default
					 * "postmaster@HOSTNAME" */
	unsigned	 shutdown_grace; /* "shutdown_grace" duration; default 30s,
					 * 0..3600 */
	bool		 auth_plaintext_loopback; /* "auth_plaintext_loopback"
					 * yes|no; default no: yes lets clients
					 * on 127.0.0.0/8 and ::1 use AUTH
					 * without TLS */
	bool		 submission_sender_check; /* "submission_sender_check"
					 * yes|no; default yes: an authenticated
					 * user may use only its own address and
					 * the aliases that reach it as sender */
	char		*relay_networks;	/* "relay_networks PREFIX...":
					 * clients in these networks may relay
					 * without AUTH (like Postfix's
					 * mynetworks); NULL = none */

	struct conf_listen listen[CONF_LISTEN_MAX];
	size_t		 nlisten;

	/* connection limits */
	unsigned	 max_connections;	  /* "max_connections" */
	unsigned	 max_connections_per_ip;  /* "max_connections_per_ip" */

	/* SMTP limits (defaults and bounds in core/limits.h) */
	size_t		 smtp_max_line;		/* "smtp_max_line" size */
	size_t		 smtp_max_message_size;	/* "smtp_max_message_size" size */
	size_t		 smtp_max_header_size;	/* "smtp_max_header_size" size */
	unsigned	 smtp_max_rcpts;	/* "smtp_max_recipients" */
	unsigned	 smtp_max_mails;	/* "smtp_max_messages_per_connection" */
	unsigned	 smtp_max_bad_commands;	/* "smtp_max_bad_commands" */
	unsigned	 smtp_timeout;		/* "smtp_timeout" duration */
	unsigned	 smtp_data_timeout;	/* "smtp_data_timeout" duration */

	/* POP3 limits (defaults and bounds in core/limits.h) */
	unsigned	 pop3_timeout;		/* "pop3_timeout" duration */
	unsigned	 pop3_max_bad_commands;	/* "pop3_max_bad_commands" */

	/* IMAP limits (defaults and bounds in core/limits.h) */
	unsigned	 imap_timeout;		/* "imap_timeout" duration */
	unsigned	 imap_max_bad_commands;	/* "imap_max_bad_commands" */

	/* Outbound queue retry policy (src/queue/sched.h), durations */
	unsigned	 queue_retry_min;	/* "queue_retry_min" */
	unsigned	 queue_retry_max;	/* "queue_retry_max" */
	unsigned	 queue_lifetime;	/* "queue_lifetime" */
	unsigned	 queue_delay_warning;	/* "queue_delay_warning"; 0 = none */

	/* DNS for outbound delivery (src/dns, doc/DNS.md) */
	char		*dns_resolver;	/* "dns_resolver" ADDR or ADDR@PORT;
					 * NULL (default): /etc/resolv.conf */
	bool		 dns_dnssec;	/* "dns_dnssec" yes|no; default no */
	char		*dns_trust_anchor; /* "dns_trust_anchor"; default
					 * /usr/share/dns/root.key */
	bool		 dns_prefer_ipv4; /* "dns_prefer ipv6|ipv4"; default
					 * ipv6 */

	/* Outbound SMTP client (src/mta, doc/MTA.md); durations */
	unsigned	 mta_timeout_connect;	/* "mta_timeout_connect" */
	unsigned	 mta_timeout_greeting;	/* "mta_timeout_greeting" */
	unsigned	 mta_timeout_mail;	/* "mta_timeout_mail" */
	unsigned	 mta_timeout_rcpt;	/* "mta_timeout_rcpt" */
	unsigned	 mta_timeout_data;	/* "mta_timeout_data" */
	unsigned	 mta_timeout_data_block; /* "mta_timeout_data_block" */
	unsigned	 mta_timeout_data_end;	/* "mta_timeout_data_end" */
	unsigned	 mta_max_conn_per_domain; /* "mta_max_connections_per_domain" */
	unsigned	 mta_max_rate_per_domain; /* "mta_max_rate_per_domain";
					 * messages a minute, 0 = no limit */
	char		*mta_tls_require;	/* "mta_tls_require DOMAIN...":
					 * list, words separated by one
					 * space, lower case; NULL = none */
	char		*smarthost;		/* "smarthost HOST[:PORT]" or
					 * "[ADDR]:PORT"; NULL = MX routing */
	char		*smarthost_tls;		/* "smarthost_tls starttls|implicit|
					 * none"; default starttls */
	char		*smarthost_auth_file;	/* "smarthost_auth_file PATH" */
	char		*smarthost_domains;	/* "smarthost_domains DOMAIN...":
					 * list as above; NULL = all */
};

/* Parse FILE.  On error returns NULL and sets *err_r to a malloc'ed
 * message "FILE:LINE:COL: what" (several errors: one per line, no final
 * newline; errors about the whole file are "FILE: what").  On success
 * *err_r is NULL.  Defaults are applied after parsing. */
struct conf	*conf_load(const char *path, char **err_r);
/* Parse a config from memory (fuzzing, tests); name is used in errors. */
struct conf	*conf_parse(const char *name, const char *text, size_t len,
		    char **err_r);
void		 conf_free(struct conf **confp);
/* "smtp", "submission", ... as written in "listen"; "?" if out of range. */
const char	*conf_proto_name(enum conf_proto proto);

#endif
