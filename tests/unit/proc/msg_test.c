/* msg_test.c: tests for src/proc/msg.c over a socketpair, as the
 * parent sets them up (AF_UNIX, SOCK_STREAM, non-blocking).
 *
 * Either both ends are msgqs, or one end is raw and the frames are
 * written by hand: whole, many at once, split at every offset, and
 * malformed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/limits.h"
#include "proc/msg.h"

#define FRAMES_MAX	512
#define FLAG_FD		0x80000000u	/* msg.c's MSG_FLAG_FD, on the wire */

struct frame {
	uint32_t	 type;
	uint32_t	 len;
	uint64_t	 id;
	int		 fd;
	unsigned char	*data;
};

struct rx {
	struct frame	 frames[FRAMES_MAX];
	unsigned	 n;
	unsigned	 nclosed;
	bool		 dead_in_closed;
};

struct t {
	struct event_base	*base;
	struct msgq		*q;	/* reads sv[0] */
	struct msgq		*peer;	/* on sv[1], or NULL: raw */
	int			 raw;	/* sv[1] when raw, else -1 */
	struct rx		 rx, peer_rx;
};

static void
on_msg(struct msgq *q, void *arg, const struct msg_hdr *h,
    const void *payload, int fd)
{
	struct rx *rx = arg;
	struct frame *f;

	assert_true(rx->n < FRAMES_MAX);
	f = &rx->frames[rx->n++];
	f->type = h->type;
	f->len = h->len;
	f->id = h->id;
	f->fd = fd;
	f->data = malloc(h->len + 1);
	assert_non_null(f->data);
	if (h->len > 0)
		memcpy(f->data, payload, h->len);
}

static void
on_closed(struct msgq *q, void *arg)
{
	struct rx *rx = arg;

	rx->nclosed++;
	rx->dead_in_closed = msgq_dead(q);
}

static void
rx_clear(struct rx *rx)
{
	for (unsigned i = 0; i < rx->n; i++) {
		free(rx->frames[i].data);
		if (rx->frames[i].fd >= 0)
			close(rx->frames[i].fd);
	}
	memset(rx, 0, sizeof(*rx));
}

/* Both ends msgqs (raw == false) or the far end a plain socket. */
static struct t *
t_new(bool raw)
{
	struct t *t = calloc(1, sizeof(*t));
	int sv[2];

	assert_non_null(t);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv), 0);
	t->base = event_base_new();
	assert_non_null(t->base);
	t->q = msgq_new(t->base, sv[0], on_msg, on_closed, &t->rx);
	assert_int_equal(msgq_fd(t->q), sv[0]);
	if (raw)
		t->raw = sv[1];
	else {
		t->raw = -1;
		t->peer = msgq_new(t->base, sv[1], on_msg, on_closed,
		    &t->peer_rx);
	}
	return t;
}

static void
t_free(struct t *t)
{
	msgq_free(&t->q);
	assert_null(t->q);
	msgq_free(&t->peer);
	if (t->raw >= 0)
		close(t->raw);
	rx_clear(&t->rx);
	rx_clear(&t->peer_rx);
	event_base_free(t->base);
	free(t);
}

static unsigned char	big[IMSG_PAYLOAD_MAX];	/* payloads */
static struct t	*cur;	/* freed by the teardown even when a test fails */

static int
setup_raw(void **state)
{
	cur = t_new(true);
	*state = cur;
	return 0;
}

static int
setup_pair(void **state)
{
	cur = t_new(false);
	*state = cur;
	return 0;
}

static int
teardown(void **state)
{
	if (cur != NULL)
		t_free(cur);
	cur = NULL;
	return 0;
}

/* Turn the loop without blocking, once. */
static void
pump(struct t *t)
{
	event_base_loop(t->base, EVLOOP_NONBLOCK);
}

/* Turn the loop until rx holds n frames or closed ran (2 s at most). */
static void
pump_until(struct t *t, struct rx *rx, unsigned n)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (rx->n < n && rx->nclosed == 0) {
		pump(t);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 2)
			break;
		if (rx->n < n && rx->nclosed == 0)
			usleep(100);
	}
}

static void
raw_write(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, c, n);
		if (w == -1 && errno == EAGAIN) {
			usleep(100);
			continue;
		}
		assert_true(w > 0);
		c += w;
		n -= (size_t)w;
	}
}

/* A frame's bytes as msg.c puts them on the wire; *len_r set. */
static unsigned char *
frame_bytes(uint32_t type, uint64_t id, const void *payload, uint32_t len,
    size_t *len_r)
{
	struct msg_hdr h = { type, len, id };
	unsigned char *b = malloc(sizeof(h) + len);

	assert_non_null(b);
	memcpy(b, &h, sizeof(h));
	if (len > 0)
		memcpy(b + sizeof(h), payload, len);
	*len_r = sizeof(h) + len;
	return b;
}

