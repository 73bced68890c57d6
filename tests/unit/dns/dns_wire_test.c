/* dns_wire_test.c: tests for src/dns/dns_wire.c: names (compression
 * included), replies and the rdata parsers, each a table of valid and
 * invalid inputs; every prefix of a valid reply is parsed too (and must be
 * refused), as the trickled runs of the other parsers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns_wire.h"
#include "dns_test_pkt.h"

#define B(s)	(const uint8_t *)(s), sizeof(s) - 1

/*
 * Names.
 */

struct name_case {
	const char	*what;
	const uint8_t	*in;
	size_t		 len;
	size_t		 off;		/* where the name starts */
	int		 want;
	const char	*text;		/* want 0: its text */
	size_t		 next;		/* want 0: offset past it */
};

static void
test_name_read(void **state)
{
	static uint8_t longest[1 + 255], toolong[1 + 257], label63[65],
	    label64[66];
	const struct name_case cases[] = {
		{ "plain", B("\3www\7example\3com\0"), 0, 0,
		    "www.example.com", 17 },
		{ "root", B("\0"), 0, 0, "", 1 },
		{ "upper case kept", B("\2MX\2Eu\0"), 0, 0, "MX.Eu", 7 },
		{ "pointer back", B("\3com\0\7example\300\0"), 5, 0,
		    "example.com", 15 },
		{ "pointer chain", B("\3com\0\1b\300\0\1a\300\5"), 9, 0,
		    "a.b.com", 13 },
		{ "pointer to self", B("\300\0"), 0, -1, NULL, 0 },
		{ "pointer forward", B("\300\2\3com\0"), 0, -1, NULL, 0 },
		{ "pointer loop", B("\1a\300\4\1b\300\0"), 4, -1, NULL, 0 },
		{ "pointer into own labels", B("\1a\1b\300\2"), 0, -1, NULL,
		    0 },
		{ "pointer cut", B("\3com\0\300"), 5, -1, NULL, 0 },
		{ "pointer past end", B("\300\50"), 0, -1, NULL, 0 },
		{ "no end", B("\3com"), 0, -1, NULL, 0 },
		{ "label past end", B("\5com\0"), 0, -1, NULL, 0 },
		{ "empty", (const uint8_t *)"", 0, 0, -1, NULL, 0 },
		{ "label type 0x40", B("\100abc\0"), 0, -1, NULL, 0 },
		{ "label type 0x80", B("\200abc\0"), 0, -1, NULL, 0 },
		{ "longest", longest, sizeof(longest) - 1, 0, 0, NULL, 255 },
		{ "too long", toolong, sizeof(toolong) - 1, 0, -1, NULL, 0 },
		{ "label of 63", label63, sizeof(label63), 0, 0, NULL, 65 },
		{ "label of 64", label64, sizeof(label64), 0, -1, NULL, 0 },
	};
	struct dns_wire_name name;
	char text[DNS_NAME_TEXT_MAX];
	size_t next;

	/* 3 labels of 63 and one of 61: 3 * 64 + 62 + 1 = 255 bytes;
	 * four of 63: 257 */
	for (size_t i = 0; i < 4; i++) {
		size_t n = i < 3 ? 63 : 61;

		longest[i * 64] = (uint8_t)n;
		memset(longest + i * 64 + 1, 'a', n);
		toolong[i * 64] = 63;
		memset(toolong + i * 64 + 1, 'a', 63);
	}
	longest[254] = 0;
	toolong[256] = 0;
	label63[0] = 63;
	memset(label63 + 1, 'x', 63);
	label63[64] = 0;
	label64[0] = 64;
	memset(label64 + 1, 'x', 64);
	label64[65] = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct name_case *c = &cases[i];
		int rc = dns_wire_name_read(c->in, c->len, c->off, &name,
		    &next);

		if (rc != c->want)
			fail_msg("%s: got %d, want %d", c->what, rc, c->want);
		if (rc != 0)
			continue;
		assert_int_equal(next, c->next);
		assert_true(name.len <= DNS_WIRE_NAME_MAX);
		if (c->text != NULL) {
			assert_int_equal(dns_wire_name_text(&name, text), 0);
			assert_string_equal(text, c->text);
		}
	}
}

