/* conn.c: buffered connections with our own TLS layer on OpenSSL.
 *
 * Reads: the read event is persistent while not paused.  With TLS,
 * SSL_read may need the socket writable (renegotiation, key update):
 * want_write_on_read enables the write event, whose handler then reads.
 * Writes: the write event is enabled while output is queued.  SSL_write
 * may need the socket readable: want_read_on_write makes the read
 * handler retry the write.  (Redis tls.c does the same dance.) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "net/conn.h"
#include "tls/tls.h"

#define CONN_OUT_MAX		(4 * 1024 * 1024)
#define CONN_OUT_HIGH		(256 * 1024)	/* stop reading above this */
#define CONN_READ_CHUNK		(64 * 1024)

static void	conn_on_read(evutil_socket_t, short, void *);
static void	conn_on_write(evutil_socket_t, short, void *);
static void	conn_on_timer(evutil_socket_t, short, void *);
static void	conn_on_reap(evutil_socket_t, short, void *);
static void	conn_update_events(struct conn *);
static void	conn_handshake(struct conn *);

void
conn_addr_str(const struct sockaddr *sa, char *buf, size_t size)
{
	const void *a = NULL;

	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (a == NULL || inet_ntop(sa->sa_family, a, buf, size) == NULL)
		snprintf(buf, size, "unknown");
}

/* ::ffff:a.b.c.d (a dual-stack listener) becomes a.b.c.d, so that logs,
 * limits and policies see one IPv4 client as IPv4. */
bool
conn_peer_loopback(const struct conn *c)
{
	const struct sockaddr_in *sin = (const void *)&c->peer;
	const struct sockaddr_in6 *sin6 = (const void *)&c->peer;

	if (c->peer.ss_family == AF_INET)
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	if (c->peer.ss_family != AF_INET6)
		return false;
	if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
		return true;
	return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
	    sin6->sin6_addr.s6_addr[12] == 127;
}

socklen_t
conn_unmap_v4(struct sockaddr_storage *ss, socklen_t len)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in sin;

	if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		return len;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = sin6->sin6_port;
	memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
	memcpy(ss, &sin, sizeof(sin));
	return sizeof(sin);
}

struct conn *
conn_new(struct event_base *base, int fd, const struct sockaddr *sa,
    socklen_t salen, size_t in_max, const struct conn_ops *ops, void *arg)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	c->fd = fd;
	if (salen > sizeof(c->peer))
		salen = sizeof(c->peer);
	memcpy(&c->peer, sa, salen);
	conn_addr_str(sa, c->addr, sizeof(c->addr));
	buf_init(&c->in, in_max);
	buf_init(&c->out, CONN_OUT_MAX);
	c->ops = ops;
	c->arg = arg;
	c->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, conn_on_read, c);
	c->ev_write = event_new(base, fd, EV_WRITE | EV_PERSIST,
	    conn_on_write, c);
	c->ev_timer = evtimer_new(base, conn_on_timer, c);
	c->ev_reap = event_new(base, -1, 0, conn_on_reap, c);
	if (c->ev_read == NULL || c->ev_write == NULL || c->ev_timer == NULL ||
	    c->ev_reap == NULL)
		fatalx("event_new: out of memory");
	event_add(c->ev_read, NULL);
	return c;
}

void
conn_set_timeout(struct conn *c, unsigned secs)
{
	struct timeval tv = { secs, 0 };

	c->timeout = secs;
	if (c->dead)
		return;
	if (secs == 0)
		evtimer_del(c->ev_timer);
	else
		evtimer_add(c->ev_timer, &tv);
}

static void
conn_schedule_reap(struct conn *c, const char *reason)
{
	if (c->dead)
		return;
	c->dead = true;
	c->reason = reason;
	event_del(c->ev_read);
	event_del(c->ev_write);
	evtimer_del(c->ev_timer);
	event_active(c->ev_reap, 0, 0);
}

void
conn_abort(struct conn *c, const char *reason)
{
	conn_schedule_reap(c, reason);
}

