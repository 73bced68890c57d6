/* log.c: event lines to stderr or syslog. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

static const char	*log_role = "facteur";
static bool		 log_syslog;
static enum log_level	 log_level = LOG_LEVEL_INFO;
/* getpid() and strftime() once, not per line (a few lines per message) */
static pid_t		 log_pid;
static pthread_once_t	 log_once = PTHREAD_ONCE_INIT;
static _Thread_local time_t log_when_sec = -1;
static _Thread_local char log_when[32];

static void
log_forked(void)
{
	log_pid = 0;
}

static void
log_atfork(void)
{
	pthread_atfork(NULL, NULL, log_forked);
}

void
log_init(const char *role, bool use_syslog)
{
	log_role = role;
	log_syslog = use_syslog;
	if (use_syslog)
		openlog("facteur", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_set_role(const char *role)
{
	log_role = role;
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

bool
log_enabled(enum log_level level)
{
	return level <= log_level;
}

static void
log_write(int prio, const char *line)
{
	struct timespec ts;
	struct tm tm;

	if (log_syslog) {
		syslog(prio, "%s", line);
		return;
	}
	pthread_once(&log_once, log_atfork);
	if (log_pid == 0)
		log_pid = getpid();
	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != log_when_sec) {
		gmtime_r(&ts.tv_sec, &tm);
		strftime(log_when, sizeof(log_when), "%Y-%m-%dT%H:%M:%S", &tm);
		log_when_sec = ts.tv_sec;
	}
	/* one fprintf call: lines from several processes do not interleave */
	fprintf(stderr, "%s.%03ldZ %s[%d]: %s\n", log_when,
	    ts.tv_nsec / 1000000, log_role, (int)log_pid, line);
}

static void
log_vevent(int prio, uint64_t id, const char *sub, const char *ev,
    const char *fmt, va_list ap)
{
	char line[4096];
	int n;

	if (id != 0)
		n = snprintf(line, sizeof(line), "%016llx %s %s",
		    (unsigned long long)id, sub, ev);
	else
		n = snprintf(line, sizeof(line), "- %s %s", sub, ev);
	if (n < 0)
		return;
	if (fmt != NULL && *fmt != '\0' && (size_t)n < sizeof(line) - 1) {
		line[n] = ' ';
		if (vsnprintf(line + n + 1, sizeof(line) - (size_t)n - 1, fmt,
		    ap) <= 0)
			line[n] = '\0';	/* no fields: no trailing space */
	}
	/* never let a peer's bytes forge a second line */
	for (char *c = line; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	log_write(prio, line);
}

void
log_event(uint64_t id, const char *sub, const char *ev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vevent(LOG_INFO, id, sub, ev, fmt, ap);
	va_end(ap);
}

void
log_debug(uint64_t id, const char *sub, const char *ev, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(LOG_LEVEL_DEBUG))
		return;
	va_start(ap, fmt);
	log_vevent(LOG_DEBUG, id, sub, ev, fmt, ap);
	va_end(ap);
}

static void
log_vmsg(int prio, const char *kind, int errnum, const char *fmt, va_list ap)
{
	char msg[2048], line[2304];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errnum != 0)
		snprintf(line, sizeof(line), "- %s <%s: %s>", kind, msg,
		    strerror(errnum));
	else
		snprintf(line, sizeof(line), "- %s <%s>", kind, msg);
	for (char *c = line; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	log_write(prio, line);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_WARNING, "warning", 0, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	log_vmsg(LOG_WARNING, "warning", e, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	log_vmsg(LOG_CRIT, "fatal", e, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_CRIT, "fatal", 0, fmt, ap);
	va_end(ap);
	exit(1);
}