static void
test_name_text(void **state)
{
	const struct {
		const uint8_t	*in;
		size_t		 len;
		const char	*want;
	} cases[] = {
		{ B("\3mx1\7example\3net\0"), "mx1.example.net" },
		{ B("\6_dmarc\1x\0"), "_dmarc.x" },
		{ B("\3a-b\0"), "a-b" },
		{ B("\3a.b\0"), NULL },		/* a dot inside a label */
		{ B("\3a b\0"), NULL },
		{ B("\3a\\b\0"), NULL },
		{ B("\2\303\251\0"), NULL },	/* UTF-8 */
		{ B("\1\0\0"), NULL },		/* a NUL byte */
	};
	struct dns_wire_name name;
	char text[DNS_NAME_TEXT_MAX];
	size_t next;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(dns_wire_name_read(cases[i].in, cases[i].len,
		    0, &name, &next), 0);
		if (cases[i].want == NULL) {
			assert_int_equal(dns_wire_name_text(&name, text), -1);
			continue;
		}
		assert_int_equal(dns_wire_name_text(&name, text), 0);
		assert_string_equal(text, cases[i].want);
	}
}

static void
test_name_valid(void **state)
{
	char big[300];
	const struct {
		const char	*name;
		bool		 want;
	} cases[] = {
		{ "example.net", true },
		{ "example.net.", true },
		{ "_25._tcp.mx.example.net", true },
		{ "x", true },
		{ "", false },
		{ ".", false },
		{ "a..b", false },
		{ ".a", false },
		{ "a.b..", false },
		{ "a b", false },
		{ "a\\.b", false },
		{ "exa\"mple", false },
		{ "caf\xc3\xa9.fr", false },
		{ "[192.0.2.1]", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (dns_wire_name_valid(cases[i].name) != cases[i].want)
			fail_msg("%s: want %d", cases[i].name, cases[i].want);
	}
	/* 63-byte labels; 253 bytes is the most */
	memset(big, 'a', sizeof(big));
	for (size_t i = 63; i < sizeof(big); i += 64)
		big[i] = '.';
	big[253] = '\0';
	assert_true(big[252] != '.');
	assert_true(dns_wire_name_valid(big));
	big[253] = 'a';
	big[254] = '\0';
	assert_false(dns_wire_name_valid(big));
	memset(big, 'a', 64);
	big[64] = '\0';
	assert_false(dns_wire_name_valid(big));
	big[63] = '\0';
	assert_true(dns_wire_name_valid(big));
}

static void
test_name_from_text(void **state)
{
	struct dns_wire_name a, b;
	uint8_t want[] = "\3www\7Example\3com";

	assert_int_equal(dns_wire_name_from_text("www.Example.com.", &a), 0);
	assert_int_equal(a.len, sizeof(want));
	assert_memory_equal(a.b, want, sizeof(want));
	assert_int_equal(dns_wire_name_from_text("WWW.example.COM", &b), 0);
	assert_true(dns_wire_name_eq(&a, &b));
	assert_int_equal(dns_wire_name_from_text("www.example.co", &b), 0);
	assert_false(dns_wire_name_eq(&a, &b));
	assert_int_equal(dns_wire_name_from_text("a..b", &b), -1);
}

/*
 * Replies.
 */

static void
test_reply_plain(void **state)
{
	struct dns_wire_reply r;
	struct dns_wire_rr rr;
	struct dns_ip ip;
	struct pkt p;
	unsigned idx = 0;
	size_t off = 0;
	char text[INET6_ADDRSTRLEN];

	pkt_init(&p, 0, "host.example.net", DNS_TYPE_A);
	pkt_rr(&p, "HOST.example.net", DNS_TYPE_A, "\300\0\2\1", 4);
	pkt_rr(&p, "other.example.net", DNS_TYPE_A, "\300\0\2\2", 4);
	pkt_rr(&p, "host.example.net", DNS_TYPE_AAAA,
	    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\1", 16);
	pkt_rr(&p, "host.example.net", DNS_TYPE_A, "\300\0\2\3", 4);
	assert_int_equal(dns_wire_reply_parse(&r, p.b, p.len), 0);
	assert_int_equal(r.rcode, 0);
	assert_int_equal(r.qtype, DNS_TYPE_A);
	assert_int_equal(r.ancount, 4);
	assert_int_equal(dns_wire_reply_count(&r), 2);
	assert_int_equal(dns_wire_reply_next(&r, &idx, &off, &rr), 1);
	assert_int_equal(dns_wire_a(r.msg, rr.rdoff, rr.rdlen, &ip), 0);
	assert_string_equal(inet_ntop(AF_INET, &ip.u.v4, text, sizeof(text)),
	    "192.0.2.1");
	assert_int_equal(dns_wire_reply_next(&r, &idx, &off, &rr), 1);
	assert_int_equal(dns_wire_a(r.msg, rr.rdoff, rr.rdlen, &ip), 0);
	assert_string_equal(inet_ntop(AF_INET, &ip.u.v4, text, sizeof(text)),
	    "192.0.2.3");
	assert_int_equal(dns_wire_reply_next(&r, &idx, &off, &rr), 0);

	/* every shorter prefix is refused, none read out of bounds */
	for (size_t cut = 0; cut < p.len; cut++) {
		uint8_t *copy = malloc(cut + 1);

		memcpy(copy, p.b, cut);
		assert_int_equal(dns_wire_reply_parse(&r, copy, cut), -1);
		free(copy);
	}
}

static void
test_reply_cname(void **state)
{
	struct dns_wire_reply r;
	struct dns_wire_rr rr;
	struct pkt p;
	unsigned idx = 0;
	size_t off = 0;
	char text[DNS_NAME_TEXT_MAX];
	struct pkt rd;

	/* a.example -> b.example (compressed target) -> c.example */
	pkt_init(&p, 0, "a.example", DNS_TYPE_MX);
	rd.len = 0;
	pkt_bytes(&rd, "\1b\300\16", 4);	/* "b" + pointer to "example" */
	pkt_rr(&p, "a.example", DNS_TYPE_CNAME, rd.b, rd.len);
	pkt_rr(&p, "b.example", DNS_TYPE_CNAME, "\1c\300\16", 4);
	pkt_mx(&p, "a.example", 5, "wrong.example");
	pkt_mx(&p, "c.example", 10, "mx.example");
	assert_int_equal(dns_wire_reply_parse(&r, p.b, p.len), 0);
	assert_int_equal(dns_wire_name_text(&r.name, text), 0);
	assert_string_equal(text, "c.example");
	assert_int_equal(dns_wire_reply_count(&r), 1);
	assert_int_equal(dns_wire_reply_next(&r, &idx, &off, &rr), 1);
	assert_int_equal(rr.type, DNS_TYPE_MX);

	/* a loop is refused */
	pkt_init(&p, 0, "a.example", DNS_TYPE_A);
	pkt_rr(&p, "a.example", DNS_TYPE_CNAME, "\1b\300\16", 4);
	pkt_rr(&p, "b.example", DNS_TYPE_CNAME, "\1a\300\16", 4);
	assert_int_equal(dns_wire_reply_parse(&r, p.b, p.len), -1);

	/* a CNAME whose rdata has bytes after the name */
	pkt_init(&p, 0, "a.example", DNS_TYPE_A);
	pkt_rr(&p, "a.example", DNS_TYPE_CNAME, "\1b\300\16x", 5);
	assert_int_equal(dns_wire_reply_parse(&r, p.b, p.len), -1);
}

static void
test_reply_bad(void **state)
{
	struct dns_wire_reply r;
	struct pkt p;

	/* a query, not a reply */
	pkt_init(&p, 0, "example.net", DNS_TYPE_A);
	p.b[2] &= 0x7f;
	assert_int_equal(dns_wire_reply_parse(&r, p.b, p.len), -1);
	/* opcode not QUERY */
	pkt_init(&p, 0, "example.net", DNS_TYPE_A);
	p.b[2] |= 0x10;
	assert_int_equal(dns_wire_reply_parse(&r, p.b, p.len), -1);
	/* two questions */
	pkt_init(&p, 0, "example.net", DNS_TYPE_A);
	p.b[5] = 2;
	assert_int_equal(dns_wire_reply_parse(&r, p.b, p.len), -1);
	/* more answers announced than present */
	pkt_init(&p, 0, "example.net", DNS_TYPE_A);
	pkt_rr(&p, "example.net", DNS_TYPE_A, "\1\2\3\4", 4);
	p.b[7] = 2;
	assert_int_equal(dns_wire_reply_parse(&r, p.b, p.len), -1);
	/* rdlength past the end */
	pkt_init(&p, 0, "example.net", DNS_TYPE_A);
	pkt_rr(&p, "example.net", DNS_TYPE_A, "\1\2\3\4", 4);
	p.b[p.len - 5] = 5;
	assert_int_equal(dns_wire_reply_parse(&r, p.b, p.len), -1);
	/* NXDOMAIN with no answer is fine */
	pkt_init(&p, 3, "nx.example.net", DNS_TYPE_MX);
	assert_int_equal(dns_wire_reply_parse(&r, p.b, p.len), 0);
	assert_int_equal(r.rcode, 3);
	assert_int_equal(dns_wire_reply_count(&r), 0);
	/* trailing authority bytes are not read */
	pkt_init(&p, 0, "example.net", DNS_TYPE_A);
	pkt_bytes(&p, "junk", 4);
	assert_int_equal(dns_wire_reply_parse(&r, p.b, p.len), 0);
}

/*
 * rdata.
 */

struct rd_case {
	const char	*what;
	const uint8_t	*in;
	size_t		 len;
	int		 want;
	const char	*text;		/* MX exchange, TXT text */
	unsigned	 num;		/* MX preference, TXT length */
};

static void
test_rdata_mx(void **state)
{
	const struct rd_case cases[] = {
		{ "plain", B("\0\12\2mx\7example\0"), 0, "mx.example", 10 },
		{ "null MX", B("\0\0\0"), 0, "", 0 },
		{ "pref 65535", B("\377\377\1a\0"), 0, "a", 65535 },
		{ "short", B("\0\12"), -1, NULL, 0 },
		{ "empty", (const uint8_t *)"", 0, -1, NULL, 0 },
		{ "name past rdata", B("\0\12\2mx\7exam"), -1, NULL, 0 },
		{ "bytes after name", B("\0\12\2mx\0z"), -1, NULL, 0 },
		{ "pointer to itself", B("\0\12\300\2"), -1, NULL, 0 },
	};
	struct dns_wire_name exch;
	char text[DNS_NAME_TEXT_MAX];
	uint16_t pref;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rd_case *c = &cases[i];
		int rc = dns_wire_mx(c->in, c->len, 0, c->len, &pref, &exch);

		if (rc != c->want)
			fail_msg("%s: got %d, want %d", c->what, rc, c->want);
		if (rc != 0)
			continue;
		assert_int_equal(pref, c->num);
		assert_int_equal(dns_wire_name_text(&exch, text), 0);
		assert_string_equal(text, c->text);
	}
}

static void
test_rdata_mx_compressed(void **state)
{
	/* "example" at 0, then rdata at 9: pref 5, "mx" + pointer to 0 */
	static const uint8_t msg[] = "\7example\0\0\5\2mx\300\0";
	struct dns_wire_name exch;
	char text[DNS_NAME_TEXT_MAX];
	uint16_t pref;

	assert_int_equal(dns_wire_mx(msg, sizeof(msg) - 1, 9, 7, &pref,
	    &exch), 0);
	assert_int_equal(pref, 5);
	assert_int_equal(dns_wire_name_text(&exch, text), 0);
	assert_string_equal(text, "mx.example");
	/* the rdata ends before the pointer's second byte */
	assert_int_equal(dns_wire_mx(msg, sizeof(msg) - 1, 9, 6, &pref,
	    &exch), -1);
	/* rdata beyond the packet */
	assert_int_equal(dns_wire_mx(msg, sizeof(msg) - 1, 9, 8, &pref,
	    &exch), -1);
}

static void
test_rdata_addr(void **state)
{
	struct dns_ip ip;
	char text[INET6_ADDRSTRLEN];
	static const uint8_t v6[] = "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x25";

	assert_int_equal(dns_wire_a((const uint8_t *)"\177\0\0\1", 0, 4, &ip),
	    0);
	assert_int_equal(ip.family, AF_INET);
	assert_string_equal(dns_ip_ntop(&ip, text, sizeof(text)), "127.0.0.1");
	assert_int_equal(dns_wire_a((const uint8_t *)"\177\0\0\1", 0, 3, &ip),
	    -1);
	assert_int_equal(dns_wire_a((const uint8_t *)"\177\0\0\1\1", 0, 5,
	    &ip), -1);
	assert_int_equal(dns_wire_aaaa(v6, 0, 16, &ip), 0);
	assert_int_equal(ip.family, AF_INET6);
	assert_string_equal(dns_ip_ntop(&ip, text, sizeof(text)),
	    "2001:db8::25");
	assert_int_equal(dns_wire_aaaa(v6, 0, 15, &ip), -1);
	assert_int_equal(dns_wire_aaaa(v6, 0, 4, &ip), -1);
}

static void
test_rdata_txt(void **state)
{
	const struct rd_case cases[] = {
		{ "one", B("\6v=spf1"), 0, "v=spf1", 6 },
		{ "concatenated", B("\7v=spf1 \15include:x.org\5 -all"), 0,
		    "v=spf1 include:x.org -all", 25 },
		{ "empty string", B("\0"), 0, "", 0 },
		{ "empty strings", B("\0\1a\0"), 0, "a", 1 },
		{ "no string", (const uint8_t *)"", 0, -1, NULL, 0 },
		{ "string past end", B("\5abc"), -1, NULL, 0 },
		{ "second past end", B("\1a\3bc"), -1, NULL, 0 },
	};
	char out[256];
	size_t len;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rd_case *c = &cases[i];
		int rc = dns_wire_txt(c->in, 0, c->len, out, &len);

		if (rc != c->want)
			fail_msg("%s: got %d, want %d", c->what, rc, c->want);
		if (rc != 0)
			continue;
		assert_int_equal(len, c->num);
		assert_memory_equal(out, c->text, len);
	}
}

