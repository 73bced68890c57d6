/* msg.c: framed messages over a non-blocking socketpair, with
 * descriptor passing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "proc/msg.h"

#define MSG_FLAG_FD	0x80000000u	/* a descriptor came with the frame */
#define MSGQ_FDS_MAX	16

struct msg_frame {
	struct msg_frame	*next;
	char			*data;
	size_t			 len;
	size_t			 off;
	int			 fd;
};

struct msgq {
	int			 fd;
	struct event		*ev_read;
	struct event		*ev_write;
	struct buf		 in;
	int			 fds[MSGQ_FDS_MAX];	/* received, not yet claimed */
	size_t			 nfds;
	struct msg_frame	*head, **tail;
	msgq_fn			 fn;
	msgq_closed_fn		 closed;
	void			*arg;
	bool			 dead;
};

static void	msgq_on_read(evutil_socket_t, short, void *);
static void	msgq_on_write(evutil_socket_t, short, void *);

struct msgq *
msgq_new(struct event_base *base, int fd, msgq_fn fn, msgq_closed_fn closed,
    void *arg)
{
	struct msgq *q = xcalloc(1, sizeof(*q));

	q->fd = fd;
	q->fn = fn;
	q->closed = closed;
	q->arg = arg;
	q->tail = &q->head;
	buf_init(&q->in, sizeof(struct msg_hdr) + IMSG_PAYLOAD_MAX + 4096);
	q->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, msgq_on_read, q);
	q->ev_write = event_new(base, fd, EV_WRITE | EV_PERSIST,
	    msgq_on_write, q);
	if (q->ev_read == NULL || q->ev_write == NULL)
		fatalx("event_new: out of memory");
	event_add(q->ev_read, NULL);
	return q;
}

int
msgq_fd(struct msgq *q)
{
	return q->fd;
}

bool
msgq_dead(struct msgq *q)
{
	return q->dead;
}

void
msgq_free(struct msgq **qp)
{
	struct msgq *q = *qp;
	struct msg_frame *f;

	if (q == NULL)
		return;
	while ((f = q->head) != NULL) {
		q->head = f->next;
		if (f->fd != -1)
			close(f->fd);
		free(f->data);
		free(f);
	}
	for (size_t i = 0; i < q->nfds; i++)
		close(q->fds[i]);
	event_free(q->ev_read);
	event_free(q->ev_write);
	close(q->fd);
	buf_free(&q->in);
	free(q);
	*qp = NULL;
}

/* In a child after fork: the parent's queued descriptors are not ours. */
void
msgq_close_pending_fds(struct msgq *q)
{
	for (struct msg_frame *f = q->head; f != NULL; f = f->next)
		if (f->fd != -1) {
			close(f->fd);
			f->fd = -1;
		}
}

static int	msgq_send_frame(struct msgq *, struct msg_frame *);

void
msgq_send(struct msgq *q, uint32_t type, uint64_t id, const void *payload,
    size_t len, int fd)
{
	struct msg_frame *f;
	struct msg_hdr h;

	if (len > IMSG_PAYLOAD_MAX)
		fatalx("msgq_send: payload of %zu bytes for type %u", len, type);
	h.type = type | (fd != -1 ? MSG_FLAG_FD : 0);
	h.len = (uint32_t)len;
	h.id = id;
	f = xcalloc(1, sizeof(*f));
	f->len = sizeof(h) + len;
	f->data = xmalloc(f->len);
	memcpy(f->data, &h, sizeof(h));
	if (len > 0)
		memcpy(f->data + sizeof(h), payload, len);
	f->fd = fd;
	if (q->head == NULL && !q->dead && fd == -1 &&
	    msgq_send_frame(q, f) == 1) {
		/* sent at once: no EPOLLOUT round through the loop (a
		 * failure is left to msgq_on_write, never reported from
		 * inside this call; a descriptor waits for the loop, so
		 * that msgq_free() still closes one never sent) */
		free(f->data);
		free(f);
		return;
	}
	*q->tail = f;
	q->tail = &f->next;
	if (!q->dead)
		event_add(q->ev_write, NULL);
}

