"""STARTTLS: smtplib, swaks, the Received header, and the command
injection of CVE-2011-0411 (bytes pipelined after STARTTLS)."""
import re
import smtplib
import socket
import ssl
import subprocess

from conftest import HOSTNAME, T, new_msgid, simple_message, split_trace


def client_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_starttls_smtplib(server):
    msgid, msg = simple_message()
    with smtplib.SMTP("127.0.0.1", server.port, "client.example.org",
                      timeout=T(10)) as s:
        s.ehlo()
        assert s.has_extn("starttls")
        code, _ = s.starttls(context=client_ctx())
        assert code == 220
        s.ehlo()
        assert not s.has_extn("starttls"), "STARTTLS offered again in TLS"
        assert s.has_extn("pipelining") and s.has_extn("chunking")
        assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
        version = s.sock.version()
        s.sendmail("bob@example.org", ["alice@example.test"], msg)
    found = server.find("alice", msgid)
    assert len(found) == 1
    data = open(found[0], "rb").read()
    fields, rest = split_trace(data)
    assert rest == msg
    rcv = [f for f in fields if f.startswith(b"Received:")][0].decode()
    assert " with ESMTPS id " in rcv, rcv
    assert version in rcv, rcv
    assert re.search(r"cipher=\S+", rcv), rcv
    assert re.search(r"smtp starttls version=%s" % re.escape(version),
                     server.log())


def test_starttls_swaks(server):
    msgid = new_msgid()
    r = subprocess.run(
        ["swaks", "--server", "127.0.0.1:%d" % server.port, "--tls",
         "--helo", "swaks.example.org",
         "--from", "bob@example.org", "--to", "alice@example.test",
         "--header", "Message-Id: %s" % msgid, "--body", "over tls\n"],
        capture_output=True, timeout=T(30))
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, out + r.stderr.decode(errors="replace")
    assert "TLS started" in out, out
    assert re.search(r"<~  250 2\.0\.0 Ok: queued as", out), out
    found = server.find("alice", msgid)
    assert len(found) == 1
    data = open(found[0], "rb").read()
    assert b" with ESMTPS id " in data
    assert re.search(rb"\(version=TLSv1\.[23] cipher=", data), data[:400]


def test_starttls_injection_discarded(server):
    """CVE-2011-0411: commands sent in the same packet as STARTTLS must
    be thrown away, not run inside the TLS session."""
    with server.connect() as c:
        c.ehlo()
        c.send(b"STARTTLS\r\nNOOP\r\nMAIL FROM:<injected@example.org>\r\n")
        r = c.reply()
        assert r.code == 220, r
        assert c.buf == b"", "a reply to the injected commands before TLS: %r" \
            % c.buf
        tls = client_ctx().wrap_socket(c.sock, server_hostname=HOSTNAME)
        c.sock = tls
        # nothing may come: a reply here answers the injected NOOP
        tls.settimeout(T(1.5))
        try:
            data = tls.recv(4096)
        except (socket.timeout, TimeoutError):
            data = None
        assert data is None, "injected command answered after TLS: %r" % data
        tls.settimeout(T(10))
        # the session is new: MAIL needs EHLO again
        r = c.cmd("MAIL FROM:<bob@example.org>")
        assert r.code == 503, r
        r = c.ehlo()
        assert "STARTTLS" not in r.lines
        # the injected MAIL did not open a transaction either
        c.expect("MAIL FROM:<bob@example.org>", 250)
        msgid, msg = simple_message()
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        c.send(msg + b".\r\n")
        assert c.reply().code == 250
        c.quit()
    data = open(server.find("alice", msgid)[0], "rb").read()
    assert data.startswith(b"Return-Path: <bob@example.org>\r\n")
    assert b"injected" not in data


def test_starttls_forgets_transaction_and_helo(server):
    with server.connect() as c:
        c.ehlo("before.example.org")
        c.starttls()
        r = c.cmd("RCPT TO:<alice@example.test>")
        assert r.code == 503, r
        c.ehlo("after.example.org")
        msgid, msg = simple_message()
        assert c.send_mail("bob@example.org", ["alice@example.test"],
                           msg).code == 250
        # STARTTLS a second time is refused
        r = c.cmd("STARTTLS")
        assert r.code in (503, 554), r
        c.quit()
    data = open(server.find("alice", msgid)[0], "rb").read()
    assert b"Received: from after.example.org " in data


def test_starttls_in_transaction_refused(server):
    with server.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        r = c.cmd("STARTTLS")
        assert r.code == 503, r
        r = c.cmd("STARTTLS now")
        assert r.code in (501, 503), r
        c.expect("RSET", 250)
        c.starttls()
        c.ehlo()
        c.quit()


def test_tls_garbage_handshake(server):
    """A client that says STARTTLS and then sends garbage is dropped;
    the server keeps serving others."""
    with server.connect() as c:
        c.ehlo()
        c.expect("STARTTLS", 220)
        c.send(b"this is not a TLS client hello\r\n" * 10)
        assert c.is_closed(T(10))
    with server.connect() as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        c.quit()
    assert re.search(r"tls handshake-failed", server.log())
