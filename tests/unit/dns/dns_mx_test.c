/* dns_mx_test.c: tests for src/dns/dns_mx.c without a resolver: MX
 * ordering (preference, then random among equals), null MX, the caps,
 * and how host addresses become the result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns_int.h"
#include "dns_test_pkt.h"

static uint32_t test_counter;

/* Decreasing keys: among equals, later records come first. */
static uint32_t
test_rnd_down(void)
{
	return 1000000 - test_counter++;
}

static uint32_t
test_rnd(void)
{
	return arc4random();
}

static enum dns_status
hosts_of(const struct pkt *p, uint32_t (*rnd)(void), struct dns_mx_host *h,
    size_t *n)
{
	struct dns_wire_reply r;

	assert_int_equal(dns_wire_reply_parse(&r, p->b, p->len), 0);
	return dns_mx_hosts(&r, rnd, h, DNS_MX_HOSTS_MAX, n);
}

static void
test_sort(void **state)
{
	struct dns_mx_rr rrs[] = {
		{ 20, 5, 1, 0 }, { 10, 9, 2, 0 }, { 10, 3, 3, 0 },
		{ 0, 7, 4, 0 }, { 20, 1, 5, 0 },
	};
	const size_t want[] = { 4, 3, 2, 5, 1 };

	dns_mx_sort(rrs, 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(rrs[i].rdoff, want[i]);
}

static void
test_hosts_order(void **state)
{
	struct dns_mx_host h[DNS_MX_HOSTS_MAX];
	struct pkt p;
	size_t n;

	pkt_init(&p, 0, "example.net", DNS_TYPE_MX);
	pkt_mx(&p, "example.net", 20, "b.example.net");
	pkt_mx(&p, "example.net", 10, "a1.example.net");
	pkt_mx(&p, "example.net", 30, "d.example.net");
	pkt_mx(&p, "example.net", 10, "a2.example.net");
	test_counter = 0;
	assert_int_equal(hosts_of(&p, test_rnd_down, h, &n), DNS_OK);
	assert_int_equal(n, 4);
	assert_string_equal(h[0].name, "a2.example.net");
	assert_string_equal(h[1].name, "a1.example.net");
	assert_string_equal(h[2].name, "b.example.net");
	assert_string_equal(h[3].name, "d.example.net");
	assert_int_equal(h[0].pref, 10);
	assert_int_equal(h[2].pref, 20);
	assert_int_equal(h[3].pref, 30);
}

/* Three hosts of equal preference, one better and one worse: over many
 * draws, every order of the three shows up; the others never move. */
static void
test_hosts_random(void **state)
{
	struct dns_mx_host h[DNS_MX_HOSTS_MAX];
	unsigned seen[27] = { 0 }, kinds = 0;
	struct pkt p;
	size_t n;

	pkt_init(&p, 0, "example.net", DNS_TYPE_MX);
	pkt_mx(&p, "example.net", 10, "x0.example.net");
	pkt_mx(&p, "example.net", 10, "x1.example.net");
	pkt_mx(&p, "example.net", 5, "first.example.net");
	pkt_mx(&p, "example.net", 10, "x2.example.net");
	pkt_mx(&p, "example.net", 50, "last.example.net");
	for (int run = 0; run < 300; run++) {
		unsigned code = 0;

		assert_int_equal(hosts_of(&p, test_rnd, h, &n), DNS_OK);
		assert_int_equal(n, 5);
		assert_string_equal(h[0].name, "first.example.net");
		assert_string_equal(h[4].name, "last.example.net");
		for (size_t i = 1; i <= 3; i++) {
			assert_int_equal(h[i].pref, 10);
			code = code * 3 + (unsigned)(h[i].name[1] - '0');
		}
		seen[code]++;
	}
	for (size_t i = 0; i < 27; i++)
		kinds += seen[i] > 0;
	assert_int_equal(kinds, 6);
}

static void
test_null_mx(void **state)
{
	struct dns_mx_host h[DNS_MX_HOSTS_MAX];
	struct pkt p;
	size_t n;

	pkt_init(&p, 0, "example.net", DNS_TYPE_MX);
	pkt_mx(&p, "example.net", 0, ".");
	assert_int_equal(hosts_of(&p, test_rnd, h, &n), DNS_NULL_MX);
	assert_int_equal(n, 0);

	/* a lone "." of another preference cannot be delivered to either */
	pkt_init(&p, 0, "example.net", DNS_TYPE_MX);
	pkt_mx(&p, "example.net", 10, ".");
	assert_int_equal(hosts_of(&p, test_rnd, h, &n), DNS_NULL_MX);

	/* "." beside a real host: the host is used */
	pkt_init(&p, 0, "example.net", DNS_TYPE_MX);
	pkt_mx(&p, "example.net", 0, ".");
	pkt_mx(&p, "example.net", 10, "mx.example.net");
	assert_int_equal(hosts_of(&p, test_rnd, h, &n), DNS_OK);
	assert_int_equal(n, 1);
	assert_string_equal(h[0].name, "mx.example.net");
}

static void
test_hosts_cap_dedup(void **state)
{
	struct dns_mx_host h[DNS_MX_HOSTS_MAX];
	char name[64];
	struct pkt p;
	size_t n;

	pkt_init(&p, 0, "example.net", DNS_TYPE_MX);
	for (int i = 14; i >= 0; i--) {
		(void)snprintf(name, sizeof(name), "mx%02d.example.net", i);
		pkt_mx(&p, "example.net", (unsigned)i, name);
	}
	pkt_mx(&p, "example.net", 20, "MX00.Example.NET");	/* again */
	assert_int_equal(hosts_of(&p, test_rnd, h, &n), DNS_OK);
	assert_int_equal(n, DNS_MX_HOSTS_MAX);
	for (size_t i = 0; i < n; i++) {
		(void)snprintf(name, sizeof(name), "mx%02zu.example.net", i);
		assert_string_equal(h[i].name, name);
		assert_int_equal(h[i].pref, i);
	}

	/* the same host twice: once, at its best preference */
	pkt_init(&p, 0, "example.net", DNS_TYPE_MX);
	pkt_mx(&p, "example.net", 30, "mx.example.net");
	pkt_mx(&p, "example.net", 20, "other.example.net");
	pkt_mx(&p, "example.net", 10, "MX.example.net");
	assert_int_equal(hosts_of(&p, test_rnd, h, &n), DNS_OK);
	assert_int_equal(n, 2);
	assert_string_equal(h[0].name, "MX.example.net");
	assert_string_equal(h[1].name, "other.example.net");
}

static void
test_hosts_bad_names(void **state)
{
	struct dns_mx_host h[DNS_MX_HOSTS_MAX];
	struct pkt p;
	size_t n;

	pkt_init(&p, 0, "example.net", DNS_TYPE_MX);
	pkt_name(&p, "example.net");
	pkt_rr_tail(&p, DNS_TYPE_MX, "\0\1\5a b.c\0", 9);	/* a space */
	pkt_name(&p, "example.net");
	pkt_rr_tail(&p, DNS_TYPE_MX, "\0\1\2m", 4);		/* cut */
	pkt_mx(&p, "example.net", 2, "good.example.net");
	assert_int_equal(hosts_of(&p, test_rnd, h, &n), DNS_OK);
	assert_int_equal(n, 1);
	assert_string_equal(h[0].name, "good.example.net");

	pkt_init(&p, 0, "example.net", DNS_TYPE_MX);
	pkt_name(&p, "example.net");
	pkt_rr_tail(&p, DNS_TYPE_MX, "\0\1\5a\\b.c\0", 9);
	assert_int_equal(hosts_of(&p, test_rnd, h, &n), DNS_PERM);
	assert_int_equal(n, 0);
}

static void
test_hosts_compressed(void **state)
{
	struct dns_mx_host h[DNS_MX_HOSTS_MAX];
	struct pkt p;
	size_t n;

	/* the question name is at offset 12: "mx" + pointer to it */
	pkt_init(&p, 0, "example.net", DNS_TYPE_MX);
	pkt_bytes(&p, "\300\14", 2);
	pkt_rr_tail(&p, DNS_TYPE_MX, "\0\12\2mx\300\14", 7);
	assert_int_equal(hosts_of(&p, test_rnd, h, &n), DNS_OK);
	assert_int_equal(n, 1);
	assert_string_equal(h[0].name, "mx.example.net");
	assert_int_equal(h[0].pref, 10);
}

/*
 * Addresses.
 */

static void
answer_from(struct dns_answer *a, const struct pkt *p)
{
	memset(a, 0, sizeof(*a));
	assert_int_equal(dns_wire_reply_parse(&a->reply, p->b, p->len), 0);
	a->status = a->reply.rcode == 3 ? DNS_NXDOMAIN :
	    dns_wire_reply_count(&a->reply) > 0 ? DNS_OK : DNS_NODATA;
}

static struct dns_ip
ip_of(const char *text)
{
	struct dns_ip ip;

	memset(&ip, 0, sizeof(ip));
	ip.family = strchr(text, ':') != NULL ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(ip.family, text, &ip.u), 1);
	return ip;
}

