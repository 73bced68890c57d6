"""facteur sendmail (and the `sendmail` name): a message on standard
input handed to the running daemon over DATA_DIR/run/sendmail.sock.

Run with /usr/bin/python3 -m pytest; the binary is $FACTEUR_BIN, by
default <repo>/build/facteur.
"""
import os
import pwd
import shutil
import subprocess
import time

import pytest

from conftest import BIN, DOMAIN, HOSTNAME, T, free_port, new_msgid, queue_envs

EX_USAGE, EX_DATAERR, EX_NOUSER, EX_UNAVAILABLE = 64, 65, 67, 69


@pytest.fixture
def srv(make_server):
    # a resolver that never answers: remote mail stays in the queue
    return make_server(dns_resolver="127.0.0.1@%d" % free_port())


def sendmail(srv, args, data, argv0=None, env=None, user=None):
    """Run `facteur -c CONF sendmail ARGS`, or ARGV0 ARGS (a link named
    sendmail) when argv0 is given; returns the CompletedProcess."""
    if argv0 is None:
        cmd = [BIN, "-c", srv.conf_path, "sendmail"] + list(args)
    else:
        cmd = [argv0] + list(args)
    if user is not None:
        cmd = ["runuser", "-u", user, "--"] + cmd
    if isinstance(data, str):
        data = data.encode()
    return subprocess.run(cmd, input=data, capture_output=True,
                          timeout=T(30), env=env)


def ok(r):
    assert r.returncode == 0, "exit %d\nstderr: %s" % (
        r.returncode, r.stderr.decode(errors="replace"))


def stored(srv, user, msgid):
    found = srv.wait_message(user, msgid)
    assert found, "%s did not get %s" % (user, msgid)
    with open(found[0], "rb") as f:
        return f.read()


def msg(msgid, head="", body="hello\n"):
    return "Message-ID: %s\nSubject: test\n%s\n%s" % (msgid, head, body)


def link(srv):
    """A symlink named sendmail to the binary."""
    d = os.path.join(srv.root, "bin")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "sendmail")
    if not os.path.exists(path):
        os.symlink(os.path.abspath(BIN), path)
    return path


def test_plain_recipients(srv):
    msgid = new_msgid()
    r = sendmail(srv, ["alice@" + DOMAIN, "bob@" + DOMAIN],
                 msg(msgid, "From: me@example.org\n"))
    ok(r)
    for u in ("alice", "bob"):
        data = stored(srv, u, msgid)
        assert b"Return-Path: <root@%s>" % HOSTNAME.encode() in data
        assert b"Subject: test\r\n" in data and b"\r\nhello\r\n" in data
        assert b"From: me@example.org\r\n" in data
    assert not srv.files("carol")


def test_extract_to_cc_bcc(srv):
    msgid = new_msgid()
    head = ("To: Alice <alice@example.test>\nCc: \"Bob, B.\" "
            "<bob@example.test> (bob)\nBcc: carol@example.test\n")
    ok(sendmail(srv, ["-t"], msg(msgid, head)))
    for u in ("alice", "bob", "carol"):
        data = stored(srv, u, msgid)
        assert b"\nBcc:" not in data and b"carol@" not in data.split(
            b"\r\n\r\n")[0].split(b"Received:")[-1]
        assert b"To: Alice <alice@example.test>\r\n" in data


def test_extract_plus_arguments_and_groups(srv):
    msgid = new_msgid()
    head = "To: friends: alice@example.test, bob@example.test;\n"
    ok(sendmail(srv, ["-t", "carol@" + DOMAIN], msg(msgid, head)))
    for u in ("alice", "bob", "carol"):
        assert stored(srv, u, msgid)


def test_extract_without_recipients(srv):
    r = sendmail(srv, ["-t"], msg(new_msgid(), "X-Nothing: 1\n"))
    assert r.returncode == EX_DATAERR
    assert b"no recipient" in r.stderr


def test_no_recipients_is_usage(srv):
    r = sendmail(srv, [], msg(new_msgid()))
    assert r.returncode == EX_USAGE


def test_lone_dot_with_i(srv):
    msgid = new_msgid()
    for flag in ("-i", "-oi"):
        msgid = new_msgid()
        ok(sendmail(srv, [flag, "alice@" + DOMAIN],
                    msg(msgid, body="one\n.\n..two\nend\n")))
        data = stored(srv, "alice", msgid)
        assert data.endswith(b"\r\n\r\none\r\n.\r\n..two\r\nend\r\n"), data


def test_lone_dot_ends_input(srv):
    msgid = new_msgid()
    ok(sendmail(srv, ["alice@" + DOMAIN],
                msg(msgid, body="one\n.two\n.\nnot sent\n")))
    data = stored(srv, "alice", msgid)
    assert data.endswith(b"\r\n\r\none\r\n.two\r\n"), data
    assert b"not sent" not in data


