"""Real IMAP clients against facteur (issue 4):

- mbsync (isync) syncing INBOX both ways with a local Maildir: mail
  delivered over SMTP is downloaded, a message added locally and flags
  changed locally are uploaded, deletions propagate both ways, and a
  second run duplicates nothing.
- fetchmail over IMAPS and IMAP+STARTTLS: downloads into a local
  Maildir through an MDA, marks or deletes on the server.
- mutt in batch mode (driven by `push` under script(1) for a tty),
  over IMAPS and over IMAP with STARTTLS: it copies a message to a local
  mbox, flags one and reads one (\\Seen), and the server sees it.

mbsync checks the server's name against the certificate, which is
issued to HOSTNAME: it talks to "mx.example.test" through a Tunnel (a
small relay to 127.0.0.1:port) with the daemon's certificate as its
CertificateFile, so the certificate is verified for real.  mbsync adds
an "X-TUID:" header to the messages it copies (on purpose, to find them
again): the comparisons allow exactly that one line."""
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from conftest import HOSTNAME, T
from imaputil import (ALICE, PASSWORD, fetch_items, flagset, imap,  # noqa: F401
                      make_imap, message)

MBSYNC = shutil.which("mbsync")
FETCHMAIL = shutil.which("fetchmail")
MUTT = shutil.which("mutt")
SCRIPT = shutil.which("script")

RELAY = r'''import os, socket, sys, threading
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
def up():
    while True:
        d = os.read(0, 65536)
        if not d:
            break
        s.sendall(d)
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
threading.Thread(target=up, daemon=True).start()
while True:
    d = s.recv(65536)
    if not d:
        break
    os.write(1, d)
'''

TUID = re.compile(rb"^X-TUID: [A-Za-z0-9+/]+\r?\n", re.M)


def strip_tuid(data):
    """data without the one X-TUID header mbsync adds (asserting there
    is at most one)."""
    assert len(TUID.findall(data)) <= 1, data[:300]
    return TUID.sub(b"", data, count=1)


def lf(data):
    return data.replace(b"\r\n", b"\n")


# --------------------------------------------------------------------------
# mbsync

class Mbsync:
    def __init__(self, srv, ssltype="IMAPS", patterns="INBOX"):
        self.srv = srv
        self.home = os.path.join(srv.root, "mbsync")
        self.local = os.path.join(self.home, "local")
        self.inbox = os.path.join(self.local, "INBOX")
        os.makedirs(self.local, exist_ok=True)
        relay = os.path.join(self.home, "relay.py")
        with open(relay, "w") as f:
            f.write(RELAY)
        port = srv.imaps_port if ssltype == "IMAPS" else srv.imap_port
        self.rc = os.path.join(self.home, "mbsyncrc")
        with open(self.rc, "w") as f:
            f.write('IMAPAccount facteur\n'
                    'Host %s\n'
                    'Tunnel "%s %s 127.0.0.1 %d"\n'
                    'User %s\n'
                    'Pass "%s"\n'
                    'SSLType %s\n'
                    'CertificateFile %s\n'
                    'SystemCertificates no\n'
                    '\n'
                    'IMAPStore remote\n'
                    'Account facteur\n'
                    '\n'
                    'MaildirStore local\n'
                    'Path %s/\n'
                    'Inbox %s\n'
                    'SubFolders Verbatim\n'
                    '\n'
                    'Channel inbox\n'
                    'Far :remote:\n'
                    'Near :local:\n'
                    'Patterns %s\n'
                    'Create Both\n'
                    'Expunge Both\n'
                    'SyncState *\n'
                    'Sync All\n'
                    % (HOSTNAME, sys.executable, relay, port, ALICE,
                       PASSWORD, ssltype, srv.cert_path, self.local,
                       self.inbox, patterns))
        os.chmod(self.rc, 0o600)

    def run(self):
        env = dict(os.environ, HOME=self.home)
        r = subprocess.run([MBSYNC, "-c", self.rc, "-V", "-a"],
                           capture_output=True, timeout=T(120), env=env,
                           stdin=subprocess.DEVNULL)
        log = r.stdout.decode(errors="replace") + \
            r.stderr.decode(errors="replace")
        assert r.returncode == 0, "mbsync exit %d:\n%s\n--- daemon:\n%s" % (
            r.returncode, log, self.srv.log()[-3000:])
        return log

    def files(self):
        """{path: content} of the local INBOX's messages."""
        out = {}
        for sub in ("new", "cur"):
            d = os.path.join(self.inbox, sub)
            if not os.path.isdir(d):
                continue
            for n in os.listdir(d):
                with open(os.path.join(d, n), "rb") as f:
                    out[os.path.join(d, n)] = f.read()
        return out

    def find(self, needle):
        hits = [p for p, c in self.files().items() if needle in c]
        assert len(hits) == 1, (needle, hits)
        return hits[0]


