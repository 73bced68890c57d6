"""Many devices at once (issue 4): sessions on the same mailbox, in
different worker processes, see each other's flag changes, expunges and
new mail at their next command and within a second during IDLE; SMTP
deliveries wake IDLE sessions; POP3 and IMAP on one mailbox; the Maildir
is the truth (files renamed or deleted by hand); the index can be
deleted and is rebuilt without losing a message, a flag or a UID.

Raw sockets (imaputil.RawIMAP) where exact responses matter, IDLE
included."""
import os
import poplib
import re
import time

import pytest

from conftest import T
from imaputil import (ALICE, PASSWORD, View, chown_facteur, fetch_items,  # noqa: F401
                      flagset, imap, make_imap, maildir_files, message,
                      uid_of_name)


def noop(c):
    return c.ok("NOOP")


def fetch_flags(responses):
    """{seq: set of flags} from the FETCH responses among responses."""
    out = {}
    for r in responses:
        f = fetch_items(r)
        if f and b"FLAGS" in f[1]:
            out[f[0]] = flagset(f[1][b"FLAGS"])
    return out


def expunges(responses):
    return [int(m.group(1)) for m in
            (re.match(rb"\* (\d+) EXPUNGE$", r) for r in responses) if m]


def sessions_in_two_workers(srv, want=2, tries=24):
    """Open logged-in sessions until two of them are in different worker
    processes (or tries run out); returns the sessions and their pids."""
    out, pids = [], []
    for _ in range(tries):
        c = srv.login()
        out.append(c)
        pids.append(srv.session_pid(c))
        if len(set(p for p in pids if p)) >= want and len(out) >= 3:
            break
    return out, pids


# --------------------------------------------------------------------------
# Two sessions

def test_flags_and_expunge_seen_by_other_sessions(make_imap):
    srv = make_imap(workers=2)
    a = srv.login()
    for i in range(5):
        a.append(message(i))
    a.select()
    uids = a.uids()
    assert len(uids) == 5
    sessions, pids = sessions_in_two_workers(srv)
    a_pid = srv.session_pid(a)
    # the point: some observer runs in another process than A
    assert len(set(pids + [a_pid])) >= 2, \
        "all sessions in one process (%r): is workers=2 honoured?" % pids
    others = sessions
    views = []
    for c in others:
        info = c.select()
        assert info["exists"] == 5, info
        views.append(View(c.uids()))
        assert views[-1].uids == uids

    # a flag set in A shows in every other session's next NOOP
    a.ok("STORE 3 +FLAGS (\\Flagged)")
    for c, pid in zip(others, pids):
        u = noop(c)
        fl = fetch_flags(u)
        assert 3 in fl and "\\Flagged" in fl[3], \
            "session in pid %s (A in %s): NOOP after A's STORE gave %r" % (
                pid, a_pid, u)
        assert set(fl) == {3}, u

    # A expunges 2 and 4: each other session's EXPUNGE responses, applied
    # in order, leave its view equal to the server's
    a.ok("STORE 2,4 +FLAGS.SILENT (\\Deleted)")
    a_u = a.ok("EXPUNGE")
    a_view = View(uids).apply(a_u)
    assert a_view.uids == [uids[0], uids[2], uids[4]], a_u
    for c, v, pid in zip(others, views, pids):
        u = noop(c)
        assert len(expunges(u)) == 2, \
            "session in pid %s: NOOP after A's EXPUNGE gave %r" % (pid, u)
        v.apply(u)
        assert v.uids == [uids[0], uids[2], uids[4]], (u, v.uids)
        assert c.uids() == v.uids
        # the view keeps working: sequence numbers as announced
        f = c.fetch("2", "(UID FLAGS)")
        assert int(f[2][b"UID"]) == uids[2]
        assert "\\Flagged" in flagset(f[2][b"FLAGS"])
        assert c.fetch("3", "(UID)")[3][b"UID"] == str(uids[4]).encode()

    # a change made by one of the others reaches A and the rest
    others[0].ok("STORE 1 +FLAGS (\\Answered)")
    for c in [a] + others[1:]:
        fl = fetch_flags(noop(c))
        assert "\\Answered" in fl.get(1, set()), fl
    for c in others + [a]:
        c.logout()


