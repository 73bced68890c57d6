"""Spare files in the outbound queue (src/queue/queue_fs.c): files of
delivered messages are kept under future qid names (queue/N.msg and
queue/N.env, one inode, marked "facteur-spare 1 ", plus the discovery
name queue/spare/N) and reused in place by new messages; the header
line (version 2) carries a checksum that the queue process checks, for
files written before the boot, at its first start after a reboot.

Mail is relayed (relay_networks) to a smarthost given as an address:
a scripted SMTP peer (test_mta.Peer) that is started and closed to make
the destination come up or go down.  Needs root and unbound (the
fixtures of test_mta.py); skipped otherwise.
"""
import os
import re
import smtplib
import threading
import time

import pytest

from conftest import (BIN, SPARE_MAGIC, T, new_msgid, queue_envs, run_bin,
                      split_trace)
from test_mta import (env, have_root_and_unbound, mta_server,  # noqa
                      peers, queue_empty)

pytestmark = pytest.mark.skipif(not have_root_and_unbound(),
                                reason="needs root and unbound")

HDR2 = re.compile(rb"\Afacteur-queue 2 (\d{10}) [0-9a-f]{16}\n")
QID = re.compile(r"\A[0-9a-f]{16}\Z")


# --------------------------------------------------------------------------
# helpers

def qdir(srv):
    return os.path.join(srv.data_dir, "queue")


def queued(srv):
    """qids of the queued messages (spares excluded)."""
    return [n[:-4] for n in queue_envs(qdir(srv))]


def spare_names(srv):
    try:
        return sorted(os.listdir(os.path.join(qdir(srv), "spare")))
    except FileNotFoundError:
        return []


def ino(path):
    return os.stat(path).st_ino