def server_state(srv):
    """{Message-Id: (uid, flags, BODY[])} of alice's INBOX, by imaplib."""
    m = srv.imaplib()
    typ, data = m.select("INBOX")
    assert typ == "OK", data
    out = {}
    if int(data[0]) > 0:
        typ, data = m.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
        assert typ == "OK", data
        for i, item in enumerate(data):
            if not isinstance(item, tuple):
                continue
            head, body = item
            tail = data[i + 1] if i + 1 < len(data) else b")"
            # imaplib cuts the response at the literal: rebuild it
            num, rest = head.split(b" ", 1)
            f = fetch_items(b"* " + num + b" FETCH " + rest + b"\r\n" +
                            body + tail)
            assert f, head
            msgid = re.search(rb"^Message-Id: (\S+)", body, re.M | re.I)
            assert msgid, body[:300]
            key = msgid.group(1)
            assert key not in out, "Message-Id %r twice on the server" % key
            out[key] = (int(f[1][b"UID"]), flagset(f[1][b"FLAGS"]), body)
    m.logout()
    return out


def msgid_of(data):
    m = re.search(rb"^Message-Id: (\S+)", data, re.M | re.I)
    assert m, data[:300]
    return m.group(1)


def local_name_flags(path):
    name = os.path.basename(path)
    return name.split(":2,", 1)[1] if ":2," in name else ""


@pytest.mark.skipif(MBSYNC is None, reason="mbsync is not installed "
                    "(apt-get install isync)")
@pytest.mark.parametrize("ssltype", ["IMAPS", "STARTTLS"])
def test_mbsync_both_ways(make_imap, ssltype):
    srv = make_imap(auth_plaintext_loopback="no")
    sent = [message(i, subject="smtp %d" % i, body=b".dot line\r\nend\r\n")
            for i in range(3)]
    for m in sent:
        srv.deliver(m)
    mb = Mbsync(srv, ssltype)

    # 1. download: three messages, each the server's bytes (LF line
    #    ends locally, plus mbsync's X-TUID)
    log = mb.run()
    server = server_state(srv)
    assert len(server) == 3, server.keys()
    local = mb.files()
    assert len(local) == 3, (log, sorted(local))
    for path, data in local.items():
        uid, flags, body = server[msgid_of(data)]
        assert strip_tuid(data) == lf(body), (path, data[:400])
    for m in sent:
        assert any(lf(m) in strip_tuid(d) for d in local.values())

    # 2. upload: a new local message (LF lines, as a local MDA writes
    #    it) and local flag changes (S on one, F on another)
    mine = (b"From: <alice@example.test>\nTo: <bob@example.org>\n"
            b"Subject: written locally\nMessage-Id: <local.1@example.test>\n"
            b"Date: Thu, 26 Nov 2026 13:00:00 +0000\n\n"
            b"first line\n.dot line\nlast line\n")
    tmp = os.path.join(mb.inbox, "tmp", "1800000001.M1P1.laptop")
    with open(tmp, "wb") as f:
        f.write(mine)
    os.rename(tmp, os.path.join(mb.inbox, "new", "1800000001.M1P1.laptop"))
    ids = [msgid_of(m) for m in sent]
    p0, p1 = mb.find(ids[0]), mb.find(ids[1])
    cur = os.path.join(mb.inbox, "cur")
    os.rename(p0, os.path.join(cur, os.path.basename(p0).split(":2,")[0]
                               + ":2,S"))
    os.rename(p1, os.path.join(cur, os.path.basename(p1).split(":2,")[0]
                               + ":2,F"))
    time.sleep(1.1)         # mbsync skips a Maildir changed this second
    log = mb.run()
    server = server_state(srv)
    assert len(server) == 4, (log, sorted(server))
    uid, flags, body = server[b"<local.1@example.test>"]
    # byte-exact: CRLF on the server, mbsync's X-TUID the only addition
    assert strip_tuid(body) == mine.replace(b"\n", b"\r\n"), body
    assert "\\Seen" in server[ids[0]][1], server[ids[0]]
    assert "\\Flagged" in server[ids[1]][1], server[ids[1]]
    assert "\\Seen" not in server[ids[1]][1]
    assert not {"\\Seen", "\\Flagged"} & server[ids[2]][1]

    # 3. a flag set and a message deleted on the server come down
    m = srv.imaplib()
    m.select("INBOX")
    typ, _ = m.uid("STORE", str(server[ids[2]][0]), "+FLAGS", "(\\Flagged)")
    assert typ == "OK"
    typ, _ = m.uid("STORE", str(server[ids[1]][0]), "+FLAGS", "(\\Deleted)")
    assert typ == "OK"
    typ, data = m.expunge()
    assert typ == "OK", data
    m.logout()
    log = mb.run()
    local = mb.files()
    assert len(local) == 3, (log, sorted(local))
    assert not any(ids[1] in d for d in local.values()), \
        "deleted on the server, still local:\n" + log
    assert "F" in local_name_flags(mb.find(ids[2])), mb.find(ids[2])
    assert "S" in local_name_flags(mb.find(ids[0]))

    # 4. a local deletion goes up
    os.unlink(mb.find(ids[0]))
    time.sleep(1.1)
    log = mb.run()
    server = server_state(srv)
    assert ids[0] not in server, (log, sorted(server))
    assert len(server) == 2

    # 5. nothing duplicated by more runs
    mb.run()
    mb.run()
    server = server_state(srv)
    local = mb.files()
    assert len(server) == 2 and len(local) == 2, (sorted(server),
                                                   sorted(local))
    assert sorted(msgid_of(d) for d in local.values()) == sorted(server)
    for data in local.values():
        assert strip_tuid(data) == lf(strip_tuid(server[msgid_of(data)][2]))
    # and the server's files still carry what IMAP says
    assert len([n for sub in ("cur", "new")
                for n in os.listdir(os.path.join(srv.maildir("alice"),
                                                 sub))]) == 2


