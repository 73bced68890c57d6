"""The daemon: reload (SIGHUP), graceful stop (SIGTERM), crashed
children restarted by the parent."""
import os
import re
import signal
import time

from conftest import Closed, T, simple_message


def deliver_one(srv, rcpt="alice@example.test"):
    msgid, msg = simple_message(to=rcpt)
    with srv.connect() as c:
        c.ehlo()
        r = c.send_mail("bob@example.org", [rcpt], msg)
        assert r.code == 250, r
        c.quit()
    return msgid


def reload(srv):
    n = srv.log().count("parent reloaded")
    srv.sighup()
    srv.wait_log(r"parent reloaded", count=n + 1)
    # the new workers are up
    deadline = time.time() + T(5)
    while time.time() < deadline:
        if len(srv.worker_pids()) >= 2:
            break
        time.sleep(0.05)
    time.sleep(0.2)


# --- SIGHUP -------------------------------------------------------------------

def test_reload_open_transaction_completes(server):
    msgid, msg = simple_message()
    with server.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        old_workers = server.worker_pids()
        reload(server)
        assert set(server.worker_pids()) != set(old_workers)
        # new connections work while the old session is open
        other = deliver_one(server, "bob@example.test")
        assert len(server.find("bob", other)) == 1
        c.expect("RCPT TO:<carol@example.test>", 250)
        c.expect("DATA", 354)
        c.send(msg + b".\r\n")
        r = c.reply()
        assert r.code == 250, r
    assert len(server.find("alice", msgid)) == 1
    assert len(server.find("carol", msgid)) == 1


def test_reload_idle_session_continues(server):
    """README: SIGHUP reloads without dropping connections; old workers
    finish their sessions.  A session between transactions is not
    dropped."""
    msgid, msg = simple_message()
    with server.connect() as c:
        c.ehlo()
        reload(server)
        c.settimeout(T(5))
        try:
            r = c.cmd("MAIL FROM:<bob@example.org>")
        except Closed:
            r = "connection closed"
        assert getattr(r, "code", None) == 250, \
            "idle session after reload: MAIL got %r" % r
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        c.send(msg + b".\r\n")
        assert c.reply().code == 250
        c.quit()
    assert len(server.find("alice", msgid)) == 1


def test_reload_applies_new_limits_to_new_sessions(server):
    old = server.connect()
    try:
        old.ehlo()
        old.expect("MAIL FROM:<bob@example.org>", 250)
        server.write_config(smtp_max_recipients=1)
        reload(server)
        # a new session has the new limit
        with server.connect() as c:
            c.ehlo()
            c.expect("MAIL FROM:<bob@example.org>", 250)
            c.expect("RCPT TO:<alice@example.test>", 250)
            r = c.cmd("RCPT TO:<bob@example.test>")
            assert r.code == 452, r
            c.quit()
        # the old one keeps what it started with
        old.expect("RCPT TO:<alice@example.test>", 250)
        old.expect("RCPT TO:<bob@example.test>", 250)
        old.expect("RSET", 250)
    finally:
        old.close()


def test_reload_new_size_in_ehlo(server):
    server.write_config(smtp_max_message_size="128K")
    reload(server)
    with server.connect() as c:
        r = c.ehlo()
        assert "SIZE 131072" in r.lines, r
        c.quit()


def test_reload_bad_config_keeps_running(server):
    with open(server.conf_path, "a") as f:
        f.write("smtp_max_recipients lots\n")
    server.sighup()
    server.wait_log(r"reload failed")
    time.sleep(0.3)
    assert server.proc.poll() is None
    deliver_one(server)
    # the log names the file and the line
    assert re.search(r"reload failed.*facteur\.conf:\d+:\d+:", server.log())


def test_reload_many_times_under_traffic(server):
    ok = 0
    for i in range(5):
        reload(server)
        deliver_one(server)
        ok += 1
    assert len(server.messages("alice")) == ok
    # retired workers exit once their sessions end
    server.wait_log(r"parent retired-exit", count=5 * 2, timeout=T(15))


# --- SIGTERM ------------------------------------------------------------------

def test_sigterm_idle_sessions_get_421(make_server):
    srv = make_server(shutdown_grace="10s")
    a = srv.connect()           # before EHLO
    b = srv.connect()
    b.ehlo()
    try:
        t0 = time.time()
        srv.sigterm()
        for c in (a, b):
            c.settimeout(T(5))
            r = c.reply()
            assert r.code == 421 and r.lines[0].startswith("4.3.2"), r
            assert c.is_closed()
        # nothing open: no need to wait for the grace period
        rc = srv.wait_exit(T(5))
        assert rc == 0, "exit status %r after SIGTERM" % rc
        assert time.time() - t0 < T(5)
    finally:
        a.close()
        b.close()
    log = srv.log()
    assert "parent stopping" in log and "parent stopped" in log


def test_sigterm_transaction_finishes_within_grace(make_server):
    srv = make_server(shutdown_grace="10s")
    msgid, msg = simple_message()
    with srv.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        srv.sigterm()
        srv.wait_log(r"parent stopping")
        time.sleep(0.3)
        # the listener is closed (or answers 421) for new clients
        try:
            n = srv.connect(timeout=T(2))
            assert n.greeting.code == 421, n.greeting
            n.close()
        except (OSError, Closed):
            pass
        c.expect("DATA", 354)
        c.send(msg + b".\r\n")
        r = c.reply()
        assert r.code == 250, r
        # after the transaction: goodbye
        c.settimeout(T(5))
        try:
            r = c.reply()
            assert r.code == 421, r
        except Closed:
            pass
        assert c.is_closed()
    rc = srv.wait_exit(T(5))
    assert rc == 0, rc
    assert len(srv.find("alice", msgid)) == 1