void
conn_close(struct conn *c, const char *reason)
{
	if (c->dead || c->closing)
		return;
	c->closing = true;
	c->reason = reason;
	if (c->out.len == 0 || c->tls == CONN_TLS_HANDSHAKE) {
		conn_schedule_reap(c, reason);
		return;
	}
	conn_update_events(c);
	/* a peer that never reads must not hold the close forever */
	conn_set_timeout(c, c->timeout != 0 && c->timeout < 30 ?
	    c->timeout : 30);
}

static void
conn_free(struct conn *c)
{
	if (c->ssl != NULL) {
		if (c->tls == CONN_TLS_ON)
			SSL_shutdown(c->ssl);	/* best effort close_notify */
		SSL_free(c->ssl);
	}
	close(c->fd);
	event_free(c->ev_read);
	event_free(c->ev_write);
	event_free(c->ev_timer);
	event_free(c->ev_reap);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c->tls_name);
	free(c);
}

void
conn_destroy(struct conn **cp)
{
	if (cp == NULL || *cp == NULL)
		return;
	conn_free(*cp);
	*cp = NULL;
}

static void
conn_on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	c->ops->closed(c, c->arg, c->reason != NULL ? c->reason : "closed");
	conn_free(c);
}

void
conn_write(struct conn *c, const void *p, size_t n)
{
	if (c->dead || c->closing)
		return;
	if (buf_append(&c->out, p, n) == -1) {
		conn_abort(c, "output buffer full");
		return;
	}
	conn_update_events(c);
}

void
conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (c->dead || c->closing)
		return;
	va_start(ap, fmt);
	r = buf_vprintf(&c->out, fmt, ap);
	va_end(ap);
	if (r == -1) {
		conn_abort(c, "output buffer full");
		return;
	}
	conn_update_events(c);
}

/* One protocol line: the formatted text (cut at CONN_LINE_MAX) + CRLF. */
void
conn_vline(struct conn *c, const char *fmt, va_list ap)
{
	char line[CONN_LINE_MAX + 2];
	int n;

	n = vsnprintf(line, CONN_LINE_MAX + 1, fmt, ap);
	if (n < 0)
		return;
	if (n > CONN_LINE_MAX)
		n = CONN_LINE_MAX;
	line[n++] = '\r';
	line[n++] = '\n';
	conn_write(c, line, (size_t)n);
}

void
conn_pause(struct conn *c)
{
	c->read_paused = true;
	conn_update_events(c);
}

void
conn_resume(struct conn *c)
{
	if (!c->read_paused)
		return;
	c->read_paused = false;
	conn_update_events(c);
	/* bytes may wait in c->in or inside OpenSSL: look at them now */
	if (!c->dead)
		event_active(c->ev_read, EV_READ, 0);
}

void
conn_starttls(struct conn *c, SSL_CTX *ctx)
{
	buf_reset(&c->in);	/* never carry plaintext across the handshake */
	c->ssl_ctx = ctx;
	c->tls = CONN_TLS_PENDING;
	if (c->out.len == 0)
		conn_handshake(c);
	else
		conn_update_events(c);
}

/* Whether reading is wanted; paused: as if paused or not. */
static bool
conn_read_wanted(const struct conn *c, bool paused)
{
	return !c->eof && (c->tls == CONN_TLS_HANDSHAKE ||
	    c->want_read_on_write || (!paused && !c->closing &&
	    c->out.len < CONN_OUT_HIGH && c->tls != CONN_TLS_PENDING &&
	    c->in.len < c->in.max));
}

/* Which events we need, from the state. */
static void
conn_update_events(struct conn *c)
{
	bool want_read, want_write;

	if (c->dead)
		return;
	want_read = conn_read_wanted(c, c->read_paused);
	want_write = c->out.len > 0 || c->want_write_on_read ||
	    (c->tls == CONN_TLS_HANDSHAKE && c->ssl != NULL &&
	    SSL_want_write(c->ssl));
	if (want_read)
		event_add(c->ev_read, NULL);
	else if (!c->read_paused || !conn_read_wanted(c, false))
		event_del(c->ev_read);
	/* else paused only: the read event stays, and is removed if bytes
	 * come before the resume (conn_on_read); a pause answered within
	 * the loop turn (a cached look-up, a commit) costs no epoll_ctl */
	if (!want_write) {
		event_del(c->ev_write);
		return;
	}
	/* Output to a socket that took everything last time: write it at
	 * the end of this loop turn (replies queued by the same callback
	 * still go out in one write) without asking epoll first, which
	 * costs two epoll_ctl calls and a loop turn per reply. */
	if (c->out.len > 0 && !c->write_blocked && !c->want_read_on_write &&
	    !c->want_write_on_read && c->tls != CONN_TLS_HANDSHAKE)
		event_active(c->ev_write, EV_WRITE, 0);
	else
		event_add(c->ev_write, NULL);
}

