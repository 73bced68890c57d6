"""facteur queue list|show|flush|delete|hold|release, and mailq.

The queue files are written here in the documented format (doc/QUEUE.md,
"Outbound queue"); no daemon runs.  flush and the reload notification
talk to a fake queue process: a unix socket server in a thread.

Run with /usr/bin/python3 -m pytest; the binary is $FACTEUR_BIN, by
default <repo>/build/facteur.
"""
import os
import socket
import subprocess
import threading

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BIN = os.environ.get("FACTEUR_BIN", os.path.join(REPO, "build", "facteur"))

QID1 = "0f3c91aa11e4b7a2"
QID2 = "0f3c91aa11e4b7b3"
QID3 = "7700000000000001"
T0 = 1764150000          # Wed Nov 26 09:40:00 2025 UTC


def escape(value):
    """A value as the envelope grammar writes it: %XX for bytes below
    0x21, '%' and above 0x7e."""
    if isinstance(value, str):
        value = value.encode()
    out = []
    for b in value:
        if b < 0x21 or b == 0x25 or b > 0x7e:
            out.append("%%%02X" % b)
        else:
            out.append(chr(b))
    return "".join(out)


def envelope(qid, sender, rcpts, created=T0, size=100, **flags):
    """The text of an envelope file.  rcpts: list of dicts with addr and
    optional state, attempts, next_try, status, text, relay."""
    lines = ["facteur-envelope 1", "qid " + qid, "created %d" % created,
             "size %d" % size, ("from " + escape(sender)) if sender
             else "from"]
    for key in ("hold", "bounce"):
        if flags.get(key):
            lines.append(key + " 1")
    for r in rcpts:
        lines.append("rcpt " + escape(r["addr"]))
        lines.append("state " + r.get("state", "pending"))
        for key in ("attempts", "next_try", "status", "text", "relay"):
            if key in r:
                lines.append("%s %s" % (key, escape(str(r[key]))))
    lines.append("end")
    return "\n".join(lines) + "\n"


class Queue:
    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.data = tmp_path / "data"
        self.dir = self.data / "queue"
        self.conf = tmp_path / "facteur.conf"
        self.conf.write_text(
            "# written by test_queue_cli.py\n"
            f"data_dir {self.data}\n"
            "hostname mx.example.test\n"
            "listen smtp 127.0.0.1:2525\n")

    def add(self, qid, sender, rcpts, body=b"Subject: hi\r\n\r\nhello\r\n",
            **kw):
        (self.dir / "tmp").mkdir(parents=True, exist_ok=True)
        (self.dir / (qid + ".msg")).write_bytes(body)
        (self.dir / (qid + ".env")).write_text(
            envelope(qid, sender, rcpts, size=len(body), **kw))

    def env(self, qid):
        return (self.dir / (qid + ".env")).read_text()

    def run(self, *args, argv0=None):
        assert os.access(BIN, os.X_OK), f"no binary at {BIN}: build first"
        exe = argv0 or BIN
        cmd = [exe, "-c", str(self.conf), *args]
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL,
                              env=dict(os.environ, TZ="UTC"))

    def ok(self, *args, **kw):
        p = self.run(*args, **kw)
        assert p.returncode == 0, (p.stdout, p.stderr)
        return p.stdout


class FakeQueueProcess:
    """A stand-in for the queue process's control socket: answers each
    request line with reply, records the lines."""

    def __init__(self, path, reply="ok 1 message\n"):
        self.path = str(path)
        self.reply = reply
        self.lines = []
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(5)
                buf = b""
                while b"\n" not in buf:
                    chunk = conn.recv(1024)
                    if not chunk:
                        break
                    buf += chunk
                self.lines.append(buf.decode())
                conn.sendall(self.reply.encode())

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


@pytest.fixture
def q(tmp_path):
    return Queue(tmp_path)


@pytest.fixture
def two(q):
    q.add(QID1, "a@x.org", [
        {"addr": "b@y.net", "attempts": 3, "next_try": T0 + 1200,
         "status": "4.4.1", "text": "451 4.4.1 try later",
         "relay": "mx.y.net[198.51.100.3]"},
        {"addr": "c@y.net", "state": "failed", "status": "5.1.1",
         "text": "550 5.1.1 no such user"},
        {"addr": "d@y.net", "state": "delivered"},
    ])
    q.add(QID2, "", [{"addr": "postmaster@example.test"}],
          created=T0 - 60, hold=True, bounce=True,
          body=b"x" * 3000)
    return q


