"""Many clients at once: every accepted message stored exactly once,
whole."""
import os
import re
import threading

from conftest import SANITIZED, T, new_msgid, split_trace

CLIENTS = 10 if SANITIZED else 50
PER_CLIENT = 4 if SANITIZED else 10
USERS = ("alice", "bob", "carol")


def test_parallel_clients(make_server):
    srv = make_server(max_connections_per_ip=200)
    sent = {}                       # msgid -> (user, content)
    errors = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client(n):
        try:
            start.wait(timeout=T(30))
            with srv.connect(timeout=T(30)) as c:
                c.ehlo("client%d.example.org" % n)
                for i in range(PER_CLIENT):
                    user = USERS[(n + i) % len(USERS)]
                    msgid = new_msgid()
                    content = (b"From: <c%d@example.org>\r\n"
                               b"Message-Id: %s\r\n"
                               b"Subject: load %d/%d\r\n\r\n"
                               % (n, msgid.encode(), n, i) +
                               (b"client %d message %d\r\n" % (n, i)) *
                               (1 + (n * 7 + i * 13) % 200))
                    r = c.send_mail("c%d@example.org" % n,
                                    ["%s@example.test" % user], content)
                    if r.code != 250:
                        raise AssertionError("client %d msg %d: %r"
                                             % (n, i, r))
                    with lock:
                        sent[msgid] = (user, content)
                c.expect("QUIT", 221)
        except Exception as e:          # reported below
            with lock:
                errors.append("client %d: %r" % (n, e))

    threads = [threading.Thread(target=client, args=(n,))
               for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=T(120))
    assert not any(t.is_alive() for t in threads), "clients hung"
    assert errors == [], errors[:5]
    assert len(sent) == CLIENTS * PER_CLIENT

    seen = {}
    for user in USERS:
        for path in srv.files(user):
            with open(path, "rb") as f:
                data = f.read()
            m = re.search(rb"Message-Id: (<[^>]+>)", data)
            assert m, path
            msgid = m.group(1).decode()
            assert msgid not in seen, "stored twice: %s" % msgid
            seen[msgid] = (user, split_trace(data)[1])
            size = int(re.search(r",S=(\d+)", path).group(1))
            assert size == len(data), path
    missing = set(sent) - set(seen)
    assert not missing, "%d messages missing" % len(missing)
    assert set(seen) == set(sent)
    for msgid, (user, content) in sent.items():
        assert seen[msgid] == (user, content), msgid
    for user in USERS:
        assert srv.files(user, sub="tmp") == []
    # every 250 was logged as delivered
    assert srv.log().count(" smtp delivered ") == len(sent)