def test_expunge_ordering_many(make_imap):
    """An expunge of many scattered messages at once, seen by a session
    that also has pending flag changes: EXPUNGE numbers are valid when
    applied in order and the final views agree."""
    srv = make_imap(workers=2)
    a = srv.login()
    for i in range(20):
        a.append(message(i))
    a.select()
    uids = a.uids()
    b = srv.login(select="INBOX")
    v = View(b.uids())
    gone = [2, 3, 7, 11, 12, 13, 19, 20]
    a.ok("STORE %s +FLAGS.SILENT (\\Deleted)" % ",".join(map(str, gone)))
    a.ok("STORE 1,5 +FLAGS.SILENT (\\Seen)")
    a.ok("EXPUNGE")
    u = noop(b)
    assert len(expunges(u)) == len(gone), u
    v.apply(u)
    want = [x for i, x in enumerate(uids, 1) if i not in gone]
    assert v.uids == want
    assert b.uids() == want
    fl = b.fetch("1:*", "(UID FLAGS)")
    seen = sorted(int(d[b"UID"]) for d in fl.values()
                  if "\\Seen" in flagset(d[b"FLAGS"]))
    assert seen == sorted([uids[0], uids[4]])


def test_no_expunge_during_fetch_store_search(make_imap):
    """RFC 9051 7.5.1: no EXPUNGE during FETCH, STORE or SEARCH (they
    would shift the numbers the command uses); it comes at NOOP."""
    srv = make_imap()
    a = srv.login()
    for i in range(4):
        a.append(message(i))
    a.select()
    b = srv.login(select="INBOX")
    uids = b.uids()
    a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    for cmd in ("FETCH 1:4 (FLAGS)", "STORE 4 +FLAGS (\\Seen)",
                "SEARCH ALL"):
        u = b.ok(cmd)
        assert expunges(u) == [], (cmd, u)
    u = noop(b)
    assert expunges(u) == [2], u
    v = View(uids).apply(u)
    assert b.uids() == v.uids


# --------------------------------------------------------------------------
# IDLE

def test_idle_wakes_on_smtp_flags_and_expunge(make_imap):
    srv = make_imap(workers=2)
    a = srv.login()
    a.append(message(0))
    a.select()
    idlers, pids = sessions_in_two_workers(srv)
    for c in idlers:
        assert c.select()["exists"] == 1
        c.idle()
    time.sleep(0.2)

    # an SMTP delivery: "* 2 EXISTS" within a second in every session
    t0 = time.time()
    srv.deliver(message(1, subject="by smtp"))
    t_smtp = time.time() - t0
    for c, pid in zip(idlers, pids):
        r, _ = c.wait_untagged(rb"^\* 2 EXISTS$", T(5))
        waited = time.time() - t0 - t_smtp
        assert waited < T(1.5), \
            "EXISTS came %.2fs after the SMTP delivery (pid %s)" % (
                waited, pid)

    # a flag change by another session: FETCH during IDLE
    t0 = time.time()
    a.ok("STORE 1 +FLAGS (\\Flagged)")
    for c, pid in zip(idlers, pids):
        r, _ = c.wait_untagged(rb"^\* 1 FETCH \(", T(5))
        assert "\\Flagged" in flagset(fetch_items(r)[1][b"FLAGS"]), r
        assert time.time() - t0 < T(1.5), "FETCH late in pid %s" % pid

    # an expunge by another session: EXPUNGE during IDLE
    noop(a)
    t0 = time.time()
    a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    for c, pid in zip(idlers, pids):
        c.wait_untagged(rb"^\* 1 EXPUNGE$", T(5))
        assert time.time() - t0 < T(1.5), "EXPUNGE late in pid %s" % pid

    # DONE: tagged OK, and the session is in the state it announced
    for c in idlers:
        status, u = c.done()
        assert status.startswith(b"OK"), (status, u)
        assert not any(re.match(rb"\* \d+ EXPUNGE$", r) for r in u), u
        assert c.uids() == a.uids()
        f = c.fetch("1", "(BODY.PEEK[HEADER])")
        assert b"Subject: by smtp\r\n" in f[1][b"BODY[HEADER]"]
        c.logout()


