/* workq_test.c: tests for src/net/workq.c on a real libevent base.
 * work() runs on the pool's threads, done() on the loop's thread,
 * exactly once per job. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "net/workq.h"

#define JOBS	1000

struct job {
	unsigned	 idx;
	atomic_uint	 worked;	/* times work() ran */
	unsigned	 done;		/* times done() ran */
	pthread_t	 work_thread;
	bool		 done_off_loop;	/* done() ran on another thread */
	bool		 done_before_work;
	struct wqt	*t;
};

struct wqt {
	struct event_base	*base;
	struct workq		*wq;
	pthread_t		 loop_thread;
	struct job		 jobs[JOBS];
	unsigned		 ndone;
	unsigned		 pending_at_last_done;
	unsigned		 max_pending_seen;
	atomic_uint		 running;	/* work() calls in flight */
	atomic_uint		 max_running;
	bool			 slow;
};

static void
job_work(void *arg)
{
	struct job *j = arg;
	struct wqt *t = j->t;
	unsigned r, m;

	r = atomic_fetch_add(&t->running, 1) + 1;
	m = atomic_load(&t->max_running);
	while (r > m && !atomic_compare_exchange_weak(&t->max_running, &m, r))
		;
	j->work_thread = pthread_self();
	if (t->slow || j->idx % 97 == 0)
		usleep(200);
	atomic_fetch_add(&j->worked, 1);
	atomic_fetch_sub(&t->running, 1);
}

static void
job_done(void *arg)
{
	struct job *j = arg;
	struct wqt *t = j->t;

	if (!pthread_equal(pthread_self(), t->loop_thread))
		j->done_off_loop = true;
	if (atomic_load(&j->worked) != 1)
		j->done_before_work = true;
	j->done++;
	t->ndone++;
	t->pending_at_last_done = workq_pending(t->wq);
}

static struct wqt *
wqt_new(unsigned nthreads)
{
	struct wqt *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->base = event_base_new();
	assert_non_null(t->base);
	t->loop_thread = pthread_self();
	t->wq = workq_new(t->base, nthreads);
	assert_non_null(t->wq);
	for (unsigned i = 0; i < JOBS; i++) {
		t->jobs[i].idx = i;
		t->jobs[i].t = t;
	}
	return t;
}

static void
wqt_free(struct wqt *t)
{
	workq_free(&t->wq);
	assert_null(t->wq);
	event_base_free(t->base);
	free(t);
}

/* Run the loop until every job is done, with a deadline. */
static void
run_until_done(struct wqt *t, unsigned want)
{
	struct timeval tick = { 0, 10000 };
	time_t deadline = time(NULL) + 30;

	while (t->ndone < want) {
		if (time(NULL) > deadline)
			fail_msg("only %u of %u jobs done", t->ndone, want);
		event_base_loopexit(t->base, &tick);
		event_base_loop(t->base, EVLOOP_ONCE);
	}
}

static void
check_jobs(struct wqt *t, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct job *j = &t->jobs[i];

		if (atomic_load(&j->worked) != 1 || j->done != 1)
			fail_msg("job %u: work ran %u times, done %u times", i,
			    atomic_load(&j->worked), j->done);
		assert_false(j->done_off_loop);
		assert_false(j->done_before_work);
		assert_false(pthread_equal(j->work_thread, t->loop_thread));
	}
}

static void
test_thousand_jobs(void **state)
{
	struct wqt *t = wqt_new(4);
	pthread_t seen[8];
	unsigned nseen = 0;

	for (unsigned i = 0; i < JOBS; i++) {
		workq_push(t->wq, job_work, job_done, &t->jobs[i]);
		assert_int_equal(workq_pending(t->wq), i + 1);
	}
	/* done() only runs from the loop: none before it runs */
	usleep(20000);
	assert_int_equal(t->ndone, 0);
	assert_int_equal(workq_pending(t->wq), JOBS);
	run_until_done(t, JOBS);
	assert_int_equal(t->ndone, JOBS);
	assert_int_equal(workq_pending(t->wq), 0);
	assert_int_equal(t->pending_at_last_done, 0);
	check_jobs(t, JOBS);
	/* the work was spread over more than one thread, never more
	 * than four at once */
	for (unsigned i = 0; i < JOBS; i++) {
		unsigned k;

		for (k = 0; k < nseen; k++)
			if (pthread_equal(seen[k], t->jobs[i].work_thread))
				break;
		if (k == nseen) {
			assert_true(nseen < 4);
			seen[nseen++] = t->jobs[i].work_thread;
		}
	}
	assert_true(atomic_load(&t->max_running) <= 4);
	/* the loop has nothing left to do for the queue */
	event_base_loop(t->base, EVLOOP_NONBLOCK);
	assert_int_equal(t->ndone, JOBS);
	wqt_free(t);
}

