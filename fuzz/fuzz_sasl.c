/* fuzz_sasl.c: libFuzzer target for src/auth/sasl.c.
 *
 * Input: byte 0 = flags, byte 1 = a cut offset, the rest = client
 * lines separated by '\n'.
 *   flags & 3	 mechanism: 0 PLAIN, 1 LOGIN, 2-3 SCRAM-SHA-256
 *   flags & 4	 the first line is the initial response
 *   flags & 8	 lines go in as they are (else the harness base64-encodes
 *		 them, so the fuzzer reaches the mechanisms' own syntax)
 *   flags & 16	 SCRAM: the user is unknown (no secrets)
 * SCRAM runs with the RFC 7677 secrets ("pencil") and server nonce, so
 * the RFC exchange in the corpus reaches success.
 *
 * Each exchange runs twice, lines fed whole and split at the cut: any
 * difference in results or challenges aborts.  Invariants: challenges
 * are strict base64; SASL_CHECK comes with a sane authcid and password;
 * nothing but SASL_FAIL after the end.  The same bytes also go through
 * the base64 decoder (strict: a decoded string encodes back to itself)
 * and the RFC 5803 parser (parse then format gives the input back). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_sasl: %s:%d: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
		abort();						\
	}								\
} while (0)

#define FUZZ_LINES_MAX	8
#define FUZZ_SNONCE	"%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"

static const uint8_t fuzz_key[32] = "fuzz server secret, 32 bytes...";

struct fuzz_step {
	enum sasl_res	res;
	char		out[SASL_CHALLENGE_MAX];
};

static const struct sasl_scram_secrets *
fuzz_secrets(void)
{
	static struct sasl_scram_secrets sec;
	static bool done;
	static const uint8_t salt[16] = {	/* W22ZaJ0SNY7soEsUEjb6gQ== */
		0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
		0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81,
	};

	if (!done) {
		FUZZ_CHECK(sasl_scram_secrets_derive("pencil", 6, salt,
		    sizeof(salt), 4096, &sec) == 0);
		done = true;
	}
	return &sec;
}

static void
fuzz_check_result(struct sasl *s, enum sasl_res r)
{
	uint8_t dec[SASL_CHALLENGE_MAX];
	size_t len, n, plen;
	const char *c = sasl_challenge(s, &len);
	const char *id = sasl_authcid(s), *pw;

	FUZZ_CHECK(r >= SASL_CONTINUE && r <= SASL_CANCEL);
	FUZZ_CHECK(len < SASL_CHALLENGE_MAX && strlen(c) == len);
	FUZZ_CHECK(sasl_base64_decode(c, len, dec, sizeof(dec), &n) == 0);
	FUZZ_CHECK(strlen(id) <= SASL_AUTHCID_MAX);
	for (const char *p = id; *p != '\0'; p++)
		FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	if (r == SASL_CHECK) {
		pw = sasl_password(s, &plen);
		FUZZ_CHECK(*id != '\0');
		FUZZ_CHECK(plen > 0 && plen <= SASL_PASSWORD_MAX &&
		    strlen(pw) == plen);
	}
	if (r == SASL_OK)
		FUZZ_CHECK(*sasl_user(s) != '\0');
	if (r != SASL_CONTINUE && r != SASL_NEED_SECRETS)
		FUZZ_CHECK(len == 0);
}

/* Feed one line: whole (cut < 0) or in two pieces. */
static enum sasl_res
fuzz_feed(struct sasl *s, const char *p, size_t n, long cut, bool first)
{
	size_t k;

	if (first)
		return sasl_start(s, p, n);
	if (cut < 0)
		return sasl_step(s, p, n);
	k = (size_t)cut < n ? (size_t)cut : n;
	sasl_feed(s, p, k);
	sasl_feed(s, p + k, n - k);
	return sasl_end(s);
}

