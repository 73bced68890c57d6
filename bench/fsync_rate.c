/* fsync_rate.c: how many durable Maildir deliveries per second this disk
 * takes, by number of threads.  Sizes the delivery worker pool
 * (doc/QUEUE.md, "Durability measurements").  Standalone, not built by
 * CMake:
 *
 *   cc -O2 -std=c17 -D_GNU_SOURCE -pthread bench/fsync_rate.c -o /tmp/fsync_rate
 *   /tmp/fsync_rate [-d DIR] [-s SECONDS] [-b BYTES] [-r REPEATS]
 *
 * DIR (default ./fsync_rate.tmp) must be on the disk to measure; it is
 * created and removed.  One operation is what maildir_tmp_commit() does
 * for one recipient, plus the write:
 *   open(tmp/N, O_CREAT|O_EXCL) write(BYTES) fdatasync link(new/N,S=)
 *   fsync(new/) unlink(tmp/N)
 * Modes: "shared" (all threads deliver into one maildir: a hot mailbox),
 * "private" (a maildir per thread: many users), "nodirsync" (shared,
 * without the directory fsync) and "datasync" (open, write, fdatasync,
 * unlink: the file alone).  With -r, a summary gives the best and the
 * median rate of each configuration. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum fsync_rate_mode {
	MODE_SHARED,
	MODE_PRIVATE,
	MODE_NODIRSYNC,
	MODE_DATASYNC,
};

static const char *const fsync_rate_modes[] = {
	"shared", "private", "nodirsync", "datasync",
};

struct fsync_rate_thread {
	pthread_t		 th;
	int			 id;
	enum fsync_rate_mode	 mode;
	char			 dir[512];
	unsigned long		 ops;
	double			*lat;		/* seconds per op */
	size_t			 nlat, caplat;
};

static const char	*fsync_rate_base = "fsync_rate.tmp";
static double		 fsync_rate_secs = 3.0;
static size_t		 fsync_rate_bytes = 5120;
static char		*fsync_rate_msg;
static atomic_int	 fsync_rate_stop;

static double
fsync_rate_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
fsync_rate_die(const char *what, const char *arg)
{
	fprintf(stderr, "fsync_rate: %s(%s): %s\n", what, arg,
	    strerror(errno));
	exit(1);
}

static void
fsync_rate_mkdir(const char *path)
{
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		fsync_rate_die("mkdir", path);
}

static void
fsync_rate_maildir(const char *dir)
{
	char p[600];

	fsync_rate_mkdir(dir);
	snprintf(p, sizeof(p), "%s/tmp", dir);
	fsync_rate_mkdir(p);
	snprintf(p, sizeof(p), "%s/new", dir);
	fsync_rate_mkdir(p);
}

static void
fsync_rate_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1 || fsync(fd) == -1)
		fsync_rate_die("fsync", path);
	close(fd);
}

/* One delivery; n makes the name unique. */
static void
fsync_rate_op(struct fsync_rate_thread *t, unsigned long n)
{
	char tmp[700], dst[700], ndir[600];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/tmp/%d.%lu", t->dir, t->id, n);
	snprintf(dst, sizeof(dst), "%s/new/%d.%lu,S=%zu", t->dir, t->id, n,
	    fsync_rate_bytes);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1)
		fsync_rate_die("open", tmp);
	if (write(fd, fsync_rate_msg, fsync_rate_bytes) !=
	    (ssize_t)fsync_rate_bytes)
		fsync_rate_die("write", tmp);
	if (fdatasync(fd) == -1)
		fsync_rate_die("fdatasync", tmp);
	close(fd);
	if (t->mode != MODE_DATASYNC) {
		if (link(tmp, dst) == -1)
			fsync_rate_die("link", dst);
		if (t->mode != MODE_NODIRSYNC) {
			snprintf(ndir, sizeof(ndir), "%s/new", t->dir);
			fsync_rate_fsync_dir(ndir);
		}
	}
	if (unlink(tmp) == -1)
		fsync_rate_die("unlink", tmp);
}

static void
fsync_rate_record(struct fsync_rate_thread *t, double lat)
{
	if (t->nlat == t->caplat) {
		t->caplat = t->caplat == 0 ? 4096 : t->caplat * 2;
		t->lat = realloc(t->lat, t->caplat * sizeof(*t->lat));
		if (t->lat == NULL)
			fsync_rate_die("realloc", "latencies");
	}
	t->lat[t->nlat++] = lat;
}

static void *
fsync_rate_run(void *arg)
{
	struct fsync_rate_thread *t = arg;
	double t0;

	while (!atomic_load(&fsync_rate_stop)) {
		t0 = fsync_rate_now();
		fsync_rate_op(t, t->ops);
		fsync_rate_record(t, fsync_rate_now() - t0);
		t->ops++;
	}
	return NULL;
}

static int
fsync_rate_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Remove what a run left in DIR/new (not timed). */
static void
fsync_rate_empty(const char *dir)
{
	char cmd[700];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fsync_rate_die("system", cmd);
}

struct fsync_rate_result {
	double	rate;			/* ops/s */
	double	p50, p99, max;		/* ms */
};

static struct fsync_rate_result
fsync_rate_result(int nth, struct fsync_rate_thread *ts, double elapsed)
{
	struct fsync_rate_result r = { 0, 0, 0, 0 };
	unsigned long ops = 0;
	size_t nlat = 0, k = 0;
	double *all;

	for (int i = 0; i < nth; i++) {
		ops += ts[i].ops;
		nlat += ts[i].nlat;
	}
	if (nlat == 0)
		return r;
	if ((all = malloc(nlat * sizeof(*all))) == NULL)
		fsync_rate_die("malloc", "latencies");
	for (int i = 0; i < nth; i++)
		for (size_t j = 0; j < ts[i].nlat; j++)
			all[k++] = ts[i].lat[j];
	qsort(all, nlat, sizeof(*all), fsync_rate_cmp);
	r.rate = (double)ops / elapsed;
	r.p50 = all[nlat / 2] * 1e3;
	r.p99 = all[nlat * 99 / 100] * 1e3;
	r.max = all[nlat - 1] * 1e3;
	free(all);
	return r;
}