/* The client side: SNI and the name to check (a failed check is only
 * recorded: tls_verified() reads it after the handshake). */
static void
conn_tls_client_setup(struct conn *c)
{
	SSL_set_connect_state(c->ssl);
	if (c->tls_name == NULL)
		return;
	(void)SSL_set_tlsext_host_name(c->ssl, c->tls_name);
	(void)SSL_set1_host(c->ssl, c->tls_name);
}

void
conn_starttls_client(struct conn *c, SSL_CTX *ctx, const char *name)
{
	c->tls_client = true;
	free(c->tls_name);
	c->tls_name = name != NULL ? xstrdup(name) : NULL;
	conn_starttls(c, ctx);
}

void
conn_want_drained(struct conn *c, void (*drained)(struct conn *, void *))
{
	if (c->dead)
		return;
	c->want_drained = true;
	c->drained = drained;
	if (c->out.len <= CONN_DRAIN_LOW)
		event_active(c->ev_write, EV_WRITE, 0);
}

static void
conn_handshake(struct conn *c)
{
	int r, e;

	if (c->ssl == NULL) {
		if ((c->ssl = SSL_new(c->ssl_ctx)) == NULL ||
		    SSL_set_fd(c->ssl, c->fd) != 1) {
			log_event(c->id, "tls", "error", "reason=<%s>",
			    tls_error());
			conn_abort(c, "TLS setup failed");
			return;
		}
		if (c->tls_client)
			conn_tls_client_setup(c);
		else
			SSL_set_accept_state(c->ssl);
		c->tls = CONN_TLS_HANDSHAKE;
		conn_set_timeout(c, TLS_HANDSHAKE_TIMEOUT);
	}
	ERR_clear_error();
	r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->tls = CONN_TLS_ON;
		buf_reset(&c->in);
		tls_describe(c->ssl, c->tls_info, sizeof(c->tls_info));
		conn_update_events(c);
		c->ops->tls_done(c, c->arg);
		return;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		conn_update_events(c);
		return;
	}
	log_event(c->id, "tls", "handshake-failed", "addr=%s reason=<%s>",
	    c->addr, e == SSL_ERROR_SSL ? tls_error() : "connection lost");
	conn_abort(c, "TLS handshake failed");
}

/* Read what is there into c->in.  1 got data, 0 nothing now, -1 the
 * connection broke (reset, TLS error).  An orderly close by the peer
 * only sets c->eof: replies already queued still go out. */
static int
conn_fill(struct conn *c)
{
	size_t room, got = 0, rn;
	ssize_t n;
	int r, e;

	c->want_write_on_read = false;
	while (!c->eof) {
		room = c->in.max - c->in.len;
		if (room == 0)
			break;
		if (room > CONN_READ_CHUNK)
			room = CONN_READ_CHUNK;
		if (buf_reserve(&c->in, room) == -1)
			break;
		if (c->ssl == NULL) {
			n = read(c->fd, c->in.p + c->in.len, room);
			if (n > 0) {
				c->in.len += (size_t)n;
				got += (size_t)n;
				if ((size_t)n < room)
					break;
				continue;
			}
			if (n == 0)
				c->eof = true;
			else if (errno != EAGAIN && errno != EINTR)
				return got > 0 ? 1 : -1;
			break;
		}
		ERR_clear_error();
		r = SSL_read_ex(c->ssl, c->in.p + c->in.len, room, &rn);
		if (r == 1) {
			c->in.len += rn;
			got += rn;
			continue;
		}
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ)
			break;
		if (e == SSL_ERROR_WANT_WRITE) {
			c->want_write_on_read = true;
			break;
		}
		if (e == SSL_ERROR_ZERO_RETURN) {
			c->eof = true;
			break;
		}
		if (e == SSL_ERROR_SSL)
			log_event(c->id, "tls", "error", "reason=<%s>",
			    tls_error());
		if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
			c->eof = true;	/* EOF without close_notify */
			break;
		}
		return got > 0 ? 1 : -1;
	}
	return got > 0;
}