static void
fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 31 + seed + i / 251);
}

static void
check_frame(const struct frame *f, uint32_t type, uint64_t id,
    const void *payload, uint32_t len)
{
	assert_int_equal(f->type, type);
	assert_int_equal(f->len, len);
	assert_true(f->id == id);
	if (len > 0)
		assert_memory_equal(f->data, payload, len);
}

/*
 * Between two msgqs.
 */

static void
test_empty_frame(void **state)
{
	struct t *t = *state;

	msgq_send(t->peer, MSG_AUTH_RESOLVE, 42, NULL, 0, -1);
	pump_until(t, &t->rx, 1);
	assert_int_equal(t->rx.n, 1);
	check_frame(&t->rx.frames[0], MSG_AUTH_RESOLVE, 42, NULL, 0);
	assert_int_equal(t->rx.frames[0].fd, -1);
	assert_int_equal(t->rx.nclosed, 0);
	/* and the other way */
	msgq_send(t->q, MSG_AUTH_RESOLVE_REPLY, UINT64_MAX, "", 0, -1);
	pump_until(t, &t->peer_rx, 1);
	assert_int_equal(t->peer_rx.n, 1);
	check_frame(&t->peer_rx.frames[0], MSG_AUTH_RESOLVE_REPLY, UINT64_MAX,
	    NULL, 0);
}

/* The largest payload allowed crosses, intact. */
static void
test_max_frame(void **state)
{
	struct t *t = *state;
	unsigned char *p = big;

	fill_pattern(p, IMSG_PAYLOAD_MAX, 7);
	msgq_send(t->peer, MSG_AUTH_RESOLVE_REPLY, 9, p, IMSG_PAYLOAD_MAX, -1);
	pump_until(t, &t->rx, 1);
	assert_int_equal(t->rx.nclosed, 0);
	assert_false(msgq_dead(t->q));
	assert_int_equal(t->rx.n, 1);
	check_frame(&t->rx.frames[0], MSG_AUTH_RESOLVE_REPLY, 9, p,
	    IMSG_PAYLOAD_MAX);
}

/* Several large frames back to back: the input buffer never holds
 * more than one frame plus a read, so none of them may break it. */
static void
test_large_frames_stream(void **state)
{
	static const uint32_t sizes[] = { 40000, 50000, 30000, 60000, 1,
	    IMSG_PAYLOAD_MAX, 16384, 16383, 16385, 0 };
	const size_t n = sizeof(sizes) / sizeof(sizes[0]);
	struct t *t = *state;
	unsigned char *p = big;

	for (size_t i = 0; i < n; i++) {
		fill_pattern(p, sizes[i], (unsigned)i);
		msgq_send(t->peer, MSG_AUTH_RESOLVE_REPLY, i, p, sizes[i], -1);
	}
	pump_until(t, &t->rx, (unsigned)n);
	assert_int_equal(t->rx.nclosed, 0);
	assert_int_equal(t->rx.n, n);
	for (size_t i = 0; i < n; i++) {
		fill_pattern(p, sizes[i], (unsigned)i);
		check_frame(&t->rx.frames[i], MSG_AUTH_RESOLVE_REPLY, i, p,
		    sizes[i]);
	}
}

/* Hundreds of frames queued at once arrive in order. */
static void
test_many_queued(void **state)
{
	struct t *t = *state;
	char payload[64];

	for (unsigned i = 0; i < FRAMES_MAX; i++) {
		int len = snprintf(payload, sizeof(payload), "frame %u", i);

		msgq_send(t->peer, MSG_AUTH_RESOLVE, i, payload, (size_t)len,
		    -1);
	}
	pump_until(t, &t->rx, FRAMES_MAX);
	assert_int_equal(t->rx.n, FRAMES_MAX);
	for (unsigned i = 0; i < FRAMES_MAX; i++) {
		int len = snprintf(payload, sizeof(payload), "frame %u", i);

		check_frame(&t->rx.frames[i], MSG_AUTH_RESOLVE, i, payload,
		    (uint32_t)len);
	}
}

/* A descriptor sent with a frame arrives with that frame, usable and
 * close-on-exec; the sender's copy is closed once sent. */