@pytest.mark.skipif(MBSYNC is None, reason="mbsync is not installed")
def test_mbsync_many_messages(make_imap):
    """A bigger mailbox (200 messages, some large) comes down whole, and a
    second run changes nothing on either side."""
    srv = make_imap()
    c = srv.login()
    sent = []
    for i in range(200):
        m = message(i, size=300 if i % 20 else 200 * 1024)
        sent.append(m)
        c.append(m, flags="\\Seen" if i % 3 == 0 else "")
    c.logout()
    mb = Mbsync(srv)
    mb.run()
    local = mb.files()
    assert len(local) == 200
    got = sorted(strip_tuid(d) for d in local.values())
    assert got == sorted(lf(m) for m in sent)
    seen_local = [p for p in local if "S" in local_name_flags(p)]
    assert len(seen_local) == len([i for i in range(200) if i % 3 == 0])
    before = server_state(srv)
    mb.run()
    assert sorted(mb.files()) == sorted(local)
    after = server_state(srv)
    assert {k: v[:2] for k, v in after.items()} == \
        {k: v[:2] for k, v in before.items()}


@pytest.mark.skipif(MBSYNC is None, reason="mbsync is not installed")
def test_mbsync_folders(make_imap):
    """Patterns *: the account's special-use folders come down, a folder
    made locally (with a message in it) is created on the server, and a
    message filed on the server into a folder comes down into it."""
    srv = make_imap()
    mb = Mbsync(srv, patterns="*")
    mb.run()
    for name in ("Sent", "Drafts", "Trash", "Junk", "Archive"):
        assert os.path.isdir(os.path.join(mb.local, name, "cur")), \
            (name, os.listdir(mb.local))
    proj = os.path.join(mb.local, "Projects")
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(proj, sub))
    mine = (b"From: <alice@example.test>\nSubject: filed locally\n"
            b"Message-Id: <local.2@example.test>\n\nin a folder\n")
    with open(os.path.join(proj, "new", "1800000002.M2P2.laptop"),
              "wb") as f:
        f.write(mine)
    c = srv.login()
    c.append(message(5, subject="archived on the server"), mbox="Archive")
    c.logout()
    time.sleep(1.1)
    log = mb.run()
    c = srv.login()
    info = c.select("Projects")
    assert info["exists"] == 1, (info, log)
    body = c.fetch("1", "(BODY.PEEK[])")[1][b"BODY[]"]
    assert strip_tuid(body) == mine.replace(b"\n", b"\r\n"), body
    c.logout()
    arch = []
    for sub in ("new", "cur"):
        d = os.path.join(mb.local, "Archive", sub)
        for n in os.listdir(d):
            with open(os.path.join(d, n), "rb") as f:
                arch.append(f.read())
    assert len(arch) == 1 and b"Subject: archived on the server" in arch[0]
    mb.run()
    c = srv.login()
    assert c.select("Projects")["exists"] == 1
    assert c.select("Archive")["exists"] == 1
    c.logout()


# --------------------------------------------------------------------------
# mutt