def test_sender_in_return_path(srv):
    for args in (["-f", "boss@example.org"], ["-fboss@example.org"],
                 ["-r", "<boss@example.org>"]):
        msgid = new_msgid()
        ok(sendmail(srv, args + ["alice@" + DOMAIN], msg(msgid)))
        assert b"Return-Path: <boss@example.org>\r\n" in stored(
            srv, "alice", msgid)


def test_full_name_adds_from(srv):
    msgid = new_msgid()
    ok(sendmail(srv, ["-F", "Cron Daemon", "alice@" + DOMAIN], msg(msgid)))
    assert (b"From: Cron Daemon <root@%s>\r\n" % HOSTNAME.encode()
            in stored(srv, "alice", msgid))
    # a name with specials is quoted; a From: already there is kept
    msgid = new_msgid()
    ok(sendmail(srv, ["-F", "Doe, John", "alice@" + DOMAIN], msg(msgid)))
    assert (b'From: "Doe, John" <root@%s>\r\n' % HOSTNAME.encode()
            in stored(srv, "alice", msgid))
    msgid = new_msgid()
    ok(sendmail(srv, ["-F", "Ignored", "alice@" + DOMAIN],
                msg(msgid, "From: Me <me@example.org>\n")))
    data = stored(srv, "alice", msgid)
    assert b"Ignored" not in data and data.count(b"\nFrom:") == 1


def test_symlink_with_C_and_env(srv):
    path = link(srv)
    msgid = new_msgid()
    # real sendmail options, -C for the config; no -c
    ok(sendmail(srv, ["-C", srv.conf_path, "-oi", "-odi", "-oem", "-t"],
                msg(msgid, "To: bob@example.test\n"), argv0=path))
    assert stored(srv, "bob", msgid)
    msgid = new_msgid()
    env = dict(os.environ, FACTEUR_CONF=srv.conf_path)
    ok(sendmail(srv, ["-i", "-v", "alice@" + DOMAIN], msg(msgid),
                argv0=path, env=env))
    assert stored(srv, "alice", msgid)


def test_remote_recipient_is_queued(srv):
    msgid = new_msgid()
    ok(sendmail(srv, ["someone@elsewhere.example", "bob@" + DOMAIN],
                msg(msgid)))
    assert stored(srv, "bob", msgid)
    qdir = os.path.join(srv.data_dir, "queue")
    deadline = time.time() + T(5)
    envs = []
    while time.time() < deadline and not envs:
        envs = queue_envs(qdir)
        time.sleep(0.1)
    assert envs, "nothing queued for the remote recipient"
    with open(os.path.join(qdir, envs[0]), "rb") as f:
        assert b"someone@elsewhere.example" in f.read()


def test_daemon_not_running(make_server):
    srv = make_server(start=False)
    r = sendmail(srv, ["alice@" + DOMAIN], msg(new_msgid()))
    assert r.returncode == EX_UNAVAILABLE
    sock = os.path.join(srv.data_dir, "run", "sendmail.sock")
    assert (b"facteur sendmail: the facteur daemon is not running (%s)"
            % sock.encode()) in r.stderr, r.stderr


def test_unknown_user(srv):
    r = sendmail(srv, ["nobody-here@" + DOMAIN], msg(new_msgid()))
    assert r.returncode == EX_NOUSER, r.stderr
    assert b"550 5.1.1" in r.stderr
    # one good, one bad: the good one gets it, still exit 67
    msgid = new_msgid()
    r = sendmail(srv, ["alice@" + DOMAIN, "nobody-here@" + DOMAIN],
                 msg(msgid))
    assert r.returncode == EX_NOUSER, r.stderr
    assert b"<nobody-here@example.test>: 550" in r.stderr
    assert stored(srv, "alice", msgid)


def test_nul_byte(srv):
    r = sendmail(srv, ["alice@" + DOMAIN], b"Subject: x\n\nab\0cd\n")
    assert r.returncode == EX_DATAERR
    assert b"NUL" in r.stderr
    assert not srv.files("alice")


def test_unknown_option(srv):
    r = sendmail(srv, ["-Q", "alice@" + DOMAIN], msg(new_msgid()))
    assert r.returncode == EX_USAGE
    assert b"unknown option -Q" in r.stderr


def test_shell_pipeline(srv):
    path = link(srv)
    sh = ("printf 'Subject: cron\\n\\nbody\\nline2\\n' | %s -C %s bob@%s"
          % (path, srv.conf_path, DOMAIN))
    r = subprocess.run(["sh", "-c", sh], capture_output=True, timeout=T(30))
    ok(r)
    deadline = time.time() + T(5)
    while time.time() < deadline and not srv.files("bob"):
        time.sleep(0.05)
    data = srv.messages("bob")[0]
    assert b"Subject: cron\r\n" in data
    assert data.endswith(b"\r\n\r\nbody\r\nline2\r\n"), data
    assert b"\n" not in data.replace(b"\r\n", b"")
    # From: and (by the daemon) Message-ID and Date were added
    assert b"From: root@%s\r\n" % HOSTNAME.encode() in data
    assert b"Message-ID:" in data or b"Message-Id:" in data