def make_msg(tag, size):
    """(msgid, bytes) of a message with a body of about size bytes that
    is unique to tag (no line starts with a dot)."""
    msgid = new_msgid()
    head = ("From: <bob@client.test>\r\nTo: <x@far.test>\r\n"
            "Subject: spare %s\r\nMessage-ID: %s\r\n"
            "Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\n"
            % (tag, msgid)).encode()
    line = ("%s %s " % (tag, msgid)).encode()
    line = (line * (70 // len(line) + 1))[:70] + b"\r\n"
    body = b""
    n = 0
    while len(body) < size:
        body += b"%06d " % n + line
        n += 1
    return msgid, head + body + b"end of " + tag.encode() + b"\r\n"


def wait_spares(srv, n):
    """The checked spares once n are named in spare/: the queue process
    links spare/N only after its directory fsync."""
    deadline = time.time() + T(5)
    while len(spare_names(srv)) < n and time.time() < deadline:
        time.sleep(0.05)
    spares = check_spares(srv)
    assert len(spares) == n, sorted(spares)
    return spares


def relay(srv, msgs, rcpt="x@far.test", one_session=True):
    """Send each (msgid, bytes) through port 25 (relay network)."""
    s = None
    for _, data in msgs:
        if s is None:
            s = smtplib.SMTP("127.0.0.1", srv.port, timeout=T(10))
            s.ehlo("client.test")
        s.sendmail("bob@client.test", [rcpt], data)
        if not one_session:
            s.quit()
            s = None
    if s is not None:
        s.quit()


def relay_server(mta_server, ip, port, **kw):
    opts = {"relay_networks": "127.0.0.0/8",
            "smarthost": "[%s]:%d" % (ip, port),
            "smarthost_tls": "none"}
    opts.update(kw)
    return mta_server(**opts)


def switch_peer(peers, ip, port):
    """A smarthost that answers 451 to RCPT while .down is true (mail
    stays queued, even over a connection the client keeps open)."""
    p = None

    def rcpt(addr):
        if p.down:
            return "451 4.3.0 down for the test"
        return "250 2.1.5 ok"

    p = peers(ip, port=port, rcpt=rcpt)
    p.down = True
    return p


def wait_queued(srv, n, timeout=None):
    deadline = time.time() + (timeout or T(10))
    while time.time() < deadline:
        q = queued(srv)
        if len(q) >= n:
            return q
        time.sleep(0.05)
    raise AssertionError("queued: %r, expected %d\n%s"
                         % (queued(srv), n, srv.log()[-3000:]))


def flush(srv):
    """facteur queue flush, once the queue process listens: it starts
    after the workers (its scan comes first), slowly under sanitizers."""
    deadline = time.time() + T(10)
    while True:
        r = srv.cli("queue", "flush", check=False)
        if r.returncode == 0:
            return
        if b"is not running" not in r.stderr or time.time() > deadline:
            raise AssertionError("facteur queue flush: exit %d: %s"
                                 % (r.returncode, r.stderr))
        time.sleep(0.05)


def by_msgid(peer_msgs, msgids):
    """msgid -> list of the data received holding it."""
    out = {m: [] for m in msgids}
    for got in peer_msgs:
        for m in msgids:
            if m.encode() in got["data"]:
                out[m].append(got["data"])
    return out


def assert_exact(peer_msgs, msgs):
    got = by_msgid(peer_msgs, [m for m, _ in msgs])
    for msgid, data in msgs:
        assert len(got[msgid]) == 1, (msgid, len(got[msgid]))
        trace, rest = split_trace(got[msgid][0])
        assert trace, got[msgid][0][:300]
        if rest != data:
            n = next((i for i in range(min(len(rest), len(data)))
                      if rest[i] != data[i]), min(len(rest), len(data)))
            raise AssertionError(
                "%s: not byte-exact (sent %d bytes, got %d, first "
                "difference at %d: sent %r got %r)"
                % (msgid, len(data), len(rest), n, data[n:n + 40],
                   rest[n:n + 40]))


def queue_list(srv):
    return srv.cli("queue", "list").stdout.decode()


def check_spares(srv):
    """Every spare/N is the third name of queue/N.msg and queue/N.env,
    marked spare.  Returns {qid: inode}."""
    out = {}
    for n in spare_names(srv):
        assert QID.match(n), n
        sp = os.path.join(qdir(srv), "spare", n)
        st = os.stat(sp)
        assert st.st_nlink == 3, (n, st.st_nlink)
        assert ino(os.path.join(qdir(srv), n + ".msg")) == st.st_ino, n
        assert ino(os.path.join(qdir(srv), n + ".env")) == st.st_ino, n
        with open(sp, "rb") as f:
            assert f.read(len(SPARE_MAGIC)) == SPARE_MAGIC, n
        out[n] = st.st_ino
    return out


# --------------------------------------------------------------------------
# 1. spares are made by deliveries and reused by new messages

def test_delivered_files_become_spares_and_are_reused(mta_server, peers):
    ip, port = "127.0.6.41", 2525
    sink = switch_peer(peers, ip, port)
    # one worker: workers share the spare names out by qid (qid % the
    # number of workers), so with one session and 2 workers only about
    # half of them would be offered
    srv = relay_server(mta_server, ip, port, workers=1)
    # all 20 queued while the smarthost is down: 20 distinct files
    first = [make_msg("first%d" % i, 2000 + 1500 * i) for i in range(20)]
    relay(srv, first)
    wait_queued(srv, 20)
    assert spare_names(srv) == []
    sink.down = False
    flush(srv)
    assert_exact(sink.wait_msgs(20, timeout=T(20)), first)
    queue_empty(srv)
    spares = wait_spares(srv, 20)
    assert len(set(spares.values())) == 20
    assert queue_list(srv) == "Mail queue is empty\n"
    link = os.path.join(srv.root, "mailq")
    os.symlink(BIN, link)
    r = run_bin([link, "-c", srv.conf_path], capture_output=True,
                timeout=T(30))
    assert r.returncode == 0, r
    assert r.stdout == b"Mail queue is empty\n", r.stdout

    # 20 more, held (smarthost down), in one session: each takes a spare
    sink.down = True
    second = [make_msg("second%d" % i, 50 + 2900 * (i % 7) * (i % 3))
              for i in range(20)]
    relay(srv, second)
    qids = wait_queued(srv, 20)
    assert len(qids) == 20
    inodes = {}
    for q in qids:
        path = os.path.join(qdir(srv), q + ".msg")
        with open(path, "rb") as f:
            head = f.read(64)
        assert HDR2.match(head), (q, head)
        inodes[q] = ino(path)
    assert set(inodes) <= set(spares), (
        "new messages not under spare names: %r"
        % sorted(set(inodes) - set(spares)))
    for q, i in inodes.items():
        assert spares[q] == i, (q, "inode", i, "spare inode", spares[q])
    # a taken spare has lost its spare/ name
    assert not set(spare_names(srv)) & set(inodes)
    assert "in 20 Requests." in queue_list(srv)

    sink.down = False
    flush(srv)
    assert_exact(sink.wait_msgs(40, timeout=T(20))[20:], second)
    queue_empty(srv)
    time.sleep(0.3)
    assert len(sink.msgs) == 40


# --------------------------------------------------------------------------
# 2. the checksum is checked at the first start after a reboot

def boot_time():
    with open("/proc/uptime") as f:
        return time.time() - float(f.read().split()[0])


def current_boot_id():
    with open("/proc/sys/kernel/random/boot_id") as f:
        return f.read()


def msgid_of(data):
    m = re.search(rb"(?im)^Message-ID: (<[^>\r\n]*>)", data)
    return m.group(1).decode() if m else None


def queued_msgids(srv):
    """qid -> Message-ID of each queued message."""
    out = {}
    for q in queued(srv):
        with open(os.path.join(qdir(srv), q + ".msg"), "rb") as f:
            out[q] = msgid_of(f.read())
    return out


def flip_body_byte(path):
    """Change one byte of the message (past the header block); returns
    the new content of the file."""
    with open(path, "rb") as f:
        data = bytearray(f.read())
    m = HDR2.match(bytes(data[:64]))
    assert m, data[:64]
    block = int(m.group(1))
    assert block < len(data) - 100, (block, len(data))
    pos = block + (len(data) - block) * 2 // 3
    data[pos] ^= 0x01
    with open(path, "r+b") as f:
        f.seek(pos)
        f.write(bytes([data[pos]]))
    return bytes(data)


def before_boot(path):
    t = boot_time() - 3600
    os.utime(path, (t, t))


def write_boot_id(srv, value):
    with open(os.path.join(qdir(srv), "boot-id"), "w") as f:
        f.write(value)


def test_checksum_checked_after_reboot_only(mta_server, peers):
    ip, port = "127.0.6.42", 2525
    mx = switch_peer(peers, ip, port)
    srv = relay_server(mta_server, ip, port)
    msgs = {tag: make_msg(tag, 5000) for tag in ("bad", "good", "later")}
    relay(srv, msgs.values())
    wait_queued(srv, 3)
    qid = {tag: q for q, m in queued_msgids(srv).items()
           for tag, (mid, _) in msgs.items() if m == mid}
    assert len(qid) == 3, qid
    srv.stop()

    # a "reboot": another boot id, files last written before the boot
    corrupted = flip_body_byte(os.path.join(qdir(srv), qid["bad"] + ".msg"))
    for tag in ("bad", "good"):
        before_boot(os.path.join(qdir(srv), qid[tag] + ".msg"))
    write_boot_id(srv, "00000000-1111-2222-3333-444444444444\n")
    srv.start()
    # the scan (and its check) runs before the queue process says so
    srv.wait_log(r"queue started messages=", count=2)
    left = queued(srv)
    assert sorted(left) == sorted([qid["good"], qid["later"]]), left
    bad = qid["bad"]
    with open(os.path.join(qdir(srv), "corrupt", bad + ".msg"), "rb") as f:
        assert f.read() == corrupted
    assert not os.path.exists(os.path.join(qdir(srv), bad + ".msg"))
    assert not os.path.exists(os.path.join(qdir(srv), bad + ".env"))
    lines = [l for l in srv.log().splitlines()
             if "corrupt" in l and bad in l]
    assert lines, srv.log()[-3000:]
    assert re.search(r"%s queue corrupt reason=<the checksum" % bad,
                     lines[0]), lines
    assert bad not in queue_list(srv)
    with open(os.path.join(qdir(srv), "boot-id")) as f:
        assert f.read() == current_boot_id()

    # same boot (boot-id is this boot's now): a torn-looking file is not
    # checked; only a reboot triggers the check
    srv.stop()
    flip_body_byte(os.path.join(qdir(srv), qid["later"] + ".msg"))
    before_boot(os.path.join(qdir(srv), qid["later"] + ".msg"))
    srv.start()
    srv.wait_log(r"queue started messages=", count=3)
    assert sorted(queued(srv)) == sorted([qid["good"], qid["later"]])
    assert os.listdir(os.path.join(qdir(srv), "corrupt")) == [bad + ".msg"]
    assert len(re.findall(r"queue corrupt ", srv.log())) == 1

    mx.down = False
    flush(srv)
    got = mx.wait_msgs(2, timeout=T(20))
    queue_empty(srv)
    time.sleep(0.3)
    got = list(mx.msgs)
    assert len(got) == 2, [msgid_of(g["data"]) for g in got]
    assert_exact(got, [msgs["good"]])
    seen = by_msgid(got, [m for m, _ in msgs.values()])
    assert seen[msgs["bad"][0]] == []
    # not checked: delivered as it is, changed byte included
    assert len(seen[msgs["later"][0]]) == 1
    assert split_trace(seen[msgs["later"][0]][0])[1] != msgs["later"][1]


# --------------------------------------------------------------------------
# 3. cleanup of spares at start

def test_stray_spares_and_stale_names_removed_at_start(mta_server, peers):
    ip, port = "127.0.6.43", 2525
    mx = switch_peer(peers, ip, port)
    mx.down = False
    srv = relay_server(mta_server, ip, port)
    relay(srv, [make_msg("s%d" % i, 3000) for i in range(4)])
    mx.wait_msgs(4)
    queue_empty(srv)
    spares = sorted(wait_spares(srv, 4))
    srv.stop()

    q = qdir(srv)
    old = time.time() - 7200
    old_stray, young_stray, old_named, orphan = spares
    # a spare without its spare/ name, 2 hours old: removed
    os.unlink(os.path.join(q, "spare", old_stray))
    os.utime(os.path.join(q, old_stray + ".msg"), (old, old))
    # the same, young (a worker may be writing it): kept
    os.unlink(os.path.join(q, "spare", young_stray))
    # an old spare with its name: kept, still a spare
    os.utime(os.path.join(q, old_named + ".msg"), (old, old))
    # spare/N whose queue names are gone: the name is removed
    os.unlink(os.path.join(q, orphan + ".msg"))
    os.unlink(os.path.join(q, orphan + ".env"))
    # the old layout's names, and a qid name linked to nothing in queue/
    with open(os.path.join(q, "spare", "0001"), "wb") as f:
        f.write(SPARE_MAGIC + b"old layout\n")
    with open(os.path.join(q, "spare", "00000000000000ab"), "wb") as f:
        f.write(SPARE_MAGIC + b"nothing\n")
    os.utime(os.path.join(q, "spare", "0001"), (old, old))
    srv.start()
    # the scan runs in the queue process at its start
    srv.wait_log(r"%s queue stray-removed path=<[^>]*%s\.msg>"
                 % (old_stray, old_stray))
    srv.wait_log(r"%s queue stray-removed path=<[^>]*%s\.env>"
                 % (old_stray, old_stray))
    for ext in (".msg", ".env"):
        assert not os.path.exists(os.path.join(q, old_stray + ext))
        assert os.path.exists(os.path.join(q, young_stray + ext))
        assert os.path.exists(os.path.join(q, old_named + ext))
    assert os.stat(os.path.join(q, young_stray + ".msg")).st_nlink == 2
    assert spare_names(srv) == [old_named]
    check_spares(srv)
    assert queued(srv) == []
    assert queue_list(srv) == "Mail queue is empty\n"
    # the remaining spare is still usable
    mx.down = True
    srv.stop()
    srv.write_config(workers=1)
    srv.start()
    m = make_msg("after", 1000)
    relay(srv, [m])
    assert queued(srv) == [old_named]
    mx.down = False
    flush(srv)
    assert_exact(mx.wait_msgs(5)[4:], [m])
    queue_empty(srv)


# --------------------------------------------------------------------------
# 4. kill -9 of every process while messages come in

def test_sigkill_while_receiving_loses_nothing(mta_server, peers):
    ip, port = "127.0.6.44", 2525
    mx = switch_peer(peers, ip, port)
    mx.down = False
    srv = relay_server(mta_server, ip, port)
    # spares first
    early = [make_msg("early%d" % i, 4000) for i in range(10)]
    relay(srv, early, one_session=False)
    mx.wait_msgs(10)
    queue_empty(srv)
    spares = set(wait_spares(srv, 10))
    mx.down = True

    acked, inflight = [], []
    stop = threading.Event()

    def client():
        for i in range(30):
            if stop.is_set():
                return
            m = make_msg("k%d" % i, 500 + 300 * i)
            inflight[:] = [m[0]]
            try:
                relay(srv, [m])
            except (OSError, smtplib.SMTPException):
                return
            acked.append(m[0])
            inflight[:] = []

    th = threading.Thread(target=client, daemon=True)
    th.start()
    deadline = time.time() + T(10)
    while len(acked) < 12 and th.is_alive() and time.time() < deadline:
        time.sleep(0.002)
    srv.kill_group()
    stop.set()
    th.join(T(15))
    assert not th.is_alive()
    assert 12 <= len(acked) < 30, len(acked)

    srv.start()
    srv.wait_log(r"queue started messages=", count=2)  # its scan ran
    q = queued_msgids(srv)
    ids = set(q.values())
    missing = [m for m in acked if m not in ids]
    assert not missing, "lost after kill -9: %r" % missing
    # nothing else: no spare shows up as a message
    assert ids <= set(acked) | set(inflight), ids - set(acked)
    assert len(q) == len(ids)
    # the kill hit messages written into reused spare files
    assert set(q) & spares, (sorted(q), sorted(spares))
    assert "in %d Request" % len(q) in queue_list(srv)

    mx.down = False
    flush(srv)
    deadline = time.time() + T(20)
    while True:
        seen = by_msgid(list(mx.msgs), acked)
        if all(seen.values()) or time.time() > deadline:
            break
        time.sleep(0.1)
    queue_empty(srv)
    time.sleep(0.3)
    got = list(mx.msgs)
    seen = by_msgid(got, acked + [m for m, _ in early] + inflight)
    for m in acked:
        assert len(seen[m]) == 1, (m, len(seen[m]))
    for m, _ in early:
        assert len(seen[m]) == 1, (m, len(seen[m]))
    for m in inflight:
        assert len(seen[m]) <= 1
    assert len(got) == 10 + len(ids)