/* Write queued output.  0 ok (maybe partial), -1 connection gone. */
static int
conn_flush(struct conn *c)
{
	ssize_t n;
	size_t wn;
	int r, e;

	c->write_blocked = false;
	while (c->out.len > 0) {
		if (c->ssl == NULL || c->tls != CONN_TLS_ON) {
			n = write(c->fd, c->out.p, c->out.len);
			if (n > 0) {
				buf_consume(&c->out, (size_t)n);
				continue;
			}
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1 && errno == EAGAIN) {
				c->write_blocked = true;
				return 0;
			}
			return -1;
		}
		ERR_clear_error();
		c->want_read_on_write = false;
		r = SSL_write_ex(c->ssl, c->out.p, c->out.len, &wn);
		if (r == 1) {
			buf_consume(&c->out, wn);
			continue;
		}
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_WRITE) {
			c->write_blocked = true;
			return 0;
		}
		if (e == SSL_ERROR_WANT_READ) {
			c->want_read_on_write = true;
			return 0;
		}
		return -1;
	}
	buf_shrink(&c->out);
	return 0;
}

static void
conn_after_flush(struct conn *c)
{
	if (c->out.len > 0)
		return;
	if (c->closing || (c->eof && !c->read_paused)) {
		conn_schedule_reap(c, c->reason);
		return;
	}
	if (c->tls == CONN_TLS_PENDING)
		conn_handshake(c);
}

static void
conn_do_write(struct conn *c)
{
	if (conn_flush(c) == -1) {
		conn_abort(c, c->closing ? c->reason : "write failed");
		return;
	}
	conn_after_flush(c);
	conn_update_events(c);
	if (!c->dead && c->want_drained && c->out.len <= CONN_DRAIN_LOW &&
	    c->tls != CONN_TLS_HANDSHAKE && c->drained != NULL) {
		c->want_drained = false;
		c->drained(c, c->arg);
	}
}

static void
conn_do_read(struct conn *c)
{
	int r;

	if (c->tls == CONN_TLS_HANDSHAKE) {
		conn_handshake(c);
		return;
	}
	if (c->tls == CONN_TLS_PENDING || c->closing || c->read_paused)
		return;
	if ((r = conn_fill(c)) == -1) {
		conn_abort(c, "connection lost");
		return;
	}
	if (c->timeout != 0 && r == 1)
		conn_set_timeout(c, c->timeout);
	if (c->in.len > 0)
		c->ops->readable(c, c->arg);
	if (c->dead)
		return;
	/* the peer is gone: once our replies are out and nothing is under
	 * way, so are we (conn_after_flush covers the other order) */
	if (c->eof && !c->closing && c->out.len == 0 && !c->read_paused) {
		conn_abort(c, "connection closed by peer");
		return;
	}
	/* decrypted bytes may wait inside OpenSSL with nothing more to come
	 * on the socket: look at them without waiting for readiness */
	if (c->ssl != NULL && SSL_pending(c->ssl) > 0 && !c->read_paused &&
	    c->in.len < c->in.max)
		event_active(c->ev_read, EV_READ, 0);
	conn_update_events(c);
}

static void
conn_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->dead)
		return;
	if (c->read_paused && !conn_read_wanted(c, true)) {
		event_del(c->ev_read);	/* the pause, for real now */
		return;
	}
	if (c->want_read_on_write) {
		conn_do_write(c);
		if (c->dead)
			return;
	}
	conn_do_read(c);
}

static void
conn_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->dead)
		return;
	if (c->tls == CONN_TLS_HANDSHAKE) {
		conn_handshake(c);
		return;
	}
	if (c->want_write_on_read) {
		conn_do_read(c);
		if (c->dead)
			return;
	}
	conn_do_write(c);
}

static void
conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->dead)
		return;
	if (c->closing || c->tls == CONN_TLS_HANDSHAKE) {
		conn_abort(c, c->closing ? c->reason : "TLS handshake timeout");
		return;
	}
	c->ops->timeout(c, c->arg);
}
