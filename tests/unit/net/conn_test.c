/* conn_test.c: tests for src/net/conn.c over a socketpair, with a real
 * libevent base.  The test plays the session (struct conn_ops) on one
 * end and the peer on the other: raw reads and writes, or an OpenSSL
 * client driven from the same thread between turns of the loop.
 *
 * The server's TLS context is a self-signed certificate made by
 * tls_ensure_selfsigned() in a temp dir under $FACTEUR_TEST_TMP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "net/conn.h"
#include "tls/tls.h"

enum rmode {
	R_ALL,		/* consume everything */
	R_NONE,		/* consume nothing */
	R_LINE_PAUSE,	/* consume one line, then conn_pause() */
	R_STARTTLS,	/* on "STARTTLS\r\n": reply 220, conn_starttls() */
	R_CLOSE,	/* consume, reply, conn_close() from the callback */
};

struct ct {
	struct event_base	*base;
	struct conn		*c;	/* NULL once closed() ran */
	int			 peer;	/* the other end, -1 when closed */
	SSL_CTX			*cctx;	/* the client */
	SSL			*cssl;

	enum rmode		 mode;
	unsigned char		*got;	/* bytes the session consumed */
	size_t			 glen, gcap;
	size_t			 max_in_len;
	unsigned		 nreadable, ntls, ntimeout, nclosed;
	unsigned		 nreadable_at_tls;
	char			 reason[128];
	char			 tls_info[128];
	size_t			 in_len_at_tls;
	bool			 in_readable;	/* inside ops->readable */
	bool			 in_call;	/* inside a conn_* call */
	bool			 closed_reentrant;
};

static SSL_CTX	*srv_ctx;
static char	 tls_dir[1024];
static struct ct *cur;

/*
 * The session side.
 */

static void
got_add(struct ct *t, const void *p, size_t n)
{
	if (t->glen + n > t->gcap) {
		t->gcap = (t->glen + n) * 2;
		t->got = realloc(t->got, t->gcap);
		assert_non_null(t->got);
	}
	memcpy(t->got + t->glen, p, n);
	t->glen += n;
}

static void
on_readable(struct conn *c, void *arg)
{
	struct ct *t = arg;
	const char *nl;
	size_t n;

	assert_ptr_equal(c, t->c);
	assert_true(c->in.len > 0);
	t->in_readable = true;
	t->nreadable++;
	if (c->in.len > t->max_in_len)
		t->max_in_len = c->in.len;
	switch (t->mode) {
	case R_ALL:
		got_add(t, c->in.p, c->in.len);
		buf_consume(&c->in, c->in.len);
		break;
	case R_NONE:
		break;
	case R_LINE_PAUSE:
		nl = memchr(c->in.p, '\n', c->in.len);
		if (nl != NULL) {
			n = (size_t)(nl - c->in.p) + 1;
			got_add(t, c->in.p, n);
			buf_consume(&c->in, n);
			conn_pause(c);
		}
		break;
	case R_STARTTLS:
		if (c->tls == CONN_TLS_ON) {
			got_add(t, c->in.p, c->in.len);
			buf_consume(&c->in, c->in.len);
			break;
		}
		if (c->in.len >= 10 && memcmp(c->in.p, "STARTTLS\r\n", 10) == 0) {
			got_add(t, c->in.p, 10);
			buf_consume(&c->in, 10);
			conn_printf(c, "220 %s\r\n", "go");
			conn_starttls(c, srv_ctx);
		}
		break;
	case R_CLOSE:
		got_add(t, c->in.p, c->in.len);
		buf_consume(&c->in, c->in.len);
		conn_write(c, "221 bye\r\n", 9);
		conn_close(c, "quit");
		break;
	}
	t->in_readable = false;
}

static void
on_tls_done(struct conn *c, void *arg)
{
	struct ct *t = arg;

	t->ntls++;
	t->nreadable_at_tls = t->nreadable;
	t->in_len_at_tls = c->in.len;
	snprintf(t->tls_info, sizeof(t->tls_info), "%s", c->tls_info);
}

static void
on_timeout(struct conn *c, void *arg)
{
	struct ct *t = arg;

	t->ntimeout++;
}

static void
on_closed(struct conn *c, void *arg, const char *reason)
{
	struct ct *t = arg;

	assert_ptr_equal(c, t->c);
	if (t->in_readable || t->in_call)
		t->closed_reentrant = true;
	t->nclosed++;
	snprintf(t->reason, sizeof(t->reason), "%s",
	    reason != NULL ? reason : "(null)");
	t->c = NULL;
}

static const struct conn_ops test_ops = {
	on_readable, on_tls_done, on_timeout, on_closed,
};

/*
 * Setup.
 */

static struct ct *
ct_new(size_t in_max)
{
	struct ct *t = calloc(1, sizeof(*t));
	struct sockaddr_in sin;
	int sv[2];

	assert_non_null(t);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv), 0);
	t->base = event_base_new();
	assert_non_null(t->base);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(2525);
	inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr);
	t->c = conn_new(t->base, sv[0], (struct sockaddr *)&sin, sizeof(sin),
	    in_max, &test_ops, t);
	assert_non_null(t->c);
	t->peer = sv[1];
	return t;
}

