/* log.h: one line per event (grammar in doc/LOG.md).
 *
 *   <id> <subsystem> <event> key=value key=<value with spaces>
 *
 * The id is a session id for connection events and a queue id for
 * message events; 0 prints as "-". */
#ifndef FACTEUR_CORE_LOG_H
#define FACTEUR_CORE_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_LEVEL_ERR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

void	log_init(const char *role, bool use_syslog);
void	log_set_role(const char *role);
void	log_set_level(enum log_level level);
bool	log_enabled(enum log_level level);
void	log_event(uint64_t id, const char *sub, const char *ev,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	log_debug(uint64_t id, const char *sub, const char *ev,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
