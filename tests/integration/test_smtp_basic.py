"""SMTP basics: delivery byte for byte, trace headers, EHLO, pipelining,
recipients and addresses, command order and error replies."""
import os
import re
import smtplib
import subprocess
import time

import pytest

from conftest import (DOMAIN, HOSTNAME, T, new_msgid, simple_message,
                      split_trace)


def tricky_body():
    return (b"first line\r\n"
            b".a line starting with a dot\r\n"
            b"..two dots\r\n"
            b".\r\n"                       # a lone dot, stuffed on the wire
            b" .space dot\r\n"
            b"8-bit: caf\xc3\xa9 \xe2\x82\xac \xff\xfe raw bytes\r\n"
            b"long: " + b"x" * 5000 + b"\r\n"
            b"\r\n"
            b"last line without anything special\r\n")


def test_happy_path_smtplib_byte_exact(server):
    msgid = new_msgid()
    msg = (b"From: Bob <bob@example.org>\r\n"
           b"To: Alice <alice@example.test>\r\n"
           b"Subject: byte exact\r\n"
           b"Message-Id: " + msgid.encode() + b"\r\n"
           b"MIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n"
           b"\r\n" + tricky_body())
    with smtplib.SMTP("127.0.0.1", server.port, "client.example.org",
                      timeout=T(10)) as s:
        refused = s.sendmail("bob@example.org", ["alice@example.test"], msg,
                             mail_options=["BODY=8BITMIME"])
        assert refused == {}
    found = server.find("alice", msgid)
    assert len(found) == 1, found
    with open(found[0], "rb") as f:
        data = f.read()
    fields, rest = split_trace(data)
    assert rest == msg, "stored message differs from what was sent"
    names = [f.split(b":", 1)[0] for f in fields]
    assert names == [b"Return-Path", b"Delivered-To", b"Received"], fields
    assert fields[0] == b"Return-Path: <bob@example.org>\r\n"
    assert fields[1] == b"Delivered-To: alice@example.test\r\n"
    rcv = fields[2].decode()
    assert rcv.startswith("Received: from client.example.org ([127.0.0.1])")
    assert "by %s (facteur) with ESMTP id " % HOSTNAME in rcv
    assert "for <alice@example.test>;" in rcv
    # id in Received is the queue id of the 250 reply / log
    qid = re.search(r" id ([0-9a-f]{16})", rcv).group(1)
    assert re.search(r"%s smtp delivered to=<alice@example.test>" % qid,
                     server.log())
    # the date at the end parses as an RFC 5322 date
    assert re.search(r"; \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}"
                     r"\r\n$", rcv), rcv
    # Maildir name carries the size: ",S=<bytes>"
    m = re.search(r",S=(\d+)", os.path.basename(found[0]))
    assert m and int(m.group(1)) == len(data), found[0]
    # nothing left in tmp/
    assert server.files("alice", sub="tmp") == []


def test_null_sender_return_path(server):
    msgid, msg = simple_message()
    with smtplib.SMTP("127.0.0.1", server.port, timeout=T(10)) as s:
        s.ehlo("client.example.org")
        code, _ = s.mail("<>")
        assert code == 250
        code, _ = s.rcpt("<alice@example.test>")
        assert code == 250
        code, _ = s.data(msg)
        assert code == 250
    found = server.find("alice", msgid)
    assert len(found) == 1
    with open(found[0], "rb") as f:
        data = f.read()
    assert data.startswith(b"Return-Path: <>\r\n"), data[:100]


def test_helo_gives_smtp_protocol(server):
    msgid, msg = simple_message()
    with server.connect() as c:
        r = c.expect("HELO oldclient.example.org", 250)
        assert r.lines[0].startswith(HOSTNAME)
        assert c.send_mail("bob@example.org", ["alice@example.test"],
                           msg, pipeline=False).code == 250
        c.quit()
    data = open(server.find("alice", msgid)[0], "rb").read()
    assert b"with SMTP id" in data


