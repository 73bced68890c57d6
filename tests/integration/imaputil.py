"""Shared helpers for the IMAP integration tests.

- ImapServer: the daemon with IMAP, IMAPS, POP3 and POP3S listeners (and
  SMTP, as every Server), make_imap / imap fixtures.
- RawIMAP: a tiny client over a raw socket (optionally TLS): tagged
  commands, untagged responses collected exactly as sent (literals kept
  inline as "{n}\\r\\n" + the n bytes), synchronising literals, IDLE
  (Python 3.11's imaplib has none), waits bounded everywhere.
- parse(): IMAP response data (atoms, strings, literals, lists) into
  Python values, fetch_items() for "* n FETCH (...)".
- deliver(): a message over SMTP to the daemon.
- View: a client's sequence-number view of a mailbox, kept up to date by
  EXISTS / EXPUNGE / FETCH responses as RFC 9051 says a client must.
"""
import imaplib
import os
import pwd
import re
import socket
import ssl
import time

import pytest

from conftest import (DOMAIN, HOSTNAME, Closed, RawSMTP, Server, T,
                      free_port, make_root, teardown_servers)

PASSWORD = "secret password"
ALICE = "alice@" + DOMAIN
BOB = "bob@" + DOMAIN


def client_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# --------------------------------------------------------------------------
# The daemon

class ImapServer(Server):
    def __init__(self, root, options=None):
        ports = set()
        while len(ports) < 4:
            ports.add(free_port())
        (self.imap_port, self.imaps_port,
         self.pop3_port, self.pop3s_port) = sorted(ports)
        super().__init__(root, options)
        while self.port in ports:
            self.port = free_port()
            self.write_config()

    def write_config(self, **changes):
        super().write_config(**changes)
        with open(self.conf_path, "a") as f:
            f.write("listen imap 127.0.0.1:%d\nlisten imaps 127.0.0.1:%d\n"
                    "listen pop3 127.0.0.1:%d\nlisten pop3s 127.0.0.1:%d\n"
                    % (self.imap_port, self.imaps_port,
                       self.pop3_port, self.pop3s_port))

    @property
    def cert_path(self):
        return os.path.join(self.data_dir, "tls", "cert.pem")

    def index_path(self, user="alice"):
        return os.path.join(self.maildir(user), "facteur-index.sqlite")

    def raw(self, tls=True, **kw):
        """A RawIMAP on IMAPS (tls) or on the STARTTLS port in clear."""
        return RawIMAP(self.imaps_port if tls else self.imap_port, tls=tls,
                       **kw)

    def login(self, user=ALICE, password=PASSWORD, tls=True, select=None,
              **kw):
        c = self.raw(tls=tls, **kw)
        c.login(user, password)
        if select:
            c.select(select)
        return c

    def imaplib(self, user=ALICE, password=PASSWORD):
        """A logged-in imaplib client over IMAPS."""
        m = imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port,
                              ssl_context=client_ctx(), timeout=T(20))
        typ, data = m.login(user, password)
        assert typ == "OK", data
        return m

    def deliver(self, content, rcpt=ALICE, sender="bob@example.org"):
        deliver(self.port, content, rcpt, sender)

    def session_pid(self, client):
        """The pid of the daemon process holding the server end of a
        client's connection (from /proc/net/tcp and /proc/PID/fd)."""
        sock = client.sock if hasattr(client, "sock") else client
        cport = sock.getsockname()[1]
        sport = sock.getpeername()[1]
        want_local = "0100007F:%04X" % sport
        want_remote = "0100007F:%04X" % cport
        inode = None
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                fl = line.split()
                if fl[1] == want_local and fl[2] == want_remote:
                    inode = fl[9]
        if inode is None:
            return None
        target = "socket:[%s]" % inode
        for pid in [self.proc.pid] + self.children():
            d = "/proc/%d/fd" % pid
            try:
                for fd in os.listdir(d):
                    try:
                        if os.readlink(os.path.join(d, fd)) == target:
                            return pid
                    except OSError:
                        pass
            except OSError:
                pass
        return None


def deliver(port, content, rcpt=ALICE, sender="bob@example.org"):
    with RawSMTP(port) as s:
        s.ehlo()
        r = s.send_mail(sender, [rcpt] if isinstance(rcpt, str) else rcpt,
                        content)
        assert r.code == 250, r
        s.quit()


@pytest.fixture
def make_imap(request):
    made = []

    def make(start=True, **options):
        options.setdefault("auth_plaintext_loopback", "yes")
        srv = ImapServer(make_root(), options)
        made.append(srv)
        srv.setup_accounts()
        if start:
            srv.start()
            if re.search(r"listen imaps?: not served yet", srv.log()):
                pytest.skip("IMAP listeners are not wired into the daemon "
                            "(serve_proto_served)")
        return srv

    yield make
    teardown_servers(request, made)