static void
ct_free(struct ct *t)
{
	if (t->c != NULL) {
		conn_abort(t->c, "test over");
		event_base_loop(t->base, EVLOOP_NONBLOCK);
	}
	if (t->cssl != NULL)
		SSL_free(t->cssl);
	if (t->cctx != NULL)
		SSL_CTX_free(t->cctx);
	if (t->peer >= 0)
		close(t->peer);
	event_base_free(t->base);
	free(t->got);
	free(t);
}

static int
setup(void **state)
{
	alarm(60);	/* a hung loop fails the test instead of ctest's run */
	cur = ct_new(4096);
	*state = cur;
	return 0;
}

static int
teardown(void **state)
{
	alarm(0);
	if (cur != NULL)
		ct_free(cur);
	cur = NULL;
	return 0;
}

/* Another conn for the same test, with another in_max. */
static struct ct *
ct_replace(size_t in_max)
{
	ct_free(cur);
	cur = ct_new(in_max);
	return cur;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
pump(struct ct *t)
{
	event_base_loop(t->base, EVLOOP_NONBLOCK);
}

/* Run the loop for ms milliseconds (blocking in between). */
static void
run_for(struct ct *t, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(t->base, &tv);
	event_base_dispatch(t->base);
}

/* Non-blocking peer read of what is there; -1 on EOF with nothing. */
static ssize_t
peer_read(struct ct *t, void *p, size_t n)
{
	ssize_t r = read(t->peer, p, n);

	if (r == -1 && errno == EAGAIN)
		return 0;
	if (r == 0)
		return -1;
	assert_true(r > 0);
	return r;
}

static void
peer_write(struct ct *t, const void *p, size_t n)
{
	assert_int_equal(write(t->peer, p, n), (ssize_t)n);
}

/* Pump the loop and read the peer until want bytes or EOF (5 s). */
static size_t
peer_collect(struct ct *t, unsigned char *dst, size_t want, bool *eof_r)
{
	double end = now_s() + 5;
	size_t have = 0;
	ssize_t n;

	*eof_r = false;
	while (have < want || want == SIZE_MAX) {
		pump(t);
		n = peer_read(t, dst + have, want == SIZE_MAX ? 65536 :
		    want - have);
		if (n == -1) {
			*eof_r = true;
			break;
		}
		have += (size_t)n;
		if (now_s() > end)
			break;
		if (n == 0)
			usleep(200);
	}
	return have;
}

static void
pattern(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 7 + seed + i / 4093);
}

/*
 * Plain connections.
 */

static void
test_new(void **state)
{
	struct ct *t = *state;

	assert_string_equal(t->c->addr, "192.0.2.7");
	assert_int_equal(t->c->tls, CONN_TLS_NONE);
	assert_int_equal(t->c->in.max, 4096);
	pump(t);
	assert_int_equal(t->nreadable, 0);
	assert_int_equal(t->nclosed, 0);
}

static void
test_readable(void **state)
{
	struct ct *t = *state;

	peer_write(t, "hello", 5);
	pump(t);
	assert_int_equal(t->nreadable, 1);
	assert_int_equal(t->glen, 5);
	assert_memory_equal(t->got, "hello", 5);
	peer_write(t, " world\r\n", 8);
	pump(t);
	assert_int_equal(t->nreadable, 2);
	assert_int_equal(t->glen, 13);
	assert_memory_equal(t->got, "hello world\r\n", 13);
	/* nothing new: no call */
	pump(t);
	assert_int_equal(t->nreadable, 2);
	assert_int_equal(t->nclosed, 0);
}

/* Bytes the session leaves in c->in stay there, and new ones follow. */
static void
test_unconsumed_kept(void **state)
{
	struct ct *t = *state;

	t->mode = R_NONE;
	peer_write(t, "abc", 3);
	pump(t);
	assert_int_equal(t->c->in.len, 3);
	peer_write(t, "def", 3);
	pump(t);
	assert_int_equal(t->c->in.len, 6);
	assert_memory_equal(t->c->in.p, "abcdef", 6);
	assert_int_equal(t->nreadable, 2);
}

/* c->in never holds more than in_max; while it is full the conn does
 * not read (the rest stays in the kernel), and every byte arrives once
 * the session consumes. */
static void
test_in_max(void **state)
{
	struct ct *t = ct_replace(16);
	unsigned char data[1000], peek[1000];
	unsigned calls;
	ssize_t n;

	pattern(data, sizeof(data), 1);
	t->mode = R_NONE;
	peer_write(t, data, sizeof(data));
	pump(t);
	pump(t);
	assert_int_equal(t->c->in.len, 16);
	assert_memory_equal(t->c->in.p, data, 16);
	assert_true(t->c->in.cap <= 16);
	/* reading stopped: no busy loop over a full buffer */
	calls = t->nreadable;
	assert_true(calls >= 1);
	assert_false(event_pending(t->c->ev_read, EV_READ, NULL));
	for (int i = 0; i < 10; i++)
		pump(t);
	assert_int_equal(t->nreadable, calls);
	n = recv(t->c->fd, peek, sizeof(peek), MSG_PEEK | MSG_DONTWAIT);
	assert_int_equal(n, 1000 - 16);
	/* the session catches up */
	t->mode = R_ALL;
	conn_pause(t->c);
	conn_resume(t->c);
	for (int i = 0; i < 200 && t->glen < sizeof(data); i++)
		pump(t);
	assert_int_equal(t->glen, sizeof(data));
	assert_memory_equal(t->got, data, sizeof(data));
	assert_true(t->max_in_len <= 16);
	assert_int_equal(t->nclosed, 0);
}