def test_idle_delivery_to_other_user_is_quiet(make_imap):
    """A delivery to bob does not wake alice's IDLE."""
    srv = make_imap()
    c = srv.login(select="INBOX")
    c.idle()
    srv.deliver(message(1), rcpt="bob@example.test")
    assert c.response_within(T(1.5)) is None
    srv.deliver(message(2))
    c.wait_untagged(rb"^\* 1 EXISTS$", T(3))
    status, _ = c.done()
    assert status.startswith(b"OK")


def test_idle_many_deliveries(make_imap):
    """Ten deliveries in a row during IDLE: the session ends up with an
    EXISTS of 10 (counts never go down) and all ten can be fetched."""
    srv = make_imap()
    c = srv.login(select="INBOX")
    c.idle()
    for i in range(10):
        srv.deliver(message(i))
    c.wait_untagged(rb"^\* 10 EXISTS$", T(5))
    counts = [int(m.group(1)) for m in
              (re.match(rb"\* (\d+) EXISTS$", r) for r in c.pending) if m]
    assert counts == sorted(counts), counts
    status, _ = c.done()
    assert status.startswith(b"OK")
    assert len(c.uids()) == 10


# --------------------------------------------------------------------------
# The index is a cache

@pytest.mark.parametrize("how", ["stopped", "running"])
def test_index_deleted_and_rebuilt(make_imap, how):
    srv = make_imap()
    a = srv.login()
    bodies = [message(i, body=b"body %d\r\n" % i) for i in range(6)]
    for b in bodies:
        a.append(b)
    info = a.select()
    uidvalidity = info["uidvalidity"]
    # a gap in the UIDs: a rebuild that renumbers would show
    a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    del bodies[1]
    a.ok("STORE 1 +FLAGS (\\Seen \\Flagged)")
    a.ok("STORE 2 +FLAGS (\\Answered $Label1)")
    a.ok("STORE 3 +FLAGS (project-x \\Draft)")
    a.ok("STORE 4 +FLAGS ($Label1 project-x \\Seen)")
    before = a.fetch_by_uid("(FLAGS)")
    assert len(before) == 5
    flags_before = {u: flagset(d[b"FLAGS"]) for u, d in before.items()}
    assert flags_before[min(before)] >= {"\\Seen", "\\Flagged"}
    a.logout()

    index = srv.index_path()
    assert os.path.exists(index), os.listdir(srv.maildir("alice"))
    if how == "stopped":
        srv.stop()
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.unlink(index + suffix)
        except FileNotFoundError:
            pass
    if how == "stopped":
        srv.start()
    # mail delivered while nobody is logged in
    late = message(99, subject="delivered while away")
    srv.deliver(late)

    c = srv.login()
    info = c.select()
    assert info["uidvalidity"] == uidvalidity, info
    assert info["exists"] == 6, info
    after = c.fetch_by_uid("(FLAGS BODY.PEEK[])")
    old_uids = sorted(before)
    assert sorted(after)[:5] == old_uids, (sorted(after), old_uids)
    new_uid = sorted(after)[5]
    assert new_uid > max(old_uids)
    for u in old_uids:
        assert flagset(after[u][b"FLAGS"]) - {"\\Recent"} == \
            flags_before[u] - {"\\Recent"}, (u, after[u][b"FLAGS"])
    for u, b in zip(old_uids, bodies):
        assert after[u][b"BODY[]"] == b, u
    assert after[new_uid][b"BODY[]"].endswith(late)
    # keywords still searchable, UIDNEXT past every UID
    hits = None
    for r in c.ok("UID SEARCH KEYWORD project-x"):
        if r.startswith(b"* SEARCH"):
            hits = sorted(int(x) for x in r.split()[2:])
    assert hits == sorted(u for u in old_uids
                          if "project-x" in flags_before[u]), hits
    st = c.ok("STATUS INBOX (UIDNEXT MESSAGES)")
    m = re.search(rb"UIDNEXT (\d+)", b" ".join(st))
    assert m and int(m.group(1)) > new_uid, st
    # the index came back
    assert os.path.exists(index)
    c.logout()


