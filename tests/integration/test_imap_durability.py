"""APPEND and SIGKILL (issue 4): a message is visible whole or not at
all.  A SIGKILL in the middle of a literal leaves no partial message (in
the mailbox as IMAP shows it, and no half file in cur/ or new/); an
APPEND that got its tagged OK survives a SIGKILL right after it; many
concurrent APPENDs interrupted by kill -9 lose none of those answered
OK and leave nothing broken."""
import os
import signal
import threading
import time

import pytest

from conftest import SANITIZED, Closed, T
from imaputil import (ImapError, fetch_items, imap, make_imap,  # noqa: F401
                      maildir_files, message)


def kill(srv, how, client=None):
    """SIGKILL: the whole daemon (then start it again), or only the
    worker process holding client's session (the parent restarts it)."""
    if how == "all":
        srv.kill_group()
        srv.start()
    else:
        pid = srv.session_pid(client)
        assert pid and pid != srv.pid, "no worker holds the session: %r" % pid
        os.kill(pid, signal.SIGKILL)
        srv.allowed_log.append(r"child-exit .*signal=9")


def wait_login(srv, timeout=None):
    """A logged-in session once the daemon (or a restarted worker)
    answers again."""
    deadline = time.time() + (timeout or T(20))
    last = None
    while time.time() < deadline:
        try:
            return srv.login()
        except (OSError, Closed, ImapError, AssertionError) as e:
            last = e
            time.sleep(0.2)
    raise AssertionError("no IMAP login after the kill: %r" % last)


def mailbox_contents(c):
    """{uid: BODY[]} of INBOX, selected afresh."""
    c.select()
    out = {}
    if not c.uids():
        return out
    for r in c.ok("UID FETCH 1:* (UID BODY.PEEK[])"):
        f = fetch_items(r)
        if f:
            out[int(f[1][b"UID"])] = f[1][b"BODY[]"]
    return out


def files_are_whole(srv, allowed):
    """Every message file in cur/ and new/ is byte-equal to one of the
    allowed contents; returns the files' contents."""
    out = []
    for name, path in maildir_files(srv).items():
        with open(path, "rb") as f:
            data = f.read()
        assert data in allowed, \
            "file %s (%d bytes) is not a whole message we sent" % (
                name, len(data))
        out.append(data)
    return out


@pytest.mark.parametrize("how", ["all", "worker"])
def test_sigkill_during_append_literal(make_imap, how):
    srv = make_imap()
    c = srv.login()
    early = [message(i) for i in range(2)]
    for m in early:
        c.append(m)
    c.select()

    big = message(9, size=5 * 1024 * 1024)
    tag = c.tag()
    c.send('%s APPEND INBOX (\\Seen) {%d}\r\n' % (tag, len(big)))
    r = c.response()
    assert r.startswith(b"+"), r
    sent = 0
    for _ in range(24):                 # ~1.5 MB, slowly
        c.send(big[sent:sent + 65536])
        sent += 65536
        time.sleep(0.02)
    assert sent < len(big)
    kill(srv, how, c)
    c.close()

    c = wait_login(srv)
    info = c.select()
    assert info["exists"] == 2, info
    got = mailbox_contents(c)
    assert sorted(got.values()) == sorted(early)
    files = files_are_whole(srv, early)
    assert len(files) == 2
    # the daemon works on: an APPEND after the kill is fine
    c.append(message(10))
    assert len(c.uids()) == 3
    c.logout()


@pytest.mark.parametrize("how", ["all", "worker"])
def test_append_ok_survives_sigkill(make_imap, how):
    srv = make_imap()
    c = srv.login()
    c.append(message(0))
    big = message(1, size=2 * 1024 * 1024)
    uid = c.append(big, flags="\\Flagged")
    # no other command in between: kill as soon as the OK is read
    kill(srv, how, c)
    c.close()

    c = wait_login(srv)
    got = mailbox_contents(c)
    assert len(got) == 2, sorted(got)
    assert big in got.values()
    if uid:
        assert got.get(uid[1]) == big, (uid, sorted(got))
    f = c.fetch("1:*", "(FLAGS RFC822.SIZE)")
    sizes = sorted(int(d[b"RFC822.SIZE"]) for d in f.values())
    assert len(big) in sizes
    flagged = [d for d in f.values()
               if int(d[b"RFC822.SIZE"]) == len(big)][0]
    assert b"\\Flagged" in flagged[b"FLAGS"], flagged
    files_are_whole(srv, list(got.values()))
    c.logout()


def test_many_appends_then_kill9(make_imap):
    """Several connections APPEND in a loop; kill -9 of the whole daemon
    while they run.  After a restart: every APPEND answered OK is
    there byte-exact; anything else present is whole; UIDs are
    unique."""
    srv = make_imap(workers=2)
    nconn = 4
    stop = threading.Event()
    acked = [[] for _ in range(nconn)]       # (content, appenduid)
    sent = [[] for _ in range(nconn)]
    errors = []

    def run(k):
        try:
            c = srv.login()
        except Exception as e:               # noqa: BLE001
            errors.append(repr(e))
            return
        n = 0
        while not stop.is_set():
            m = message(1000 * k + n, body=b"conn %d msg %d\r\n" % (k, n),
                        size=2000 + 5000 * (n % 7))
            n += 1
            sent[k].append(m)
            try:
                uid = c.append(m)
            except (OSError, Closed, ImapError):
                return
            acked[k].append((m, uid))
        c.close()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(nconn)]
    for t in threads:
        t.start()
    deadline = time.time() + T(30)
    while sum(len(a) for a in acked) < (40 if not SANITIZED else 10):
        assert time.time() < deadline, ("too slow", errors,
                                        [len(a) for a in acked])
        assert not errors, errors
        time.sleep(0.05)
    srv.kill_group()
    stop.set()
    for t in threads:
        t.join(T(20))
    srv.start()

    c = wait_login(srv)
    got = mailbox_contents(c)
    present = list(got.values())
    all_acked = [m for a in acked for m, _ in a]
    all_sent = [m for s in sent for m in s]
    missing = [m for m in all_acked if m not in present]
    assert not missing, "%d APPENDs answered OK are gone (first: %r)" % (
        len(missing), missing[0][:120])
    for m, uid in (x for a in acked for x in a):
        if uid:
            assert got.get(uid[1]) == m, "APPENDUID %r lost its message" % (
                uid,)
    # nothing else than whole messages we sent, no duplicates
    assert all(p in all_sent for p in present)
    assert len(set(present)) == len(present), "a message is there twice"
    files_are_whole(srv, all_sent)
    assert len(maildir_files(srv)) == len(present)
    c.logout()


def test_disconnect_during_append_literal(imap):
    """The client goes away in the middle of a literal (no kill): no
    partial message, and the daemon serves on."""
    c = imap.login()
    m0 = message(0)
    c.append(m0)
    big = message(1, size=3 * 1024 * 1024)
    for cut in (0, 1, 700 * 1024):
        d = imap.login()
        tag = d.tag()
        d.send('%s APPEND INBOX {%d}\r\n' % (tag, len(big)))
        assert d.response().startswith(b"+")
        if cut:
            d.send(big[:cut])
        d.close()
    time.sleep(0.5)
    got = mailbox_contents(c)
    assert list(got.values()) == [m0], sorted(got)
    files_are_whole(imap, [m0])
    c.append(message(2))
    assert len(c.uids()) == 2
    c.logout()
