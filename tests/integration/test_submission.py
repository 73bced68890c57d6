"""Submission (RFC 6409) on 587 with STARTTLS and 465 with implicit TLS:
AUTH only over TLS, PLAIN / LOGIN / SCRAM-SHA-256, sender identity,
relaying for authenticated users only, Message-ID and Date completion."""
import base64
import hashlib
import hmac
import os
import re
import smtplib
import socket
import ssl
import time

import pytest

from conftest import DOMAIN, T, free_port, new_msgid, queue_envs, split_trace

PASSWORD = "secret password"


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def distinct_ports(n, avoid=()):
    """n free ports, distinct from each other and from avoid (free_port
    may hand out the same port twice)."""
    ports = []
    while len(ports) < n:
        p = free_port()
        if p not in ports and p not in avoid:
            ports.append(p)
    return ports


@pytest.fixture
def sub(make_server):
    srv = make_server(start=False)
    p587, p465, dead = distinct_ports(3, avoid=(srv.port,))
    # a resolver that never answers: remote mail stays in the queue
    srv.write_config(**{"listen submission": "127.0.0.1:%d" % p587,
                        "listen submissions": "127.0.0.1:%d" % p465,
                        "dns_resolver": "127.0.0.1@%d" % dead})
    srv.start()
    srv.p587, srv.p465 = p587, p465
    return srv


def smtp587(srv, tls=True, login=None):
    s = smtplib.SMTP("127.0.0.1", srv.p587, timeout=T(10))
    s.ehlo()
    if tls:
        s.starttls(context=tls_ctx())
        s.ehlo()
    if login:
        s.login(login, PASSWORD)
    return s


def message(msgid, extra=b""):
    return (b"From: alice@example.test\r\nTo: someone\r\nSubject: sub\r\n"
            b"Message-ID: " + msgid.encode() + b"\r\n" + extra +
            b"\r\nbody\r\n")


def test_auth_not_offered_before_tls(sub):
    s = smtp587(sub, tls=False)
    assert not s.has_extn("auth")
    code, text = s.docmd("AUTH PLAIN " + base64.b64encode(
        b"\0alice@example.test\0" + PASSWORD.encode()).decode())
    assert code == 538, (code, text)
    code, _ = s.docmd("MAIL FROM:<alice@example.test>")
    assert code == 530
    s.quit()


def test_auth_offered_after_tls(sub):
    s = smtp587(sub)
    mechs = s.esmtp_features.get("auth", "").split()
    assert {"PLAIN", "LOGIN", "SCRAM-SHA-256"} <= set(mechs), mechs
    s.quit()


def test_plain_and_login(sub):
    for mech in ("PLAIN", "LOGIN"):
        s = smtp587(sub)
        s.user, s.password = "alice@example.test", PASSWORD
        auth = s.auth_plain if mech == "PLAIN" else s.auth_login
        code, text = s.auth(mech, auth, initial_response_ok=True)
        assert code == 235, (mech, code, text)
        s.quit()


def test_wrong_password_is_delayed_and_refused(sub):
    s = smtp587(sub)
    t0 = time.time()
    with pytest.raises(smtplib.SMTPAuthenticationError) as e:
        s.login("alice@example.test", "wrong")
    assert e.value.smtp_code == 535
    # still usable, and the right password works after the failure
    s.login("alice@example.test", PASSWORD)
    s.quit()
    assert time.time() - t0 < T(5)
    assert "auth-failed" in sub.log()
    assert PASSWORD not in sub.log() and "wrong" not in sub.log()


def test_unknown_user_refused(sub):
    s = smtp587(sub)
    with pytest.raises(smtplib.SMTPAuthenticationError):
        s.login("nobody@example.test", PASSWORD)
    s.quit()