def test_swaks_happy_path(server):
    msgid = new_msgid()
    r = subprocess.run(
        ["swaks", "--server", "127.0.0.1:%d" % server.port,
         "--helo", "swaks.example.org",
         "--from", "bob@example.org", "--to", "alice@example.test",
         "--header", "Message-Id: %s" % msgid,
         "--header", "Subject: via swaks",
         "--body", "hello from swaks\n.dot line\n"],
        capture_output=True, timeout=T(30))
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, out + r.stderr.decode(errors="replace")
    assert re.search(r"<[-~]  250 2\.0\.0 Ok: queued as [0-9a-f]{16}", out), out
    found = server.find("alice", msgid)
    assert len(found) == 1
    data = open(found[0], "rb").read()
    assert b"\r\nhello from swaks\r\n.dot line\r\n" in data
    assert b"Received: from swaks.example.org ([127.0.0.1])" in data


def test_ehlo_extensions(server):
    with server.connect() as c:
        assert c.greeting.code == 220
        assert c.greeting.lines[0].startswith(HOSTNAME + " ")
        r = c.ehlo()
        assert r.lines[0].startswith(HOSTNAME)
        kw = {}
        for line in r.lines[1:]:
            parts = line.split(None, 1)
            kw[parts[0].upper()] = parts[1] if len(parts) > 1 else ""
        for ext in ("PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES",
                    "STARTTLS", "SMTPUTF8", "CHUNKING", "DSN"):
            assert ext in kw, (ext, r.lines)
        assert kw["SIZE"] == str(35 * 1024 * 1024)
        c.quit()


def test_ehlo_size_follows_config(make_server):
    srv = make_server(smtp_max_message_size="64K")
    with srv.connect() as c:
        r = c.ehlo()
        assert "SIZE 65536" in r.lines


def test_pipelining_raw(server):
    msgid, msg = simple_message()
    with server.connect() as c:
        c.ehlo()
        c.send("MAIL FROM:<bob@example.org>\r\n"
               "RCPT TO:<alice@example.test>\r\n"
               "RCPT TO:<nosuchuser@example.test>\r\n"
               "RCPT TO:<bob@example.test>\r\n"
               "DATA\r\n")
        codes = [c.reply().code for _ in range(5)]
        assert codes == [250, 250, 550, 250, 354]
        c.send(msg + b".\r\n")
        r = c.reply()
        assert r.code == 250 and r.lines[0].startswith("2.0.0 Ok: queued as")
        # the next transaction pipelined with RSET and NOOP
        msgid2, msg2 = simple_message()
        c.send("RSET\r\nNOOP\r\nMAIL FROM:<>\r\nRCPT TO:<bob@example.test>\r\n"
               "DATA\r\n")
        assert [c.reply().code for _ in range(5)] == [250, 250, 250, 250, 354]
        c.send(msg2 + b".\r\n")
        assert c.reply().code == 250
        c.expect("QUIT", 221)
    assert len(server.find("alice", msgid)) == 1
    assert len(server.find("bob", msgid)) == 1
    assert len(server.find("bob", msgid2)) == 1
    assert server.find("alice", msgid2) == []


def test_whole_session_in_one_write(server):
    """A client that writes everything at once (no waiting for 354)."""
    msgid, msg = simple_message()
    msgid2, msg2 = simple_message()
    with server.connect() as c:
        c.send(b"EHLO fast.example.org\r\n"
               b"MAIL FROM:<bob@example.org>\r\nRCPT TO:<alice@example.test>\r\n"
               b"DATA\r\n" + msg + b".\r\n"
               b"MAIL FROM:<bob@example.org>\r\nRCPT TO:<alice@example.test>\r\n"
               b"DATA\r\n" + msg2 + b".\r\n"
               b"QUIT\r\n")
        codes = [c.reply().code for _ in range(10)]
        assert codes == [250, 250, 250, 354, 250, 250, 250, 354, 250, 221]
        assert c.is_closed()
    assert len(server.find("alice", msgid)) == 1
    assert len(server.find("alice", msgid2)) == 1