def test_sigterm_stalled_transaction_cut_after_grace(make_server):
    srv = make_server(shutdown_grace="2s")
    with srv.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: never finished\r\n\r\nhalf")
        t0 = time.time()
        srv.sigterm()
        c.settimeout(T(10))
        r = c.reply()
        assert r.code == 421, r
        waited = time.time() - t0
        assert 1.5 <= waited <= T(5), waited
        rc = srv.wait_exit(T(8))
        assert rc == 0, "daemon still running %.1fs after SIGTERM" \
            % (time.time() - t0)
    assert srv.messages("alice") == []
    assert srv.files("alice", sub="tmp") == []


def test_sigint_stops_too(server):
    server.signal(signal.SIGINT)
    assert server.wait_exit(T(10)) == 0


# --- crashes ----------------------------------------------------------------------

def test_worker_sigkill_restarted(server):
    workers = server.worker_pids()
    assert len(workers) == 2, workers
    victim = workers[0]
    os.kill(victim, signal.SIGKILL)
    server.wait_log(r"child-exit role=worker pid=%d signal=9" % victim)
    deadline = time.time() + T(10)
    while time.time() < deadline:
        now = server.worker_pids()
        if len(now) == 2 and victim not in now:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("worker not restarted: %r\n%s"
                             % (server.worker_pids(), server.log()[-2000:]))
    # every connection is served (the restarted worker took its socket)
    ids = [deliver_one(server) for _ in range(20)]
    for m in ids:
        assert len(server.find("alice", m)) == 1
    # both workers took a share (SO_REUSEPORT spreads connections)
    served = set(re.findall(r"worker\[(\d+)\]: \S+ smtp connected",
                            server.log()))
    assert len(served & set(str(p) for p in server.worker_pids())) >= 1


def test_worker_killed_mid_transaction(server):
    """The session's worker dies in DATA: nothing is stored, the client
    sees the connection drop, later clients are served."""
    c = server.connect()
    c.ehlo()
    c.expect("MAIL FROM:<bob@example.org>", 250)
    c.expect("RCPT TO:<alice@example.test>", 250)
    c.expect("DATA", 354)
    c.send(b"Subject: doomed\r\n\r\npartial\r\n")
    time.sleep(0.2)
    m = re.findall(r"worker\[(\d+)\]: \S+ smtp connected", server.log())
    pid = int(m[-1])
    os.kill(pid, signal.SIGKILL)
    assert c.is_closed(T(5))
    c.close()
    server.wait_log(r"child-exit role=worker pid=%d signal=9" % pid)
    deadline = time.time() + T(10)
    while len(server.worker_pids()) < 2 and time.time() < deadline:
        time.sleep(0.1)
    msgid = deliver_one(server)
    assert [len(x) for x in [server.find("alice", msgid)]] == [1]
    assert len(server.messages("alice")) == 1


def test_auth_process_killed_restarted(server):
    m = re.findall(r"auth\[(\d+)\]: \S+ auth started", server.log())
    assert m, server.log()
    pid = int(m[-1])
    os.kill(pid, signal.SIGKILL)
    server.wait_log(r"child-exit role=auth pid=%d signal=9" % pid)
    server.wait_log(r"auth started", count=2)
    # lookups work again (a 451 while auth restarts is acceptable)
    deadline = time.time() + T(10)
    while True:
        msgid, msg = simple_message()
        with server.connect() as c:
            c.ehlo()
            r = c.send_mail("bob@example.org", ["alice@example.test"], msg)
        if r.code == 250:
            break
        assert r.code == 451, r
        assert time.time() < deadline, "lookups never came back"
        time.sleep(0.2)
    assert len(server.find("alice", msgid)) == 1
    # unknown users are still unknown (not accepted by a fallback)
    with server.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        assert c.cmd("RCPT TO:<nobody@example.test>").code == 550


def test_restart_keeps_mail(server):
    ids = [deliver_one(server) for _ in range(3)]
    server.restart()
    ids.append(deliver_one(server))
    for m in ids:
        assert len(server.find("alice", m)) == 1


def test_parent_killed_children_exit(server):
    """Children do not outlive a dead parent (they would hold the port
    and serve with nobody supervising)."""
    server.allowed_log.append(r"fatal <(worker|auth): parent went away>")
    kids = server.children()
    assert len(kids) >= 3, kids          # auth + 2 workers
    server.sigkill()
    server.proc.wait(timeout=T(5))
    deadline = time.time() + T(5)
    alive = kids
    while time.time() < deadline:
        alive = [k for k in kids if os.path.exists("/proc/%d" % k) and
                 open("/proc/%d/stat" % k).read().split(")")[1].split()[0]
                 != "Z"]
        if not alive:
            break
        time.sleep(0.05)
    assert not alive, "children still running after the parent died: %r" \
        % alive
    # a new daemon can take the port and the data
    server.logf.close()
    server.proc = None
    server.start()
    deliver_one(server)