static struct fsync_rate_result
fsync_rate_one(enum fsync_rate_mode mode, int nth)
{
	struct fsync_rate_result r;
	struct fsync_rate_thread *ts = calloc((size_t)nth, sizeof(*ts));
	struct timespec nap;
	double t0, elapsed;

	if (ts == NULL)
		fsync_rate_die("calloc", "threads");
	fsync_rate_mkdir(fsync_rate_base);
	for (int i = 0; i < nth; i++) {
		ts[i].id = i;
		ts[i].mode = mode;
		snprintf(ts[i].dir, sizeof(ts[i].dir), "%s/md%d",
		    fsync_rate_base, mode == MODE_PRIVATE ? i : 0);
		fsync_rate_maildir(ts[i].dir);
	}
	sync();
	atomic_store(&fsync_rate_stop, 0);
	t0 = fsync_rate_now();
	for (int i = 0; i < nth; i++)
		if ((errno = pthread_create(&ts[i].th, NULL, fsync_rate_run,
		    &ts[i])) != 0)
			fsync_rate_die("pthread_create", "");
	nap.tv_sec = (time_t)fsync_rate_secs;
	nap.tv_nsec = (long)((fsync_rate_secs - (double)nap.tv_sec) * 1e9);
	nanosleep(&nap, NULL);
	atomic_store(&fsync_rate_stop, 1);
	for (int i = 0; i < nth; i++)
		pthread_join(ts[i].th, NULL);
	elapsed = fsync_rate_now() - t0;
	r = fsync_rate_result(nth, ts, elapsed);
	for (int i = 0; i < nth; i++)
		free(ts[i].lat);
	free(ts);
	fsync_rate_empty(fsync_rate_base);
	printf("%-10s %3d %9.0f %9.3f %9.3f %9.3f\n", fsync_rate_modes[mode],
	    nth, r.rate, r.p50, r.p99, r.max);
	fflush(stdout);
	return r;
}

static int
fsync_rate_cmp_rate(const void *a, const void *b)
{
	const struct fsync_rate_result *x = a, *y = b;

	return x->rate < y->rate ? -1 : x->rate > y->rate;
}

/* Per configuration over the repeats: best and median rate, and the
 * p50/p99 latencies of the median run. */
static void
fsync_rate_summary(struct fsync_rate_result *res, int nconf, int reps,
    const int *threads, int nthreads)
{
	struct fsync_rate_result *v, *med;

	printf("\n# summary over %d runs\n%-10s %3s %9s %9s %9s %9s\n",
	    reps, "mode", "thr", "best/s", "median/s", "p50_ms", "p99_ms");
	for (int c = 0; c < nconf; c++) {
		v = res + (size_t)c * (size_t)reps;
		qsort(v, (size_t)reps, sizeof(*v), fsync_rate_cmp_rate);
		med = &v[reps / 2];
		printf("%-10s %3d %9.0f %9.0f %9.3f %9.3f\n",
		    fsync_rate_modes[c / nthreads], threads[c % nthreads],
		    v[reps - 1].rate, med->rate, med->p50, med->p99);
	}
}

static void
fsync_rate_usage(void)
{
	fprintf(stderr, "usage: fsync_rate [-d dir] [-s seconds] "
	    "[-b bytes] [-r repeats]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const int threads[] = { 1, 2, 8, 16 };
	const int nthr = (int)(sizeof(threads) / sizeof(threads[0]));
	const int nconf = (MODE_DATASYNC + 1) * nthr;
	struct fsync_rate_result *res;
	int ch, reps = 1;

	while ((ch = getopt(argc, argv, "d:s:b:r:")) != -1) {
		switch (ch) {
		case 'd':
			fsync_rate_base = optarg;
			break;
		case 's':
			fsync_rate_secs = atof(optarg);
			break;
		case 'b':
			fsync_rate_bytes = (size_t)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		default:
			fsync_rate_usage();
		}
	}
	if (fsync_rate_secs <= 0 || fsync_rate_bytes == 0 || reps < 1)
		fsync_rate_usage();
	if ((fsync_rate_msg = malloc(fsync_rate_bytes)) == NULL)
		fsync_rate_die("malloc", "message");
	memset(fsync_rate_msg, 'x', fsync_rate_bytes);
	printf("# dir=%s bytes=%zu seconds=%.1f\n", fsync_rate_base,
	    fsync_rate_bytes, fsync_rate_secs);
	printf("%-10s %3s %9s %9s %9s %9s\n", "mode", "thr", "ops/s",
	    "p50_ms", "p99_ms", "max_ms");
	if ((res = calloc((size_t)(nconf * reps), sizeof(*res))) == NULL)
		fsync_rate_die("calloc", "results");
	/* configurations interleaved, so that noise from other work on
	 * the machine spreads over all of them */
	for (int r = 0; r < reps; r++)
		for (int c = 0; c < nconf; c++)
			res[c * reps + r] = fsync_rate_one(
			    (enum fsync_rate_mode)(c / nthr), threads[c % nthr]);
	if (reps > 1)
		fsync_rate_summary(res, nconf, reps, threads, nthr);
	free(res);
	free(fsync_rate_msg);
	return 0;
}
