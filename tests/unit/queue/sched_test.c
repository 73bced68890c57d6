/* sched_test.c: tests for src/queue/sched.c: the backoff sequence, the
 * cap, expiry, delay notices, and what is due when. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "config/conf.h"
#include "queue/sched.h"

#define T0	((time_t)1764150000)
#define MIN	60
#define HOUR	3600
#define DAY	86400

static void
env_init(struct envelope *e, size_t nrcpts)
{
	memset(e, 0, sizeof(*e));
	e->qid = 1;
	e->created = T0;
	for (size_t i = 0; i < nrcpts; i++)
		assert_int_equal(envelope_add_rcpt(e, "r@x", NULL, 0), 0);
}

static void
test_defaults(void **state)
{
	struct sched_policy p;

	sched_policy_default(&p);
	assert_int_equal(p.retry_min, 5 * MIN);
	assert_int_equal(p.retry_max, 4 * HOUR);
	assert_int_equal(p.lifetime, 5 * DAY);
	assert_int_equal(p.delay_warning, 4 * HOUR);
}

/* 5m, 10m, 20m, 40m, 80m, 160m, then 4h for ever. */
static void
test_backoff_sequence(void **state)
{
	static const time_t want[] = {
		0, 5 * MIN, 10 * MIN, 20 * MIN, 40 * MIN, 80 * MIN, 160 * MIN,
		4 * HOUR, 4 * HOUR, 4 * HOUR,
	};
	struct sched_policy p;

	sched_policy_default(&p);
	for (unsigned n = 0; n < sizeof(want) / sizeof(want[0]); n++)
		assert_int_equal(sched_next_try(n, T0, &p) - T0, want[n]);
	assert_int_equal(sched_next_try(1000, T0, &p) - T0, 4 * HOUR);
	assert_int_equal(sched_next_try(UINT32_MAX, T0, &p) - T0, 4 * HOUR);
}

static void
test_backoff_odd_policies(void **state)
{
	struct sched_policy p = { 7, 30, DAY, 0 };

	/* 7, 14, 28, then capped at 30 */
	assert_int_equal(sched_next_try(1, T0, &p) - T0, 7);
	assert_int_equal(sched_next_try(2, T0, &p) - T0, 14);
	assert_int_equal(sched_next_try(3, T0, &p) - T0, 28);
	assert_int_equal(sched_next_try(4, T0, &p) - T0, 30);
	/* max below min: min wins */
	p = (struct sched_policy){ 100, 10, DAY, 0 };
	assert_int_equal(sched_next_try(1, T0, &p) - T0, 100);
	assert_int_equal(sched_next_try(9, T0, &p) - T0, 100);
	/* huge values never wrap into the past */
	p = (struct sched_policy){ INT64_MAX / 2, INT64_MAX, DAY, 0 };
	assert_true(sched_next_try(5, T0, &p) > T0);
	assert_int_equal(sched_next_try(5, T0, &p), INT64_MAX);
	/* min 0 is taken as 1 s */
	p = (struct sched_policy){ 0, 0, DAY, 0 };
	assert_int_equal(sched_next_try(3, T0, &p) - T0, 1);
}

static void
test_expired(void **state)
{
	struct sched_policy p;

	sched_policy_default(&p);
	assert_false(sched_expired(T0, T0, &p));
	assert_false(sched_expired(T0, T0 + 5 * DAY - 1, &p));
	assert_true(sched_expired(T0, T0 + 5 * DAY, &p));
	p.lifetime = 0;		/* bounce at the first failure */
	assert_true(sched_expired(T0, T0, &p));
	p.lifetime = INT64_MAX;
	assert_false(sched_expired(T0, INT64_MAX - 1, &p));
}

static void
test_retry(void **state)
{
	struct sched_policy p;
	struct envelope e;
	struct envelope_rcpt *r;
	time_t now = T0;

	sched_policy_default(&p);
	env_init(&e, 1);
	r = &e.rcpts[0];
	/* retry until the expiry; the last try falls on it */
	for (int i = 0; i < 1000; i++) {
		if (sched_retry(&e, r, now, &p))
			break;
		assert_int_equal(r->attempts, (unsigned)i + 1);
		assert_int_equal(r->last_try, now);
		assert_true(r->next_try > now);
		assert_true(r->next_try <= T0 + 5 * DAY);
		now = r->next_try;
	}
	assert_int_equal(now, T0 + 5 * DAY);
	assert_int_equal(r->last_try, T0 + 5 * DAY);
	/* 5+10+20+40+80+160 min = 5h15, then every 4h: 6 + 29 tries */
	assert_int_equal(r->attempts, 6 + 29 + 1);
	envelope_clear(&e);

	/* lifetime 0: the first temporary failure bounces */
	p.lifetime = 0;
	env_init(&e, 1);
	assert_true(sched_retry(&e, &e.rcpts[0], T0, &p));
	assert_int_equal(e.rcpts[0].attempts, 1);
	envelope_clear(&e);
}

