"""Connection-level limits: timeouts, connections per address and in
all."""
import re
import socket
import time

from conftest import Closed, RawSMTP, T, simple_message


def test_idle_timeout(make_server):
    srv = make_server(smtp_timeout="2s")
    with srv.connect() as c:
        c.ehlo()
        t0 = time.time()
        c.settimeout(T(10))
        r = c.reply()
        waited = time.time() - t0
        assert r.code == 421 and r.lines[0].startswith("4.4.2"), r
        assert 1.5 <= waited <= T(6), waited
        assert c.is_closed()
    srv.wait_log(r"smtp timeout addr=127\.0\.0\.1 state=ready")


def test_timeout_right_after_connect(make_server):
    srv = make_server(smtp_timeout="2s")
    with srv.connect() as c:
        c.settimeout(T(10))
        r = c.reply()
        assert r.code == 421 and r.lines[0].startswith("4.4.2"), r
        assert c.is_closed()


def test_timeout_in_data(make_server):
    srv = make_server(smtp_timeout="2s")
    msgid, msg = simple_message()
    with srv.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        c.send(msg)            # no end marker: the client stalls
        c.settimeout(T(10))
        r = c.reply()
        assert r.code == 421 and r.lines[0].startswith("4.4.2"), r
        assert c.is_closed()
    assert srv.find("alice", msgid) == []
    assert srv.files("alice", sub="tmp") == []


def test_activity_keeps_session_alive(make_server):
    srv = make_server(smtp_timeout="2s")
    with srv.connect() as c:
        c.ehlo()
        for _ in range(4):
            time.sleep(1)
            c.expect("NOOP", 250)
        c.expect("QUIT", 221)


def test_slow_data_is_not_a_timeout(make_server):
    """Bytes trickling in faster than the timeout keep DATA alive."""
    srv = make_server(smtp_timeout="2s")
    msgid, msg = simple_message(body=b"line\r\n" * 5)
    with srv.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        pieces = [msg[i:i + 40] for i in range(0, len(msg), 40)]
        t0 = time.time()
        for p in pieces:
            c.send(p)
            time.sleep(3.5 / len(pieces))
        assert time.time() - t0 > 2.5
        c.send(b".\r\n")
        assert c.reply().code == 250
        c.quit()
    assert len(srv.find("alice", msgid)) == 1


def test_data_timeout_total(make_server):
    """smtp_data_timeout bounds a whole DATA transfer, even a live one."""
    srv = make_server(smtp_timeout="10s", smtp_data_timeout="2s")
    with srv.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: slow\r\n\r\n")
        got = None
        t0 = time.time()
        try:
            while time.time() - t0 < T(8):
                c.send(b"still here\r\n")
                time.sleep(0.25)
                if c.is_closed(0.01) or c.buf:
                    break
            if c.buf:
                got = c.reply()
        except (OSError, Closed):
            pass
        assert got is not None and got.code == 421, \
            "DATA lasted %.1fs without a 421 (got %r)" % (time.time() - t0, got)
        assert time.time() - t0 < T(6)
    assert srv.messages("alice") == []


def test_connections_per_ip(make_server):
    srv = make_server(max_connections_per_ip=3)
    conns = []
    try:
        for _ in range(3):
            c = srv.connect()
            assert c.greeting.code == 220
            conns.append(c)
        extra = srv.connect()
        assert extra.greeting.code == 421, extra.greeting
        assert extra.greeting.lines[0].startswith("4.7.0")
        assert extra.is_closed()
        extra.close()
        # the three still work
        for c in conns:
            c.ehlo()
        # closing one makes room
        conns.pop().quit()
        deadline = time.time() + T(5)
        while True:
            c = srv.connect()
            if c.greeting.code == 220:
                conns.append(c)
                break
            c.close()
            assert time.time() < deadline, "no room after a close"
            time.sleep(0.1)
        c.ehlo()
        msgid, msg = simple_message()
        assert c.send_mail("bob@example.org", ["alice@example.test"],
                           msg).code == 250
    finally:
        for c in conns:
            c.close()
    assert re.search(r"smtp refused addr=127\.0\.0\.1 reason=", srv.log())


def test_connections_per_ip_across_workers(make_server):
    """The count is shared by every worker: many connections, never more
    than the limit accepted at once."""
    srv = make_server(max_connections_per_ip=4, workers=2)
    conns, ok, refused = [], 0, 0
    try:
        for _ in range(12):
            c = srv.connect()
            if c.greeting.code == 220:
                ok += 1
            else:
                assert c.greeting.code == 421
                refused += 1
            conns.append(c)
    finally:
        for c in conns:
            c.close()
    assert ok == 4 and refused == 8, (ok, refused)


def test_max_connections(make_server):
    srv = make_server(max_connections=2)
    a, b = srv.connect(), srv.connect()
    try:
        assert a.greeting.code == 220 and b.greeting.code == 220
        c = srv.connect()
        assert c.greeting.code == 421, c.greeting
        c.close()
    finally:
        a.close()
        b.close()


def test_client_vanishes_mid_data(server):
    """A peer that disconnects in the middle of DATA leaves nothing."""
    with server.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: cut\r\n\r\n" + b"partial\r\n" * 1000)
    deadline = time.time() + T(5)
    while time.time() < deadline and "mails=0 reason=" not in server.log():
        time.sleep(0.05)
    time.sleep(0.2)
    assert server.messages("alice") == []
    assert server.files("alice", sub="tmp") == []
    # the server is fine
    with server.connect() as c:
        c.ehlo()
        c.quit()


def test_many_sessions_reset_connection(server):
    """Resets (RST) in every state do not hurt the server."""
    for stage in range(5):
        c = server.connect()
        if stage >= 1:
            c.ehlo()
        if stage >= 2:
            c.cmd("MAIL FROM:<bob@example.org>")
        if stage >= 3:
            c.cmd("RCPT TO:<alice@example.test>")
        if stage >= 4:
            c.cmd("DATA")
            c.send(b"Subject: x\r\n")
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()
    time.sleep(0.3)
    with server.connect() as c:
        c.ehlo()
        msgid, msg = simple_message()
        assert c.send_mail("bob@example.org", ["alice@example.test"],
                           msg).code == 250
        c.quit()
    assert len(server.messages("alice")) == 1
