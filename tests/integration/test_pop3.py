"""POP3 (RFC 1939, 2449, 2595, 5034) against a real daemon: poplib and a
raw client for exact bytes.  Every command, byte-exact RETR with
dot-stuffing, TOP, DELE with QUIT / RSET / a dropped connection, the
IN-USE lock, STLS and POP3S, plaintext refused before TLS, a mailbox
changed under an open session, UIDLs stable across sessions, limits.

The helpers here (make_pop3, RawPOP, drop, ...) are also used by
test_pop3_clients.py."""
import hashlib
import os
import poplib
import pwd
import re
import socket
import ssl
import threading
import time

import pytest

from conftest import (DOMAIN, HOSTNAME, SANITIZED, Closed, Server, T,
                      free_port, make_root, simple_message, split_trace,
                      teardown_servers)

PASSWORD = "secret password"
ALICE = "alice@" + DOMAIN


# --------------------------------------------------------------------------
# The daemon with POP3 listeners

class Pop3Server(Server):
    def __init__(self, root, options=None):
        ports = set()
        while len(ports) < 2:
            ports.add(free_port())
        self.pop3_port, self.pop3s_port = sorted(ports)
        super().__init__(root, options)
        while self.port in (self.pop3_port, self.pop3s_port):
            self.port = free_port()
            self.write_config()

    def write_config(self, **changes):
        super().write_config(**changes)
        with open(self.conf_path, "a") as f:
            f.write("listen pop3 127.0.0.1:%d\nlisten pop3s 127.0.0.1:%d\n"
                    % (self.pop3_port, self.pop3s_port))

    def pop(self, user=ALICE, password=PASSWORD, tls=False):
        """A logged-in poplib client (POP3S when tls)."""
        if tls:
            p = poplib.POP3_SSL("127.0.0.1", self.pop3s_port,
                                context=client_ctx(), timeout=T(10))
        else:
            p = poplib.POP3("127.0.0.1", self.pop3_port, timeout=T(10))
        p.user(user)
        p.pass_(password)
        return p

    def raw(self, tls=False, **kw):
        return RawPOP(self.pop3s_port if tls else self.pop3_port, tls=tls,
                      **kw)


@pytest.fixture
def make_pop3(request):
    made = []

    def make(start=True, **options):
        options.setdefault("auth_plaintext_loopback", "yes")
        srv = Pop3Server(make_root(), options)
        made.append(srv)
        srv.setup_accounts()
        if start:
            srv.start()
            # a tree where the worker does not serve POP3 yet (the parent
            # warns and binds nothing): nothing here can pass
            if re.search(r"listen pop3s?: not served yet", srv.log()):
                pytest.skip("POP3 listeners are not wired into the daemon")
        return srv

    yield make
    teardown_servers(request, made)


@pytest.fixture
def pop3(make_pop3):
    return make_pop3()


def client_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# --------------------------------------------------------------------------
# A raw client: exact bytes, every wait bounded

class RawPOP:
    def __init__(self, port, tls=False, greet=True, timeout=None):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout or T(10))
        if tls:
            self.sock = client_ctx().wrap_socket(self.sock,
                                                 server_hostname=HOSTNAME)
        self.buf = b""
        self.greeting = self.line() if greet else None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise Closed("connection closed by the server; buffered %r"
                         % self.buf[:200])
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            assert len(self.buf) < 100000, "reply too long: %r" % self.buf[:80]
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def cmd(self, line):
        self.send(line + "\r\n" if isinstance(line, str) else line + b"\r\n")
        return self.line()

    def ok(self, line):
        r = self.cmd(line)
        assert r.startswith(b"+OK"), "%s -> %r" % (line, r)
        return r

    def body(self):
        """The dot-stuffed body of a multi-line answer, without the final
        ".\\r\\n" (read after its status line)."""
        while True:
            if self.buf.startswith(b".\r\n"):
                self.buf = self.buf[3:]
                return b""
            i = self.buf.find(b"\r\n.\r\n")
            if i >= 0:
                body, self.buf = self.buf[:i + 2], self.buf[i + 5:]
                return body
            self._fill()

    def multi(self, line):
        status = self.ok(line)
        return status, self.body()

    def login(self, user=ALICE, password=PASSWORD):
        self.ok("USER " + user)
        return self.ok("PASS " + password)

    def starttls(self):
        r = self.cmd("STLS")
        assert r.startswith(b"+OK"), r
        assert self.buf == b"", "bytes after +OK to STLS: %r" % self.buf
        self.sock = client_ctx().wrap_socket(self.sock,
                                             server_hostname=HOSTNAME)

    def is_closed(self, timeout=None):
        self.sock.settimeout(timeout or T(5))
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except (socket.timeout, ssl.SSLError):
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def unstuff(body):
    out = []
    for line in body.split(b"\r\n")[:-1]:
        if line.startswith(b"."):
            assert line.startswith(b".."), "unstuffed dot line %r" % line
            line = line[1:]
        out.append(line + b"\r\n")
    return b"".join(out)