@pytest.mark.skipif(shutil.which("runuser") is None or os.geteuid() != 0,
                    reason="needs root and runuser")
def test_as_unprivileged_user(srv):
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    msgid = new_msgid()
    r = sendmail(srv, ["-F", "Cron Daemon", "alice@" + DOMAIN],
                 msg(msgid, body="cron output\n"), argv0=link(srv),
                 env=dict(os.environ, FACTEUR_CONF=srv.conf_path),
                 user="nobody")
    ok(r)
    data = stored(srv, "alice", msgid)
    assert b"Return-Path: <nobody@%s>\r\n" % HOSTNAME.encode() in data
    assert b"From: Cron Daemon <nobody@%s>\r\n" % HOSTNAME.encode() in data


def test_long_lines_and_big_body(srv):
    msgid = new_msgid()
    long_line = "x" * 2500
    body = "".join("line %d %s\n" % (i, "y" * 60) for i in range(3000))
    ok(sendmail(srv, ["alice@" + DOMAIN], msg(
        msgid, "X-Long: " + long_line + "\n", body + long_line + "\n")))
    data = stored(srv, "alice", msgid)
    assert all(len(l) <= 998 for l in data.split(b"\r\n"))
    # the header line goes on as a continuation, the body line is broken
    assert b"X-Long: " + b"x" * 990 + b"\r\n " + b"x" * 997 + b"\r\n " \
        in data
    assert body.replace("\n", "\r\n").encode() in data


def test_bare_cr_and_crlf_input(srv):
    msgid = new_msgid()
    ok(sendmail(srv, ["alice@" + DOMAIN],
                b"Message-ID: " + msgid.encode() +
                b"\r\nSubject: crlf\r\n\r\na\rb\r\nc\n"))
    data = stored(srv, "alice", msgid)
    assert data.endswith(b"\r\n\r\na\r\nb\r\nc\r\n"), data


def test_mailq_and_bi(srv):
    r = sendmail(srv, ["-bp"], b"")
    assert r.returncode == 0, r.stderr
    r = sendmail(srv, ["-bi"], b"")
    assert r.returncode == 0, r.stderr


def test_smtp_on_stdin(srv):
    msgid = new_msgid()
    script = ("EHLO me\nMAIL FROM:<a@example.org>\nRCPT TO:<alice@%s>\n"
              "DATA\nMessage-ID: %s\n\nhi\n.\nQUIT\n" % (DOMAIN, msgid))
    r = sendmail(srv, ["-bs"], script)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"220 ")
    assert b"\r\n221 " in r.stdout, r.stdout
    assert stored(srv, "alice", msgid)


def test_unqualified_names_get_the_hostname(srv):
    # cron's MAILTO=root: root@HOSTNAME, which an alias can route
    srv.cli("domain", "add", HOSTNAME)
    srv.cli("alias", "add", "root@" + HOSTNAME, "alice@" + DOMAIN)
    msgid = new_msgid()
    ok(sendmail(srv, ["root"], msg(msgid)))
    data = stored(srv, "alice", msgid)
    assert b"for <root@%s>" % HOSTNAME.encode() in data
    # bare postmaster stays bare (RFC 5321 4.5.1)
    msgid = new_msgid()
    ok(sendmail(srv, ["-v", "postmaster"], msg(msgid)))
    assert stored(srv, "postmaster", msgid)


def test_more_recipients_than_a_transaction_takes(make_server):
    srv = make_server(smtp_max_recipients=2)
    msgid = new_msgid()
    body = "".join("%05d %s\n" % (i, "z" * 70) for i in range(2000))
    users = ("alice", "bob", "carol", "postmaster")
    r = sendmail(srv, ["-v"] + ["%s@%s" % (u, DOMAIN) for u in users],
                 msg(msgid, body=body))
    ok(r)
    assert r.stderr.count(b"-> DATA") == 2, r.stderr
    for u in users:
        assert stored(srv, u, msgid).endswith(
            body.replace("\n", "\r\n").encode())


def test_message_too_big(make_server):
    srv = make_server(smtp_max_message_size=2048)
    r = sendmail(srv, ["alice@" + DOMAIN], msg(new_msgid(), body="x" * 4000))
    assert r.returncode == EX_DATAERR, r.stderr
    assert b"MAIL FROM: 552 5.3.4" in r.stderr
    assert not srv.files("alice")


def test_header_block_cap(srv):
    head = "".join("X-Filler-%d: %s\n" % (i, "f" * 900)
                   for i in range(1200))
    r = sendmail(srv, ["alice@" + DOMAIN], msg(new_msgid(), head))
    assert r.returncode == EX_DATAERR
    assert b"header block is larger than 1 MiB" in r.stderr