def test_several_recipients_hard_links(server):
    msgid, msg = simple_message()
    with server.connect() as c:
        c.ehlo()
        r = c.send_mail("bob@example.org",
                        ["alice@example.test", "bob@example.test",
                         "carol@example.test"], msg)
        assert r.code == 250
        c.quit()
    paths = [server.find(u, msgid) for u in ("alice", "bob", "carol")]
    assert all(len(p) == 1 for p in paths), paths
    inodes = {os.stat(p[0]).st_ino for p in paths}
    assert len(inodes) == 1, "one file hard-linked into every mailbox"
    assert os.stat(paths[0][0]).st_nlink == 3
    data = open(paths[0][0], "rb").read()
    fields, rest = split_trace(data)
    assert rest == msg
    # one shared file: no Delivered-To, no "for <...>"
    assert [f.split(b":")[0] for f in fields] == [b"Return-Path", b"Received"]
    assert b"for <" not in fields[1]


def test_duplicate_recipient_one_copy(server):
    msgid, msg = simple_message()
    with server.connect() as c:
        c.ehlo()
        r = c.send_mail("bob@example.org",
                        ["alice@example.test", "alice@example.test",
                         "ALICE@example.test", "alice+tag@example.test"], msg)
        assert r.code == 250
        c.quit()
    assert len(server.find("alice", msgid)) == 1


def test_alias_catchall_plus_postmaster(server):
    cases = [
        # (rcpt, mailboxes that must get it, mailboxes that must not)
        ("sales@example.test", ["alice", "bob"], ["carol"]),
        ("anything@catch.test", ["carol"], ["alice", "bob"]),
        ("alice+newsletter@example.test", ["alice"], ["bob", "carol"]),
        ("postmaster@example.test", ["postmaster"], ["alice"]),
        ("postmaster", ["postmaster"], ["alice"]),
        ("PostMaster", ["postmaster"], ["alice"]),
        ("postmaster@catch.test", ["postmaster"], ["carol"]),
    ]
    with server.connect() as c:
        c.ehlo()
        for rcpt, yes, no in cases:
            msgid, msg = simple_message(to=rcpt)
            r = c.send_mail("bob@example.org", [rcpt], msg)
            assert r.code == 250, (rcpt, r)
            for u in yes:
                assert len(server.find(u, msgid)) == 1, (rcpt, u)
            for u in no:
                assert server.find(u, msgid) == [], (rcpt, u)
        c.quit()
    log = server.log()
    assert "fatal" not in log


def test_unknown_user_and_relay(server):
    with server.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        r = c.cmd("RCPT TO:<nobody@example.test>")
        assert r.code == 550 and r.lines[0].startswith("5.1.1"), r
        r = c.cmd("RCPT TO:<someone@example.org>")
        assert r.code == 554 and r.lines[0].startswith("5.7.1"), r
        r = c.cmd("RCPT TO:<someone@sub.example.test>")
        assert r.code == 554 and r.lines[0].startswith("5.7.1"), r
        # source routes and percent hacks do not relay either
        r = c.cmd("RCPT TO:<@example.test:victim@example.org>")
        assert r.code != 250, r
        r = c.cmd("RCPT TO:<victim%example.org@example.test>")
        assert r.code != 250, r
        r = c.cmd("RCPT TO:<victim@example.org@example.test>")
        assert r.code != 250, r
        # no valid recipient: DATA is refused
        r = c.cmd("DATA")
        assert r.code == 503 or r.code == 554, r
        c.quit()
    assert re.search(r"rcpt-rejected to=<nobody@example.test> "
                     r"reason=<unknown user>", server.log())