def stuff(data):
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n"
                    for l in data.split(b"\r\n")[:-1])


# --------------------------------------------------------------------------
# Mailboxes

_seq = [0]


def maildir(srv, user="alice"):
    return srv.maildir(user)


def ensure_maildir(srv, user="alice"):
    """Create the user's Maildir as the daemon would (owned by facteur)."""
    pw = pwd.getpwnam("facteur")
    path = srv.data_dir
    for part in ["mail", DOMAIN, user]:
        path = os.path.join(path, part)
        if not os.path.isdir(path):
            os.mkdir(path, 0o755 if part != user else 0o700)
            os.chown(path, pw.pw_uid, pw.pw_gid)
    for sub in ("tmp", "new", "cur"):
        d = os.path.join(path, sub)
        if not os.path.isdir(d):
            os.mkdir(d, 0o700)
            os.chown(d, pw.pw_uid, pw.pw_gid)
    return path


def drop(srv, content, user="alice", sub="new", flags="", name=None):
    """Put a message file straight into the Maildir; returns its name.
    Names sort in the order of the calls (the time part grows)."""
    d = ensure_maildir(srv, user)
    _seq[0] += 1
    if name is None:
        name = "%d.M%06dP%dQ%d.test.example,S=%d" % (
            1700000000 + _seq[0], _seq[0], os.getpid(), _seq[0],
            len(content))
    if sub == "cur":
        name += ":2," + flags
    tmp = os.path.join(d, "tmp", "x" + name)
    with open(tmp, "wb") as f:
        f.write(content)
    pw = pwd.getpwnam("facteur")
    os.chown(tmp, pw.pw_uid, pw.pw_gid)
    os.rename(tmp, os.path.join(d, sub, name))
    return name


def listdir(srv, sub, user="alice"):
    try:
        return sorted(os.listdir(os.path.join(srv.maildir(user), sub)))
    except FileNotFoundError:
        return []


def base(name):
    return re.split(r"[,:]", name, 1)[0]


def message(n, body=b""):
    return (b"From: <bob@example.org>\r\nTo: <alice@example.test>\r\n"
            b"Subject: message %d\r\n\r\nline one of %d\r\n" % (n, n)) + body


# --------------------------------------------------------------------------
# Greeting, CAPA, states

def test_greeting_and_capa(pop3):
    with pop3.raw() as c:
        assert c.greeting == b"+OK facteur ready"
        status, body = c.multi("CAPA")
        caps = body.decode().split("\r\n")[:-1]
        for cap in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE",
                    "PIPELINING", "USER", "SASL PLAIN", "STLS",
                    "IMPLEMENTATION facteur"):
            assert cap in caps, (cap, caps)
        assert not any(c_.startswith("APOP") for c_ in caps)
        c.login()
        status, body = c.multi("CAPA")
        caps = body.decode().split("\r\n")[:-1]
        assert "TOP" in caps and "UIDL" in caps
        assert "USER" not in caps and "STLS" not in caps, caps
        c.ok("QUIT")
    # POP3S: no STLS offered
    with pop3.raw(tls=True) as c:
        assert c.greeting == b"+OK facteur ready"
        status, body = c.multi("CAPA")
        assert b"STLS" not in body and b"USER" in body


def test_wrong_state_and_unknown(pop3):
    with pop3.raw() as c:
        for cmd in ("STAT", "LIST", "UIDL", "RETR 1", "TOP 1 1", "DELE 1",
                    "RSET", "NOOP"):
            r = c.cmd(cmd)
            assert r.startswith(b"-ERR"), (cmd, r)
        assert c.cmd("PASS x").startswith(b"-ERR")   # no USER
        assert c.cmd("APOP alice 0123456789abcdef").startswith(b"-ERR")
        assert c.cmd("XYZZY").startswith(b"-ERR")
        assert c.cmd("LAST").startswith(b"-ERR")
        c.login()
        for cmd in ("USER x", "PASS x", "AUTH PLAIN", "STLS"):
            r = c.cmd(cmd)
            assert r.startswith(b"-ERR"), (cmd, r)
        c.ok("NOOP")
        c.ok("QUIT")