/* pending counts jobs queued or running, until their done() ran. */
static void
test_pending(void **state)
{
	struct wqt *t = wqt_new(2);

	assert_int_equal(workq_pending(t->wq), 0);
	workq_push(t->wq, job_work, job_done, &t->jobs[0]);
	workq_push(t->wq, job_work, job_done, &t->jobs[1]);
	workq_push(t->wq, job_work, job_done, &t->jobs[2]);
	assert_int_equal(workq_pending(t->wq), 3);
	/* work finishes in the threads, but until the loop reaps them the
	 * jobs still count */
	while (atomic_load(&t->jobs[0].worked) + atomic_load(&t->jobs[1].worked)
	    + atomic_load(&t->jobs[2].worked) < 3)
		usleep(1000);
	assert_int_equal(workq_pending(t->wq), 3);
	run_until_done(t, 3);
	assert_int_equal(workq_pending(t->wq), 0);
	check_jobs(t, 3);
	/* and again after the queue went idle */
	workq_push(t->wq, job_work, job_done, &t->jobs[3]);
	assert_int_equal(workq_pending(t->wq), 1);
	run_until_done(t, 4);
	assert_int_equal(workq_pending(t->wq), 0);
	check_jobs(t, 4);
	wqt_free(t);
}

/* workq_free runs every queued job and its done() before returning,
 * without the loop running. */
static void
test_free_drains(void **state)
{
	struct wqt *t = wqt_new(4);

	t->slow = true;
	for (unsigned i = 0; i < 200; i++)
		workq_push(t->wq, job_work, job_done, &t->jobs[i]);
	assert_int_equal(t->ndone, 0);
	workq_free(&t->wq);
	assert_null(t->wq);
	assert_int_equal(t->ndone, 200);
	check_jobs(t, 200);
	event_base_free(t->base);
	free(t);
}

/* A done() that pushes the next job: chains run to the end. */
struct chain {
	struct workq	*wq;
	unsigned	 left;
	unsigned	 worked;
	unsigned	 done;
};

static void
chain_work(void *arg)
{
	struct chain *c = arg;

	c->worked++;	/* one job at a time: no race */
}

static void
chain_done(void *arg)
{
	struct chain *c = arg;

	c->done++;
	if (--c->left > 0)
		workq_push(c->wq, chain_work, chain_done, c);
}

static void
test_chain(void **state)
{
	struct event_base *base = event_base_new();
	struct chain c = { NULL, 50, 0, 0 };
	struct timeval tick = { 0, 10000 };
	time_t deadline = time(NULL) + 30;

	assert_non_null(base);
	c.wq = workq_new(base, 3);
	workq_push(c.wq, chain_work, chain_done, &c);
	while (c.left > 0 && time(NULL) < deadline) {
		event_base_loopexit(base, &tick);
		event_base_loop(base, EVLOOP_ONCE);
	}
	assert_int_equal(c.left, 0);
	assert_int_equal(c.done, 50);
	assert_int_equal(c.worked, 50);
	assert_int_equal(workq_pending(c.wq), 0);
	workq_free(&c.wq);
	event_base_free(base);
}

/* Odd thread counts are clamped, not refused. */
static void
test_thread_counts(void **state)
{
	static const unsigned counts[] = { 0, 1, 64, 1000 };

	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		struct wqt *t = wqt_new(counts[i]);

		for (unsigned k = 0; k < 100; k++)
			workq_push(t->wq, job_work, job_done, &t->jobs[k]);
		run_until_done(t, 100);
		check_jobs(t, 100);
		wqt_free(t);
	}
	/* freeing nothing */
	{
		struct workq *none = NULL;

		workq_free(&none);
		assert_null(none);
	}
}

#define TEST(name, fn)	{ "net/workq/" name, fn, NULL, NULL, NULL }

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		TEST("thousand_jobs", test_thousand_jobs),
		TEST("pending", test_pending),
		TEST("free_drains", test_free_drains),
		TEST("chain", test_chain),
		TEST("thread_counts", test_thread_counts),
	};

	return cmocka_run_group_tests_name("net/workq", tests, NULL, NULL);
}
