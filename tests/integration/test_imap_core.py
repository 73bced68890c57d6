"""The IMAP session machinery (src/imap/imap_server.c, imap_auth.c,
imap_notify.c) against a real daemon: greeting and CAPABILITY in each
state, STARTTLS (and its command injection), IMAPS, LOGIN and
AUTHENTICATE (PLAIN with and without SASL-IR, SCRAM-SHA-256) refused in
clear, delayed failures, cancel, ENABLE, ID, NOOP, LOGOUT, commands in
the wrong state, the bad-command counter, the line and literal limits,
pipelining, IDLE over a raw socket (DONE, wake-up on an SMTP delivery
and on another session's flag change), autologout, BYE at shutdown.

imaplib where a stock client is enough, imaputil.RawIMAP for exact
bytes."""
import base64
import hashlib
import hmac
import imaplib
import os
import re
import socket
import time

from conftest import HOSTNAME, T
from imaputil import ALICE, PASSWORD, client_ctx, message
from imaputil import imap, make_imap  # noqa: F401 (fixtures)


def starttls(c):
    """STARTTLS on a RawIMAP in clear; nothing may follow the OK."""
    status, _ = c.command("STARTTLS")
    assert status.startswith(b"OK"), status
    assert c.buf == b"", "bytes after the STARTTLS reply: %r" % c.buf
    c.sock = client_ctx().wrap_socket(c.sock, server_hostname=HOSTNAME)
    return c


def caps(c):
    for r in c.ok("CAPABILITY"):
        if r.startswith(b"* CAPABILITY "):
            return r.split()[2:]
    raise AssertionError("no * CAPABILITY")


def closed(c, timeout=None):
    """True when the server closed the connection within timeout; what
    came before the close stays in c.buf."""
    c.sock.settimeout(timeout or T(5))
    try:
        while True:
            chunk = c.sock.recv(65536)
            if not chunk:
                return True
            c.buf += chunk
    except (ConnectionResetError, BrokenPipeError):
        return True
    except (socket.timeout, TimeoutError):
        return False
    except OSError as e:
        if "timed out" in str(e):
            return False
        return True


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def plain(user=ALICE, password=PASSWORD, authz=""):
    return b64("%s\0%s\0%s" % (authz, user, password))


# --------------------------------------------------------------------------
# Greeting, CAPABILITY, TLS

BASE_CAPS = (b"IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE "
             b"UNSELECT UIDPLUS MOVE CHILDREN SPECIAL-USE LIST-EXTENDED "
             b"LIST-STATUS STATUS=SIZE ESEARCH SEARCHRES CONDSTORE QRESYNC "
             b"SORT THREAD=REFERENCES BINARY UTF8=ACCEPT").split()


def test_greeting_and_capability_before_tls(make_imap):
    srv = make_imap(auth_plaintext_loopback="no")
    with srv.raw(tls=False) as c:
        m = re.match(rb"\* OK \[CAPABILITY ([^]]*)\] ", c.greeting)
        assert m, c.greeting
        greet = m.group(1).split()
        for cap in BASE_CAPS + [b"STARTTLS", b"LOGINDISABLED"]:
            assert cap in greet, cap
        assert not [x for x in greet if x.startswith(b"AUTH=")], greet
        assert caps(c) == greet
        starttls(c)
        after = caps(c)
        for cap in BASE_CAPS + [b"AUTH=PLAIN", b"AUTH=SCRAM-SHA-256"]:
            assert cap in after, cap
        assert b"STARTTLS" not in after and b"LOGINDISABLED" not in after
        c.login()
        logged = caps(c)
        assert not [x for x in logged if x.startswith(b"AUTH=")]
        assert b"IDLE" in logged