# --------------------------------------------------------------------------
# Authentication

def test_plaintext_refused_before_tls(make_pop3):
    srv = make_pop3(auth_plaintext_loopback="no")
    with srv.raw() as c:
        status, body = c.multi("CAPA")
        assert b"STLS" in body
        assert b"USER" not in body and b"SASL" not in body, body
        r = c.cmd("USER " + ALICE)
        assert r.startswith(b"-ERR [AUTH]"), r
        r = c.cmd("PASS " + PASSWORD)
        assert r.startswith(b"-ERR"), r
        r = c.cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQgcGFzc3dvcmQ=")
        assert r.startswith(b"-ERR [AUTH]"), r
        c.starttls()
        status, body = c.multi("CAPA")
        assert b"USER" in body and b"SASL PLAIN" in body
        assert b"STLS" not in body
        c.login()
        c.ok("STAT")
        c.ok("QUIT")
    # implicit TLS is fine too
    p = srv.pop(tls=True)
    assert p.stat() == (0, 0)
    p.quit()
    assert "login-failed" not in srv.log()


def test_login_failures_are_delayed_and_limited(pop3):
    with pop3.raw() as c:
        c.ok("USER " + ALICE)
        t0 = time.time()
        r = c.cmd("PASS wrong")
        assert r == b"-ERR [AUTH] Authentication failed", r
        assert time.time() - t0 < T(3)
        c.ok("USER nobody@" + DOMAIN)
        assert c.cmd("PASS wrong").startswith(b"-ERR [AUTH]")
        c.ok("USER " + ALICE)
        assert c.cmd("PASS wrong").startswith(b"-ERR [AUTH]")
        assert c.line().startswith(b"-ERR")
        assert c.is_closed()
    log = pop3.log()
    assert len(re.findall(r"pop3 login-failed addr=127\.0\.0\.1 "
                          r"login=<\S+> method=USER", log)) == 3
    assert "too-many-auth-failures" in log
    # the delay is random: several failures do not all answer at once
    times = []
    for _ in range(3):
        with pop3.raw() as c:
            c.ok("USER " + ALICE)
            t0 = time.time()
            c.cmd("PASS wrong")
            times.append(time.time() - t0)
    assert max(times) - min(times) > 0.01 or max(times) > 0.1, times


def test_auth_plain(pop3):
    import base64
    ir = base64.b64encode(b"\0" + ALICE.encode() + b"\0" + PASSWORD.encode())
    with pop3.raw() as c:     # initial response
        r = c.cmd(b"AUTH PLAIN " + ir)
        assert r.startswith(b"+OK"), r
        c.ok("STAT")
        c.ok("QUIT")
    with pop3.raw() as c:     # continuation, authzid = authcid
        assert c.cmd("AUTH PLAIN") == b"+ "
        r = c.cmd(base64.b64encode(ALICE.encode() + b"\0" + ALICE.encode() +
                                   b"\0" + PASSWORD.encode()))
        assert r.startswith(b"+OK"), r
        c.ok("QUIT")
    with pop3.raw() as c:     # cancel, bad base64, wrong password, listing
        assert c.cmd("AUTH PLAIN") == b"+ "
        assert c.cmd("*").startswith(b"-ERR")
        assert c.cmd("AUTH PLAIN") == b"+ "
        assert c.cmd("not base64!").startswith(b"-ERR")
        r = c.cmd(b"AUTH PLAIN " + base64.b64encode(b"\0" + ALICE.encode() +
                                                    b"\0wrong"))
        assert r.startswith(b"-ERR [AUTH]"), r
        r = c.cmd(b"AUTH PLAIN " + base64.b64encode(
            b"bob@example.test\0" + ALICE.encode() + b"\0" +
            PASSWORD.encode()))
        assert r.startswith(b"-ERR [AUTH]"), r     # no proxy login
        assert c.cmd("AUTH CRAM-MD5").startswith(b"-ERR")
        status, body = c.multi("AUTH")
        assert body == b"PLAIN\r\n"
        r = c.cmd(b"AUTH PLAIN " + ir)
        assert r.startswith(b"+OK"), r
        c.ok("QUIT")
    assert re.search(r"pop3 login addr=127\.0\.0\.1 user=%s method=PLAIN"
                     % re.escape(ALICE), pop3.log())


