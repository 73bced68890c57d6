/* limits.h: every input has a limit.  Tunable ones are also config
 * options (src/config/conf.c) with these as defaults; the bounds here
 * are what the config parser accepts.  doc/LIMITS.md lists them all. */
#ifndef FACTEUR_CORE_LIMITS_H
#define FACTEUR_CORE_LIMITS_H

/* SMTP command line, CRLF included (RFC 5321 §4.5.3.1.4 asks >= 512). */
#define SMTP_LINE_MAX_DEFAULT		4096
#define SMTP_LINE_MAX_MIN		512
#define SMTP_LINE_MAX_MAX		65536
/* AUTH lines carry SASL payloads (RFC 4954 §4: 12288). */
#define SMTP_AUTH_LINE_MAX		12288
/* One line of message content; past it: 500 and close. */
#define SMTP_DATA_LINE_MAX		65536
/* Message size (SIZE extension); enforced while receiving. */
#define SMTP_MESSAGE_MAX_DEFAULT	(35UL * 1024 * 1024)
#define SMTP_MESSAGE_MAX_MIN		1024UL
#define SMTP_MESSAGE_MAX_MAX		(1024UL * 1024 * 1024)
/* Header block of a message. */
#define SMTP_HEADER_MAX_DEFAULT		(100 * 1024)
#define SMTP_HEADER_MAX_MIN		1024
#define SMTP_HEADER_MAX_MAX		(16 * 1024 * 1024)
#define SMTP_RCPTS_MAX_DEFAULT		1000
#define SMTP_RCPTS_MAX_MIN		1
#define SMTP_RCPTS_MAX_MAX		100000
#define SMTP_MAILS_MAX_DEFAULT		100
#define SMTP_MAILS_MAX_MIN		1
#define SMTP_MAILS_MAX_MAX		100000
#define SMTP_BAD_CMDS_MAX_DEFAULT	20
#define SMTP_BAD_CMDS_MAX_MIN		1
#define SMTP_BAD_CMDS_MAX_MAX		1000
/* RFC 5321 §4.5.3.2.7: server timeout at least 5 minutes. */
#define SMTP_TIMEOUT_DEFAULT		300
#define SMTP_TIMEOUT_MIN		1
#define SMTP_TIMEOUT_MAX		3600
/* A whole DATA transfer may last this long (slow but alive peers). */
#define SMTP_DATA_TIMEOUT_DEFAULT	600
#define SMTP_DATA_TIMEOUT_MIN		1
#define SMTP_DATA_TIMEOUT_MAX		86400
/* Address length (RFC 5321 §4.5.3.1.3 path: 256). */
#define SMTP_PATH_MAX			256
#define SMTP_DOMAIN_MAX			255
#define SMTP_LOCALPART_MAX		64
/* ESMTP parameter values (ENVID, ORCPT: RFC 3461 allows 100 / 500). */
#define SMTP_PARAM_MAX			512

/* POP3 (RFC 1939, 2449).  A command line, CRLF included: RFC 2449 §4
 * says 255; we accept up to 512. */
#define POP3_LINE_MAX			512
/* PASS and AUTH lines and SASL responses (a 511-byte password in
 * base64 PLAIN with a 256-byte login). */
#define POP3_AUTH_LINE_MAX		2048
/* RFC 1939 §3: the autologout timer is at least 10 minutes. */
#define POP3_TIMEOUT_DEFAULT		600
#define POP3_TIMEOUT_MIN		1
#define POP3_TIMEOUT_MAX		86400
#define POP3_BAD_CMDS_MAX_DEFAULT	20
#define POP3_BAD_CMDS_MAX_MIN		1
#define POP3_BAD_CMDS_MAX_MAX		1000
/* Failed logins on one connection before it is closed. */
#define POP3_AUTH_FAILURES_MAX		3
/* Messages one session shows (the oldest ones); more stay for later. */
#define POP3_MESSAGES_MAX		500000

/* IMAP (RFC 9051).  The command line (64 KiB), nesting and pre-login
 * literal limits are the parser's (imap/imap_parse.h); literals may be
 * as big as smtp_max_message_size.  RFC 9051 §5.4: the autologout timer
 * is at least 30 minutes, also during IDLE. */
#define IMAP_TIMEOUT_DEFAULT		(30 * 60)
#define IMAP_TIMEOUT_MIN		1
#define IMAP_TIMEOUT_MAX		86400
/* Before login a client gets this long between commands. */
#define IMAP_PREAUTH_TIMEOUT		60
#define IMAP_BAD_CMDS_MAX_DEFAULT	20
#define IMAP_BAD_CMDS_MAX_MIN		1
#define IMAP_BAD_CMDS_MAX_MAX		1000
/* Failed logins on one connection before it is closed. */
#define IMAP_AUTH_FAILURES_MAX		3
/* Pipelined input held while a command runs: reading stops there. */
#define IMAP_IN_MAX			(64 * 1024)
/* ... and during IDLE, when only "DONE" is expected. */
#define IMAP_IDLE_IN_MAX		1024
/* Output queued for a slow reader before input processing waits. */
#define IMAP_OUT_HIGH			(256 * 1024)
/* A logged-in session silent this long lets its store go idle (the
 * database handle and caches are released until its next command). */
#define IMAP_STORE_IDLE_AFTER		60
/* Seconds between refreshes of an IDLE session whose folder could not
 * be watched (inotify watch limit reached). */
#define IMAP_IDLE_POLL			5

#define CONN_MAX_DEFAULT		1000
#define CONN_MAX_MIN			1
#define CONN_MAX_MAX			1000000
#define CONN_PER_IP_MAX_DEFAULT		50
#define CONN_PER_IP_MAX_MIN		1
#define CONN_PER_IP_MAX_MAX		100000
/* TLS handshake must finish in this many seconds. */
#define TLS_HANDSHAKE_TIMEOUT		30
/* Graceful stop: open transactions get this long before 421. */
#define SHUTDOWN_GRACE_DEFAULT		30
#define SHUTDOWN_GRACE_MIN		0
#define SHUTDOWN_GRACE_MAX		3600
/* "workers": 0 means one per core. */
#define WORKERS_DEFAULT			0
#define WORKERS_MIN			0
#define WORKERS_MAX			256

/* IPC message payload. */
#define IMSG_PAYLOAD_MAX		(64 * 1024)
/* Config file. */
#define CONF_LINE_MAX			4096
#define CONF_FILE_MAX			(1024 * 1024)
#define CONF_LISTEN_MAX			32
/* Errors reported for one file before giving up. */
#define CONF_ERRORS_MAX			100

#endif