def test_delivered_while_away_appears_at_select(make_imap):
    srv = make_imap()
    c = srv.login(select="INBOX")
    c.append(message(0))
    c.logout()
    for i in range(3):
        srv.deliver(message(i + 1, subject="away %d" % i))
    c = srv.login()
    info = c.select()
    assert info["exists"] == 4, info
    f = c.fetch("2:4", "(BODY.PEEK[HEADER])")
    subjects = sorted(re.search(rb"Subject: [^\r]*", d[b"BODY[HEADER]"]).group(0)
                      for d in f.values())
    assert subjects == [b"Subject: away %d" % i for i in range(3)], f
    c.logout()


# --------------------------------------------------------------------------
# POP3 and IMAP on one mailbox

def test_pop3_and_imap_together(make_imap):
    srv = make_imap()
    for i in range(4):
        srv.deliver(message(i, subject="pop %d" % i))
    c = srv.login()
    assert c.select()["exists"] == 4
    uids = c.uids()
    v = View(uids)
    c.ok("STORE 1 +FLAGS (\\Flagged)")

    p = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=T(10))
    p.user(ALICE)
    p.pass_(PASSWORD)
    assert p.stat()[0] == 4
    # IMAP keeps working while POP3 holds its lock
    f = c.fetch("1:4", "(UID FLAGS)")
    assert len(f) == 4
    v.apply(c.ok("STORE 3 +FLAGS (\\Answered)"))
    resp, lines, _ = p.retr(1)
    assert b"Subject: pop 0" in b"\r\n".join(lines)
    p.dele(2)
    v.apply(c.ok("FETCH 1:4 (FLAGS)"))
    v.apply(noop(c))
    assert p.quit().startswith(b"+OK")

    u = noop(c)     # the next command shows what POP3 did
    seen = fetch_flags(u)
    assert expunges(u) == [2], \
        "NOOP after POP3 DELE 2 + QUIT gave %r" % u
    # \Seen on message 1 (POP3 RETR), \Flagged kept; announced either
    # before the EXPUNGE (number 1 either way)
    assert 1 in seen and {"\\Seen", "\\Flagged"} <= seen[1], u
    v.apply(u)
    assert v.uids == [uids[0], uids[2], uids[3]]
    assert c.uids() == v.uids
    f = c.fetch("1:3", "(UID FLAGS)")
    assert {"\\Seen", "\\Flagged"} <= flagset(f[1][b"FLAGS"])
    assert "\\Answered" in flagset(f[2][b"FLAGS"])
    c.ok("STORE 3 +FLAGS (\\Deleted)")
    c.ok("EXPUNGE")
    assert len(c.uids()) == 2
    # and POP3 sees what IMAP did
    p = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=T(10))
    p.user(ALICE)
    p.pass_(PASSWORD)
    assert p.stat()[0] == 2
    p.quit()
    c.logout()


# --------------------------------------------------------------------------
# The Maildir is the truth