def test_command_order(server):
    with server.connect() as c:
        r = c.cmd("MAIL FROM:<bob@example.org>")
        assert r.code == 503 and r.lines[0].startswith("5.5.1"), r
        r = c.cmd("RCPT TO:<alice@example.test>")
        assert r.code == 503, r
        r = c.cmd("DATA")
        assert r.code == 503, r
        c.ehlo()
        r = c.cmd("RCPT TO:<alice@example.test>")
        assert r.code == 503, r
        r = c.cmd("DATA")
        assert r.code == 503, r
        c.expect("MAIL FROM:<bob@example.org>", 250)
        r = c.cmd("MAIL FROM:<bob@example.org>")
        assert r.code == 503, r                       # nested MAIL
        r = c.cmd("DATA")
        assert r.code == 503, r                       # DATA before RCPT
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("RSET", 250)
        r = c.cmd("DATA")
        assert r.code == 503, r                       # RSET forgot the RCPT
        c.expect("NOOP", 250)
        r = c.cmd("VRFY alice@example.test")
        assert r.code == 252, r
        r = c.cmd("HELP")
        assert r.code == 214, r
        c.expect("QUIT", 221)
        assert c.is_closed()


def test_syntax_errors(server):
    with server.connect() as c:
        r = c.cmd("EHLO")
        assert r.code == 501, r
        c.ehlo()
        r = c.cmd("FOO bar")
        assert r.code == 500 and r.lines[0].startswith("5.5.2"), r
        r = c.cmd("MAIL FROM:bob@example.org>")
        assert 500 <= r.code <= 501, r
        r = c.cmd("MAIL FROM:<bob@example.org> NOSUCHPARAM=1")
        assert r.code in (501, 555), r
        r = c.cmd("MAIL FROM:<bob@example.org> BODY=BINARYMIME")
        assert r.code in (501, 555), r
        c.expect("MAIL FROM:<bob@example.org> BODY=8BITMIME SIZE=100", 250)
        r = c.cmd("RCPT TO:alice@example.test")
        assert 500 <= r.code <= 501, r
        r = c.cmd("RCPT TO:<%s@example.test>" % ("a" * 300))
        assert 500 <= r.code <= 553, r
        c.expect("RCPT TO:<alice@example.test> NOTIFY=SUCCESS,FAILURE "
                 "ORCPT=rfc822;alice@example.test", 250)
        c.expect("QUIT", 221)


def test_smtputf8(server):
    msgid, msg = simple_message(body="Grüße\r\n".encode())
    with server.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bøb@exämple.org> SMTPUTF8 BODY=8BITMIME", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        c.send(msg + b".\r\n")
        assert c.reply().code == 250
        c.quit()
    data = open(server.find("alice", msgid)[0], "rb").read()
    assert data.startswith("Return-Path: <bøb@exämple.org>\r\n".encode())


def test_too_many_recipients(make_server):
    srv = make_server(smtp_max_recipients=3)
    msgid, msg = simple_message()
    with srv.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        for u in ("alice", "bob", "carol"):
            c.expect("RCPT TO:<%s@example.test>" % u, 250)
        r = c.cmd("RCPT TO:<postmaster@example.test>")
        assert r.code == 452 and r.lines[0].startswith("4.5.3"), r
        c.expect("DATA", 354)
        c.send(msg + b".\r\n")
        assert c.reply().code == 250
        c.quit()
    for u in ("alice", "bob", "carol"):
        assert len(srv.find(u, msgid)) == 1
    assert srv.find("postmaster", msgid) == []


def test_alias_expansion_counts_toward_recipients(make_server):
    """An alias that expands past the limit must not store more copies
    than allowed, and must not be half-accepted."""
    srv = make_server(smtp_max_recipients=2)
    msgid, msg = simple_message()
    with srv.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        c.expect("RCPT TO:<carol@example.test>", 250)
        r = c.cmd("RCPT TO:<sales@example.test>")      # alice + bob
        assert r.code == 452, r
        c.expect("DATA", 354)
        c.send(msg + b".\r\n")
        assert c.reply().code == 250
        c.quit()
    assert len(srv.find("carol", msgid)) == 1
    # the refused alias delivered to nobody
    assert srv.find("alice", msgid) == [] and srv.find("bob", msgid) == []