def run_mutt(srv, push, proto="imaps", timeout=60):
    """mutt -f imaps://alice@127.0.0.1:PORT/INBOX driven by push, under
    script(1) (mutt wants a terminal).  Returns the terminal output."""
    home = os.path.join(srv.root, "mutt")
    os.makedirs(os.path.join(home, "Mail"), exist_ok=True)
    certs = os.path.join(home, "certificates")
    shutil.copy(srv.cert_path, certs)
    rc = os.path.join(home, "muttrc")
    with open(rc, "w") as f:
        f.write('set imap_user="%s"\n'
                'set imap_pass="%s"\n'
                # trust exactly the daemon's certificate; it is issued to
                # HOSTNAME and we connect to 127.0.0.1
                'set certificate_file="%s"\n'
                'set ssl_verify_host=no\n'
                'set ssl_force_tls=yes\n'
                'set ssl_starttls=yes\n'
                'set folder="%s/Mail"\n'
                'set header_cache=""\n'
                'set message_cachedir=""\n'
                'set mbox_type=mbox\n'
                'set confirmcreate=no\n'
                'set confirmappend=no\n'
                'set quit=yes\n'
                'set move=no\n'
                'set mark_old=no\n'
                'set delete=yes\n'
                'set wait_key=no\n'
                'set sort=mailbox-order\n'
                'set imap_passive=yes\n'
                'set beep=no\n'
                'set sleep_time=0\n'
                % (ALICE, PASSWORD, certs, home))
    port = srv.imaps_port if proto == "imaps" else srv.imap_port
    url = "%s://%s@127.0.0.1:%d/INBOX" % (proto, ALICE.replace("@", "%40"),
                                          port)
    cmd = "%s -n -F %s -f %s -e 'push \"%s\"'" % (MUTT, rc, url, push)
    env = dict(os.environ, HOME=home, TERM="vt100", LANG="C.UTF-8")
    p = subprocess.Popen([SCRIPT, "-qec", cmd, "/dev/null"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=env,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=T(timeout))
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        out, _ = p.communicate()
        raise AssertionError("mutt hung; screen:\n%s\n--- daemon:\n%s" % (
            screen(out), srv.log()[-3000:]))
    text = screen(out)
    assert p.returncode == 0, "mutt exit %s:\n%s" % (p.returncode, text)
    return text


def screen(out):
    """The terminal output without escape sequences, one line per
    carriage return (enough to read mutt's status messages)."""
    t = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-B]|\x1b[=>]|[\x0e\x0f]",
               b"", out)
    return t.replace(b"\r", b"\n").decode(errors="replace")


@pytest.mark.skipif(MUTT is None or SCRIPT is None,
                    reason="mutt or script is not installed")
@pytest.mark.parametrize("proto", ["imaps", "imap"])
def test_mutt_batch(make_imap, proto):
    srv = make_imap(auth_plaintext_loopback="no")
    msgs = [message(i, subject="for mutt %d" % i,
                    body=b"Body text %d\r\nline\r\n" % i)
            for i in range(3)]
    for m in msgs:
        srv.deliver(m)
    c = srv.login(select="INBOX")       # gives UIDs: mailbox order fixed
    c.logout()
    saved = os.path.join(srv.root, "saved.mbox")
    # copy message 2 to a local mbox, flag message 1, read message 3,
    # write the changes back, quit
    text = run_mutt(srv,
                    "<first-entry><next-entry><copy-message>%s<enter>"
                    "<first-entry><flag-message>"
                    "<last-entry><display-message><exit>"
                    "<sync-mailbox><quit>" % saved, proto)
    assert "SSL/TLS connection using" in text, text
    assert os.path.exists(saved), "no mbox written; mutt's screen:\n" + text
    with open(saved, "rb") as f:
        mbox = f.read()
    assert mbox.startswith(b"From "), mbox[:200]
    assert mbox.count(b"\nFrom ") == 0, mbox
    assert b"Subject: for mutt 1" in mbox, mbox
    assert b"Body text 1\nline\n" in mbox, mbox
    assert msgid_of(msgs[1]) in mbox

    state = server_state(srv)
    by_subject = {re.search(rb"Subject: (.*?)\r\n", b).group(1): fl
                  for _, fl, b in state.values()}
    assert "\\Flagged" in by_subject[b"for mutt 0"], by_subject
    assert "\\Seen" in by_subject[b"for mutt 2"], by_subject
    assert "\\Seen" not in by_subject[b"for mutt 0"], by_subject
    assert "\\Flagged" not in by_subject[b"for mutt 1"], by_subject
    assert len(state) == 3


