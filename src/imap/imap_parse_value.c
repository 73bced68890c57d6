/* imap_parse_value.c: IMAP values (numbers, sequence sets, dates) and
 * the argument helpers the command grammar shares (astring, string,
 * keyword, ...), with their error texts. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/str.h"
#include "imap/imap_parse.h"
#include "imap/imap_parse_int.h"

/* --- values ------------------------------------------------------------- */

/* n decimal digits at s into *v (n <= 9). */
static int
imap_parse_value_digits(const char *s, size_t n, unsigned *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return 0;
}

int
imap_parse_nz_number(struct str s, uint32_t *r)
{
	uint64_t v = 0;

	if (s.len == 0 || s.len > 10 || s.p[0] < '1' || s.p[0] > '9')
		return -1;
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s.p[i] - '0');
	}
	if (v > UINT32_MAX)
		return -1;
	*r = (uint32_t)v;
	return 0;
}

int
imap_parse_number64(struct str s, uint64_t *r)
{
	uint64_t v = 0, d;

	if (s.len == 0 || s.len > 19)
		return -1;
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return -1;
		d = (uint64_t)(s.p[i] - '0');
		if (v > ((uint64_t)INT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*r = v;
	return 0;
}

size_t
imap_parse_seqset_count(struct str s)
{
	size_t n = 1;

	for (size_t i = 0; i < s.len; i++)
		n += s.p[i] == ',';
	return n;
}

static int
imap_parse_value_seqnum(struct str s, uint32_t *r)
{
	if (s.len == 1 && s.p[0] == '*') {
		*r = IMAP_SEQ_STAR;
		return 0;
	}
	return imap_parse_nz_number(s, r);
}

static int
imap_parse_value_seqrange(const char *p, const char *end, struct imap_seq_range *r)
{
	const char *colon = memchr(p, ':', (size_t)(end - p));

	if (colon == NULL) {
		if (imap_parse_value_seqnum(str_make(p, (size_t)(end - p)), &r->lo)
		    == -1)
			return -1;
		r->hi = r->lo;
		return 0;
	}
	if (imap_parse_value_seqnum(str_make(p, (size_t)(colon - p)), &r->lo) == -1)
		return -1;
	return imap_parse_value_seqnum(str_make(colon + 1,
	    (size_t)(end - colon - 1)), &r->hi);
}

int
imap_parse_seqset(struct str s, struct imap_seq_range *r,
    struct imap_seqset *set)
{
	const char *p = s.p, *end = s.p + s.len, *comma;

	memset(set, 0, sizeof(*set));
	set->r = r;
	if (s.len == 1 && s.p[0] == '$') {
		set->last = true;
		return 0;
	}
	if (s.len == 0)
		return -1;
	for (;;) {
		comma = memchr(p, ',', (size_t)(end - p));
		if (comma == NULL)
			comma = end;
		if (imap_parse_value_seqrange(p, comma, &r[set->n]) == -1)
			return -1;
		set->n++;
		if (comma == end)
			return 0;
		p = comma + 1;
	}
}

static const char imap_parse_value_months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static unsigned
imap_parse_value_mdays(unsigned year, unsigned mon)
{
	static const uint8_t days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return days[mon - 1] + (mon == 2 && leap);
}

int
imap_parse_date(struct str s, struct imap_date *d)
{
	size_t dl = s.len == 10 ? 1 : s.len == 11 ? 2 : 0;
	unsigned day, mon = 0, year;

	if (dl == 0 || imap_parse_value_digits(s.p, dl, &day) == -1 ||
	    s.p[dl] != '-' || s.p[dl + 4] != '-' ||
	    imap_parse_value_digits(s.p + dl + 5, 4, &year) == -1)
		return -1;
	for (unsigned m = 0; m < 12 && mon == 0; m++)
		if (strncasecmp(s.p + dl + 1, imap_parse_value_months[m], 3) == 0)
			mon = m + 1;
	if (mon == 0 || day == 0 || day > imap_parse_value_mdays(year, mon))
		return -1;
	d->year = (uint16_t)year;
	d->mon = (uint8_t)mon;
	d->day = (uint8_t)day;
	return 0;
}

/* " hh:mm:ss +zzzz" */
static int
imap_parse_value_time(const char *s, struct imap_datetime *dt)
{
	unsigned h, m, sec, zh, zm;

	if (s[0] != ' ' || s[3] != ':' || s[6] != ':' || s[9] != ' ' ||
	    (s[10] != '+' && s[10] != '-') ||
	    imap_parse_value_digits(s + 1, 2, &h) == -1 ||
	    imap_parse_value_digits(s + 4, 2, &m) == -1 ||
	    imap_parse_value_digits(s + 7, 2, &sec) == -1 ||
	    imap_parse_value_digits(s + 11, 2, &zh) == -1 ||
	    imap_parse_value_digits(s + 13, 2, &zm) == -1)
		return -1;
	if (h > 23 || m > 59 || sec > 60 || zh > 23 || zm > 59)
		return -1;
	dt->hour = (uint8_t)h;
	dt->min = (uint8_t)m;
	dt->sec = (uint8_t)sec;
	dt->zone = (int16_t)((s[10] == '-' ? -1 : 1) * (int)(zh * 60 + zm));
	return 0;
}

/* "dd-Mon-yyyy hh:mm:ss +zzzz"; the day may be " d" (date-day-fixed) or,
 * leniently, "d". */
int
imap_parse_datetime(struct str s, struct imap_datetime *dt)
{
	size_t dl;

	if (s.len > 0 && s.p[0] == ' ')
		s.p++, s.len--;
	dl = s.len > 1 && s.p[1] == '-' ? 10 : 11;
	if (s.len != dl + 15 || imap_parse_date(str_make(s.p, dl),
	    &dt->date) == -1)
		return -1;
	return imap_parse_value_time(s.p + dl, dt);
}

time_t
imap_parse_datetime_time(const struct imap_datetime *dt)
{
	/* days from civil (Howard Hinnant) */
	int64_t y = dt->date.year - (dt->date.mon <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = (dt->date.mon + 9) % 12;
	int64_t doy = (153 * mp + 2) / 5 + dt->date.day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = era * 146097 + doe - 719468;

	return (time_t)(days * 86400 + dt->hour * 3600 + dt->min * 60 +
	    dt->sec - dt->zone * 60);
}

/* Is s the word w, ASCII case-insensitively?  (No strlen: most
 * comparisons fail at the first byte.) */
bool
imap_parse_word(struct str s, const char *w)
{
	size_t i;

	for (i = 0; i < s.len; i++) {
		char a = s.p[i], b = w[i];

		if (b == '\0' || (a != b && ((a | 0x20) != (b | 0x20) ||
		    (a | 0x20) < 'a' || (a | 0x20) > 'z')))
			return false;
	}
	return w[i] == '\0';
}

/* --- argument helpers for the command grammar --------------------------- */

const struct imap_arg *
imap_parse_next(struct imap_pargs *a)
{
	return a->i < a->n ? &a->a[a->i++] : NULL;
}

const struct imap_arg *
imap_parse_peek(const struct imap_pargs *a)
{
	return a->i < a->n ? &a->a[a->i] : NULL;
}

bool
imap_parse_is_atom(const struct imap_arg *a, const char *word)
{
	return a != NULL && (a->type == IMAP_ARG_ATOM ||
	    a->type == IMAP_ARG_NIL) && imap_parse_word(a->str, word);
}

/* Is the atom s made of ATOM-CHARs only, plus the bytes in also (of
 * "%*\\]")? */
bool
imap_parse_atom_only(struct str s, const char *also)
{
	for (size_t i = 0; i < s.len; i++) {
		char c = s.p[i];

		if ((c == '%' || c == '*' || c == '\\' || c == ']') &&
		    strchr(also, c) == NULL)
			return false;
	}
	return s.len > 0;
}

int
imap_parse_astring(struct imap_parser *p, const struct imap_arg *a,
    struct str *r)
{
	if (a == NULL)
		return imap_parse_bad(p, "Missing argument");
	if ((a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_NIL) &&
	    !imap_parse_atom_only(a->str, "]"))
		return imap_parse_bad(p, "Invalid characters in atom");
	if (a->type == IMAP_ARG_LIST || a->type == IMAP_ARG_SECTION ||
	    a->lit8)
		return imap_parse_bad(p, "Expected a string");
	*r = a->str;
	return 0;
}

int
imap_parse_string(struct imap_parser *p, const struct imap_arg *a,
    struct str *r)
{
	if (a == NULL)
		return imap_parse_bad(p, "Missing argument");
	if ((a->type != IMAP_ARG_QUOTED && a->type != IMAP_ARG_LITERAL) ||
	    a->lit8)
		return imap_parse_bad(p, "Expected a quoted string or literal");
	*r = a->str;
	return 0;
}

int
imap_parse_keyword(struct imap_parser *p, const struct imap_arg *a,
    struct str *r)
{
	if (a == NULL)
		return imap_parse_bad(p, "Missing argument");
	if ((a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL) ||
	    !imap_parse_atom_only(a->str, ""))
		return imap_parse_bad(p, "Invalid keyword");
	*r = a->str;
	return 0;
}

int
imap_parse_arg_seqset(struct imap_parser *p, const struct imap_arg *a,
    struct imap_seqset *set)
{
	struct imap_seq_range *r;

	if (a == NULL)
		return imap_parse_bad(p, "Missing sequence set");
	if (a->type != IMAP_ARG_ATOM)
		return imap_parse_bad(p, "Invalid sequence set");
	r = imap_parse_alloc(p, imap_parse_seqset_count(a->str) * sizeof(*r));
	if (imap_parse_seqset(a->str, r, set) == -1)
		return imap_parse_bad(p, "Invalid sequence set");
	return 0;
}

int
imap_parse_arg_number64(struct imap_parser *p, const struct imap_arg *a,
    uint64_t *r)
{
	if (a == NULL)
		return imap_parse_bad(p, "Missing number");
	if (a->type != IMAP_ARG_ATOM || imap_parse_number64(a->str, r) == -1)
		return imap_parse_bad(p, "Invalid number");
	return 0;
}

int
imap_parse_arg_date(struct imap_parser *p, const struct imap_arg *a,
    struct imap_date *d)
{
	if (a == NULL)
		return imap_parse_bad(p, "Missing date");
	if ((a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_QUOTED) ||
	    imap_parse_date(a->str, d) == -1)
		return imap_parse_bad(p, "Invalid date");
	return 0;
}

struct str
imap_parse_upper(struct imap_parser *p, struct str s)
{
	char *u = imap_parse_alloc(p, s.len + 1);

	for (size_t i = 0; i < s.len; i++)
		u[i] = (s.p[i] >= 'a' && s.p[i] <= 'z') ? s.p[i] - 32 : s.p[i];
	return str_make(u, s.len);
}

struct imap_pargs
imap_parse_sub(const struct imap_arg *list)
{
	return (struct imap_pargs){ list->list, list->count, 0 };
}

bool
imap_parse_is_list(const struct imap_arg *a)
{
	return a != NULL && a->type == IMAP_ARG_LIST;
}

/* mod-sequence-value (>= 1), or with zero_ok mod-sequence-valzer. */
int
imap_parse_modseq(struct imap_parser *p, const struct imap_arg *a,
    uint64_t *r, bool zero_ok)
{
	if (imap_parse_arg_number64(p, a, r) == -1)
		return -1;
	if (*r == 0 && !zero_ok)
		return imap_parse_bad(p, "Invalid mod-sequence");
	return 0;
}