static void
test_write(void **state)
{
	struct ct *t = *state;
	unsigned char got[64];
	bool eof;
	size_t n;

	conn_write(t->c, "250 ok\r\n", 8);
	conn_printf(t->c, "%d-%s\r\n", 250, "PIPELINING");
	conn_write(t->c, "", 0);
	/* nothing is written inside the calls */
	assert_int_equal(peer_read(t, got, sizeof(got)), 0);
	n = peer_collect(t, got, 8 + 16, &eof);
	assert_int_equal(n, 24);
	assert_memory_equal(got, "250 ok\r\n250-PIPELINING\r\n", 24);
	assert_false(eof);
	assert_int_equal(t->c->out.len, 0);
	assert_false(event_pending(t->c->ev_write, EV_WRITE, NULL));
}

/* More than the socket buffers hold: written as the peer reads. */
static void
test_write_large(void **state)
{
	struct ct *t = *state;
	size_t size = 3 * 1024 * 1024;
	unsigned char *data = malloc(size), *got = malloc(size);
	bool eof;

	assert_non_null(data);
	assert_non_null(got);
	pattern(data, size, 2);
	conn_write(t->c, data, size / 2);
	conn_write(t->c, data + size / 2, size - size / 2);
	assert_int_equal(peer_collect(t, got, size, &eof), size);
	assert_memory_equal(got, data, size);
	assert_int_equal(t->nclosed, 0);
	free(data);
	free(got);
}

/* Output beyond the cap aborts the connection: the peer never reads. */
static void
test_write_over_cap(void **state)
{
	struct ct *t = *state;
	size_t size = 5 * 1024 * 1024;
	unsigned char *data = calloc(1, size);

	assert_non_null(data);
	conn_write(t->c, data, size);
	free(data);
	assert_int_equal(t->nclosed, 0);
	pump(t);
	assert_int_equal(t->nclosed, 1);
	assert_string_equal(t->reason, "output buffer full");
}

/* conn_close flushes what is queued, then closes; closed() runs once,
 * later, from the loop. */
static void
test_close_flushes(void **state)
{
	struct ct *t = *state;
	size_t size = 1024 * 1024;
	unsigned char *data = malloc(size), *got = malloc(size + 100);
	size_t n;
	bool eof;

	assert_non_null(data);
	assert_non_null(got);
	pattern(data, size, 3);
	conn_write(t->c, data, size);
	t->in_call = true;
	conn_close(t->c, "bye");
	t->in_call = false;
	assert_int_equal(t->nclosed, 0);
	/* closing: later writes are dropped */
	conn_write(t->c, "late", 4);
	conn_printf(t->c, "%s", "later");
	/* a second close or an abort changes nothing */
	conn_close(t->c, "again");
	n = peer_collect(t, got, size + 100, &eof);
	assert_int_equal(n, size);
	assert_memory_equal(got, data, size);
	assert_true(eof);
	assert_int_equal(t->nclosed, 1);
	assert_false(t->closed_reentrant);
	assert_string_equal(t->reason, "bye");
	for (int i = 0; i < 5; i++)
		pump(t);
	assert_int_equal(t->nclosed, 1);
	free(data);
	free(got);
}

static void
test_close_empty(void **state)
{
	struct ct *t = *state;
	unsigned char c;

	t->in_call = true;
	conn_close(t->c, "done");
	t->in_call = false;
	assert_int_equal(t->nclosed, 0);
	assert_int_equal(peer_read(t, &c, 1), 0);	/* not closed yet */
	pump(t);
	assert_int_equal(t->nclosed, 1);
	assert_false(t->closed_reentrant);
	assert_string_equal(t->reason, "done");
	assert_int_equal(peer_read(t, &c, 1), -1);	/* EOF */
	pump(t);
	assert_int_equal(t->nclosed, 1);
}

/* conn_close from inside readable: closed() runs after it returns. */
static void
test_close_in_callback(void **state)
{
	struct ct *t = *state;
	unsigned char got[32];
	bool eof;

	t->mode = R_CLOSE;
	peer_write(t, "QUIT\r\n", 6);
	assert_int_equal(peer_collect(t, got, sizeof(got), &eof), 9);
	assert_memory_equal(got, "221 bye\r\n", 9);
	assert_true(eof);
	assert_int_equal(t->nclosed, 1);
	assert_false(t->closed_reentrant);
	assert_string_equal(t->reason, "quit");
	assert_int_equal(t->nreadable, 1);
}

/* conn_abort drops queued output; closed() once, later. */
static void
test_abort(void **state)
{
	struct ct *t = *state;
	unsigned char got[64];
	bool eof;

	conn_write(t->c, "queued\r\n", 8);
	t->in_call = true;
	conn_abort(t->c, "killed");
	conn_abort(t->c, "twice");
	conn_close(t->c, "and closed");
	t->in_call = false;
	assert_int_equal(t->nclosed, 0);
	assert_int_equal(peer_collect(t, got, sizeof(got), &eof), 0);
	assert_true(eof);
	assert_int_equal(t->nclosed, 1);
	assert_false(t->closed_reentrant);
	assert_string_equal(t->reason, "killed");
}