def scram_login(s, user, password):
    """A SCRAM-SHA-256 client (RFC 5802, RFC 7677) over smtplib."""
    cnonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = "n=%s,r=%s" % (user, cnonce)
    code, resp = s.docmd("AUTH SCRAM-SHA-256 " + base64.b64encode(
        ("n,," + first_bare).encode()).decode())
    assert code == 334, (code, resp)
    server_first = base64.b64decode(resp).decode()
    fields = dict(f.split("=", 1) for f in server_first.split(","))
    assert fields["r"].startswith(cnonce)
    salt = base64.b64decode(fields["s"])
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt,
                                 int(fields["i"]))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored = hashlib.sha256(client_key).digest()
    final_wo_proof = "c=biws,r=" + fields["r"]
    auth_msg = ",".join((first_bare, server_first, final_wo_proof)).encode()
    sig = hmac.new(stored, auth_msg, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    code, resp = s.docmd(base64.b64encode(
        (final_wo_proof + ",p=" + base64.b64encode(proof).decode())
        .encode()).decode())
    if code != 334:
        return code, None
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    want = hmac.new(server_key, auth_msg, "sha256").digest()
    got = base64.b64decode(base64.b64decode(resp).decode()[2:])
    code, _ = s.docmd("")
    return code, got == want


def test_scram_sha_256(sub):
    s = smtp587(sub)
    code, server_ok = scram_login(s, "alice@example.test", PASSWORD)
    assert code == 235 and server_ok
    s.quit()
    s = smtp587(sub)
    code, _ = scram_login(s, "alice@example.test", "not it")
    assert code == 535
    s.quit()


def test_sender_identity(sub):
    s = smtp587(sub, login="alice@example.test")
    # someone else's address
    code, _ = s.docmd("MAIL FROM:<bob@example.test>")
    assert code == 553
    # an alias that reaches alice (sales -> alice, bob)
    code, _ = s.docmd("MAIL FROM:<sales@example.test>")
    assert code == 250
    s.rset()
    code, _ = s.docmd("MAIL FROM:<>")
    assert code == 250
    s.rset()
    msgid = new_msgid()
    s.sendmail("alice@example.test", ["bob@example.test"], message(msgid))
    s.quit()
    assert sub.wait_message("bob", msgid)


def test_authenticated_relay_is_queued(sub):
    s = smtp587(sub, login="alice@example.test")
    msgid = new_msgid()
    s.sendmail("alice@example.test", ["someone@elsewhere.example",
                                      "bob@example.test"], message(msgid))
    s.quit()
    assert sub.wait_message("bob", msgid)
    qdir = os.path.join(sub.data_dir, "queue")
    deadline = time.time() + T(5)
    envs = []
    while time.time() < deadline and not envs:
        envs = queue_envs(qdir)
        time.sleep(0.1)
    assert envs, "nothing queued for the remote recipient"
    env = open(os.path.join(qdir, envs[0]), "rb").read()
    assert b"someone@elsewhere.example" in env
    assert b"auth_user alice@example.test" in env


def test_no_relay_without_auth(sub):
    with sub.connect() as c:         # port 25
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.test>", 250)
        r = c.cmd("RCPT TO:<someone@elsewhere.example>")
        assert r.code == 554 and r.lines[0].startswith("5.7.1"), r
        c.quit()


def test_auth_refused_on_port_25(sub):
    with sub.connect() as c:
        c.ehlo()
        r = c.cmd("AUTH PLAIN " + base64.b64encode(
            b"\0alice@example.test\0" + PASSWORD.encode()).decode())
        assert r.code == 503, r
        c.quit()


def test_message_id_and_date_added(sub):
    s = smtp587(sub, login="alice@example.test")
    body = b"From: alice@example.test\r\nSubject: bare\r\n\r\nno id\r\n"
    s.sendmail("alice@example.test", ["bob@example.test"], body)
    s.quit()
    deadline = time.time() + T(5)
    msgs = []
    while time.time() < deadline and not msgs:
        msgs = [m for m in sub.messages("bob") if b"Subject: bare" in m]
        time.sleep(0.1)
    assert msgs
    head = msgs[0].split(b"\r\n\r\n", 1)[0]
    assert b"\r\nMessage-ID: <" in head and b"\r\nDate: " in head
    assert b"with ESMTPSA" in head
    # and a message that has both keeps them, once
    s = smtp587(sub, login="alice@example.test")
    msgid = new_msgid()
    s.sendmail("alice@example.test", ["bob@example.test"], message(
        msgid, b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"))
    s.quit()
    path = sub.wait_message("bob", msgid)
    data = open(path[0] if isinstance(path, list) else path, "rb").read()
    assert data.count(b"Message-ID:") == 1 and data.count(b"\r\nDate:") == 1


def test_implicit_tls_465(sub):
    s = smtplib.SMTP_SSL("127.0.0.1", sub.p465, timeout=T(10),
                         context=tls_ctx())
    s.ehlo()
    assert "auth" in s.esmtp_features and not s.has_extn("starttls")
    s.login("alice@example.test", PASSWORD)
    msgid = new_msgid()
    s.sendmail("alice@example.test", ["bob@example.test"], message(msgid))
    s.quit()
    assert sub.wait_message("bob", msgid)


def test_plaintext_on_465_gets_no_greeting(sub):
    with socket.create_connection(("127.0.0.1", sub.p465),
                                  timeout=T(2)) as c:
        c.sendall(b"EHLO x\r\n")
        try:
            data = c.recv(100)
        except (socket.timeout, ConnectionResetError):
            data = b""
        assert not data.startswith(b"220")


def test_loopback_plaintext_auth_when_configured(make_server):
    srv = make_server(start=False)
    p587, = distinct_ports(1, avoid=(srv.port,))
    srv.write_config(**{"listen submission": "127.0.0.1:%d" % p587,
                        "auth_plaintext_loopback": "yes"})
    srv.start()
    s = smtplib.SMTP("127.0.0.1", p587, timeout=T(10))
    s.ehlo()
    assert s.has_extn("auth")
    s.login("alice@example.test", PASSWORD)
    s.quit()


def test_swaks_submission(sub):
    import shutil
    import subprocess
    if not shutil.which("swaks"):
        pytest.skip("swaks not installed")
    msgid = new_msgid()
    r = subprocess.run(
        ["swaks", "--server", "127.0.0.1:%d" % sub.p587, "--tls",
         "--auth", "PLAIN", "--auth-user", "alice@example.test",
         "--auth-password", PASSWORD, "--from", "alice@example.test",
         "--to", "bob@example.test", "--header", "Message-Id: " + msgid,
         "--body", "via swaks"], capture_output=True, timeout=T(30))
    assert r.returncode == 0, r.stdout.decode()[-2000:]
    assert sub.wait_message("bob", msgid)


def test_relay_networks(make_server):
    """Trusted networks may relay without AUTH; others may not."""
    srv = make_server(relay_networks="127.0.0.2/32 10.0.0.0/8",
                      dns_resolver="127.0.0.1@%d" % free_port())
    for host, want in (("127.0.0.1", 554), ("127.0.0.2", 250)):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=T(5))
        s.close()
        c = smtplib.SMTP(timeout=T(10), source_address=(host, 0))
        c.connect("127.0.0.1", srv.port)
        c.ehlo()
        c.mail("app@example.test")
        code, _ = c.rcpt("someone@elsewhere.example")
        assert code == want, (host, code)
        c.quit()


def test_group_commit_across_sessions(make_server):
    """Concurrent sessions queueing mail share commits: with many at
    once, a batch holds more than one message; every message is queued
    exactly once."""
    import threading
    srv = make_server(workers=1, log_level="debug",
                      relay_networks="127.0.0.0/8",
                      dns_resolver="127.0.0.1@%d" % free_port())
    ids, errors = [], []

    def client(k):
        try:
            s = smtplib.SMTP("127.0.0.1", srv.port, timeout=T(20))
            for j in range(10):
                msgid = new_msgid()
                s.sendmail("app@example.test", ["x%d@elsewhere.example" % k],
                           message(msgid))
                ids.append(msgid)
            s.quit()
        except Exception as e:          # reported below
            errors.append(e)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(T(60))
    assert not errors, errors
    assert len(ids) == 200
    sizes = [int(n) for n in re.findall(r"group-commit messages=(\d+)",
                                        srv.log())]
    assert sum(sizes) == 200, sizes
    assert max(sizes) > 1, sizes
    qdir = os.path.join(srv.data_dir, "queue")
    msgs = [open(os.path.join(qdir, f), "rb").read()
            for f in os.listdir(qdir) if f.endswith(".msg")]
    for msgid in ids:
        assert sum(msgid.encode() in m for m in msgs) == 1, msgid