@pytest.fixture
def imap(make_imap):
    return make_imap()


# --------------------------------------------------------------------------
# A raw IMAP client

class ImapError(AssertionError):
    pass


LITERAL_END = re.compile(rb"~?\{(\d+)\+?\}$")


class RawIMAP:
    def __init__(self, port, tls=False, timeout=None, greet=True,
                 host="127.0.0.1"):
        self.sock = socket.create_connection((host, port),
                                             timeout=timeout or T(10))
        if tls:
            self.sock = client_ctx().wrap_socket(self.sock,
                                                 server_hostname=HOSTNAME)
        self.buf = b""
        self.ntag = 0
        self.pending = []           # untagged read outside a command
        self.greeting = self.response() if greet else None

    # --- bytes --------------------------------------------------------
    def settimeout(self, t):
        self.sock.settimeout(t)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise Closed("connection closed by the server; buffered %r"
                         % self.buf[:300])
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            assert len(self.buf) < (1 << 20), \
                "response line too long: %r" % self.buf[:200]
            self._fill()

    def _bytes(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def response(self):
        """One whole response (untagged, tagged or continuation), as
        sent, without its final CRLF; literals inline."""
        out = self._line()
        while True:
            m = LITERAL_END.search(out)
            if not m or out.startswith(b"+"):
                return out
            n = int(m.group(1))
            out += b"\r\n" + self._bytes(n)
            out += self._line()

    def response_within(self, timeout):
        """A response, or None when none came within timeout seconds."""
        old = self.sock.gettimeout()
        self.sock.settimeout(timeout)
        try:
            if b"\r\n" not in self.buf:
                self._fill()
        except (socket.timeout, TimeoutError):
            return None
        except ssl.SSLError as e:
            if "timed out" in str(e):
                return None
            raise
        finally:
            self.sock.settimeout(old)
        return self.response()

    # --- commands -----------------------------------------------------
    def tag(self):
        self.ntag += 1
        return "A%04d" % self.ntag

    def command(self, cmd, literals=(), nonsync=False):
        """Send a command; literals are sent after "+" continuations
        (cmd holds "{n}" placeholders written by lit()).  Returns
        (status line without the tag, [untagged responses])."""
        tag = self.tag()
        if isinstance(cmd, str):
            cmd = cmd.encode()
        parts = cmd.split(b"\0LIT\0")
        assert len(parts) == len(literals) + 1
        untagged = []
        data = tag.encode() + b" " + parts[0]
        for lit, rest in zip(literals, parts[1:]):
            if nonsync:
                data += b"{%d+}\r\n" % len(lit) + lit + rest
                continue
            self.send(data + b"{%d}\r\n" % len(lit))
            while True:
                r = self.response()
                if r.startswith(b"+"):
                    break
                if r.startswith(tag.encode() + b" "):
                    return r[len(tag) + 1:], untagged
                untagged.append(r)
            data = lit + rest
        self.send(data + b"\r\n")
        return self.wait_tagged(tag, untagged)

    def wait_tagged(self, tag, untagged=None):
        untagged = [] if untagged is None else untagged
        btag = tag.encode() + b" "
        while True:
            r = self.response()
            if r.startswith(btag):
                return r[len(btag):], untagged
            if r.startswith(b"+"):
                raise ImapError("unexpected continuation %r" % r)
            untagged.append(r)

    def ok(self, cmd, literals=(), **kw):
        status, untagged = self.command(cmd, literals, **kw)
        if not status.startswith(b"OK"):
            raise ImapError("%r -> %r (untagged %r)"
                            % (cmd if len(cmd) < 200 else cmd[:200] + "...",
                               status, untagged[:10]))
        return untagged

    def login(self, user=ALICE, password=PASSWORD):
        return self.ok('LOGIN "%s" "%s"' % (user, password))

    def select(self, mbox="INBOX", examine=False):
        """SELECT; returns a dict: exists, uidvalidity, uidnext, flags,
        untagged."""
        u = self.ok('%s "%s"' % ("EXAMINE" if examine else "SELECT", mbox))
        info = {"untagged": u}
        for r in u:
            m = re.match(rb"\* (\d+) EXISTS$", r)
            if m:
                info["exists"] = int(m.group(1))
            m = re.search(rb"\[UIDVALIDITY (\d+)\]", r)
            if m:
                info["uidvalidity"] = int(m.group(1))
            m = re.search(rb"\[UIDNEXT (\d+)\]", r)
            if m:
                info["uidnext"] = int(m.group(1))
            m = re.match(rb"\* FLAGS \((.*)\)$", r)
            if m:
                info["flags"] = m.group(1).split()
        assert "exists" in info and "uidvalidity" in info, u
        return info

    def append(self, content, mbox="INBOX", flags=None, nonsync=False):
        """APPEND; returns the APPENDUID (uidvalidity, uid) or None."""
        fl = "(%s) " % flags if flags is not None else ""
        status, u = self.command('APPEND "%s" %s\0LIT\0' % (mbox, fl),
                                 [content], nonsync=nonsync)
        if not status.startswith(b"OK"):
            raise ImapError("APPEND -> %r" % status)
        m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", status)
        return (int(m.group(1)), int(m.group(2))) if m else None

    def uids(self):
        """The UIDs of the selected mailbox in sequence order (UID order,
        so UID SEARCH ALL gives them)."""
        return self.uid_search_all()

    def uid_search_all(self):
        for r in self.ok("UID SEARCH ALL"):
            if r.startswith(b"* SEARCH"):
                return sorted(int(x) for x in r.split()[2:])
        raise ImapError("no * SEARCH response")

    def fetch(self, seqset, items, uid=False):
        """{seq: {ITEM: value}} from FETCH (or UID FETCH)."""
        u = self.ok("%sFETCH %s %s" % ("UID " if uid else "", seqset, items))
        out = {}
        for r in u:
            f = fetch_items(r)
            if f:
                out.setdefault(f[0], {}).update(f[1])
        return out

    def fetch_by_uid(self, items="(FLAGS)"):
        """{uid: {ITEM: value}} for every message."""
        out = {}
        for r in self.ok("UID FETCH 1:* (UID %s)" % items.strip("()")):
            f = fetch_items(r)
            if f and b"UID" in f[1]:
                out[int(f[1][b"UID"])] = f[1]
        return out

    # --- IDLE ---------------------------------------------------------
    def idle(self):
        """Send IDLE and wait for the continuation; returns the tag.
        Untagged responses before the "+" go to self.pending."""
        tag = self.tag()
        self.send(tag + " IDLE\r\n")
        while True:
            r = self.response()
            if r.startswith(b"+"):
                self.idle_tag = tag
                return tag
            if r.startswith(tag.encode() + b" "):
                raise ImapError("IDLE -> %r" % r)
            self.pending.append(r)

    def wait_untagged(self, pred, timeout):
        """Read responses until one satisfies pred (a regex or a
        function); returns (it, seconds waited).  Everything read goes
        to self.pending too."""
        if isinstance(pred, (bytes, str)):
            rx = re.compile(pred if isinstance(pred, bytes)
                            else pred.encode())
            pred = rx.search
        t0 = time.time()
        deadline = t0 + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise ImapError("no matching response within %.1fs; got %r"
                                % (timeout, self.pending[-20:]))
            r = self.response_within(left)
            if r is None:
                continue
            self.pending.append(r)
            if pred(r):
                return r, time.time() - t0

    def done(self):
        """End IDLE; returns (status, untagged after the DONE)."""
        self.send("DONE\r\n")
        return self.wait_tagged(self.idle_tag)

    def logout(self):
        try:
            self.command("LOGOUT")
        except (OSError, Closed):
            pass
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def lit():
    """Placeholder for a literal in RawIMAP.command()."""
    return "\0LIT\0"


# --------------------------------------------------------------------------
# Parsing response data

ATOM_STOP = b" ()[]{\"\r\n"


def parse(data, pos=0):
    """Parse a sequence of IMAP values from data[pos:] up to the end or a
    closing parenthesis; returns (list, pos).  Atoms and strings are
    bytes, NIL is None, lists are lists; an atom with a [section] keeps
    it (BODY[HEADER.FIELDS (A B)])."""
    out = []
    n = len(data)
    while pos < n:
        c = data[pos:pos + 1]
        if c == b" ":
            pos += 1
        elif c == b"(":
            sub, pos = parse(data, pos + 1)
            out.append(sub)
        elif c == b")":
            return out, pos + 1
        elif c == b'"':
            pos += 1
            s = bytearray()
            while data[pos:pos + 1] != b'"':
                if data[pos:pos + 1] == b"\\":
                    pos += 1
                s += data[pos:pos + 1]
                pos += 1
                if pos >= n:
                    raise ImapError("unterminated string in %r" % data[:200])
            out.append(bytes(s))
            pos += 1
        elif c in (b"{", b"~") and re.match(rb"~?\{\d+\}\r\n",
                                            data[pos:pos + 30]):
            m = re.match(rb"~?\{(\d+)\}\r\n", data[pos:pos + 30])
            start = pos + m.end()
            out.append(data[start:start + int(m.group(1))])
            pos = start + int(m.group(1))
        else:
            start = pos
            while pos < n:
                ch = data[pos:pos + 1]
                if ch == b"[":
                    depth = 0
                    while pos < n:
                        if data[pos:pos + 1] == b"[":
                            depth += 1
                        elif data[pos:pos + 1] == b"]":
                            depth -= 1
                            if depth == 0:
                                break
                        pos += 1
                    pos += 1
                    continue
                if ch in ATOM_STOP:
                    break
                pos += 1
            if pos == start:
                raise ImapError("cannot parse %r at %d" % (data[:200], pos))
            atom = data[start:pos]
            out.append(None if atom.upper() == b"NIL" else atom)
    return out, pos


def fetch_items(resp):
    """(seq, {ITEM: value}) of a "* n FETCH (...)" response, or None.
    Item names are upper-cased; FLAGS is a list of bytes."""
    m = re.match(rb"\* (\d+) FETCH \(", resp)
    if not m:
        return None
    vals, _ = parse(resp, m.end() - 1)
    assert len(vals) == 1 and isinstance(vals[0], list), resp[:200]
    items = vals[0]
    out = {}
    for i in range(0, len(items) - 1, 2):
        out[items[i].upper()] = items[i + 1]
    return int(m.group(1)), out


def flagset(v):
    """The FLAGS value as a set of str, system flags case-folded."""
    out = set()
    for f in v or []:
        s = f.decode()
        out.add(SYSTEM_FLAGS.get(s.lower(), s))
    return out


SYSTEM_FLAGS = {f.lower(): f for f in ("\\Seen", "\\Answered", "\\Flagged",
                                       "\\Deleted", "\\Draft", "\\Recent")}


# --------------------------------------------------------------------------
# A client's view of a mailbox

class View:
    """Sequence numbers -> UIDs as a client keeps them: EXPUNGE n removes
    the n-th (numbers after it shift down at once), EXISTS n grows the
    list (new UIDs unknown until fetched)."""

    def __init__(self, uids):
        self.uids = list(uids)

    def apply(self, responses):
        for r in responses:
            m = re.match(rb"\* (\d+) EXPUNGE$", r)
            if m:
                n = int(m.group(1))
                assert 1 <= n <= len(self.uids), \
                    "EXPUNGE %d with %d messages in view (%r)" % (
                        n, len(self.uids), responses)
                del self.uids[n - 1]
                continue
            m = re.match(rb"\* (\d+) EXISTS$", r)
            if m:
                n = int(m.group(1))
                assert n >= len(self.uids), \
                    "EXISTS %d shrinks a view of %d (%r)" % (
                        n, len(self.uids), responses)
                self.uids += [None] * (n - len(self.uids))
                continue
            f = fetch_items(r)
            if f and b"UID" in f[1]:
                seq = f[0]
                assert 1 <= seq <= len(self.uids), (r, self.uids)
                uid = int(f[1][b"UID"])
                assert self.uids[seq - 1] in (None, uid), \
                    "FETCH %d says UID %d, view has %r" % (
                        seq, uid, self.uids[seq - 1])
                self.uids[seq - 1] = uid
        return self


# --------------------------------------------------------------------------
# Maildir on disk

def chown_facteur(path):
    if os.geteuid() != 0:
        return
    pw = pwd.getpwnam("facteur")
    os.chown(path, pw.pw_uid, pw.pw_gid)


def maildir_files(srv, user="alice", folder=None):
    """{name: path} of every message file in cur/ and new/."""
    root = srv.maildir(user)
    if folder:
        root = os.path.join(root, "." + folder)
    out = {}
    for sub in ("new", "cur"):
        d = os.path.join(root, sub)
        try:
            for n in os.listdir(d):
                out[n] = os.path.join(d, n)
        except FileNotFoundError:
            pass
    return out


def uid_of_name(name):
    m = re.search(r",U=(\d+)", name)
    return int(m.group(1)) if m else None


def wait_for(pred, timeout, step=0.05):
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() > deadline:
            return v
        time.sleep(step)


_seq = [0]


def message(n, body=b"", subject=None, size=0):
    """A small distinct message with CRLF lines; size pads the body."""
    _seq[0] += 1
    head = (b"From: <bob@example.org>\r\nTo: <alice@example.test>\r\n"
            b"Subject: %s\r\nMessage-Id: <m%d.%d.%d@test.example.org>\r\n"
            b"Date: Thu, 26 Nov 2026 12:00:00 +0000\r\n\r\n"
            % ((subject or "message %d" % n).encode(), n, _seq[0],
               os.getpid()))
    text = b"line one of %d\r\n" % n + body
    if size > len(head) + len(text):
        line = b"x" * 70 + b"\r\n"
        need = size - len(head) - len(text)
        text += line * (need // len(line)) + b"y" * (need % len(line) - 2
                                                      if need % len(line) >= 2
                                                      else 0)
        if not text.endswith(b"\r\n"):
            text += b"\r\n"
    return head + text