/* Data from a paused conn waits; bytes already in c->in are delivered
 * after conn_resume() without the peer sending more. */
static void
test_pause_resume(void **state)
{
	struct ct *t = *state;

	t->mode = R_LINE_PAUSE;
	peer_write(t, "one\r\ntwo\r\nthree\r\n", 17);
	pump(t);
	assert_int_equal(t->nreadable, 1);
	assert_int_equal(t->glen, 5);
	assert_memory_equal(t->got, "one\r\n", 5);
	assert_int_equal(t->c->in.len, 12);
	assert_true(t->c->read_paused);
	for (int i = 0; i < 5; i++)
		pump(t);
	assert_int_equal(t->nreadable, 1);
	conn_resume(t->c);
	pump(t);
	assert_int_equal(t->nreadable, 2);
	assert_int_equal(t->glen, 10);
	assert_memory_equal(t->got, "one\r\ntwo\r\n", 10);
	conn_resume(t->c);
	pump(t);
	assert_int_equal(t->glen, 17);
	assert_memory_equal(t->got, "one\r\ntwo\r\nthree\r\n", 17);
	/* paused with an empty buffer: nothing */
	for (int i = 0; i < 3; i++)
		pump(t);
	assert_int_equal(t->nreadable, 3);
	/* new bytes while paused wait for the resume */
	peer_write(t, "four\r\n", 6);
	for (int i = 0; i < 3; i++)
		pump(t);
	assert_int_equal(t->nreadable, 3);
	conn_resume(t->c);
	pump(t);
	assert_int_equal(t->glen, 23);
	assert_memory_equal(t->got + 17, "four\r\n", 6);
	/* resume when not paused is harmless */
	t->mode = R_ALL;
	conn_resume(t->c);
	conn_resume(t->c);
	pump(t);
	assert_int_equal(t->nclosed, 0);
}

/* conn_pause() before anything came: the peer's bytes stay unread. */
static void
test_pause_before_data(void **state)
{
	struct ct *t = *state;

	conn_pause(t->c);
	peer_write(t, "MAIL\r\n", 6);
	for (int i = 0; i < 5; i++)
		pump(t);
	assert_int_equal(t->nreadable, 0);
	assert_int_equal(t->c->in.len, 0);
	conn_resume(t->c);
	pump(t);
	assert_int_equal(t->nreadable, 1);
	assert_int_equal(t->glen, 6);
}

/* The peer closes while the conn is paused: the buffered bytes are
 * still delivered after the resume, then closed(). */
static void
test_pause_peer_close(void **state)
{
	struct ct *t = *state;

	t->mode = R_LINE_PAUSE;
	peer_write(t, "a\r\nb\r\n", 6);
	close(t->peer);
	t->peer = -1;
	for (int i = 0; i < 5; i++)
		pump(t);
	assert_int_equal(t->glen, 3);
	assert_int_equal(t->nclosed, 0);
	t->mode = R_ALL;
	conn_resume(t->c);
	for (int i = 0; i < 5; i++)
		pump(t);
	assert_int_equal(t->glen, 6);
	assert_memory_equal(t->got, "a\r\nb\r\n", 6);
	assert_int_equal(t->nclosed, 1);
	assert_true(strlen(t->reason) > 0);
}

static void
test_timeout(void **state)
{
	struct ct *t = *state;
	double start = now_s(), took;

	conn_set_timeout(t->c, 1);
	assert_int_equal(t->c->timeout, 1);
	while (t->ntimeout == 0 && now_s() - start < 5)
		run_for(t, 100);
	took = now_s() - start;
	assert_int_equal(t->ntimeout, 1);
	assert_true(took >= 0.9 && took < 3);
	/* the conn is still there: the session decides */
	assert_int_equal(t->nclosed, 0);
	assert_non_null(t->c);
}

/* Reading re-arms the idle timer; 0 turns it off. */
static void
test_timeout_rearm(void **state)
{
	struct ct *t = *state;
	double start = now_s();

	conn_set_timeout(t->c, 1);
	/* a byte every 0.4 s for 2 s: never idle for a second */
	while (now_s() - start < 2) {
		peer_write(t, "x", 1);
		run_for(t, 400);
	}
	assert_int_equal(t->ntimeout, 0);
	assert_int_equal(t->glen, t->nreadable);
	conn_set_timeout(t->c, 0);
	run_for(t, 1500);
	assert_int_equal(t->ntimeout, 0);
	assert_int_equal(t->nclosed, 0);
}

static void
test_peer_close(void **state)
{
	struct ct *t = *state;

	close(t->peer);
	t->peer = -1;
	pump(t);
	pump(t);
	assert_int_equal(t->nclosed, 1);
	assert_int_equal(t->nreadable, 0);
	assert_string_equal(t->reason, "connection closed by peer");
}

/* The last bytes before the peer's close reach the session first. */
static void
test_peer_close_after_data(void **state)
{
	struct ct *t = *state;

	peer_write(t, "RSET\r\nQUIT\r\n", 12);
	close(t->peer);
	t->peer = -1;
	pump(t);
	pump(t);
	assert_int_equal(t->glen, 12);
	assert_memory_equal(t->got, "RSET\r\nQUIT\r\n", 12);
	assert_int_equal(t->nclosed, 1);
	assert_true(strlen(t->reason) > 0);
}