@pytest.mark.skipif(MUTT is None or SCRIPT is None,
                    reason="mutt or script is not installed")
def test_mutt_delete_and_expunge(make_imap):
    """mutt deletes message 1 and syncs: the server expunges it; the
    others are untouched."""
    srv = make_imap()
    for i in range(3):
        srv.deliver(message(i, subject="del %d" % i))
    c = srv.login(select="INBOX")
    c.logout()
    run_mutt(srv, "<first-entry><delete-message><sync-mailbox><quit>")
    state = server_state(srv)
    subjects = sorted(re.search(rb"Subject: (.*?)\r\n", b).group(1)
                      for _, _, b in state.values())
    assert subjects == [b"del 1", b"del 2"], subjects


# --------------------------------------------------------------------------
# fetchmail over IMAP

MDA_SCRIPT = """#!/bin/sh
set -e
dir="$1"
tmp="$dir/tmp/$$.$(date +%s%N)"
cat > "$tmp"
mv "$tmp" "$dir/new/"
"""


def run_fetchmail(srv, proto, keep):
    home = os.path.join(srv.root, "fetchmail")
    out = os.path.join(home, "fetched")
    for sub in ("tmp", "new"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    mda = os.path.join(home, "mda.sh")
    with open(mda, "w") as f:
        f.write(MDA_SCRIPT)
    os.chmod(mda, 0o755)
    verify = ('sslcertck sslcertfile "%s" sslcommonname "%s"'
              % (srv.cert_path, HOSTNAME))
    if proto == "imaps":
        port, sslopt = srv.imaps_port, "ssl " + verify
    else:
        port, sslopt = srv.imap_port, "sslproto tls1.2+ " + verify
    rc = os.path.join(home, "fetchmailrc")
    with open(rc, "w") as f:
        f.write('set no syslog\n'
                'poll 127.0.0.1 service %d protocol imap auth password\n'
                '  user "%s" there with password "%s" is "%s" here\n'
                '  %s %s\n  mda "%s %s"\n'
                % (port, ALICE, PASSWORD, "localuser", sslopt,
                   "keep" if keep else "nokeep", mda, out))
    os.chmod(rc, 0o600)
    env = dict(os.environ, HOME=home, FETCHMAILHOME=home)
    r = subprocess.run([FETCHMAIL, "-f", rc, "-v", "--nodetach",
                        "--pidfile", os.path.join(home, "fetchmail.pid")],
                       capture_output=True, timeout=T(60), env=env,
                       stdin=subprocess.DEVNULL)
    log = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    fetched = []
    for name in sorted(os.listdir(os.path.join(out, "new"))):
        with open(os.path.join(out, "new", name), "rb") as f:
            fetched.append(f.read())
    return r.returncode, log, fetched


@pytest.mark.skipif(FETCHMAIL is None, reason="fetchmail is not installed")
@pytest.mark.parametrize("proto", ["imaps", "imap"])
def test_fetchmail_imap(make_imap, proto):
    """keep: fetchmail downloads the unseen messages and leaves them,
    \\Seen; a second run fetches only what came in between.  nokeep:
    everything is downloaded and expunged on the server."""
    srv = make_imap(auth_plaintext_loopback="no")
    msgs = [message(i, subject="fm %d" % i, body=b".dot\r\n..two\r\n")
            for i in range(3)]
    for m in msgs:
        srv.deliver(m)
    rc, log, fetched = run_fetchmail(srv, proto, keep=True)
    assert rc == 0, log
    assert len(fetched) == 3, log
    for m in msgs:
        assert any(f.endswith(m) or f.endswith(lf(m)) for f in fetched), \
            (m[:200], [f[-200:] for f in fetched])
    state = server_state(srv)
    assert len(state) == 3
    assert all("\\Seen" in fl for _, fl, _ in state.values()), state
    late = message(7, subject="fm late")
    srv.deliver(late)
    rc, log, fetched = run_fetchmail(srv, proto, keep=True)
    assert rc == 0, log
    assert len(fetched) == 4, log
    assert any(f.endswith(late) or f.endswith(lf(late)) for f in fetched)
    # nokeep: the unseen (none left) are fetched; fetchmail by default
    # fetches only unseen mail, so mark one unseen again first
    m = srv.imaplib()
    m.select("INBOX")
    typ, _ = m.store("1", "-FLAGS", "(\\Seen)")
    assert typ == "OK"
    m.logout()
    rc, log, fetched = run_fetchmail(srv, proto, keep=False)
    assert rc == 0, log
    assert len(fetched) == 5, log
    state = server_state(srv)
    assert len(state) == 3, (sorted(state), log)