static void
msgq_fail(struct msgq *q)
{
	if (q->dead)
		return;
	q->dead = true;
	event_del(q->ev_read);
	event_del(q->ev_write);
	q->closed(q, q->arg);
}

/* Send one frame's remaining bytes; 1 done, 0 try later, -1 broken. */
static int
msgq_send_frame(struct msgq *q, struct msg_frame *f)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { f->data + f->off, f->len - f->off };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (f->fd != -1 && f->off == 0) {
		memset(&cm, 0, sizeof(cm));
		m.msg_control = cm.buf;
		m.msg_controllen = sizeof(cm.buf);
		cm.hdr.cmsg_len = CMSG_LEN(sizeof(int));
		cm.hdr.cmsg_level = SOL_SOCKET;
		cm.hdr.cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(&cm.hdr), &f->fd, sizeof(int));
	}
	n = sendmsg(q->fd, &m, MSG_NOSIGNAL);
	if (n == -1)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (f->fd != -1 && f->off == 0) {
		close(f->fd);
		f->fd = -1;
	}
	f->off += (size_t)n;
	return f->off == f->len;
}

static void
msgq_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct msgq *q = arg;
	struct msg_frame *f;
	int r;

	while ((f = q->head) != NULL) {
		if ((r = msgq_send_frame(q, f)) == 0)
			return;
		if (r == -1) {
			msgq_fail(q);
			return;
		}
		q->head = f->next;
		if (q->head == NULL)
			q->tail = &q->head;
		free(f->data);
		free(f);
	}
	event_del(q->ev_write);
}

static void
msgq_take_fds(struct msgq *q, struct msghdr *m)
{
	struct cmsghdr *cmsg;
	size_t n;
	int fd;

	for (cmsg = CMSG_FIRSTHDR(m); cmsg != NULL; cmsg = CMSG_NXTHDR(m, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
			if (q->nfds < MSGQ_FDS_MAX)
				q->fds[q->nfds++] = fd;
			else
				close(fd);
		}
	}
}

/* Hand complete frames to the callback.  -1 on a malformed frame. */
static int
msgq_dispatch(struct msgq *q)
{
	struct msg_hdr h;
	size_t used = 0;
	int fd;

	while (!q->dead && q->in.len - used >= sizeof(h)) {
		memcpy(&h, q->in.p + used, sizeof(h));
		if (h.len > IMSG_PAYLOAD_MAX ||
		    (h.type & ~MSG_FLAG_FD) >= MSG_TYPE_MAX)
			return -1;
		if (q->in.len - used < sizeof(h) + h.len)
			break;
		fd = -1;
		if (h.type & MSG_FLAG_FD) {
			if (q->nfds == 0)
				return -1;
			fd = q->fds[0];
			memmove(q->fds, q->fds + 1, --q->nfds * sizeof(int));
			h.type &= ~MSG_FLAG_FD;
		}
		q->fn(q, q->arg, &h, q->in.p + used + sizeof(h), fd);
		used += sizeof(h) + h.len;
	}
	buf_consume(&q->in, used);
	return 0;
}

static void
msgq_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct msgq *q = arg;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	struct iovec iov;
	struct msghdr m;
	size_t room = q->in.max - q->in.len;
	ssize_t n;

	/* a frame is at most max bytes: a full buffer is a broken peer */
	if (room > 16384)
		room = 16384;
	if (room == 0 || buf_reserve(&q->in, room) == -1) {
		msgq_fail(q);
		return;
	}
	iov.iov_base = q->in.p + q->in.len;
	iov.iov_len = room;
	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cm.buf;
	m.msg_controllen = sizeof(cm.buf);
	n = recvmsg(q->fd, &m, MSG_CMSG_CLOEXEC);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		msgq_fail(q);
		return;
	}
	msgq_take_fds(q, &m);
	q->in.len += (size_t)n;
	if (msgq_dispatch(q) == -1) {
		log_warnx("malformed message on channel fd %d", q->fd);
		msgq_fail(q);
	}
}