def test_bad_commands_limit(make_server):
    srv = make_server(smtp_max_bad_commands=3)
    with srv.connect() as c:
        c.ehlo()
        assert c.cmd("XYZZY").code == 500
        assert c.cmd("PLUGH").code == 500
        r = c.cmd("FROB")
        assert r.code == 500
        r = c.reply()
        assert r.code == 421 and r.lines[0].startswith("4.7.0"), r
        assert c.is_closed()
    srv.wait_log(r"too-many-errors addr=127\.0\.0\.1")


def test_messages_per_connection_limit(make_server):
    srv = make_server(smtp_max_messages_per_connection=2)
    with srv.connect() as c:
        c.ehlo()
        for _ in range(2):
            assert c.send_mail("bob@example.org", ["alice@example.test"],
                               simple_message()[1]).code == 250
        r = c.cmd("MAIL FROM:<bob@example.org>")
        assert r.code == 421, r
        assert c.is_closed()
    assert len(srv.messages("alice")) == 2


def test_long_command_line(make_server):
    srv = make_server(smtp_max_line=512)
    with srv.connect() as c:
        c.ehlo()
        r = c.cmd("NOOP " + "x" * 2000)
        assert r.code == 500 and r.lines[0].startswith("5.5.2"), r
        # the rest of the long line is not run as a command
        r = c.cmd("MAIL FROM:<" + "a" * 600 + "QUIT>")
        assert r.code == 500, r
        assert not c.is_closed(0.3)
        # and the session still works
        msgid, msg = simple_message()
        assert c.send_mail("bob@example.org", ["alice@example.test"],
                           msg).code == 250
        c.quit()
    assert len(srv.find("alice", msgid)) == 1


def test_long_line_split_across_writes(make_server):
    srv = make_server(smtp_max_line=512)
    with srv.connect() as c:
        c.ehlo()
        c.send("NOOP " + "y" * 400)
        time.sleep(0.1)
        c.send("y" * 400)
        time.sleep(0.1)
        c.send("\r\nRSET\r\n")
        assert c.reply().code == 500
        assert c.reply().code == 250
        c.expect("NOOP", 250)


def test_huge_line_in_data(server):
    with server.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        try:
            c.send(b"Subject: x\r\n\r\n" + b"z" * (70 * 1024) + b"\r\n")
            c.send(b".\r\n")
        except OSError:
            pass
        r = c.reply()
        assert r.code == 500 and r.lines[0].startswith("5.5.2"), r
        assert c.is_closed()
    assert server.messages("alice") == []
    assert server.files("alice", sub="tmp") == []


def test_maildir_ownership_and_modes(server):
    """Started as root, the daemon stores mail as its unprivileged user;
    mailboxes are private."""
    import pwd
    import stat
    if os.geteuid() != 0:
        pytest.skip("needs root")
    msgid, msg = simple_message()
    with server.connect() as c:
        c.ehlo()
        assert c.send_mail("bob@example.org", ["alice@example.test"],
                           msg).code == 250
        c.quit()
    uid = pwd.getpwnam("facteur").pw_uid
    path = server.find("alice", msgid)[0]
    st = os.stat(path)
    assert st.st_uid == uid
    assert stat.S_IMODE(st.st_mode) & 0o077 == 0, oct(st.st_mode)
    for sub in ("", "new", "cur", "tmp"):
        d = os.path.join(server.maildir("alice"), sub)
        st = os.stat(d)
        assert st.st_uid == uid, d
        assert stat.S_IMODE(st.st_mode) == 0o700, (d, oct(st.st_mode))
    # every process but the parent runs as that user
    for pid in server.children():
        with open("/proc/%d/status" % pid) as f:
            uids = [l for l in f if l.startswith("Uid:")][0].split()[1:]
        assert all(int(u) == uid for u in uids), (pid, uids)
