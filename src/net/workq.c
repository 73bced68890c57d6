/* workq.c: a small thread pool; completions come back to the loop
 * through an eventfd. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "net/workq.h"

#define WORKQ_THREADS_MAX	64

struct workq_job {
	struct workq_job	*next;
	workq_fn		 work;
	workq_fn		 done;
	void			*arg;
};

struct workq_list {
	struct workq_job	*head;
	struct workq_job	**tail;
};

struct workq {
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct workq_list	 todo;
	struct workq_list	 done;
	pthread_t		 threads[WORKQ_THREADS_MAX];
	unsigned		 nthreads;
	unsigned		 pending;	/* loop thread only */
	bool			 stop;
	int			 efd;
	struct event		*ev;
};

static void
workq_list_init(struct workq_list *l)
{
	l->head = NULL;
	l->tail = &l->head;
}

static void
workq_list_push(struct workq_list *l, struct workq_job *j)
{
	j->next = NULL;
	*l->tail = j;
	l->tail = &j->next;
}

static struct workq_job *
workq_list_pop(struct workq_list *l)
{
	struct workq_job *j = l->head;

	if (j != NULL && (l->head = j->next) == NULL)
		l->tail = &l->head;
	return j;
}

static void *
workq_thread(void *arg)
{
	struct workq *wq = arg;
	struct workq_job *j;
	uint64_t one = 1;

	pthread_mutex_lock(&wq->lock);
	for (;;) {
		while (wq->todo.head == NULL && !wq->stop)
			pthread_cond_wait(&wq->cond, &wq->lock);
		if ((j = workq_list_pop(&wq->todo)) == NULL)
			break;
		pthread_mutex_unlock(&wq->lock);
		j->work(j->arg);
		pthread_mutex_lock(&wq->lock);
		workq_list_push(&wq->done, j);
		/* an eventfd write never blocks below 2^64-1 */
		if (write(wq->efd, &one, sizeof(one)) == -1 && errno != EAGAIN)
			fatal("write(eventfd)");
	}
	pthread_mutex_unlock(&wq->lock);
	return NULL;
}

static void
workq_reap(struct workq *wq)
{
	struct workq_list done;
	struct workq_job *j;

	pthread_mutex_lock(&wq->lock);
	done = wq->done;
	if (done.head == NULL)
		done.tail = &done.head;
	workq_list_init(&wq->done);
	pthread_mutex_unlock(&wq->lock);
	while ((j = workq_list_pop(&done)) != NULL) {
		wq->pending--;
		j->done(j->arg);
		free(j);
	}
}

static void
workq_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct workq *wq = arg;
	uint64_t n;

	if (read(wq->efd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		fatal("read(eventfd)");
	workq_reap(wq);
}

struct workq *
workq_new(struct event_base *base, unsigned nthreads)
{
	struct workq *wq = xcalloc(1, sizeof(*wq));
	int e;

	if (nthreads == 0)
		nthreads = 1;
	if (nthreads > WORKQ_THREADS_MAX)
		nthreads = WORKQ_THREADS_MAX;
	pthread_mutex_init(&wq->lock, NULL);
	pthread_cond_init(&wq->cond, NULL);
	workq_list_init(&wq->todo);
	workq_list_init(&wq->done);
	if ((wq->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("eventfd");
	wq->ev = event_new(base, wq->efd, EV_READ | EV_PERSIST,
	    workq_on_event, wq);
	if (wq->ev == NULL)
		fatalx("event_new: out of memory");
	event_add(wq->ev, NULL);
	for (unsigned i = 0; i < nthreads; i++) {
		if ((e = pthread_create(&wq->threads[i], NULL, workq_thread,
		    wq)) != 0) {
			errno = e;
			fatal("pthread_create");
		}
		wq->nthreads++;
	}
	return wq;
}

void
workq_push(struct workq *wq, workq_fn work, workq_fn done, void *arg)
{
	struct workq_job *j = xmalloc(sizeof(*j));

	j->work = work;
	j->done = done;
	j->arg = arg;
	wq->pending++;
	pthread_mutex_lock(&wq->lock);
	workq_list_push(&wq->todo, j);
	pthread_cond_signal(&wq->cond);
	pthread_mutex_unlock(&wq->lock);
}

unsigned
workq_pending(struct workq *wq)
{
	return wq->pending;
}

void
workq_free(struct workq **wqp)
{
	struct workq *wq = *wqp;

	if (wq == NULL)
		return;
	pthread_mutex_lock(&wq->lock);
	wq->stop = true;
	pthread_cond_broadcast(&wq->cond);
	pthread_mutex_unlock(&wq->lock);
	for (unsigned i = 0; i < wq->nthreads; i++)
		pthread_join(wq->threads[i], NULL);
	workq_reap(wq);
	event_free(wq->ev);
	close(wq->efd);
	pthread_mutex_destroy(&wq->lock);
	pthread_cond_destroy(&wq->cond);
	free(wq);
	*wqp = NULL;
}