def test_list_empty(q):
    assert q.ok("queue", "list") == "Mail queue is empty\n"
    (q.dir / "tmp").mkdir(parents=True)
    assert q.ok("queue", "list") == "Mail queue is empty\n"


def test_list(two):
    out = two.ok("queue", "list")
    assert out == (
        "-Queue ID-------  --Size-- ----Arrival Time---- "
        "-Sender/Recipient-------\n"
        # the oldest first; '!' marks a held message
        f"{QID2}!     3000 Wed Nov 26 09:39:00  <>\n"
        "    pending   <postmaster@example.test>\n"
        "\n"
        f"{QID1}        22 Wed Nov 26 09:40:00  <a@x.org>\n"
        "    pending   <b@y.net>  attempts=3 next=Wed Nov 26 10:00:00\n"
        "              (4.4.1 451 4.4.1 try later)\n"
        "    failed    <c@y.net>\n"
        "              (5.1.1 550 5.1.1 no such user)\n"
        "    delivered <d@y.net>\n"
        "\n"
        "-- 3 Kbytes in 2 Requests.\n")


def test_mailq_symlink(two, tmp_path):
    link = tmp_path / "bin" / "mailq"
    link.parent.mkdir()
    link.symlink_to(BIN)
    p = two.run(argv0=str(link))
    assert p.returncode == 0, p.stderr
    assert p.stdout == two.ok("queue", "list")
    assert "-- 3 Kbytes in 2 Requests." in p.stdout


def test_show(two):
    out = two.ok("queue", "show", QID1)
    for line in ("queue id: " + QID1,
                 "arrival: Wed 2025-11-26 09:40:00 +0000",
                 "size: 22",
                 "sender: <a@x.org>",
                 "held: no",
                 "recipient: <b@y.net>",
                 "  state: pending",
                 "  attempts: 3",
                 "  next try: Wed 2025-11-26 10:00:00 +0000",
                 "  status: 4.4.1",
                 "  relay: mx.y.net[198.51.100.3]",
                 "  reply: 451 4.4.1 try later",
                 "recipient: <c@y.net>",
                 "  state: failed",
                 "-- message --",
                 "Subject: hi",
                 "hello"):
        assert line + "\n" in out, (line, out)
    out = two.ok("queue", "show", QID2)
    assert "sender: <>\n" in out
    assert "held: yes\n" in out
    assert "delivery report: yes\n" in out


def test_show_escapes_control_bytes(q):
    """A hostile reply text or message cannot drive the terminal."""
    q.add(QID1, "a@x.org", [{"addr": "b@y.net",
                              "text": "451 \x1b[2J\x07 caf\u00e9"}],
          body=b"Subject: \x1b]0;owned\x07\r\n\r\n\x9b31m\xc3\xa9\r\n")
    out = q.ok("queue", "show", QID1)
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "reply: 451 \\x1b[2J\\x07 caf\u00e9\n" in out
    assert "Subject: \\x1b]0;owned\\x07\n" in out
    assert "\\x9b31m\u00e9\n" in out
    assert "\\x1b[2J" in q.ok("queue", "list")


def test_hold_release(two):
    before = two.env(QID1)
    assert two.ok("queue", "hold", QID1) == f"held {QID1}\n"
    held = two.env(QID1)
    # the same file, with the flag
    assert held.replace("hold 1\n", "") == before
    assert f"{QID1}!" in two.ok("queue", "list")
    assert "held: yes" in two.ok("queue", "show", QID1)
    # holding twice is harmless
    two.ok("queue", "hold", QID1)
    assert two.env(QID1) == held
    assert two.ok("queue", "release", QID1) == f"released {QID1}\n"
    assert two.env(QID1) == before
    assert f"{QID1} " in two.ok("queue", "list")
    # nothing left behind in tmp/
    assert os.listdir(two.dir / "tmp") == []