def test_login_refused_in_clear(make_imap):
    srv = make_imap(auth_plaintext_loopback="no")
    with srv.raw(tls=False) as c:
        status, _ = c.command('LOGIN "%s" "%s"' % (ALICE, PASSWORD))
        assert status.startswith(b"NO [PRIVACYREQUIRED]"), status
        status, _ = c.command("AUTHENTICATE PLAIN " + plain())
        assert status.startswith(b"NO [PRIVACYREQUIRED]"), status
        # still not logged in
        status, _ = c.command("SELECT INBOX")
        assert status.startswith(b"BAD"), status
        starttls(c)
        status, _ = c.command('LOGIN "%s" "%s"' % (ALICE, PASSWORD))
        assert status.startswith(b"OK [CAPABILITY "), status
    assert "imap login user=alice@example.test method=LOGIN" in srv.log()


def test_login_in_clear_from_loopback_when_allowed(imap):
    with imap.raw(tls=False) as c:
        assert b"LOGINDISABLED" not in c.greeting
        assert b"AUTH=PLAIN" in c.greeting and b"STARTTLS" in c.greeting
        status, _ = c.command('LOGIN "%s" "%s"' % (ALICE, PASSWORD))
        assert status.startswith(b"OK"), status


def test_starttls_discards_pipelined_commands(make_imap):
    srv = make_imap(auth_plaintext_loopback="no")
    with srv.raw(tls=False) as c:
        # CVE-2011-0411: what follows STARTTLS in the same packet is
        # plaintext and must not run inside the TLS session
        c.send("a1 STARTTLS\r\na2 LOGIN %s \"%s\"\r\na3 CAPABILITY\r\n"
               % (ALICE, PASSWORD))
        r = c.response()
        assert r.startswith(b"a1 OK"), r
        assert c.buf == b""
        c.sock = client_ctx().wrap_socket(c.sock, server_hostname=HOSTNAME)
        c.send("b1 NOOP\r\n")
        r = c.response()
        assert r.startswith(b"b1 OK"), r
        status, _ = c.command("SELECT INBOX")
        assert status.startswith(b"BAD"), status    # not logged in
        # a second STARTTLS is refused
        status, _ = c.command("STARTTLS")
        assert status.startswith(b"BAD"), status


def test_imaps_with_imaplib(imap):
    m = imaplib.IMAP4_SSL("127.0.0.1", imap.imaps_port,
                          ssl_context=client_ctx(), timeout=T(20))
    assert "AUTH=PLAIN" in m.capabilities
    assert "STARTTLS" not in m.capabilities
    typ, data = m.login(ALICE, PASSWORD)
    assert typ == "OK", data
    typ, data = m.noop()
    assert typ == "OK"
    typ, data = m.logout()
    assert typ == "BYE"
    assert re.search(r"imap tls version=TLS", imap.log())


def test_imaps_plaintext_client_gets_nothing(imap):
    s = socket.create_connection(("127.0.0.1", imap.imaps_port),
                                 timeout=T(5))
    s.sendall(b"a1 CAPABILITY\r\n")
    try:
        data = s.recv(100)
    except (ConnectionResetError, socket.timeout):
        data = b""
    assert b"CAPABILITY" not in data and b"* OK" not in data
    s.close()


# --------------------------------------------------------------------------
# AUTHENTICATE

def test_authenticate_plain_initial_response(imap):
    with imap.raw() as c:
        status, _ = c.command("AUTHENTICATE PLAIN " + plain())
        assert status.startswith(b"OK [CAPABILITY "), status
        assert b"] Logged in" in status
        status, _ = c.command("AUTHENTICATE PLAIN " + plain())
        assert status.startswith(b"BAD"), status    # already logged in
    assert "imap login user=alice@example.test method=PLAIN" in imap.log()


def test_authenticate_plain_continuation(imap):
    with imap.raw() as c:
        c.send("a1 AUTHENTICATE PLAIN\r\n")
        r = c.response()
        assert r == b"+ " or r == b"+", r
        c.send(plain() + "\r\n")
        r = c.response()
        assert r.startswith(b"a1 OK"), r
        c.ok("NOOP")