def test_auth_plain_poplib_over_pop3s(pop3):
    import base64
    p = poplib.POP3_SSL("127.0.0.1", pop3.pop3s_port, context=client_ctx(),
                        timeout=T(10))
    resp = p._shortcmd("AUTH PLAIN " + base64.b64encode(
        b"\0" + ALICE.encode() + b"\0" + PASSWORD.encode()).decode())
    assert resp.startswith(b"+OK")
    assert p.stat() == (0, 0)
    p.quit()


# --------------------------------------------------------------------------
# The TRANSACTION commands

def test_stat_list_uidl(pop3):
    msgs = [message(i) for i in range(1, 4)]
    names = [drop(pop3, m) for m in msgs]
    p = pop3.pop()
    assert p.stat() == (3, sum(len(m) for m in msgs))
    resp, lines, _ = p.list()
    assert resp.startswith(b"+OK 3 messages")
    assert lines == [b"%d %d" % (i + 1, len(m)) for i, m in enumerate(msgs)]
    assert p.list(2) == b"+OK 2 %d" % len(msgs[1])
    resp, lines, _ = p.uidl()
    assert lines == [("%d %s" % (i + 1, base(n))).encode()
                     for i, n in enumerate(names)]
    assert p.uidl(3) == ("+OK 3 %s" % base(names[2])).encode()
    for bad in ("0", "4", "99999999999", "x", "-1"):
        with pytest.raises(poplib.error_proto):
            p.list(bad)
        with pytest.raises(poplib.error_proto):
            p.uidl(bad)
        with pytest.raises(poplib.error_proto):
            p.retr(bad)
    assert p.noop().startswith(b"+OK")
    p.quit()


def test_retr_byte_exact_with_dots(pop3):
    body = (b"\r\n.\r\n..\r\n.leading dot\r\n..two dots\r\nmiddle . dot\r\n"
            b". space\r\n\xc3\xa9t\xc3\xa9 8bit\r\n" + b"x" * 990 +
            b"\r\n.\r\nlast line\r\n")
    content = message(1, body)
    drop(pop3, content)
    with pop3.raw() as c:
        c.login()
        status, raw = c.multi("RETR 1")
        assert status == b"+OK %d octets" % len(content)
        assert raw == stuff(content)
        assert unstuff(raw) == content
        c.ok("QUIT")
    # poplib undoes the stuffing the same way
    p = pop3.pop()
    resp, lines, octets = p.retr(1)
    assert b"\r\n".join(lines) + b"\r\n" == content
    p.quit()


def test_retr_smtp_delivered(pop3):
    """A message sent over SMTP with dot lines comes back byte for byte as
    stored (the trace headers included)."""
    msgid, content = simple_message(body=b"first\r\n.\r\n..x\r\n.y\r\nend\r\n")
    with pop3.connect() as s:
        s.ehlo()
        r = s.send_mail("bob@example.org", [ALICE], content)
        assert r.code == 250, r
    stored = open(pop3.wait_message("alice", msgid)[0], "rb").read()
    _, rest = split_trace(stored)
    assert rest == content
    with pop3.raw() as c:
        c.login()
        status, raw = c.multi("RETR 1")
        assert unstuff(raw) == stored
        c.ok("QUIT")


def test_retr_file_without_crlf(pop3):
    """A file written by another program with bare LF line ends still
    goes out with CRLF and ends with a line end."""
    drop(pop3, b"Subject: lf\n\n.dot\nno end", name="1700000000.lf.test")
    with pop3.raw() as c:
        c.login()
        status, raw = c.multi("RETR 1")
        assert raw == b"Subject: lf\r\n\r\n..dot\r\nno end\r\n"
        c.ok("QUIT")