static void
test_fd_passing(void **state)
{
	struct t *t = *state;
	int p1[2], p2[2], fd;
	char got[16];

	assert_int_equal(pipe(p1), 0);
	assert_int_equal(pipe(p2), 0);
	msgq_send(t->peer, MSG_AUTH_RESOLVE, 1, "a", 1, -1);
	msgq_send(t->peer, MSG_AUTH_WORKER_CHANNEL, 2, "b", 1, p1[1]);
	msgq_send(t->peer, MSG_AUTH_RESOLVE, 3, NULL, 0, -1);
	msgq_send(t->peer, MSG_WORKER_AUTH_CHANNEL, 4, NULL, 0, p2[1]);
	pump_until(t, &t->rx, 4);
	assert_int_equal(t->rx.n, 4);
	assert_int_equal(t->rx.nclosed, 0);
	check_frame(&t->rx.frames[0], MSG_AUTH_RESOLVE, 1, "a", 1);
	check_frame(&t->rx.frames[1], MSG_AUTH_WORKER_CHANNEL, 2, "b", 1);
	check_frame(&t->rx.frames[2], MSG_AUTH_RESOLVE, 3, NULL, 0);
	check_frame(&t->rx.frames[3], MSG_WORKER_AUTH_CHANNEL, 4, NULL, 0);
	assert_int_equal(t->rx.frames[0].fd, -1);
	assert_int_equal(t->rx.frames[2].fd, -1);
	/* the received descriptors are the pipes' write ends */
	fd = t->rx.frames[1].fd;
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(write(fd, "one", 3), 3);
	close(fd);
	t->rx.frames[1].fd = -1;
	assert_int_equal(read(p1[0], got, sizeof(got)), 3);
	assert_memory_equal(got, "one", 3);
	fd = t->rx.frames[3].fd;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "two", 3), 3);
	close(fd);
	t->rx.frames[3].fd = -1;
	assert_int_equal(read(p2[0], got, sizeof(got)), 3);
	assert_memory_equal(got, "two", 3);
	/* every write end is closed now, the sender's copies included */
	assert_int_equal(read(p1[0], got, sizeof(got)), 0);
	assert_int_equal(read(p2[0], got, sizeof(got)), 0);
	close(p1[0]);
	close(p2[0]);
}

/* Freeing a queue with unsent frames closes their descriptors. */
static void
test_free_unsent_fd(void **state)
{
	struct t *t = *state;
	int p[2];
	char c;

	assert_int_equal(pipe(p), 0);
	msgq_send(t->peer, MSG_AUTH_WORKER_CHANNEL, 1, NULL, 0, p[1]);
	msgq_free(&t->peer);
	assert_null(t->peer);
	assert_int_equal(read(p[0], &c, 1), 0);	/* no writer left */
	close(p[0]);
}

/* The peer going away calls closed() once; msgq_dead() says so. */
static void
test_peer_close(void **state)
{
	struct t *t = *state;

	msgq_free(&t->peer);
	pump(t);
	pump(t);
	assert_int_equal(t->rx.nclosed, 1);
	assert_true(t->rx.dead_in_closed);
	assert_true(msgq_dead(t->q));
	pump(t);
	assert_int_equal(t->rx.nclosed, 1);
	/* sending on a dead queue is harmless */
	msgq_send(t->q, MSG_AUTH_RESOLVE, 1, "x", 1, -1);
	pump(t);
	assert_int_equal(t->rx.nclosed, 1);
}

/* Writing to a peer that is gone fails the queue, without SIGPIPE. */
static void
test_send_to_closed(void **state)
{
	struct t *t = *state;
	void (*old)(int) = signal(SIGPIPE, SIG_DFL);

	/* SIGPIPE at its default: msg.c must not raise it */
	close(t->raw);
	t->raw = -1;
	msgq_send(t->q, MSG_AUTH_RESOLVE, 1, "x", 1, -1);
	for (int i = 0; i < 5; i++)
		pump(t);
	signal(SIGPIPE, old);
	assert_int_equal(t->rx.nclosed, 1);
	assert_true(msgq_dead(t->q));
}

/*
 * Raw bytes on the other end.
 */

/* Many frames in one write, so in one read. */
static void
test_many_in_one_read(void **state)
{
	struct t *t = *state;
	unsigned char wire[16384], payload[50];
	size_t off = 0, flen;
	unsigned n = 0;

	while (off + sizeof(struct msg_hdr) + 50 <= sizeof(wire) && n < 200) {
		unsigned char *f;
		uint32_t len = n % 51;

		fill_pattern(payload, len, n);
		f = frame_bytes(MSG_AUTH_RESOLVE, 1000 + n, payload, len, &flen);
		memcpy(wire + off, f, flen);
		free(f);
		off += flen;
		n++;
	}
	raw_write(t->raw, wire, off);
	pump(t);
	assert_int_equal(t->rx.n, n);
	for (unsigned i = 0; i < n; i++) {
		fill_pattern(payload, i % 51, i);
		check_frame(&t->rx.frames[i], MSG_AUTH_RESOLVE, 1000 + i,
		    payload, i % 51);
	}
	assert_int_equal(t->rx.nclosed, 0);
}

