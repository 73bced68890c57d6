"""Real POP3 clients against facteur: fetchmail downloads a mailbox over
POP3S (and over POP3 with STLS) into a local Maildir through an MDA
command, and deletes the messages on the server."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import HOSTNAME, T
from test_pop3 import (ALICE, PASSWORD, base, drop, listdir, make_pop3,  # noqa: F401
                       message)

FETCHMAIL = shutil.which("fetchmail")

pytestmark = pytest.mark.skipif(FETCHMAIL is None,
                                reason="fetchmail is not installed "
                                "(apt-get install fetchmail)")

# The MDA: one file per message in a Maildir-like directory.
MDA_SCRIPT = """#!/bin/sh
set -e
dir="$1"
tmp="$dir/tmp/$$.$(date +%s%N)"
cat > "$tmp"
mv "$tmp" "$dir/new/"
"""


def run_fetchmail(srv, root, tls, keep=False):
    out = os.path.join(root, "fetched")
    for sub in ("tmp", "new"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    mda = os.path.join(root, "mda.sh")
    with open(mda, "w") as f:
        f.write(MDA_SCRIPT)
    os.chmod(mda, 0o755)
    rc = os.path.join(root, "fetchmailrc")
    # check the daemon's self-signed certificate, named after its host
    verify = ('sslcertck sslcertfile "%s" sslcommonname "%s"'
              % (os.path.join(srv.data_dir, "tls", "cert.pem"), HOSTNAME))
    if tls == "pop3s":
        port, sslopt = srv.pop3s_port, "ssl " + verify
    else:
        port, sslopt = srv.pop3_port, "sslproto tls1.2+ " + verify
    with open(rc, "w") as f:
        f.write('set no syslog\n'
                'poll 127.0.0.1 service %d protocol pop3 uidl auth password\n'
                '  user "%s" there with password "%s" is "%s" here\n'
                '  %s %s\n  mda "%s %s"\n'
                % (port, ALICE, PASSWORD, "localuser", sslopt,
                   "keep" if keep else "nokeep", mda, out))
    os.chmod(rc, 0o600)
    env = dict(os.environ, HOME=root, FETCHMAILHOME=root)
    r = subprocess.run([FETCHMAIL, "-f", rc, "-v", "--nodetach",
                        "--pidfile", os.path.join(root, "fetchmail.pid")],
                       capture_output=True, timeout=T(60), env=env)
    log = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    fetched = []
    for name in sorted(os.listdir(os.path.join(out, "new"))):
        with open(os.path.join(out, "new", name), "rb") as f:
            fetched.append(f.read())
    return r.returncode, log, fetched


@pytest.mark.parametrize("tls", ["pop3s", "stls"])
def test_fetchmail_downloads_and_deletes(make_pop3, tls):
    srv = make_pop3(auth_plaintext_loopback="no")
    msgs = [message(i, b".dot line %d\r\n..two\r\nend\r\n" % i)
            for i in range(5)]
    for m in msgs:
        drop(srv, m)
    rc, log, fetched = run_fetchmail(srv, srv.root, tls)
    assert rc == 0, log
    assert len(fetched) == 5, log
    # fetchmail adds its own Received: line on top; the rest is exact
    for m, got in zip(sorted(msgs), sorted(fetched,
                      key=lambda g: g[g.index(b"From: "):])):
        assert got.endswith(m.replace(b"\r\n", b"\n")) or got.endswith(m), \
            (got, m)
    # deleted on the server
    assert listdir(srv, "cur") == [] and listdir(srv, "new") == []
    assert re.search(r"pop3 quit user=alice@example\.test deleted=5 ", srv.log())
    if tls == "stls":
        assert "pop3 starttls" in srv.log()
    else:
        assert "tls=implicit" in srv.log()
    # nothing new: a second run fetches nothing and succeeds
    rc, log, fetched2 = run_fetchmail(srv, srv.root, tls)
    assert rc == 1, log         # fetchmail: 1 = no mail
    assert len(fetched2) == 5


def test_fetchmail_keep_uses_uidl(make_pop3):
    """With "keep", fetchmail remembers UIDLs: a second run fetches only
    the message that arrived in between, so the UIDLs were stable."""
    srv = make_pop3()
    for i in range(3):
        drop(srv, message(i))
    rc, log, fetched = run_fetchmail(srv, srv.root, "pop3s", keep=True)
    assert rc == 0, log
    assert len(fetched) == 3
    assert len(listdir(srv, "cur")) == 3
    drop(srv, message(7))
    rc, log, fetched = run_fetchmail(srv, srv.root, "pop3s", keep=True)
    assert rc == 0, log
    assert len(fetched) == 4, log
    assert b"Subject: message 7" in fetched[-1] or \
        any(b"Subject: message 7" in f for f in fetched)
    assert "3 messages (3 seen)" in log or "(3 seen)" in log, log
    # fetchmail reads with "TOP n 2147483647" when keeping mail: TOP does
    # not mark messages \Seen
    assert all(n.endswith(":2,") for n in listdir(srv, "cur"))