/* A peer that half-closes still gets the replies queued for it. */
static void
test_peer_shutdown_gets_replies(void **state)
{
	struct ct *t = *state;
	unsigned char got[64];
	bool eof;

	t->mode = R_CLOSE;
	peer_write(t, "QUIT\r\n", 6);
	shutdown(t->peer, SHUT_WR);
	assert_int_equal(peer_collect(t, got, sizeof(got), &eof), 9);
	assert_memory_equal(got, "221 bye\r\n", 9);
	assert_true(eof);
	assert_int_equal(t->nclosed, 1);
}

/* A peer that half-closes while a long reply is still being written
 * gets all of it: EOF on the read side is not a reason to drop the
 * output (conn_after_flush closes once it drained). */
static void
test_peer_shutdown_pending_output(void **state)
{
	struct ct *t = *state;
	size_t size = 200 * 1024, n;
	unsigned char *data = malloc(size), *got = malloc(size + 1);
	int small = 8192;
	bool eof;

	assert_non_null(data);
	assert_non_null(got);
	pattern(data, size, 9);
	/* small socket buffers: most of the reply stays in c->out, below
	 * the back-pressure mark, so the conn keeps reading */
	setsockopt(t->c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(t->peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	conn_write(t->c, data, size);
	for (int i = 0; i < 5; i++)
		pump(t);
	assert_true(t->c->out.len > 0 && t->c->out.len < 256 * 1024);
	shutdown(t->peer, SHUT_WR);
	for (int i = 0; i < 5; i++)
		pump(t);
	n = peer_collect(t, got, size + 1, &eof);
	if (n != size)
		fail_msg("peer got %zu of %zu bytes, closed: %s", n, size,
		    t->nclosed ? t->reason : "no");
	assert_memory_equal(got, data, size);
	assert_true(eof);
	assert_int_equal(t->nclosed, 1);
	free(data);
	free(got);
}

/* Output above the high mark stops reading (back-pressure on a peer
 * that sends without reading); reading resumes as the output drains. */
static void
test_backpressure(void **state)
{
	struct ct *t = *state;
	size_t size = 2 * 1024 * 1024;
	unsigned char *data = calloc(1, size), *sink = malloc(65536);
	double end;
	ssize_t n;

	assert_non_null(data);
	assert_non_null(sink);
	conn_write(t->c, data, size);
	free(data);
	for (int i = 0; i < 5; i++)
		pump(t);
	assert_true(t->c->out.len > 256 * 1024);
	peer_write(t, "EHLO x\r\n", 8);
	for (int i = 0; i < 5; i++)
		pump(t);
	assert_int_equal(t->nreadable, 0);
	/* the peer drains its side */
	end = now_s() + 5;
	while (t->glen < 8 && now_s() < end) {
		pump(t);
		while ((n = read(t->peer, sink, 65536)) > 0)
			;
	}
	assert_int_equal(t->glen, 8);
	assert_memory_equal(t->got, "EHLO x\r\n", 8);
	free(sink);
}

/* A dual-stack listener's ::ffff:a.b.c.d becomes plain IPv4. */
static void
test_unmap_v4(void **state)
{
	static const struct {
		const char	*in;
		int		 family;
		const char	*out;
	} cases[] = {
		{ "::ffff:192.0.2.1", AF_INET, "192.0.2.1" },
		{ "::ffff:0.0.0.0", AF_INET, "0.0.0.0" },
		{ "::ffff:255.255.255.255", AF_INET, "255.255.255.255" },
		{ "2001:db8::1", AF_INET6, "2001:db8::1" },
		{ "::1", AF_INET6, "::1" },
		{ "::192.0.2.1", AF_INET6, "::192.0.2.1" },	/* compatible */
		{ "::ffff:0:192.0.2.1", AF_INET6, "::ffff:0:c000:201" },
	};
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	char buf[64];
	socklen_t len;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&ss, 0, sizeof(ss));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(587);
		assert_int_equal(inet_pton(AF_INET6, cases[i].in,
		    &sin6->sin6_addr), 1);
		len = conn_unmap_v4(&ss, sizeof(*sin6));
		assert_int_equal(ss.ss_family, cases[i].family);
		if (cases[i].family == AF_INET) {
			assert_int_equal(len, sizeof(struct sockaddr_in));
			assert_int_equal(ntohs(sin->sin_port), 587);
		} else {
			assert_int_equal(len, sizeof(struct sockaddr_in6));
			assert_int_equal(ntohs(sin6->sin6_port), 587);
		}
		conn_addr_str((struct sockaddr *)&ss, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].out);
	}
	/* plain IPv4 passes through */
	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(25);
	inet_pton(AF_INET, "198.51.100.4", &sin->sin_addr);
	assert_int_equal(conn_unmap_v4(&ss, sizeof(*sin)), sizeof(*sin));
	conn_addr_str((struct sockaddr *)&ss, buf, sizeof(buf));
	assert_string_equal(buf, "198.51.100.4");
	/* an address family without numbers */
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	conn_addr_str((struct sockaddr *)&ss, buf, sizeof(buf));
	assert_string_equal(buf, "unknown");
}