def test_retr_large_streams(pop3):
    """A big message streams in chunks as the client reads: the worker's
    memory does not grow by the message size, and the bytes are exact."""
    size = (8 if SANITIZED else 30) * 1024 * 1024
    line = b"%s\r\n" % (b"y" * 998)
    content = b"Subject: big\r\n\r\n" + b".x\r\n" + line * (size // 1000)
    drop(pop3, content)
    with pop3.raw() as c:
        c.login()

        def rss():
            total = 0
            for pid in pop3.worker_pids():
                with open("/proc/%d/status" % pid) as f:
                    m = re.search(r"VmRSS:\s+(\d+) kB", f.read())
                    total += int(m.group(1))
            return total * 1024
        before = rss()
        c.send("RETR 1\r\n")
        # read slowly at first: the server must wait, not buffer it all
        c.sock.settimeout(T(30))
        got = b""
        for _ in range(5):
            got += c.sock.recv(65536)
            time.sleep(0.05)
        during = rss()
        h = hashlib.sha256()
        assert got.startswith(b"+OK %d octets\r\n" % len(content))
        data = got[got.index(b"\r\n") + 2:]
        tail = b""
        while True:
            h.update(data)
            tail = (tail + data)[-5:]
            if tail == b"\r\n.\r\n":
                break
            data = c.sock.recv(1 << 20)
            assert data, "closed in the middle of RETR"
        expect = hashlib.sha256(stuff(content) + b".\r\n").hexdigest()
        assert h.hexdigest() == expect
        assert during - before < 16 * 1024 * 1024, (before, during)
        c.ok("NOOP")
        c.ok("QUIT")


def test_top(pop3):
    content = (b"Subject: top\r\nX-A: 1\r\n\r\nb1\r\n.b2\r\nb3\r\n")
    name = drop(pop3, content)
    with pop3.raw() as c:
        c.login()
        status, raw = c.multi("TOP 1 0")
        assert status == b"+OK"
        assert raw == b"Subject: top\r\nX-A: 1\r\n\r\n"
        status, raw = c.multi("TOP 1 2")
        assert raw == b"Subject: top\r\nX-A: 1\r\n\r\nb1\r\n..b2\r\n"
        status, raw = c.multi("TOP 1 100")
        assert unstuff(raw) == content
        for bad in ("TOP 1", "TOP 1 x", "TOP 2 1", "TOP 0 1", "TOP 1 -1"):
            assert c.cmd(bad).startswith(b"-ERR"), bad
        c.ok("QUIT")
    # TOP does not mark the message \Seen
    assert listdir(pop3, "cur") == [name + ":2,"]
    p = pop3.pop()
    assert p.top(1, 1)[1] == [b"Subject: top", b"X-A: 1", b"", b"b1"]
    p.quit()


# --------------------------------------------------------------------------
# Deletion and UPDATE

def test_dele_quit(pop3):
    names = [drop(pop3, message(i)) for i in range(1, 4)]
    p = pop3.pop()
    assert p.dele(2).startswith(b"+OK")
    assert p.stat() == (2, len(message(1)) + len(message(3)))
    for f in (p.dele, p.retr, p.list):
        with pytest.raises(poplib.error_proto) as e:
            f(2)
        assert b"deleted" in e.value.args[0]
    assert len(p.uidl()[1]) == 2
    # still there until QUIT
    assert len(listdir(pop3, "cur")) == 3
    assert p.quit().startswith(b"+OK")
    cur = listdir(pop3, "cur")
    assert [base(n) for n in cur] == [base(names[0]), base(names[2])]
    p = pop3.pop()
    assert p.stat()[0] == 2
    assert p.uidl(2) == ("+OK 2 %s" % base(names[2])).encode()
    p.quit()
    log = pop3.log()
    assert re.search(r"pop3 dele user=%s msg=2 uidl=%s size=%d"
                     % (re.escape(ALICE), re.escape(base(names[1])),
                        len(message(2))), log)
    assert re.search(r"pop3 quit user=%s deleted=1 seen=0 failed=0 kept=2"
                     % re.escape(ALICE), log)


def test_dele_rset(pop3):
    for i in range(3):
        drop(pop3, message(i))
    p = pop3.pop()
    p.dele(1)
    p.dele(3)
    assert p.stat()[0] == 1
    assert p.rset().startswith(b"+OK maildrop has 3 messages")
    assert p.stat()[0] == 3
    p.dele(2)
    p.rset()
    p.quit()
    assert len(listdir(pop3, "cur")) == 3


def test_dele_then_dropped_connection(pop3):
    for i in range(3):
        drop(pop3, message(i))
    with pop3.raw() as c:
        c.login()
        c.ok("DELE 1")
        c.ok("DELE 2")
        c.ok("RETR 3") and c.body()
    # no QUIT: nothing deleted, nothing marked seen, lock released
    pop3.wait_log(r"pop3 disconnected .*retr=1 dele=2 "
                  r"reason=<connection (closed by peer|lost)>")
    assert len(listdir(pop3, "cur")) == 3
    assert all(n.endswith(":2,") for n in listdir(pop3, "cur"))
    p = pop3.pop()
    assert p.stat()[0] == 3
    p.quit()


def test_seen_after_retr(pop3):
    names = [drop(pop3, message(i)) for i in range(2)]
    drop(pop3, message(9), sub="cur", flags="F")
    p = pop3.pop()
    p.retr(1)
    p.retr(3)
    p.quit()
    cur = listdir(pop3, "cur")
    assert names[0] + ":2,S" in cur
    assert names[1] + ":2," in cur
    assert any(n.endswith(":2,FS") for n in cur), cur
    assert re.search(r"pop3 quit user=\S+ deleted=0 seen=2 failed=0 kept=3",
                     pop3.log())


def test_new_moved_to_cur_at_login(pop3):
    names = [drop(pop3, message(i)) for i in range(2)]
    assert listdir(pop3, "new") == sorted(names)
    p = pop3.pop()
    assert listdir(pop3, "new") == []
    assert listdir(pop3, "cur") == sorted(n + ":2," for n in names)
    p.quit()
    assert re.search(r"pop3 login addr=\S+ user=%s method=USER messages=2 "
                     r"size=\d+ moved=2" % re.escape(ALICE), pop3.log())


# --------------------------------------------------------------------------
# One session per mailbox; a mailbox changing under a session

def test_in_use(pop3):
    drop(pop3, message(1))
    first = pop3.pop()
    for _ in range(4):      # whichever worker takes the connection
        with pop3.raw() as c:
            c.ok("USER " + ALICE)
            r = c.cmd("PASS " + PASSWORD)
            assert r.startswith(b"-ERR [IN-USE]"), r
            # still in AUTHORIZATION: another user may log in
            c.ok("USER bob@" + DOMAIN)
            c.ok("PASS " + PASSWORD)
            c.ok("QUIT")
    with pytest.raises(poplib.error_proto) as e:
        pop3.pop(tls=True)
    assert e.value.args[0].startswith(b"-ERR [IN-USE]")
    assert first.stat()[0] == 1
    first.quit()
    p = pop3.pop()
    p.quit()
    assert "pop3 in-use" in pop3.log()


def test_mailbox_changed_during_session(pop3):
    old = [drop(pop3, message(i)) for i in range(3)]
    p = pop3.pop()
    uidls = p.uidl()[1]
    # a delivery during the session does not show in it
    msgid, content = simple_message()
    with pop3.connect() as s:
        s.ehlo()
        assert s.send_mail("bob@example.org", [ALICE], content).code == 250
    assert pop3.wait_message("alice", msgid)
    assert p.stat()[0] == 3
    assert p.uidl()[1] == uidls
    # another program (IMAP) sets a flag on 1 and expunges 2
    d = os.path.join(pop3.maildir("alice"), "cur")
    os.rename(os.path.join(d, old[0] + ":2,"), os.path.join(d, old[0] + ":2,F"))
    os.unlink(os.path.join(d, old[1] + ":2,"))
    resp, lines, _ = p.retr(1)
    assert b"\r\n".join(lines) + b"\r\n" == message(0)
    with pytest.raises(poplib.error_proto) as e:
        p.retr(2)
    assert b"removed" in e.value.args[0]
    p.dele(2)
    p.dele(3)
    assert p.quit().startswith(b"+OK")
    # the next session has the new message, with the old UIDLs kept
    p = pop3.pop()
    lines = p.uidl()[1]
    assert len(lines) == 2
    assert lines[0] == b"1 " + base(old[0]).encode()
    resp, body, _ = p.retr(2)
    assert msgid.encode() in b"\r\n".join(body)
    p.quit()
    assert any(n.endswith(":2,FS") for n in listdir(pop3, "cur"))


def test_update_in_parts_with_renamed_files(pop3):
    """A big UPDATE runs in parts on several threads; every file was
    renamed by another program meanwhile and must be found again."""
    n = 700
    names = [drop(pop3, message(i)) for i in range(n)]
    p = pop3.pop()
    d = os.path.join(pop3.maildir("alice"), "cur")
    for name in names:      # IMAP flags every message
        os.rename(os.path.join(d, name + ":2,"), os.path.join(d, name + ":2,F"))
    for i in range(1, n + 1):
        if i % 2:
            p.dele(i)
        elif i % 10 == 0:
            p.retr(i)
    assert p.quit() == b"+OK facteur signing off (%d messages deleted)" \
        % (n // 2)
    cur = listdir(pop3, "cur")
    assert len(cur) == n // 2
    seen = [c for c in cur if c.endswith(":2,FS")]
    assert len(seen) == n // 10
    assert all(c.endswith(":2,F") or c.endswith(":2,FS") for c in cur)
    assert re.search(r"pop3 quit user=\S+ deleted=%d seen=%d failed=0 "
                     r"kept=%d" % (n // 2, n // 10, n // 2), pop3.log())


def test_uidl_stable_across_sessions(pop3):
    for i in range(5):
        drop(pop3, message(i))
    drop(pop3, b"Subject: odd\r\n\r\nx\r\n", name="odd name%~\x01,S=19")
    long_name = "1700000000." + "L" * 100 + ",S=19"
    drop(pop3, b"Subject: odd\r\n\r\nx\r\n", name=long_name)
    seen = None
    for round_ in range(3):
        p = pop3.pop(tls=round_ == 1)
        lines = p.uidl()[1]
        if round_ == 0:
            p.retr(2)        # renamed with S at QUIT
        p.quit()
        if seen is None:
            seen = lines
        assert lines == seen
    for line in seen:
        uid = line.split(b" ", 1)[1]
        assert 1 <= len(uid) <= 70
        assert all(0x21 <= b <= 0x7e for b in uid), uid
    assert len(set(l.split(b" ", 1)[1] for l in seen)) == len(seen)
    uids = [l.split(b" ", 1)[1] for l in seen]
    assert b"odd%20name%25%7E%01" in uids


# --------------------------------------------------------------------------
# TLS

def test_stls(pop3):
    drop(pop3, message(1))
    p = poplib.POP3("127.0.0.1", pop3.pop3_port, timeout=T(10))
    p.stls(client_ctx())
    assert "STLS" not in p.capa()
    p.user(ALICE)
    p.pass_(PASSWORD)
    assert p.retr(1)[1][-1] == b"line one of 1"
    p.quit()
    assert re.search(r"pop3 starttls version=TLSv1\.[23] cipher=", pop3.log())
    with pop3.raw() as c:
        c.starttls()
        assert c.cmd("STLS").startswith(b"-ERR")
        c.login()
        c.ok("QUIT")


def test_stls_discards_pipelined_commands(pop3):
    """RFC 2595 / CVE-2011-0411: bytes sent with STLS are thrown away."""
    with pop3.raw() as c:
        c.send(b"STLS\r\nUSER " + ALICE.encode() + b"\r\nPASS " +
               PASSWORD.encode() + b"\r\nSTAT\r\n")
        assert c.line().startswith(b"+OK")
        assert c.buf == b""
        c.sock = client_ctx().wrap_socket(c.sock, server_hostname=HOSTNAME)
        c.sock.settimeout(T(1))
        with pytest.raises((socket.timeout, ssl.SSLError)):
            data = c.sock.recv(100)
            raise AssertionError("answer to injected commands: %r" % data)
        c.sock.settimeout(T(10))
        assert c.cmd("STAT").startswith(b"-ERR")   # not logged in
        c.login()
        c.ok("QUIT")


def test_pop3s(pop3):
    names = [drop(pop3, message(i)) for i in range(2)]
    p = pop3.pop(tls=True)
    assert p.sock.version() in ("TLSv1.2", "TLSv1.3")
    assert p.stat()[0] == 2
    assert p.retr(2)[1][-1] == b"line one of 1"
    p.dele(1)
    p.quit()
    assert [base(n) for n in listdir(pop3, "cur")] == [base(names[1])]
    assert re.search(r"pop3 connected addr=127\.0\.0\.1 tls=implicit",
                     pop3.log())
    assert re.search(r"pop3 tls version=TLSv1\.[23] cipher=", pop3.log())


def test_pop3s_plaintext_client(pop3):
    """A client speaking clear text to the POP3S port gets no greeting."""
    s = socket.create_connection(("127.0.0.1", pop3.pop3s_port), timeout=T(5))
    s.sendall(b"USER x\r\n")
    s.settimeout(T(5))
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    assert b"+OK" not in data


# --------------------------------------------------------------------------
# Limits and robustness

def test_pipelining(pop3):
    for i in range(3):
        drop(pop3, message(i))
    with pop3.raw() as c:
        c.send("USER %s\r\nPASS %s\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\n"
               "TOP 2 0\r\nDELE 3\r\nLIST 3\r\nNOOP\r\nQUIT\r\n"
               % (ALICE, PASSWORD))
        assert c.line().startswith(b"+OK")
        assert c.line().startswith(b"+OK Logged in, 3 messages")
        assert c.line().startswith(b"+OK 3 ")
        assert c.line().startswith(b"+OK") and c.body().count(b"\r\n") == 3
        assert c.line().startswith(b"+OK") and c.body().count(b"\r\n") == 3
        assert c.line().startswith(b"+OK") and unstuff(c.body()) == message(0)
        assert c.line() == b"+OK"
        assert c.body().endswith(b"Subject: message 1\r\n\r\n")
        assert c.line().startswith(b"+OK")
        assert c.line().startswith(b"-ERR")
        assert c.line() == b"+OK"
        assert c.line().startswith(b"+OK facteur signing off (1 messages")
        assert c.is_closed()
    assert len(listdir(pop3, "cur")) == 2


def test_many_messages_pipelined(pop3):
    n = 300 if SANITIZED else 2000
    for i in range(n):
        drop(pop3, message(i))
    with pop3.raw() as c:
        c.login()
        # send from a thread: the server stops reading while its answers
        # wait for us, and we read them only below
        sender = threading.Thread(target=c.send, args=("".join(
            "RETR %d\r\nDELE %d\r\n" % (i, i) for i in range(1, n + 1)),))
        sender.start()
        for i in range(1, n + 1):
            st = c.line()
            assert st.startswith(b"+OK"), (i, st)
            assert unstuff(c.body()) == message(i - 1)
            assert c.line().startswith(b"+OK Message %d deleted" % i)
        sender.join(T(10))
        c.ok("QUIT")
    assert listdir(pop3, "cur") == []


def test_line_too_long(pop3):
    with pop3.raw() as c:
        r = c.cmd("NOOP " + "x" * 600)
        assert r == b"-ERR line too long", r
        c.ok("CAPA") and c.body()
        # 512 bytes with CRLF is fine
        assert c.cmd("USER " + "a" * 505).startswith(b"+OK")
        assert c.cmd("NOOP " + "a" * 506) == b"-ERR line too long"
        # long passwords have room
        c.ok("USER " + ALICE)
        assert c.cmd("PASS " + "p" * 511).startswith(b"-ERR [AUTH]")
        c.login()
        c.ok("QUIT")


def test_bad_commands_close(make_pop3):
    srv = make_pop3(pop3_max_bad_commands=3)
    with srv.raw() as c:
        assert c.cmd("FOO").startswith(b"-ERR")
        assert c.cmd("BAR").startswith(b"-ERR")
        assert c.cmd("BAZ").startswith(b"-ERR")
        assert c.line().startswith(b"-ERR Too many errors")
        assert c.is_closed()
    assert "pop3 too-many-errors" in srv.log()


def test_idle_timeout(make_pop3):
    srv = make_pop3(pop3_timeout="2s")
    drop(srv, message(1))
    with srv.raw() as c:
        c.login()
        c.ok("DELE 1")
        t0 = time.time()
        assert c.line() == b"-ERR Disconnected for inactivity"
        assert c.is_closed()
        elapsed = time.time() - t0
        assert 1.5 <= elapsed < T(6), elapsed
    assert len(listdir(srv, "cur")) == 1    # autologout: no UPDATE
    assert re.search(r"pop3 timeout addr=127\.0\.0\.1 state=transaction",
                     srv.log())


def test_no_maildir_yet(pop3):
    """A user who never received mail has an empty mailbox."""
    p = pop3.pop(user="carol@" + DOMAIN)
    assert p.stat() == (0, 0)
    assert p.list()[1] == []
    assert p.uidl()[1] == []
    p.quit()


def test_canonical_user_and_case(pop3):
    drop(pop3, message(1))
    p = pop3.pop(user="Alice@Example.TEST")
    assert p.stat()[0] == 1
    p.quit()
    assert re.search(r"pop3 login addr=\S+ user=alice@example\.test ",
                     pop3.log())


def test_shutdown_says_goodbye(pop3):
    c = pop3.raw()
    pop3.sigterm()
    assert c.line().startswith(b"-ERR [SYS/TEMP]")
    assert c.is_closed()
    c.close()
    assert pop3.wait_exit(T(10)) == 0


def test_log_lines(pop3):
    drop(pop3, message(1))
    p = pop3.pop()
    p.retr(1)
    p.dele(1)
    p.quit()
    pop3.wait_log(r"pop3 disconnected")
    log = pop3.log()
    sid = re.search(r"(\w{16}) pop3 connected addr=127\.0\.0\.1 tls=no",
                    log).group(1)
    for pat in (r"pop3 login addr=127\.0\.0\.1 user=alice@example\.test "
                r"method=USER messages=1 size=\d+ moved=1",
                r"pop3 retr user=alice@example\.test msg=1 uidl=\S+ size=\d+",
                r"pop3 dele user=alice@example\.test msg=1 uidl=\S+ size=\d+",
                r"pop3 quit user=alice@example\.test deleted=1 seen=0 "
                r"failed=0 kept=0",
                r"pop3 disconnected addr=127\.0\.0\.1 user=alice@example\.test"
                r" retr=1 dele=1 reason=<quit>"):
        assert re.search(sid + " " + pat, log), pat
    assert PASSWORD not in log
