/* queue_commit.c: what group commit buys in the outbound queue
 * (doc/QUEUE.md, "Group commit").  Standalone, not built by CMake:
 *
 *   cc -O2 -std=c17 -D_GNU_SOURCE -Isrc bench/queue_commit.c \
 *       src/core/buf.c src/core/id.c src/core/log.c src/core/mem.c \
 *       src/queue/envelope.c src/queue/queue_fs.c src/queue/queue_sum.c \
 *       -o /tmp/queue_commit
 *   /tmp/queue_commit [-d DIR] [-s SECONDS] [-b BYTES] [-r REPEATS]
 *
 * DIR (default ./queue_commit.tmp) must be on the disk to measure; it
 * is created and removed.  One operation is one message queued with
 * queue_fs: queue_fs_new, one write of BYTES, then queue_fs_commit
 * (batch 1) or queue_fs_commit_batch of B messages (one directory fsync
 * for B); the queue is emptied (queue_fs_remove, not timed) between
 * rounds so that the directory stays small.  For each batch size the
 * best and median rate of the repeats are printed, in messages per
 * second, and the mean latency of a commit call per message. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "queue/queue_fs.h"

#define QC_BATCH_MAX	64
#define QC_REPEATS_MAX	32

static const size_t	qc_batches[] = { 1, 2, 4, 8, 16, 32, 64 };
static const char	*qc_dir = "queue_commit.tmp";
static double		 qc_secs = 2.0;
static size_t		 qc_bytes = 5120;
static int		 qc_repeats = 3;
static uint64_t		 qc_next_qid = 1;

static double
qc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
qc_rm(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	return remove(path);
}

static void
qc_die(const char *what, const char *err)
{
	fprintf(stderr, "queue_commit: %s: %s\n", what, err);
	exit(1);
}

/* One round: b messages written and committed together; the seconds
 * spent in the commit call. */
static double
qc_round(size_t b, const char *msg)
{
	struct queue_new ns[QC_BATCH_MAX], *np[QC_BATCH_MAX];
	struct envelope es[QC_BATCH_MAX], *ep[QC_BATCH_MAX];
	int results[QC_BATCH_MAX];
	const char *err;
	double t0, t;

	for (size_t i = 0; i < b; i++) {
		memset(&es[i], 0, sizeof(es[i]));
		es[i].created = time(NULL);
		strcpy(es[i].from, "sender@example.org");
		envelope_add_rcpt(&es[i], "rcpt@example.net", NULL, 0);
		if (queue_fs_new(qc_dir, qc_next_qid++, NULL, &ns[i], &err) == -1 ||
		    queue_fs_write(&ns[i], msg, qc_bytes, &err) == -1)
			qc_die("new", err);
		np[i] = &ns[i];
		ep[i] = &es[i];
	}
	t0 = qc_now();
	if (b == 1) {
		if (queue_fs_commit(qc_dir, np[0], ep[0], &err) == -1)
			qc_die("commit", err);
	} else if (queue_fs_commit_batch(qc_dir, np, ep, b, results,
	    &err) == -1)
		qc_die("commit_batch", err);
	t = qc_now() - t0;
	for (size_t i = 0; i < b; i++) {
		if (queue_fs_remove(qc_dir, es[i].qid, &err) == -1)
			qc_die("remove", err);
		envelope_clear(&es[i]);
	}
	return t;
}

/* Messages per second of commit time for batch size b. */
static double
qc_run(size_t b, const char *msg, double *lat_r)
{
	double spent = 0, start = qc_now();
	unsigned long n = 0;

	while (qc_now() - start < qc_secs) {
		spent += qc_round(b, msg);
		n += b;
	}
	*lat_r = spent / (double)n;
	return (double)n / spent;
}

static int
qc_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	double rate[sizeof(qc_batches) / sizeof(qc_batches[0])][QC_REPEATS_MAX];
	double lat[sizeof(qc_batches) / sizeof(qc_batches[0])][QC_REPEATS_MAX];
	const size_t nb = sizeof(qc_batches) / sizeof(qc_batches[0]);
	const char *err;
	char *msg;
	int c;

	while ((c = getopt(argc, argv, "d:s:b:r:")) != -1) {
		switch (c) {
		case 'd': qc_dir = optarg; break;
		case 's': qc_secs = atof(optarg); break;
		case 'b': qc_bytes = (size_t)atol(optarg); break;
		case 'r': qc_repeats = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: queue_commit [-d DIR] "
			    "[-s SECONDS] [-b BYTES] [-r REPEATS]\n");
			return 2;
		}
	}
	if (qc_repeats < 1 || qc_repeats > QC_REPEATS_MAX)
		qc_repeats = 3;
	if (mkdir(qc_dir, 0700) == -1 && errno != EEXIST)
		qc_die("mkdir", strerror(errno));
	if (queue_fs_init(qc_dir, &err) == -1)
		qc_die("init", err);
	msg = malloc(qc_bytes);
	memset(msg, 'x', qc_bytes);
	/* interleave the configurations so that load changes hit all */
	for (int r = 0; r < qc_repeats; r++)
		for (size_t i = 0; i < nb; i++)
			rate[i][r] = qc_run(qc_batches[i], msg, &lat[i][r]);
	printf("%-6s %10s %12s %14s\n", "batch", "best/s", "median/s",
	    "ms per msg");
	for (size_t i = 0; i < nb; i++) {
		double sorted[QC_REPEATS_MAX], lsum = 0;

		memcpy(sorted, rate[i], sizeof(double) * (size_t)qc_repeats);
		qsort(sorted, (size_t)qc_repeats, sizeof(double), qc_cmp);
		for (int r = 0; r < qc_repeats; r++)
			lsum += lat[i][r];
		printf("%-6zu %10.0f %12.0f %14.3f\n", qc_batches[i],
		    sorted[qc_repeats - 1], sorted[qc_repeats / 2],
		    lsum / qc_repeats * 1e3);
	}
	free(msg);
	nftw(qc_dir, qc_rm, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