/*
 * TLS.
 */

static void
client_new(struct ct *t)
{
	t->cctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(t->cctx);
	SSL_CTX_set_verify(t->cctx, SSL_VERIFY_NONE, NULL);
	t->cssl = SSL_new(t->cctx);
	assert_non_null(t->cssl);
	assert_int_equal(SSL_set_fd(t->cssl, t->peer), 1);
	SSL_set_connect_state(t->cssl);
}

/* Drive the client's handshake and the loop; 1 done, -1 failed. */
static int
client_handshake(struct ct *t)
{
	double end = now_s() + 5;
	int r, e;

	while (now_s() < end) {
		ERR_clear_error();
		r = SSL_do_handshake(t->cssl);
		if (r == 1)
			return 1;
		e = SSL_get_error(t->cssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			return -1;
		pump(t);
		usleep(100);
	}
	return -1;
}

static void
client_write(struct ct *t, const void *p, size_t n)
{
	double end = now_s() + 10;
	size_t done = 0, w;
	int e;

	while (done < n) {
		assert_true(now_s() < end);
		ERR_clear_error();
		if (SSL_write_ex(t->cssl, (const char *)p + done, n - done,
		    &w) == 1) {
			done += w;
			continue;
		}
		e = SSL_get_error(t->cssl, 0);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			fail_msg("SSL_write: error %d", e);
		pump(t);
	}
}

/* Read up to n bytes (until n, EOF or 5 s), pumping the loop. */
static size_t
client_read(struct ct *t, void *p, size_t n, bool *eof_r)
{
	double end = now_s() + 5;
	size_t have = 0, r;
	int e;

	*eof_r = false;
	while (have < n && now_s() < end) {
		pump(t);
		ERR_clear_error();
		if (SSL_read_ex(t->cssl, (char *)p + have, n - have, &r) == 1) {
			have += r;
			continue;
		}
		e = SSL_get_error(t->cssl, 0);
		if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL ||
		    e == SSL_ERROR_SSL) {
			*eof_r = true;
			break;
		}
		usleep(100);
	}
	return have;
}

/* Pump the loop until the session consumed want bytes (5 s). */
static void
wait_got(struct ct *t, size_t want)
{
	double end = now_s() + 5;

	while (t->glen < want && t->c != NULL && now_s() < end) {
		pump(t);
		usleep(100);
	}
}

/* STARTTLS as SMTP does it, with a command pipelined after it in the
 * same packet: the plaintext reply, then the handshake, then data both
 * ways.  The pipelined bytes never reach the session. */
static void
start_tls(struct ct *t, const char *pipelined)
{
	char plain[64], wire[128];
	bool eof;
	size_t n;

	t->mode = R_STARTTLS;
	n = (size_t)snprintf(wire, sizeof(wire), "STARTTLS\r\n%s", pipelined);
	peer_write(t, wire, n);
	assert_int_equal(peer_collect(t, (unsigned char *)plain, 8, &eof), 8);
	assert_memory_equal(plain, "220 go\r\n", 8);
	assert_int_equal(t->ntls, 0);
	client_new(t);
	if (client_handshake(t) != 1)
		fail_msg("client handshake failed: %s", tls_error());
	/* the server may finish on its next turn */
	for (int i = 0; i < 100 && t->ntls == 0; i++) {
		pump(t);
		usleep(100);
	}
	assert_int_equal(t->ntls, 1);
	assert_int_equal(t->c->tls, CONN_TLS_ON);
	assert_int_equal(t->in_len_at_tls, 0);
	assert_int_equal(t->glen, 10);
}

static void
test_starttls(void **state)
{
	struct ct *t = *state;
	char got[64];
	bool eof;

	start_tls(t, "");
	assert_non_null(strstr(t->tls_info, "TLSv1.3"));
	assert_string_equal(t->tls_info, t->c->tls_info);
	assert_string_equal(SSL_get_version(t->cssl), "TLSv1.3");
	/* client -> server */
	client_write(t, "EHLO client\r\n", 13);
	wait_got(t, 10 + 13);
	assert_int_equal(t->glen, 23);
	assert_memory_equal(t->got, "STARTTLS\r\nEHLO client\r\n", 23);
	/* server -> client */
	conn_printf(t->c, "250 %s\r\n", "hello");
	assert_int_equal(client_read(t, got, 11, &eof), 11);
	assert_memory_equal(got, "250 hello\r\n", 11);
	assert_int_equal(t->ntls, 1);
	assert_int_equal(t->nclosed, 0);
}

/* CVE-2011-0411: plaintext pipelined after STARTTLS is discarded. */
static void
test_starttls_injection(void **state)
{
	struct ct *t = *state;

	start_tls(t, "MAIL FROM:<evil@example.org>\r\n");
	client_write(t, "EHLO client\r\n", 13);
	wait_got(t, 10 + 13);
	assert_int_equal(t->glen, 23);
	assert_memory_equal(t->got, "STARTTLS\r\nEHLO client\r\n", 23);
	assert_null(memmem(t->got, t->glen, "evil", 4));
	assert_int_equal(t->nclosed, 0);
}

/* Bytes already in c->in when conn_starttls() is called (a paused
 * session that read ahead) are discarded too. */
