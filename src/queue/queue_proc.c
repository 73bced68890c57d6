/* queue_proc.c: placeholder while the queue process lands (see git log). */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "config/conf.h"
#include "core/log.h"
#include "proc/msg.h"
#include "proc/proc.h"
#include "queue/queue_proc.h"

static void
queue_on_closed(struct msgq *q, void *arg)
{
}

static void
queue_on_msg(struct msgq *q, void *arg, const struct msg_hdr *h,
    const void *payload, int fd)
{
	if (fd != -1 && h->type == MSG_QUEUE_WORKER_CHANNEL)
		msgq_new(arg, fd, queue_on_msg, queue_on_closed, arg);
	else if (fd != -1)
		close(fd);
}

static void
queue_on_term(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopexit(arg, NULL);
}

void
queue_proc_main(const struct conf *conf, int parent_fd)
{
	struct event_base *base;

	proc_drop_privileges(conf->user);
	proc_child_init("queue");
	base = event_base_new();
	msgq_new(base, parent_fd, queue_on_msg, queue_on_closed, base);
	event_add(evsignal_new(base, SIGTERM, queue_on_term, base), NULL);
	event_base_dispatch(base);
	exit(0);
}
