/* workq.h: blocking work (fsync, hashing) off the event loop.
 *
 * work() runs in one of the pool's threads; done() runs afterwards on
 * the loop's thread.  Jobs hold no reference to the loop's objects in
 * work(): only to what the job itself owns. */
#ifndef FACTEUR_NET_WORKQ_H
#define FACTEUR_NET_WORKQ_H

#include <event2/event.h>

struct workq;

typedef void (*workq_fn)(void *arg);

struct workq	*workq_new(struct event_base *base, unsigned nthreads);
/* Stop the threads after the queued jobs ran (done() callbacks of jobs
 * still queued run before this returns). */
void		 workq_free(struct workq **wqp);
void		 workq_push(struct workq *wq, workq_fn work, workq_fn done,
		    void *arg);
/* Jobs queued or running, not yet completed on the loop. */
unsigned	 workq_pending(struct workq *wq);

#endif