static void
test_rdata_tlsa(void **state)
{
	uint8_t rd[3 + 32];
	struct dns_tlsa t;

	rd[0] = 3;
	rd[1] = 1;
	rd[2] = 1;
	for (size_t i = 0; i < 32; i++)
		rd[3 + i] = (uint8_t)i;
	assert_int_equal(dns_wire_tlsa(rd, 0, sizeof(rd), &t), 0);
	assert_int_equal(t.usage, 3);
	assert_int_equal(t.selector, 1);
	assert_int_equal(t.mtype, 1);
	assert_int_equal(t.len, 32);
	assert_ptr_equal(t.data, rd + 3);
	assert_int_equal(dns_wire_tlsa(rd, 0, 3, &t), 0);
	assert_int_equal(t.len, 0);
	assert_int_equal(dns_wire_tlsa(rd, 0, 2, &t), -1);
	assert_int_equal(dns_wire_tlsa(rd, 0, 0, &t), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_read),
		cmocka_unit_test(test_name_text),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_name_from_text),
		cmocka_unit_test(test_reply_plain),
		cmocka_unit_test(test_reply_cname),
		cmocka_unit_test(test_reply_bad),
		cmocka_unit_test(test_rdata_mx),
		cmocka_unit_test(test_rdata_mx_compressed),
		cmocka_unit_test(test_rdata_addr),
		cmocka_unit_test(test_rdata_txt),
		cmocka_unit_test(test_rdata_tlsa),
	};

	return cmocka_run_group_tests_name("dns/dns_wire", tests, NULL, NULL);
}