def test_maildir_changed_by_hand(make_imap):
    srv = make_imap()
    c = srv.login()
    for i in range(4):
        c.append(message(i))
    c.select()
    uids = c.uids()
    v = View(uids)
    files = maildir_files(srv)
    by_uid = {uid_of_name(n): p for n, p in files.items()}
    assert sorted(k for k in by_uid if k) == uids, files

    # mutt marks message 2 read: S added to the name in cur/
    p = by_uid[uids[1]]
    assert "/cur/" in p and ":2," in p, p
    head, fl = p.rsplit(":2,", 1)
    os.rename(p, head + ":2," + "".join(sorted(fl + "S")))
    u = noop(c)
    fl = fetch_flags(u)
    assert fl.get(2) and "\\Seen" in fl[2], \
        "NOOP after a rename to :2,S in cur/ gave %r" % u

    # a file deleted by hand is expunged
    os.unlink(by_uid[uids[2]])
    u = noop(c)
    assert expunges(u) == [3], "NOOP after rm of message 3 gave %r" % u
    v.apply(u)
    assert c.uids() == v.uids == [uids[0], uids[1], uids[3]]

    # a file put into new/ by hand (a local delivery agent)
    d = srv.maildir("alice")
    tmp = os.path.join(d, "tmp", "1800000000.M1P1.hand")
    content = message(50, subject="by hand")
    with open(tmp, "wb") as f:
        f.write(content)
    chown_facteur(tmp)
    os.rename(tmp, os.path.join(d, "new", "1800000000.M1P1.hand"))
    u = noop(c)
    assert b"* 4 EXISTS" in u, "NOOP after a file in new/ gave %r" % u
    f = c.fetch("4", "(BODY.PEEK[] FLAGS)")
    assert f[4][b"BODY[]"] == content
    c.logout()


def test_maildir_change_wakes_idle(make_imap):
    srv = make_imap()
    c = srv.login()
    c.append(message(0))
    c.append(message(1))
    c.select()
    c.idle()
    files = sorted(maildir_files(srv).values())
    assert len(files) == 2, files
    p = files[0]
    head, fl = p.rsplit(":2,", 1)
    os.rename(p, head + ":2," + "".join(sorted(fl + "F")))
    r, waited = c.wait_untagged(rb"^\* \d FETCH ", T(3))
    assert "\\Flagged" in flagset(fetch_items(r)[1][b"FLAGS"])
    assert waited < T(1.5), waited
    os.unlink(files[1])
    r, waited = c.wait_untagged(rb"^\* \d EXPUNGE$", T(3))
    assert waited < T(1.5), waited
    status, _ = c.done()
    assert status.startswith(b"OK")


# --------------------------------------------------------------------------
# More sessions, folders, keywords

def test_keyword_seen_by_other_session(make_imap):
    """A keyword new to the folder, set in A: B's next NOOP announces the
    new FLAGS list (RFC 9051 7.3.5 lets the server grow it) and the
    message's FETCH with the keyword; an EXAMINE session sees it too."""
    srv = make_imap()
    a = srv.login()
    a.append(message(0))
    a.append(message(1))
    a.select()
    b = srv.login(select="INBOX")
    e = srv.login()
    e.select(examine=True)
    a.ok("STORE 2 +FLAGS (project-x)")
    for c in (b, e):
        u = noop(c)
        fl = fetch_flags(u)
        assert "project-x" in fl.get(2, set()), u
        flists = [r for r in u if r.startswith(b"* FLAGS (")]
        assert flists and b"project-x" in flists[-1], u
    a.ok("STORE 2 -FLAGS (project-x)")
    fl = fetch_flags(noop(b))
    assert 2 in fl and "project-x" not in fl[2], fl


