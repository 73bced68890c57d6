/* str.h: borrowed byte views. */
#ifndef FACTEUR_CORE_STR_H
#define FACTEUR_CORE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

struct str {
	const char	*p;
	size_t		 len;
};

#define STR_LIT(s)	((struct str){ (s), sizeof(s) - 1 })

static inline struct str
str_make(const char *p, size_t len)
{
	return (struct str){ p, len };
}

static inline struct str
str_cstr(const char *s)
{
	return (struct str){ s, strlen(s) };
}

static inline bool
str_eq(struct str a, struct str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* ASCII case-insensitive comparison (protocol keywords, domains). */
static inline bool
str_eq_ci(struct str a, struct str b)
{
	return a.len == b.len && (a.len == 0 || strncasecmp(a.p, b.p, a.len) == 0);
}

static inline bool
str_eq_ci_cstr(struct str a, const char *b)
{
	return str_eq_ci(a, str_cstr(b));
}

static inline bool
str_has_prefix_ci(struct str a, const char *prefix)
{
	size_t n = strlen(prefix);

	return a.len >= n && strncasecmp(a.p, prefix, n) == 0;
}

#endif