def test_delete(two):
    assert two.ok("queue", "delete", QID1) == f"deleted {QID1}\n"
    assert not (two.dir / (QID1 + ".env")).exists()
    assert not (two.dir / (QID1 + ".msg")).exists()
    out = two.ok("queue", "list")
    assert QID1 not in out and "in 1 Request." in out
    p = two.run("queue", "delete", QID1)
    assert p.returncode == 1
    assert f"no message {QID1} in the queue" in p.stderr
    for cmd in ("show", "hold", "release"):
        p = two.run("queue", cmd, QID1)
        assert p.returncode == 1, cmd
        assert "no message" in p.stderr, cmd


def test_ids(two):
    # a unique prefix is enough
    assert two.ok("queue", "hold", "0f3c91aa11e4b7a") == f"held {QID1}\n"
    p = two.run("queue", "show", "0f3c")        # both match
    assert p.returncode == 1 and "matches several messages" in p.stderr
    p = two.run("queue", "show", "77")
    assert p.returncode == 1 and "no message 77 in the queue" in p.stderr
    for bad in ("0F3C", "xyz", "0f3c91aa11e4b7a2a", "", "../../etc"):
        p = two.run("queue", "show", bad)
        assert p.returncode == 2, bad
        assert "bad queue id" in p.stderr


def test_usage(q):
    for args in ((), ("bogus",), ("list", "x"), ("show",),
                 ("show", "a", "b"), ("flush", "a", "b"), ("delete",)):
        p = q.run("queue", *args)
        assert p.returncode == 2, args
        assert "usage: facteur queue" in p.stderr


def test_strays_and_corruption(q):
    q.add(QID1, "a@x.org", [{"addr": "b@y.net"}])
    # a .msg without .env: a commit under way, not listed, not removed
    (q.dir / (QID3 + ".msg")).write_bytes(b"partial")
    (q.dir / "tmp" / (QID3 + ".msg")).write_bytes(b"partial")
    out = q.ok("queue", "list")
    assert QID3 not in out and "in 1 Request." in out
    assert (q.dir / (QID3 + ".msg")).exists()
    assert (q.dir / "tmp" / (QID3 + ".msg")).exists()
    # an envelope that does not parse: shown, and the exit status says so
    (q.dir / (QID3 + ".env")).write_text("facteur-envelope 1\ncolor red\n")
    p = q.run("queue", "list")
    assert p.returncode == 1
    assert f"{QID3}  (unreadable: " in p.stdout
    assert "line 2: unknown key" in p.stdout
    assert "1 envelope could not be read" in p.stderr
    assert f"{QID1} " in p.stdout


def test_flush_not_running(two):
    p = two.run("queue", "flush")
    assert p.returncode == 1
    assert "the server is not running" in p.stderr
    assert str(two.data / "run" / "queue.sock") in p.stderr
    # a stale socket nobody listens on
    path = two.data / "run" / "queue.sock"
    path.parent.mkdir(parents=True)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()
    p = two.run("queue", "flush", QID1)
    assert p.returncode == 1
    assert "the server is not running" in p.stderr


def test_flush(two):
    srv = FakeQueueProcess(two.data / "run" / "queue.sock",
                           "ok 2 messages scheduled\n")
    try:
        assert two.ok("queue", "flush") == "flush: 2 messages scheduled\n"
        two.ok("queue", "flush", "0f3c91aa11e4b7a")
        assert srv.lines == ["flush\n", f"flush {QID1}\n"]
        srv.reply = "error no such message\n"
        p = two.run("queue", "flush", QID2)
        assert p.returncode == 1
        assert "flush: no such message" in p.stderr
        srv.reply = "what?\n"
        p = two.run("queue", "flush")
        assert p.returncode == 1 and "unexpected reply" in p.stderr
    finally:
        srv.close()


def test_changes_notify_the_queue_process(two):
    srv = FakeQueueProcess(two.data / "run" / "queue.sock", "ok\n")
    try:
        two.ok("queue", "hold", QID1)
        two.ok("queue", "release", QID1)
        two.ok("queue", "delete", QID2)
        assert srv.lines == [f"reload {QID1}\n"] * 2 + [f"reload {QID2}\n"]
        # a refusal is a warning: the change on disk is made
        srv.reply = "error busy\n"
        p = two.run("queue", "hold", QID1)
        assert p.returncode == 0
        assert "warning: the queue process said: error busy" in p.stderr
        assert "hold 1\n" in two.env(QID1)
    finally:
        srv.close()