static size_t
fuzz_run(uint8_t flags, const char **lines, const size_t *lens, size_t nl,
    long cut, struct fuzz_step *steps)
{
	struct sasl_params params = { .secret = fuzz_key,
	    .secret_len = sizeof(fuzz_key), .nonce = FUZZ_SNONCE };
	enum sasl_mech mech = (flags & 3) > 2 ? 2 : (enum sasl_mech)(flags & 3);
	struct sasl *s = sasl_new(mech, &params);
	bool ir = (flags & 4) != 0, over = false;
	size_t k = 0, i = 0;
	enum sasl_res r;

	if (!ir) {
		r = sasl_start(s, NULL, 0);
		fuzz_check_result(s, r);
		steps[k].res = r;
		snprintf(steps[k++].out, SASL_CHALLENGE_MAX, "%s",
		    sasl_challenge(s, NULL));
	}
	for (; i < nl; i++) {
		r = fuzz_feed(s, lines[i], lens[i], cut, ir && i == 0);
		if (r == SASL_NEED_SECRETS)
			r = sasl_scram_secrets(s, (flags & 16) != 0 ? NULL :
			    fuzz_secrets(), NULL);
		fuzz_check_result(s, r);
		if (over)
			FUZZ_CHECK(r == SASL_FAIL);
		if (r != SASL_CONTINUE)
			over = true;
		steps[k].res = r;
		snprintf(steps[k++].out, SASL_CHALLENGE_MAX, "%s",
		    sasl_challenge(s, NULL));
	}
	sasl_free(&s);
	return k;
}

/* Split data into lines, base64-encoding them unless raw. */
static size_t
fuzz_lines(const uint8_t *data, size_t size, bool raw, char **bufs,
    const char **lines, size_t *lens)
{
	size_t nl = 0, start = 0, n, cap;

	for (size_t i = 0; i <= size && nl < FUZZ_LINES_MAX; i++) {
		if (i < size && data[i] != '\n')
			continue;
		n = i - start;
		if (raw) {
			lines[nl] = (const char *)data + start;
			lens[nl] = n;
		} else {
			cap = (n + 2) / 3 * 4 + 1;
			bufs[nl] = malloc(cap);
			FUZZ_CHECK(bufs[nl] != NULL);
			lens[nl] = sasl_base64_encode(data + start, n,
			    bufs[nl], cap);
			lines[nl] = bufs[nl];
		}
		nl++;
		start = i + 1;
	}
	return nl;
}

static void
fuzz_exchange(uint8_t flags, uint8_t cut, const uint8_t *data, size_t size)
{
	static struct fuzz_step a[FUZZ_LINES_MAX + 1], b[FUZZ_LINES_MAX + 1];
	char *bufs[FUZZ_LINES_MAX] = { 0 };
	const char *lines[FUZZ_LINES_MAX];
	size_t lens[FUZZ_LINES_MAX], nl, na, nb;

	nl = fuzz_lines(data, size, (flags & 8) != 0, bufs, lines, lens);
	na = fuzz_run(flags, lines, lens, nl, -1, a);
	nb = fuzz_run(flags, lines, lens, nl, cut, b);
	FUZZ_CHECK(na == nb);
	for (size_t i = 0; i < na; i++) {
		FUZZ_CHECK(a[i].res == b[i].res);
		/* the random part of SCRAM is fixed: all equal */
		FUZZ_CHECK(strcmp(a[i].out, b[i].out) == 0);
	}
	for (size_t i = 0; i < nl; i++)
		free(bufs[i]);
}

static void
fuzz_base64(const uint8_t *data, size_t size)
{
	static uint8_t dec[SASL_LINE_MAX];
	static char enc[SASL_LINE_MAX + 8];
	size_t n;

	if (size > SASL_LINE_MAX ||
	    sasl_base64_decode((const char *)data, size, dec, sizeof(dec),
	    &n) == -1)
		return;
	FUZZ_CHECK(sasl_base64_encode(dec, n, enc, sizeof(enc)) == size);
	FUZZ_CHECK(memcmp(enc, data, size) == 0);
}

static void
fuzz_rfc5803(const uint8_t *data, size_t size)
{
	struct sasl_scram_secrets sec;
	char out[SASL_SCRAM_STORED_MAX];

	if (sasl_scram_secrets_parse((const char *)data, size, &sec) == -1)
		return;
	FUZZ_CHECK(sec.iterations >= SASL_SCRAM_ITER_MIN &&
	    sec.iterations <= SASL_SCRAM_ITER_MAX);
	FUZZ_CHECK(sasl_scram_secrets_format(&sec, out, sizeof(out)) == 0);
	FUZZ_CHECK(strlen(out) == size && memcmp(out, data, size) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	fuzz_exchange(data[0], data[1], data + 2, size - 2);
	fuzz_base64(data + 2, size - 2);
	fuzz_rfc5803(data + 2, size - 2);
	return 0;
}