def test_idle_on_other_folder_sees_move_and_copy(make_imap):
    """B idles on Archive; A COPYs then MOVEs messages there from INBOX:
    EXISTS in B each time; a third session on INBOX sees the MOVE as an
    EXPUNGE."""
    srv = make_imap()
    a = srv.login()
    for i in range(3):
        a.append(message(i))
    a.select()
    b = srv.login(select="Archive")
    i_ = srv.login(select="INBOX")
    v = View(i_.uids())
    b.idle()
    a.ok("COPY 1 Archive")
    b.wait_untagged(rb"^\* 1 EXISTS$", T(3))
    status, u = a.command("MOVE 2 Archive")
    assert status.startswith(b"OK"), status
    b.wait_untagged(rb"^\* 2 EXISTS$", T(3))
    status, _ = b.done()
    assert status.startswith(b"OK")
    u = noop(i_)
    assert expunges(u) == [2], u
    v.apply(u)
    assert i_.uids() == v.uids and len(v.uids) == 2
    f = b.fetch("1:2", "(BODY.PEEK[])")
    bodies = sorted(d[b"BODY[]"] for d in f.values())
    assert b"Subject: message 0\r\n" in bodies[0] + bodies[1]
    assert b"Subject: message 1\r\n" in bodies[0] + bodies[1]


def test_many_idle_sessions_all_woken(make_imap):
    """40 IDLE sessions on one mailbox (spread over the workers): one
    SMTP delivery wakes every one of them within 1.5 s."""
    srv = make_imap(workers=2)
    n = 40 if not os.environ.get("FACTEUR_SANITIZED") else 10
    sessions = []
    for _ in range(n):
        c = srv.login(select="INBOX")
        c.idle()
        sessions.append(c)
    pids = set(srv.session_pid(c) for c in sessions)
    time.sleep(0.2)
    srv.deliver(message(1))
    t0 = time.time()        # from the 250 to the DATA
    late = []
    for c in sessions:
        left = max(0.05, t0 + T(1.5) - time.time())
        try:
            c.wait_untagged(rb"^\* 1 EXISTS$", left)
        except AssertionError:
            late.append(c)
    # how late: lost wake-ups or a loaded machine?
    when = []
    for c in late:
        try:
            c.wait_untagged(rb"^\* 1 EXISTS$", T(10))
            when.append("%.2fs" % (time.time() - t0))
        except AssertionError:
            when.append("never (10s)")
    assert not late, "%d of %d sessions not woken in 1.5s: pids %r, " \
        "woken at %r; workers %r; load %r" % (
            len(late), n, [srv.session_pid(c) for c in late], when, pids,
            os.getloadavg())
    for c in sessions:
        status, _ = c.done()
        assert status.startswith(b"OK"), status
        c.logout()


def uid_set(text):
    """UIDs of a sequence-set like b"2:4,7"."""
    out = []
    for part in text.split(b","):
        if b":" in part:
            lo, hi = sorted(int(x) for x in part.split(b":"))
            out += range(lo, hi + 1)
        else:
            out.append(int(part))
    return sorted(out)


def test_qresync_session_gets_vanished(make_imap):
    """RFC 7162: a session that enabled QRESYNC learns of another
    session's expunge as VANISHED (UIDs), not EXPUNGE, and flag changes
    come with MODSEQ."""
    srv = make_imap()
    a = srv.login()
    for i in range(5):
        a.append(message(i))
    a.select()
    uids = a.uids()
    b = srv.login()
    b.ok("ENABLE QRESYNC")
    b.select()
    a.ok("STORE 1 +FLAGS (\\Flagged)")
    u = noop(b)
    f = [fetch_items(r) for r in u if fetch_items(r)]
    assert f and f[0][0] == 1, u
    assert b"MODSEQ" in f[0][1] and b"UID" in f[0][1], u
    a.ok("STORE 2,4 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    u = noop(b)
    assert expunges(u) == [], u
    van = [r for r in u if r.startswith(b"* VANISHED ")]
    assert len(van) >= 1, u
    got = []
    for r in van:
        assert not r.startswith(b"* VANISHED (EARLIER)"), r
        got += uid_set(r.split()[-1])
    assert sorted(got) == [uids[1], uids[3]], u
    assert b.uids() == [uids[0], uids[2], uids[4]]