static void
test_delay_notice(void **state)
{
	struct sched_policy p;
	struct envelope e;
	struct envelope_rcpt *r;

	sched_policy_default(&p);
	env_init(&e, 3);
	r = e.rcpts;
	assert_false(sched_want_delay_notice(&e, &r[0], T0 + 4 * HOUR - 1, &p));
	assert_true(sched_want_delay_notice(&e, &r[0], T0 + 4 * HOUR, &p));
	r[0].delay_notified = true;
	assert_false(sched_want_delay_notice(&e, &r[0], T0 + 5 * HOUR, &p));
	r[1].state = RCPT_DELIVERED;
	assert_false(sched_want_delay_notice(&e, &r[1], T0 + 5 * HOUR, &p));
	r[2].state = RCPT_FAILED;
	assert_false(sched_want_delay_notice(&e, &r[2], T0 + 5 * HOUR, &p));
	r[0].delay_notified = false;
	/* expired: the failure report says it all */
	assert_false(sched_want_delay_notice(&e, &r[0], T0 + 5 * DAY, &p));
	/* off */
	p.delay_warning = 0;
	assert_false(sched_want_delay_notice(&e, &r[0], T0 + 5 * HOUR, &p));
	/* warning after the lifetime: never */
	p.delay_warning = 6 * DAY;
	assert_false(sched_want_delay_notice(&e, &r[0], T0 + 5 * DAY - 1, &p));
	envelope_clear(&e);
}

static void
test_due(void **state)
{
	struct sched_policy p;
	struct envelope e;

	sched_policy_default(&p);
	env_init(&e, 3);
	/* new: due now (next_try 0) */
	assert_int_equal(sched_due(&e, &p), 0);
	e.rcpts[0].next_try = T0 + 10 * MIN;
	e.rcpts[1].next_try = T0 + 5 * MIN;
	e.rcpts[2].next_try = T0 + 1 * MIN;
	e.rcpts[2].state = RCPT_DELIVERED;
	assert_int_equal(sched_due(&e, &p), T0 + 5 * MIN);
	/* far retries: the delay notice comes first */
	e.rcpts[0].next_try = T0 + 5 * HOUR;
	e.rcpts[1].next_try = T0 + 6 * HOUR;
	assert_int_equal(sched_due(&e, &p), T0 + 4 * HOUR);
	e.rcpts[0].delay_notified = e.rcpts[1].delay_notified = true;
	assert_int_equal(sched_due(&e, &p), T0 + 5 * HOUR);
	/* held: nothing */
	e.hold = true;
	assert_int_equal(sched_due(&e, &p), (time_t)-1);
	e.hold = false;
	/* done: nothing */
	e.rcpts[0].state = RCPT_FAILED;
	e.rcpts[1].state = RCPT_DELIVERED;
	assert_int_equal(sched_due(&e, &p), (time_t)-1);
	envelope_clear(&e);
}

static void
test_from_conf(void **state)
{
	struct sched_policy p;
	struct conf *c;
	char *err = NULL;
	static const char text[] =
	    "listen smtp 127.0.0.1:2525\nhostname mx.example.test\n"
	    "queue_retry_min 1m\nqueue_retry_max 30s\nqueue_lifetime 2h\n"
	    "queue_delay_warning 0\n";
	static const char bad[] =
	    "listen smtp 127.0.0.1:2525\nhostname mx.example.test\n"
	    "queue_retry_min 0\nqueue_lifetime 101d\n";

	c = conf_parse("t.conf", text, sizeof(text) - 1, &err);
	if (c == NULL)
		fail_msg("%s", err);
	sched_policy_from_conf(&p, c);
	assert_int_equal(p.retry_min, MIN);
	assert_int_equal(p.retry_max, MIN);	/* raised to the minimum */
	assert_int_equal(p.lifetime, 2 * HOUR);
	assert_int_equal(p.delay_warning, 0);
	conf_free(&c);

	c = conf_parse("t.conf", "listen smtp 127.0.0.1:2525\nhostname a.b\n",
	    40, &err);
	assert_non_null(c);
	sched_policy_from_conf(&p, c);
	assert_int_equal(p.retry_min, 5 * MIN);
	assert_int_equal(p.retry_max, 4 * HOUR);
	assert_int_equal(p.lifetime, 5 * DAY);
	assert_int_equal(p.delay_warning, 4 * HOUR);
	conf_free(&c);

	assert_null(conf_parse("t.conf", bad, sizeof(bad) - 1, &err));
	assert_non_null(strstr(err, "queue_retry_min must be between 1s and 1d"));
	assert_non_null(strstr(err, "queue_lifetime must be between 0 and "
	    "100d"));
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_backoff_sequence),
		cmocka_unit_test(test_backoff_odd_policies),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_retry),
		cmocka_unit_test(test_delay_notice),
		cmocka_unit_test(test_due),
		cmocka_unit_test(test_from_conf),
	};

	return cmocka_run_group_tests_name("queue/sched", tests, NULL, NULL);
}
