"""Durability: '250' after DATA means the message is on disk.  Load the
server, SIGKILL every one of its processes in the middle, restart it,
and check that every acknowledged message is there, whole, once, and
that no partial message is visible in new/."""
import multiprocessing
import os
import re
import socket
import time

from conftest import SANITIZED, T, RawSMTP, split_trace

PROCS = 4
PER_PROC = 200 if SANITIZED else 1000


def content_for(c, i):
    msgid = "<dur-%d-%d@test.example.org>" % (c, i)
    filler = (b"%d.%d " % (c, i)) * (20 + (c * 31 + i * 17) % 300)
    body = b"".join(filler[k:k + 76] + b"\r\n"
                    for k in range(0, len(filler), 76))
    return msgid, (b"From: <load%d@example.org>\r\n"
                   b"Message-Id: %s\r\n"
                   b"Subject: durability %d/%d\r\n\r\n" % (c, msgid.encode(),
                                                           c, i) +
                   body + b".leading dot line\r\nend %d %d\r\n" % (c, i))


def rcpts_for(c, i):
    if i % 5 == 0:
        return ["alice@example.test", "bob@example.test"]
    return ["alice@example.test" if (c + i) % 2 else "bob@example.test"]


def client(port, c, counter, out):
    acked, tried = [], []
    try:
        conn = RawSMTP(port, timeout=T(20))
        conn.ehlo("load%d.example.org" % c)
        for i in range(PER_PROC):
            msgid, content = content_for(c, i)
            tried.append(i)
            r = conn.send_mail("load%d@example.org" % c, rcpts_for(c, i),
                               content)
            if r.code != 250:
                break
            acked.append(i)
            with counter.get_lock():
                counter.value += 1
    except Exception:
        pass
    out.put((c, acked, tried))


def test_sigkill_under_load_loses_nothing(make_server):
    srv = make_server(smtp_max_messages_per_connection=100000,
                      max_connections_per_ip=100, workers=2)
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("i", 0)
    out = ctx.Queue()
    procs = [ctx.Process(target=client, args=(srv.port, c, counter, out))
             for c in range(PROCS)]
    for p in procs:
        p.start()
    # kill once a good part is acknowledged (or after a while)
    target = PROCS * PER_PROC * 2 // 5
    deadline = time.time() + T(30)
    while counter.value < target and time.time() < deadline:
        time.sleep(0.01)
    acked_at_kill = counter.value
    srv.kill_group()
    results = {}
    for _ in procs:
        c, acked, tried = out.get(timeout=T(30))
        results[c] = (acked, tried)
    for p in procs:
        p.join(timeout=T(10))
    assert acked_at_kill > 0, "no message acknowledged before the kill"
    total_acked = sum(len(a) for a, _ in results.values())
    assert total_acked >= acked_at_kill
    assert total_acked < PROCS * PER_PROC, \
        "the load finished before the kill: make it bigger"

    # restart on the same data: recovery must not lose anything either
    srv.start()

    expected = {}           # msgid -> content, for every attempted message
    acked_ids = {}          # msgid -> recipients, for every acknowledged one
    for c, (acked, tried) in results.items():
        for i in tried:
            msgid, content = content_for(c, i)
            expected[msgid] = content
        for i in acked:
            acked_ids[content_for(c, i)[0]] = rcpts_for(c, i)

    stored = {"alice": {}, "bob": {}}
    for user in stored:
        for path in srv.files(user):
            with open(path, "rb") as f:
                data = f.read()
            name = os.path.basename(path)
            m = re.search(r",S=(\d+)", name)
            assert m and int(m.group(1)) == len(data), \
                "size in name differs from file: %s (%d bytes)" % (path,
                                                                   len(data))
            m = re.search(rb"Message-Id: (<dur-[^>]+>)", data)
            assert m, "a file in new/ without its Message-Id: %s" % path
            msgid = m.group(1).decode()
            assert msgid in expected, "unknown message %s" % msgid
            assert split_trace(data)[1] == expected[msgid], \
                "partial or altered message in new/: %s" % path
            assert msgid not in stored[user], "stored twice: %s" % msgid
            stored[user][msgid] = path

    lost = []
    for msgid, rcpts in acked_ids.items():
        for r in rcpts:
            user = r.split("@")[0]
            if msgid not in stored[user]:
                lost.append((msgid, user))
    assert not lost, "%d acknowledged deliveries lost, e.g. %r" % (
        len(lost), lost[:5])
    # multi-recipient messages: one file, hard-linked
    for msgid, rcpts in acked_ids.items():
        if len(rcpts) == 2:
            a = os.stat(stored["alice"][msgid])
            b = os.stat(stored["bob"][msgid])
            assert a.st_ino == b.st_ino

    # and the restarted server works
    with srv.connect() as c:
        c.ehlo()
        msgid, content = content_for(99, 0)
        assert c.send_mail("x@example.org", ["alice@example.test"],
                           content).code == 250
        c.quit()
    assert len(srv.find("alice", msgid)) == 1
    print("acked %d (at kill %d) of %d; stored alice %d bob %d" % (
        total_acked, acked_at_kill, PROCS * PER_PROC, len(stored["alice"]),
        len(stored["bob"])))