/* Two frames, the stream cut at every offset: nothing is delivered
 * early, everything exactly once. */
static void
test_split_every_offset(void **state)
{
	struct t *t = *state;
	unsigned char wire[256], *f;
	size_t len, flen, first;

	f = frame_bytes(MSG_AUTH_RESOLVE, 0x1122334455667788ULL, "hello", 5,
	    &flen);
	memcpy(wire, f, flen);
	free(f);
	first = flen;
	f = frame_bytes(MSG_AUTH_RESOLVE_REPLY, 2, NULL, 0, &flen);
	memcpy(wire + first, f, flen);
	free(f);
	len = first + flen;
	for (size_t cut = 0; cut <= len; cut++) {
		unsigned want = cut >= len ? 2 : cut >= first ? 1 : 0;

		rx_clear(&t->rx);
		if (cut > 0)
			raw_write(t->raw, wire, cut);
		pump(t);
		pump(t);
		if (t->rx.n != want)
			fail_msg("cut %zu: %u frames, want %u", cut, t->rx.n,
			    want);
		if (cut < len)
			raw_write(t->raw, wire + cut, len - cut);
		pump_until(t, &t->rx, 2);
		if (t->rx.n != 2)
			fail_msg("cut %zu: %u frames after the rest", cut,
			    t->rx.n);
		check_frame(&t->rx.frames[0], MSG_AUTH_RESOLVE,
		    0x1122334455667788ULL, "hello", 5);
		check_frame(&t->rx.frames[1], MSG_AUTH_RESOLVE_REPLY, 2, NULL,
		    0);
		assert_int_equal(t->rx.nclosed, 0);
	}
}

/* One byte per read, for a frame bigger than a read. */
static void
test_trickle(void **state)
{
	struct t *t = *state;
	unsigned char *p = big, *f;
	size_t flen, off = 0, step = 1;

	fill_pattern(p, 20000, 3);
	f = frame_bytes(MSG_AUTH_RESOLVE_REPLY, 5, p, 20000, &flen);
	while (off < flen) {
		size_t n = flen - off < step ? flen - off : step;

		raw_write(t->raw, f + off, n);
		off += n;
		pump(t);
		assert_int_equal(t->rx.n, off == flen ? 1 : 0);
		step = step * 2 + 1;	/* 1, 3, 7, ...: odd cuts */
	}
	assert_int_equal(t->rx.n, 1);
	free(f);
	check_frame(&t->rx.frames[0], MSG_AUTH_RESOLVE_REPLY, 5, p, 20000);
}

/* A max-size frame written at once: read in several pieces. */
static void
test_raw_max_frame(void **state)
{
	struct t *t = *state;
	unsigned char *f;
	size_t flen;

	fill_pattern(big, IMSG_PAYLOAD_MAX, 11);
	f = frame_bytes(MSG_AUTH_RESOLVE_REPLY, 6, big, IMSG_PAYLOAD_MAX,
	    &flen);
	raw_write(t->raw, f, flen);
	free(f);
	pump_until(t, &t->rx, 1);
	assert_int_equal(t->rx.nclosed, 0);
	assert_int_equal(t->rx.n, 1);
	check_frame(&t->rx.frames[0], MSG_AUTH_RESOLVE_REPLY, 6, big,
	    IMSG_PAYLOAD_MAX);
}

/* The raw end reads what msgq_send writes: the wire format. */
static void
test_wire_format(void **state)
{
	struct t *t = *state;
	unsigned char got[64], *want;
	size_t wlen;
	ssize_t n;

	msgq_send(t->q, MSG_AUTH_RESOLVE, 77, "abc", 3, -1);
	pump(t);
	want = frame_bytes(MSG_AUTH_RESOLVE, 77, "abc", 3, &wlen);
	n = read(t->raw, got, sizeof(got));
	assert_int_equal(n, (ssize_t)wlen);
	assert_memory_equal(got, want, wlen);
	free(want);
}

static void
check_malformed(struct t *t, const void *wire, size_t len, unsigned good)
{
	raw_write(t->raw, wire, len);
	pump(t);
	pump(t);
	assert_int_equal(t->rx.n, good);
	assert_int_equal(t->rx.nclosed, 1);
	assert_true(msgq_dead(t->q));
	/* more bytes after that: nothing more happens */
	raw_write(t->raw, wire, len);
	pump(t);
	assert_int_equal(t->rx.n, good);
	assert_int_equal(t->rx.nclosed, 1);
}