static void
test_starttls_buffered_discarded(void **state)
{
	struct ct *t = *state;
	unsigned char plain[8];
	bool eof;

	t->mode = R_NONE;
	peer_write(t, "STARTTLS\r\nRSET\r\n", 16);
	pump(t);
	assert_int_equal(t->c->in.len, 16);
	conn_write(t->c, "220 go\r\n", 8);
	conn_starttls(t->c, srv_ctx);
	assert_int_equal(t->c->in.len, 0);
	assert_int_equal(peer_collect(t, plain, 8, &eof), 8);
	client_new(t);
	assert_int_equal(client_handshake(t), 1);
	for (int i = 0; i < 100 && t->ntls == 0; i++)
		pump(t);
	assert_int_equal(t->ntls, 1);
	t->mode = R_ALL;
	client_write(t, "NOOP\r\n", 6);
	wait_got(t, 6);
	assert_int_equal(t->glen, 6);
	assert_memory_equal(t->got, "NOOP\r\n", 6);
}

/* Plaintext sent after the 220 in place of a ClientHello fails the
 * handshake: closed(), never tls_done() nor readable(). */
static void
test_starttls_garbage(void **state)
{
	struct ct *t = *state;
	unsigned char plain[8];
	bool eof;

	t->mode = R_STARTTLS;
	peer_write(t, "STARTTLS\r\n", 10);
	assert_int_equal(peer_collect(t, plain, 8, &eof), 8);
	peer_write(t, "RCPT TO:<x@example.org>\r\n", 25);
	for (int i = 0; i < 20 && t->nclosed == 0; i++) {
		pump(t);
		usleep(1000);
	}
	assert_int_equal(t->nclosed, 1);
	assert_int_equal(t->ntls, 0);
	assert_int_equal(t->nreadable, 1);
	assert_int_equal(t->glen, 10);
	assert_string_equal(t->reason, "TLS handshake failed");
}

/* Megabytes both ways through TLS (in_max as SMTP's: 64 KiB). */
static void
test_tls_bulk(void **state)
{
	struct ct *t = ct_replace(64 * 1024);
	size_t size = 2 * 1024 * 1024, have = 0, r;
	unsigned char *data = malloc(size), *got = malloc(size);
	double end;
	bool eof;

	assert_non_null(data);
	assert_non_null(got);
	start_tls(t, "");
	pattern(data, size, 5);
	/* server -> client */
	conn_write(t->c, data, size);
	assert_int_equal(client_read(t, got, size, &eof), size);
	assert_memory_equal(got, data, size);
	/* client -> server, the client writing and the loop turning in
	 * turn (SSL_write may need the server to read first) */
	t->glen = 0;
	end = now_s() + 10;
	while (have < size && now_s() < end) {
		ERR_clear_error();
		if (SSL_write_ex(t->cssl, data + have, size - have, &r) == 1)
			have += r;
		pump(t);
	}
	assert_int_equal(have, size);
	wait_got(t, size);
	assert_int_equal(t->glen, size);
	assert_memory_equal(t->got, data, size);
	assert_int_equal(t->nclosed, 0);
	free(data);
	free(got);
}

/* A TLS record larger than the room in c->in: the rest of the record
 * sits decrypted inside OpenSSL, where the socket's readiness cannot
 * announce it.  The session must still get every byte without the
 * peer sending anything more. */
static void
test_tls_record_over_in_max(void **state)
{
	struct ct *t = ct_replace(64);
	unsigned char data[1000];

	start_tls(t, "");
	t->mode = R_ALL;
	t->glen = 0;
	pattern(data, sizeof(data), 6);
	client_write(t, data, sizeof(data));	/* one record */
	wait_got(t, sizeof(data));
	if (t->glen != sizeof(data))
		fail_msg("session got %zu of %zu bytes (in_max 64)", t->glen,
		    sizeof(data));
	assert_memory_equal(t->got, data, sizeof(data));
	assert_true(t->max_in_len <= 64);
}

/* conn_close over TLS: the reply arrives, then the close. */
static void
test_tls_close(void **state)
{
	struct ct *t = *state;
	char got[32];
	bool eof;

	start_tls(t, "");
	t->mode = R_CLOSE;
	client_write(t, "QUIT\r\n", 6);
	assert_int_equal(client_read(t, got, sizeof(got), &eof), 9);
	assert_memory_equal(got, "221 bye\r\n", 9);
	assert_true(eof);
	assert_int_equal(t->nclosed, 1);
	assert_string_equal(t->reason, "quit");
}

/* The client sends its last command and its close_notify together,
 * then waits for the reply (TLS 1.3 half-close). */
static void
test_tls_close_notify_gets_reply(void **state)
{
	struct ct *t = *state;
	char got[32];
	bool eof;

	start_tls(t, "");
	t->mode = R_CLOSE;
	client_write(t, "QUIT\r\n", 6);
	assert_int_equal(SSL_shutdown(t->cssl), 0);	/* sent, not yet got */
	assert_int_equal(client_read(t, got, sizeof(got), &eof), 9);
	assert_memory_equal(got, "221 bye\r\n", 9);
	assert_true(eof);
	assert_int_equal(t->nclosed, 1);
	assert_string_equal(t->reason, "quit");
}