static void
assert_ip(const struct dns_ip *ip, const char *want)
{
	char text[INET6_ADDRSTRLEN];

	assert_string_equal(dns_ip_ntop(ip, text, sizeof(text)), want);
}

static void
test_pending_add(void **state)
{
	struct dns_mx_pending pend;
	struct dns_answer a;
	struct dns_ip out[2 * DNS_ADDRS_MAX];
	struct pkt p;
	uint8_t v4[4] = { 192, 0, 2, 0 };
	enum dns_status st;
	const char *why;

	memset(&pend, 0, sizeof(pend));
	pkt_init(&p, 0, "h.example.net", DNS_TYPE_A);
	for (int i = 0; i < 25; i++) {
		v4[3] = (uint8_t)i;
		pkt_rr(&p, "h.example.net", DNS_TYPE_A, v4, 4);
	}
	pkt_rr(&p, "h.example.net", DNS_TYPE_A, v4, 3);		/* skipped */
	answer_from(&a, &p);
	dns_mx_pending_add(&pend, &a);
	assert_int_equal(pend.n4, DNS_ADDRS_MAX);
	assert_ip(&pend.v4[19], "192.0.2.19");

	pkt_init(&p, 0, "h.example.net", DNS_TYPE_AAAA);
	pkt_rr(&p, "h.example.net", DNS_TYPE_AAAA,
	    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\1", 16);
	answer_from(&a, &p);
	a.secure = true;
	dns_mx_pending_add(&pend, &a);
	assert_int_equal(pend.n6, 1);
	assert_int_equal(pend.answers, 2);
	assert_int_equal(pend.secure, 1);

	assert_int_equal(dns_mx_pending_addrs(&pend, DNS_FAM_V6_V4, out, 40),
	    21);
	assert_ip(&out[0], "2001:db8::1");
	assert_ip(&out[1], "192.0.2.0");
	assert_int_equal(dns_mx_pending_addrs(&pend, DNS_FAM_V4_V6, out, 40),
	    21);
	assert_ip(&out[0], "192.0.2.0");
	assert_ip(&out[20], "2001:db8::1");
	assert_int_equal(dns_mx_pending_addrs(&pend, DNS_FAM_V4, out, 40), 20);
	assert_int_equal(dns_mx_pending_addrs(&pend, DNS_FAM_V6, out, 40), 1);
	assert_int_equal(dns_mx_pending_addrs(&pend, DNS_FAM_V6_V4, out, 3),
	    3);
	dns_mx_pending_status(&pend, 21, &st, &why);
	assert_int_equal(st, DNS_OK);

	/* no address: temp wins over NXDOMAIN, NXDOMAIN over NODATA */
	memset(&pend, 0, sizeof(pend));
	pkt_init(&p, 0, "h.example.net", DNS_TYPE_A);
	answer_from(&a, &p);
	dns_mx_pending_add(&pend, &a);
	dns_mx_pending_status(&pend, 0, &st, &why);
	assert_int_equal(st, DNS_NODATA);
	pkt_init(&p, 3, "h.example.net", DNS_TYPE_AAAA);
	answer_from(&a, &p);
	dns_mx_pending_add(&pend, &a);
	dns_mx_pending_status(&pend, 0, &st, &why);
	assert_int_equal(st, DNS_NXDOMAIN);
	memset(&a, 0, sizeof(a));
	a.status = DNS_TEMP;
	a.why = "DNS timeout";
	dns_mx_pending_add(&pend, &a);
	dns_mx_pending_status(&pend, 0, &st, &why);
	assert_int_equal(st, DNS_TEMP);
	assert_string_equal(why, "DNS timeout");
}

static void
test_assemble(void **state)
{
	struct dns_mx_pending pend[DNS_MX_HOSTS_MAX];
	struct dns_mx_result res;

	memset(&res, 0, sizeof(res));
	memset(pend, 0, sizeof(pend));
	res.nhosts = 3;
	/* host 0: 15 IPv4 and 2 IPv6; host 1: temp; host 2: 10 IPv4 */
	for (int i = 0; i < 15; i++) {
		char text[32];

		(void)snprintf(text, sizeof(text), "192.0.2.%d", i);
		pend[0].v4[pend[0].n4++] = ip_of(text);
		(void)snprintf(text, sizeof(text), "198.51.100.%d", i);
		if (i < 10)
			pend[2].v4[pend[2].n4++] = ip_of(text);
	}
	pend[0].v6[pend[0].n6++] = ip_of("2001:db8::1");
	pend[0].v6[pend[0].n6++] = ip_of("2001:db8::2");
	pend[0].answers = pend[0].secure = 2;
	pend[1].answers = 2;
	pend[1].temp = true;
	pend[2].answers = 2;
	pend[2].secure = 1;
	dns_mx_assemble(&res, pend, DNS_FAM_V6_V4);
	assert_int_equal(res.status, DNS_OK);
	assert_null(res.why);
	assert_true(res.partial);
	assert_int_equal(res.naddrs, DNS_MX_ADDRS_MAX);
	assert_int_equal(res.hosts[0].first, 0);
	assert_int_equal(res.hosts[0].naddr, 17);
	assert_ip(&res.addrs[0], "2001:db8::1");
	assert_ip(&res.addrs[2], "192.0.2.0");
	assert_true(res.hosts[0].dnssec_secure);
	assert_int_equal(res.hosts[1].naddr, 0);
	assert_true(res.hosts[1].temp);
	assert_int_equal(res.hosts[2].first, 17);
	assert_int_equal(res.hosts[2].naddr, 3);
	assert_false(res.hosts[2].dnssec_secure);
	assert_ip(&res.addrs[19], "198.51.100.2");

	/* nothing anywhere: temp if a lookup failed for now, else perm */
	memset(&res, 0, sizeof(res));
	memset(pend, 0, sizeof(pend));
	res.nhosts = 2;
	pend[0].answers = pend[1].answers = 2;
	pend[1].temp = true;
	dns_mx_assemble(&res, pend, DNS_FAM_V6_V4);
	assert_int_equal(res.status, DNS_TEMP);
	pend[1].temp = false;
	dns_mx_assemble(&res, pend, DNS_FAM_V6_V4);
	assert_int_equal(res.status, DNS_PERM);
	assert_string_equal(res.why, "no address record for any MX host");
	res.implicit = true;
	dns_mx_assemble(&res, pend, DNS_FAM_V6_V4);
	assert_string_equal(res.why, "no MX and no address record");
	/* a host never answered (deadline): temp */
	pend[1].answers = 0;
	dns_mx_assemble(&res, pend, DNS_FAM_V6_V4);
	assert_int_equal(res.status, DNS_TEMP);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sort),
		cmocka_unit_test(test_hosts_order),
		cmocka_unit_test(test_hosts_random),
		cmocka_unit_test(test_null_mx),
		cmocka_unit_test(test_hosts_cap_dedup),
		cmocka_unit_test(test_hosts_bad_names),
		cmocka_unit_test(test_hosts_compressed),
		cmocka_unit_test(test_pending_add),
		cmocka_unit_test(test_assemble),
	};

	return cmocka_run_group_tests_name("dns/dns_mx", tests, NULL, NULL);
}