static void
test_malformed_len(void **state)
{
	struct t *t = *state;
	struct msg_hdr h = { MSG_AUTH_RESOLVE, IMSG_PAYLOAD_MAX + 1, 1 };

	/* only the header: the length alone is enough to refuse */
	check_malformed(t, &h, sizeof(h), 0);
}

static void
test_malformed_len_huge(void **state)
{
	struct t *t = *state;
	struct msg_hdr h = { MSG_AUTH_RESOLVE, UINT32_MAX, 1 };

	check_malformed(t, &h, sizeof(h), 0);
}

static void
test_malformed_type(void **state)
{
	static const uint32_t types[] = { MSG_TYPE_MAX, MSG_TYPE_MAX + 1,
	    0x7fffffffu, MSG_TYPE_MAX | FLAG_FD };
	struct msg_hdr h;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct t *t = t_new(true);

		h.type = types[i];
		h.len = 0;
		h.id = 1;
		check_malformed(t, &h, sizeof(h), 0);
		t_free(t);
	}
}

/* A frame claiming a descriptor that did not come. */
static void
test_malformed_missing_fd(void **state)
{
	struct t *t = *state;
	struct msg_hdr h = { MSG_AUTH_WORKER_CHANNEL | FLAG_FD, 0, 1 };

	check_malformed(t, &h, sizeof(h), 0);
}

/* Good frames before a bad one in the same read are delivered. */
static void
test_malformed_after_good(void **state)
{
	struct t *t = *state;
	unsigned char wire[128], *f;
	struct msg_hdr bad = { MSG_TYPE_MAX, 0, 3 };
	size_t flen, off = 0;

	for (int i = 0; i < 2; i++) {
		f = frame_bytes(MSG_AUTH_RESOLVE, (uint64_t)i, "ok", 2, &flen);
		memcpy(wire + off, f, flen);
		off += flen;
		free(f);
	}
	memcpy(wire + off, &bad, sizeof(bad));
	off += sizeof(bad);
	check_malformed(t, wire, off, 2);
	check_frame(&t->rx.frames[1], MSG_AUTH_RESOLVE, 1, "ok", 2);
}

/* The peer closes in the middle of a frame. */
static void
test_close_mid_frame(void **state)
{
	struct t *t = *state;
	unsigned char *f;
	size_t flen;

	f = frame_bytes(MSG_AUTH_RESOLVE, 1, "abcdef", 6, &flen);
	raw_write(t->raw, f, flen - 2);
	free(f);
	pump(t);
	assert_int_equal(t->rx.n, 0);
	assert_int_equal(t->rx.nclosed, 0);
	close(t->raw);
	t->raw = -1;
	pump(t);
	pump(t);
	assert_int_equal(t->rx.n, 0);
	assert_int_equal(t->rx.nclosed, 1);
}

#define TEST_PAIR(name, fn) \
	{ "proc/msg/" name, fn, setup_pair, teardown, NULL }
#define TEST_RAW(name, fn) \
	{ "proc/msg/" name, fn, setup_raw, teardown, NULL }

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		TEST_PAIR("frame/empty", test_empty_frame),
		TEST_PAIR("frame/max", test_max_frame),
		TEST_PAIR("frame/large_stream", test_large_frames_stream),
		TEST_PAIR("frame/many_queued", test_many_queued),
		TEST_PAIR("fd/passing", test_fd_passing),
		TEST_PAIR("fd/free_unsent", test_free_unsent_fd),
		TEST_PAIR("close/peer", test_peer_close),
		TEST_RAW("close/send_to_closed", test_send_to_closed),
		TEST_RAW("read/many_in_one", test_many_in_one_read),
		TEST_RAW("read/split_every_offset", test_split_every_offset),
		TEST_RAW("read/trickle", test_trickle),
		TEST_RAW("read/max_frame", test_raw_max_frame),
		TEST_RAW("write/wire_format", test_wire_format),
		TEST_RAW("malformed/len", test_malformed_len),
		TEST_RAW("malformed/len_huge", test_malformed_len_huge),
		TEST_RAW("malformed/type", test_malformed_type),
		TEST_RAW("malformed/missing_fd", test_malformed_missing_fd),
		TEST_RAW("malformed/after_good", test_malformed_after_good),
		TEST_RAW("close/mid_frame", test_close_mid_frame),
	};

	return cmocka_run_group_tests_name("proc/msg", tests, NULL, NULL);
}
