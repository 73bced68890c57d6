"""The worker's cache of domains that are not ours: relaying asks the
auth process once per domain and second, a domain added with the CLI is
local a second later, and an answer that says nothing about a domain
(an over-long address) is never remembered for it."""
import os
import re
import smtplib
import time

from conftest import DOMAIN, T, free_port, new_msgid, queue_envs

PASSWORD = "secret password"


def message(msgid, to="someone@elsewhere.example"):
    return ("From: <app@example.test>\r\nTo: <%s>\r\nSubject: cache\r\n"
            "Message-Id: %s\r\n\r\nhello\r\n" % (to, msgid)).encode()


def smtp(srv, host="127.0.0.1"):
    c = smtplib.SMTP(timeout=T(10), source_address=(host, 0))
    c.connect("127.0.0.1", srv.port)
    c.ehlo()
    return c


def queued(srv):
    """The envelopes in the outbound queue, as bytes."""
    qdir = os.path.join(srv.data_dir, "queue")
    out = []
    for n in queue_envs(qdir):
        with open(os.path.join(qdir, n), "rb") as f:
            out.append(f.read())
    return out


def via_queue(srv, addr):
    """Did mail for addr go through the outbound queue (relayed)?  The
    queue delivers to a local domain itself, so look at its log."""
    return re.search(r"queue \w+ to=<%s>" % re.escape(addr), srv.log(),
                     re.I) is not None or any(
        addr.encode() in e for e in queued(srv))


def auth_lookups(srv, domain):
    return len(re.findall(r"auth resolve addr=<[^>]*@%s>" % re.escape(domain),
                          srv.log(), re.I))


def test_relay_many_rcpts_in_one_second(make_server):
    """Many RCPTs to one remote domain in a row, over several sessions:
    all relayed, local recipients still local, and the auth process
    asked about the domain at most once a second."""
    srv = make_server(workers=1, log_level="debug",
                      relay_networks="127.0.0.0/8",
                      dns_resolver="127.0.0.1@%d" % free_port())
    remote, ids = [], []
    start = time.time()
    for k in range(4):
        c = smtp(srv)
        rcpts = ["r%d.%d@%s" % (k, i, "Elsewhere.Example" if i % 2 else
                                "elsewhere.example") for i in range(20)]
        msgid = new_msgid()
        refused = c.sendmail("app@example.test",
                             rcpts[:10] + ["bob@" + DOMAIN] + rcpts[10:],
                             message(msgid))
        assert refused == {}, refused
        c.quit()
        remote += rcpts
        ids.append(msgid)
    elapsed = time.time() - start
    for msgid in ids:
        assert srv.wait_message("bob", msgid), msgid
    deadline = time.time() + T(5)
    while time.time() < deadline:
        envs = b"".join(queued(srv))
        if all(r.encode() in envs for r in remote):
            break
        time.sleep(0.1)
    missing = [r for r in remote if r.encode() not in envs]
    assert not missing, missing
    n = auth_lookups(srv, "elsewhere.example")
    assert 1 <= n <= int(elapsed) + 2 and n < len(remote), (n, elapsed)


def test_new_domain_becomes_local(make_server):
    """A domain answered as not ours, then added with the CLI: a second
    later its users are local and its unknown users get 550 5.1.1."""
    srv = make_server(workers=1, relay_networks="127.0.0.2/32",
                      dns_resolver="127.0.0.1@%d" % free_port())
    c = smtp(srv)                       # not a relay client
    c.mail("app@example.test")
    for _ in range(3):                  # asked, then from the cache
        code, text = c.rcpt("dave@New.Test")
        assert code == 554 and text.startswith(b"5.7.1"), (code, text)
    r = smtp(srv, host="127.0.0.2")     # a relay client
    r.mail("app@example.test")
    assert r.rcpt("dave@new.test")[0] == 250
    r.rset()
    # the domain appears while "not ours" is fresh in the cache
    assert c.rcpt("dave@new.test")[0] == 554
    srv.cli("domain", "add", "new.test")
    assert c.rcpt("dave@new.test")[0] in (554, 550)
    srv.cli("user", "add", "dave@new.test", input=(PASSWORD + "\n").encode())
    time.sleep(1.1)

    code, text = c.rcpt("nobody@new.test")
    assert code == 550 and text.startswith(b"5.1.1"), (code, text)
    assert c.rcpt("Dave@NEW.test")[0] == 250
    c.rset()
    for client in (c, r):
        msgid = new_msgid()
        refused = client.sendmail("app@example.test", ["dave@new.test"],
                                  message(msgid, to="dave@new.test"))
        assert refused == {}, refused
        assert srv.wait_message("dave", msgid, domain="new.test"), msgid
    c.quit()
    r.quit()
    # delivered by the worker, never through the outbound queue
    assert not via_queue(srv, "dave@new.test")


def test_overlong_address_does_not_poison(make_server):
    """An over-long address at a local domain is refused, and the domain
    stays local for the next recipient, at once."""
    srv = make_server(workers=1, relay_networks="127.0.0.0/8",
                      dns_resolver="127.0.0.1@%d" % free_port())
    c = smtp(srv)
    for k in range(3):
        c.mail("app@example.test")
        code, _ = c.rcpt("a" * 300 + "@" + DOMAIN)
        assert code >= 500, code
        code, text = c.rcpt("b" * 64 + "@" + DOMAIN)
        assert code == 550 and text.startswith(b"5.1.1"), (code, text)
        code, _ = c.rcpt("x" * 64 + "@" + "y" * 63 + "." + DOMAIN)
        assert code == 250, code        # a subdomain is not ours: relayed
        c.rset()
        msgid = new_msgid()
        refused = c.sendmail("app@example.test", ["alice@" + DOMAIN],
                             message(msgid, to="alice@" + DOMAIN))
        assert refused == {}, refused
        assert srv.wait_message("alice", msgid), msgid
    c.quit()
    assert not via_queue(srv, "alice@" + DOMAIN)