/* The client goes away (with and without close_notify). */
static void
test_tls_peer_close(void **state)
{
	struct ct *t = *state;

	start_tls(t, "");
	SSL_shutdown(t->cssl);
	for (int i = 0; i < 10 && t->nclosed == 0; i++)
		pump(t);
	assert_int_equal(t->nclosed, 1);
	assert_true(strlen(t->reason) > 0);

	t = ct_replace(4096);
	start_tls(t, "");
	close(t->peer);
	t->peer = -1;
	for (int i = 0; i < 10 && t->nclosed == 0; i++)
		pump(t);
	assert_int_equal(t->nclosed, 1);
	assert_true(strlen(t->reason) > 0);
}

/* conn_pause / conn_resume over TLS, with in_max smaller than the
 * record: the bytes left inside OpenSSL come out after each resume. */
static void
test_tls_pause_resume(void **state)
{
	struct ct *t = ct_replace(12);

	start_tls(t, "");
	t->mode = R_LINE_PAUSE;
	t->glen = 0;
	client_write(t, "one\r\ntwo\r\nthree\r\n", 17);	/* one record */
	wait_got(t, 5);
	for (int i = 0; i < 5; i++)
		pump(t);
	assert_int_equal(t->glen, 5);
	assert_memory_equal(t->got, "one\r\n", 5);
	conn_resume(t->c);
	for (int i = 0; i < 5; i++)
		pump(t);
	assert_int_equal(t->glen, 10);
	conn_resume(t->c);
	for (int i = 0; i < 5; i++)
		pump(t);
	assert_int_equal(t->glen, 17);
	assert_memory_equal(t->got, "one\r\ntwo\r\nthree\r\n", 17);
	assert_true(t->max_in_len <= 12);
}

/*
 * main
 */

static int
group_setup(void **state)
{
	const char *env = getenv("FACTEUR_TEST_TMP");
	const char *err = NULL;
	char cert[1100], key[1100];

	signal(SIGPIPE, SIG_IGN);	/* as every facteur process does */
	if (env != NULL && *env != '\0') {
		mkdir(env, 0755);
		snprintf(tls_dir, sizeof(tls_dir), "%s/conn_test.XXXXXX", env);
	} else
		snprintf(tls_dir, sizeof(tls_dir), "/tmp/conn_test.XXXXXX");
	if (mkdtemp(tls_dir) == NULL)
		return -1;
	snprintf(cert, sizeof(cert), "%s/cert.pem", tls_dir);
	snprintf(key, sizeof(key), "%s/key.pem", tls_dir);
	if (tls_ensure_selfsigned(cert, key, "mx.example.test", (uid_t)-1,
	    (gid_t)-1, &err) == -1) {
		fprintf(stderr, "tls_ensure_selfsigned: %s\n", err);
		return -1;
	}
	if ((srv_ctx = tls_server_ctx(cert, key, &err)) == NULL) {
		fprintf(stderr, "tls_server_ctx: %s\n", err);
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	char path[1100];

	SSL_CTX_free(srv_ctx);
	srv_ctx = NULL;
	snprintf(path, sizeof(path), "%s/cert.pem", tls_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/key.pem", tls_dir);
	unlink(path);
	rmdir(tls_dir);
	return 0;
}

#define TEST(name, fn)	{ "net/conn/" name, fn, setup, teardown, NULL }

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		TEST("new", test_new),
		TEST("read/readable", test_readable),
		TEST("read/unconsumed_kept", test_unconsumed_kept),
		TEST("read/in_max", test_in_max),
		TEST("write/small", test_write),
		TEST("write/large", test_write_large),
		TEST("write/over_cap", test_write_over_cap),
		TEST("write/backpressure", test_backpressure),
		TEST("peer/shutdown_pending_output",
		    test_peer_shutdown_pending_output),
		TEST("close/flushes", test_close_flushes),
		TEST("close/empty", test_close_empty),
		TEST("close/in_callback", test_close_in_callback),
		TEST("close/abort", test_abort),
		TEST("pause/resume", test_pause_resume),
		TEST("pause/before_data", test_pause_before_data),
		TEST("pause/peer_close", test_pause_peer_close),
		TEST("timeout/fires", test_timeout),
		TEST("timeout/rearm", test_timeout_rearm),
		TEST("peer/close", test_peer_close),
		TEST("peer/close_after_data", test_peer_close_after_data),
		TEST("peer/shutdown_gets_replies",
		    test_peer_shutdown_gets_replies),
		TEST("addr/unmap_v4", test_unmap_v4),
		TEST("tls/starttls", test_starttls),
		TEST("tls/injection", test_starttls_injection),
		TEST("tls/buffered_discarded", test_starttls_buffered_discarded),
		TEST("tls/garbage", test_starttls_garbage),
		TEST("tls/bulk", test_tls_bulk),
		TEST("tls/record_over_in_max", test_tls_record_over_in_max),
		TEST("tls/close", test_tls_close),
		TEST("tls/peer_close", test_tls_peer_close),
		TEST("tls/close_notify_gets_reply",
		    test_tls_close_notify_gets_reply),
		TEST("tls/pause_resume", test_tls_pause_resume),
	};

	return cmocka_run_group_tests_name("net/conn", tests, group_setup,
	    group_teardown);
}