def test_authenticate_cancel_and_bad_base64(imap):
    with imap.raw() as c:
        c.send("a1 AUTHENTICATE PLAIN\r\n")
        assert c.response().startswith(b"+")
        c.send("*\r\n")
        r = c.response()
        assert r.startswith(b"a1 BAD"), r
        # the exchange is over: commands work again
        c.ok("NOOP")
        c.send("a2 AUTHENTICATE PLAIN\r\n")
        assert c.response().startswith(b"+")
        c.send("!!!notbase64\r\n")
        r = c.response()
        assert r.startswith(b"a2 BAD"), r
        status, _ = c.command("AUTHENTICATE KERBEROS_V4")
        assert status.startswith(b"NO"), status
        # "=" is an empty initial response: PLAIN refuses it
        status, _ = c.command("AUTHENTICATE PLAIN =")
        assert status.startswith((b"BAD", b"NO")), status
        c.login()


def scram_login(c, user, password):
    """SCRAM-SHA-256 (RFC 5802, 7677) as a client; returns (tagged status,
    whether the server proved it knows the password)."""
    nonce = b64(os.urandom(18))
    first_bare = "n=%s,r=%s" % (user.replace("=", "=3D").replace(",", "=2C"),
                                nonce)
    tag = c.tag()
    c.send("%s AUTHENTICATE SCRAM-SHA-256 %s\r\n" % (tag, b64("n,," +
                                                             first_bare)))
    r = c.response()
    assert r.startswith(b"+ "), r
    server_first = base64.b64decode(r[2:]).decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    assert attrs["r"].startswith(nonce)
    salt = base64.b64decode(attrs["s"])
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt,
                                 int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    final_bare = "c=biws,r=" + attrs["r"]
    auth_msg = ",".join((first_bare, server_first, final_bare)).encode()
    sig = hmac.new(stored_key, auth_msg, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    c.send(b64(final_bare + ",p=" + b64(proof)) + "\r\n")
    r = c.response()
    verified = False
    if r.startswith(b"+ "):
        final = base64.b64decode(r[2:]).decode()
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        want = b64(hmac.new(server_key, auth_msg, hashlib.sha256).digest())
        verified = final == "v=" + want
        c.send("\r\n")
        r = c.response()
    assert r.startswith(tag.encode() + b" "), r
    return r[len(tag) + 1:], verified


def test_authenticate_scram_sha_256(imap):
    with imap.raw() as c:
        status, verified = scram_login(c, ALICE, PASSWORD)
        assert status.startswith(b"OK"), status
        assert verified
        c.ok("NOOP")
    with imap.raw() as c:
        status, verified = scram_login(c, ALICE, "not it")
        assert status.startswith(b"NO [AUTHENTICATIONFAILED]"), status
        assert not verified
    with imap.raw() as c:
        status, _ = scram_login(c, "nobody@example.test", PASSWORD)
        assert status.startswith(b"NO [AUTHENTICATIONFAILED]"), status
    assert "method=SCRAM-SHA-256" in imap.log()


def test_wrong_password_delayed_and_limited(imap):
    with imap.raw() as c:
        delays = []
        for i in range(3):
            t0 = time.time()
            status, _ = c.command('LOGIN "%s" "wrong %d"' % (ALICE, i))
            delays.append(time.time() - t0)
            assert status.startswith(b"NO [AUTHENTICATIONFAILED]"), status
        # answered after a random pause of up to a second each
        assert max(delays) < T(3)
        assert sum(delays) > 0.1, delays
        assert closed(c)
        assert b"* BYE" in c.buf
    assert "too-many-auth-failures" in imap.log()
    assert PASSWORD not in imap.log() and "wrong 1" not in imap.log()


# --------------------------------------------------------------------------
# Commands of every state

def test_noop_id_logout(imap):
    with imap.raw() as c:
        c.ok("NOOP")
        u = c.ok('ID ("name" "pytest" "version" "1.0 <x>")')
        assert u and u[0].startswith(b'* ID ("name" "facteur"'), u
        u = c.ok("ID NIL")
        assert u[0].startswith(b"* ID ("), u
        c.login()
        c.ok("NOOP")
        status, u = c.command("LOGOUT")
        assert status.startswith(b"OK"), status
        assert u and u[0].startswith(b"* BYE"), u
        assert closed(c)
    assert re.search(r"imap client-id name=<pytest> version=<1.0 \?x\?>",
                     imap.log())
    assert re.search(r"imap logout addr=127.0.0.1 user=alice@example.test",
                     imap.log())


def test_enable(imap):
    with imap.raw() as c:
        status, _ = c.command("ENABLE IMAP4rev2")
        assert status.startswith(b"BAD"), status     # not logged in
        c.login()
        u = c.ok("ENABLE IMAP4rev2 CONDSTORE X-UNKNOWN")
        assert u == [b"* ENABLED IMAP4rev2 CONDSTORE"], u
        u = c.ok("ENABLE QRESYNC CONDSTORE")
        assert u == [b"* ENABLED QRESYNC"], u
        u = c.ok("ENABLE UTF8=ACCEPT")
        assert u == [b"* ENABLED"], u     # IMAP4rev2 implies it


def test_commands_in_the_wrong_state(imap):
    with imap.raw() as c:
        for cmd in ("SELECT INBOX", "LIST \"\" *", "FETCH 1 FLAGS",
                    "IDLE", "CLOSE", "APPEND INBOX {3+}\r\nabc"):
            status, _ = c.command(cmd)
            assert status == b"BAD Command not valid in this state", \
                (cmd, status)
        c.login()
        for cmd in ('LOGIN "a" "b"', "AUTHENTICATE PLAIN",
                    "STARTTLS", "FETCH 1 FLAGS", "EXPUNGE", "CLOSE"):
            status, _ = c.command(cmd)
            assert status.startswith(b"BAD"), (cmd, status)
        c.ok("NOOP")


def test_unknown_and_malformed(imap):
    with imap.raw() as c:
        status, _ = c.command("XYZZY")
        assert status.startswith(b"BAD"), status
        c.send("\r\n")             # empty lines are ignored
        c.send("* NOOP\r\n")       # "*" is no tag
        r = c.response()
        assert r.startswith(b"* BAD") or r.startswith(b"BAD"), r
        c.ok("NOOP")


def test_bad_commands_close(make_imap):
    srv = make_imap(imap_max_bad_commands=3)
    with srv.raw() as c:
        for i in range(2):
            status, _ = c.command("BOGUS%d" % i)
            assert status.startswith(b"BAD"), status
        c.send("a9 BOGUS\r\n")
        assert closed(c)
        assert b"a9 BAD" in c.buf and b"* BYE Too many errors" in c.buf
    assert "imap too-many-errors" in srv.log()


def test_line_too_long_then_goes_on(imap):
    with imap.raw() as c:
        c.login()
        c.send("a1 NOOP " + "x" * 70000 + "\r\n")
        r = c.response()
        assert re.match(rb"a1 BAD \[TOOBIG\]", r), r[:100]
        c.ok("NOOP")
        c.ok("CAPABILITY")


def test_literal_limits(make_imap):
    srv = make_imap(smtp_max_message_size="2K")
    with srv.raw() as c:
        # before login: 8 KiB at most, and no APPEND at all
        c.send("a1 LOGIN {9000}\r\n")
        r = c.response()
        assert re.match(rb"a1 BAD \[TOOBIG\]", r), r
        c.send("a2 APPEND INBOX {10}\r\n")
        r = c.response()
        assert r == b"a2 BAD Command not valid in this state", r
        # a literal login works
        c.send("a3 LOGIN {%d}\r\n" % len(ALICE))
        assert c.response().startswith(b"+")
        c.send(ALICE + " {%d+}\r\n%s\r\n" % (len(PASSWORD), PASSWORD))
        r = c.response()
        assert r.startswith(b"a3 OK"), r
        # after login: the message size limit; no "+" for a bigger one
        c.send("a4 APPEND INBOX {5000}\r\n")
        r = c.response()
        assert re.match(rb"a4 NO \[TOOBIG\]", r), r
        c.ok("NOOP")
        # a non-synchronising one cannot be refused before it comes: the
        # bytes are skipped and the command refused
        c.send(b"a5 APPEND INBOX {5000+}\r\n" + b"x" * 5000 + b"\r\n")
        r = c.response()
        assert re.match(rb"a5 BAD \[TOOBIG\]", r), r
        c.ok("NOOP")


def test_pipelined_commands_answered_in_order(imap):
    with imap.raw() as c:
        cmds = [b"p1 NOOP", b"p2 CAPABILITY", b"p3 LOGIN %s \"%s\""
                % (ALICE.encode(), PASSWORD.encode()), b"p4 NOOP",
                b"p5 ID NIL", b"p6 BOGUS", b"p7 ENABLE CONDSTORE",
                b"p8 NOOP"]
        c.send(b"".join(x + b"\r\n" for x in cmds))
        tags = []
        while len(tags) < len(cmds):
            r = c.response()
            if not r.startswith((b"*", b"+")):
                tags.append(r.split()[0])
        assert tags == [x.split()[0] for x in cmds]


def test_many_pipelined_commands(imap):
    with imap.raw() as c:
        c.login()
        n = 2000
        c.send(b"".join(b"n%d NOOP\r\n" % i for i in range(n)))
        for i in range(n):
            status, _ = c.wait_tagged("n%d" % i)
            assert status.startswith(b"OK"), status


# --------------------------------------------------------------------------
# IDLE

def test_idle_done(imap):
    with imap.raw() as c:
        c.login()
        tag = c.idle()
        # nothing comes while idle
        assert c.response_within(0.5) is None
        status, _ = c.done()
        assert status.startswith(b"OK"), status
        c.ok("NOOP")
        # DONE and the next command in one packet
        tag = c.idle()
        c.send("DONE\r\nz1 NOOP\r\n")
        status, _ = c.wait_tagged(tag)
        assert status.startswith(b"OK"), status
        status, _ = c.wait_tagged("z1")
        assert status.startswith(b"OK"), status
        # anything else than DONE ends IDLE with BAD
        tag = c.idle()
        c.send("z2 NOOP\r\n")
        status, _ = c.wait_tagged(tag)
        assert status.startswith(b"BAD"), status
        c.ok("NOOP")


def test_idle_commands_wait_for_done(imap):
    """Commands pipelined behind IDLE are not run during it."""
    with imap.raw() as c:
        c.login()
        tag = c.tag()
        c.send("%s IDLE\r\n" % tag)
        assert c.response().startswith(b"+")
        assert c.response_within(0.3) is None
        c.send("DONE\r\n")
        status, _ = c.wait_tagged(tag)
        assert status.startswith(b"OK")


def selected_idle(srv, user=ALICE):
    c = srv.login(user)
    info = c.select("INBOX")
    c.idle()
    return c, info


def test_idle_wakes_up_on_smtp_delivery(imap):
    c, info = selected_idle(imap)
    n = info["exists"]
    t0 = time.time()
    imap.deliver(message(1))
    r, waited = c.wait_untagged(rb"^\* %d EXISTS$" % (n + 1), T(5))
    assert time.time() - t0 < T(2), "IDLE woke up after %.2fs" % waited
    status, _ = c.done()
    assert status.startswith(b"OK"), status
    c.logout()


def test_idle_wakes_up_on_flag_change_by_another_session(imap):
    imap.deliver(message(1))
    c, info = selected_idle(imap)
    other = imap.login(select="INBOX")
    other.ok("STORE 1 +FLAGS (\\Flagged)")
    r, waited = c.wait_untagged(rb"^\* 1 FETCH \(.*\\Flagged", T(5))
    assert waited < T(1.5), waited
    c.done()
    other.logout()
    c.logout()


def test_idle_sessions_memory_released(imap):
    """Many IDLE sessions on one folder share the worker's watches."""
    clients = [selected_idle(imap)[0] for _ in range(20)]
    imap.deliver(message(2))
    for c in clients:
        c.wait_untagged(rb"^\* \d+ EXISTS$", T(5))
    for c in clients:
        c.done()
        c.logout()


# --------------------------------------------------------------------------
# Timers and shutdown

def test_autologout(make_imap):
    srv = make_imap(imap_timeout="2s")
    with srv.raw() as c:
        t0 = time.time()
        c.login()
        assert closed(c, T(6))
        assert b"* BYE Autologout" in c.buf
        # counted from the last thing the client sent
        assert time.time() - t0 >= 1.8
    with srv.raw() as c:          # IDLE does not stop the timer
        c.login()
        c.idle()
        assert closed(c, T(6))
        assert b"* BYE Autologout" in c.buf
    with srv.raw() as c:          # before login as well
        assert closed(c, T(6))
    assert "imap timeout" in srv.log()


def test_sigterm_says_bye(imap):
    a = imap.raw()
    b = imap.login()
    b.idle()
    imap.sigterm()
    for c in (a, b):
        assert closed(c, T(10))
        assert b"* BYE [UNAVAILABLE]" in c.buf, c.buf
    assert imap.wait_exit(T(10)) == 0


def test_reload_keeps_sessions(imap):
    """SIGHUP: sessions of the old workers go on (IDLE included); new
    connections reach the new workers."""
    a = imap.login()
    b = imap.login()
    b.idle()
    n = imap.log().count("parent reloaded")
    imap.sighup()
    imap.wait_log(r"parent reloaded", count=n + 1)
    time.sleep(0.3)
    a.ok("NOOP")
    status, _ = b.done()
    assert status.startswith(b"OK"), status
    with imap.login() as c:
        c.ok("NOOP")
    a.logout()
    b.logout()


def test_abrupt_disconnects(imap):
    """Clients that vanish in the middle of a password check, a failure
    delay, a job, IDLE or AUTHENTICATE leave nothing behind."""
    imap.deliver(message(1))
    for cmd in (b'a LOGIN %s "%s"\r\n' % (ALICE.encode(), PASSWORD.encode()),
                b'a LOGIN %s "wrong"\r\n' % ALICE.encode(),
                b"a AUTHENTICATE PLAIN\r\n",
                b'a LOGIN %s "%s"\r\nb SELECT INBOX\r\nc FETCH 1:* (BODY[])\r\n'
                % (ALICE.encode(), PASSWORD.encode()),
                b'a LOGIN %s "%s"\r\nb SELECT INBOX\r\nc IDLE\r\n'
                % (ALICE.encode(), PASSWORD.encode())):
        for delay in (0, 0.3):
            s = socket.create_connection(("127.0.0.1", imap.imap_port),
                                         timeout=T(5))
            s.recv(1000)
            s.sendall(cmd)
            time.sleep(delay)
            s.close()
    time.sleep(T(1.5))
    with imap.login(select="INBOX") as c:
        c.ok("NOOP")
    imap.wait_log(r"imap disconnected .*reason=<connection", count=5)


def test_idle_with_flood_behind_done(imap):
    """Input pipelined behind IDLE waits (bounded) and runs after DONE."""
    c = imap.login(select="INBOX")
    tag = c.idle()
    n = 3000
    c.send(b"DONE\r\n" + b"".join(b"f%d NOOP\r\n" % i for i in range(n)))
    status, _ = c.wait_tagged(tag)
    assert status.startswith(b"OK"), status
    for i in range(n):
        status, _ = c.wait_tagged("f%d" % i)
        assert status.startswith(b"OK"), status
    c.logout()


def index_fds(pid, index):
    n = 0
    d = "/proc/%d/fd" % pid
    for fd in os.listdir(d):
        try:
            if os.readlink(os.path.join(d, fd)).startswith(index):
                n += 1
        except OSError:
            pass
    return n


def test_silent_session_releases_its_store(imap):
    """A logged-in session silent for a minute closes its index handle
    (mstore_idle) and reopens it at its next command."""
    imap.deliver(message(1))
    c = imap.login(select="INBOX")
    pid = imap.session_pid(c)
    index = imap.index_path()
    assert index_fds(pid, index) >= 1
    deadline = time.time() + T(100)
    while index_fds(pid, index) > 0 and time.time() < deadline:
        time.sleep(1)
    assert index_fds(pid, index) == 0
    u = c.ok("FETCH 1 (FLAGS)")
    assert u and b"FETCH" in u[0], u
    c.logout()
