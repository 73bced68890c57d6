"""Outbound delivery end to end: mail submitted to facteur for other
domains goes through the queue process and the SMTP client (src/mta) to
real peers on loopback, found through a real DNS server.

- unbound on 127.0.0.1:<free port> serves the zone "mta.test" (MX and A
  records pointing into 127.0.6.0/24); facteur uses it as dns_resolver.
- Scripted SMTP peers (a small threaded server below) listen on
  127.0.6.x:25 (or other ports for smarthosts) and record what they get;
  Postfix's smtp-sink takes the volume test.

Needs root (port 25 on 127.0.6.x) and unbound; skipped otherwise.
"""
import base64
import errno
import os
import re
import shutil
import signal
import smtplib
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import DOMAIN, T, free_port, new_msgid, queue_envs

PASSWORD = "secret password"
UNBOUND = "/usr/sbin/unbound"
SMTP_SINK = "/usr/sbin/smtp-sink"

ZONE = """
  local-zone: "mta.test." static
  local-data: "ok.mta.test. MX 10 mx1.mta.test."
  local-data: "mx1.mta.test. A 127.0.6.1"
  local-data: "second.mta.test. MX 10 dead.mta.test."
  local-data: "second.mta.test. MX 20 mx2.mta.test."
  local-data: "dead.mta.test. A 127.0.6.99"
  local-data: "mx2.mta.test. A 127.0.6.2"
  local-data: "amx.mta.test. A 127.0.6.3"
  local-data: "null.mta.test. MX 0 ."
  local-data: "old.mta.test. MX 10 oldmx.mta.test."
  local-data: "oldmx.mta.test. A 127.0.6.4"
  local-data: "tls.mta.test. MX 10 tlsmx.mta.test."
  local-data: "tlsmx.mta.test. A 127.0.6.5"
  local-data: "flaky.mta.test. MX 10 flakymx.mta.test."
  local-data: "flakymx.mta.test. A 127.0.6.6"
  local-data: "slow.mta.test. MX 10 slowmx.mta.test."
  local-data: "slowmx.mta.test. A 127.0.6.7"
  local-data: "sink.mta.test. MX 10 sinkmx.mta.test."
  local-data: "sinkmx.mta.test. A 127.0.6.30"
  local-data: "relay.mta.test. A 127.0.6.20"
"""


def have_root_and_unbound():
    return os.geteuid() == 0 and os.access(UNBOUND, os.X_OK)


pytestmark = pytest.mark.skipif(not have_root_and_unbound(),
                                reason="needs root (port 25) and unbound")


# --------------------------------------------------------------------------
# DNS

class Unbound:
    def __init__(self, root):
        self.dir = os.path.join(root, "unbound")
        os.makedirs(self.dir)
        self.port = free_udp_tcp_port()
        conf = os.path.join(self.dir, "unbound.conf")
        with open(conf, "w") as f:
            f.write("server:\n  interface: 127.0.0.1@%d\n"
                    "  interface-automatic: no\n  do-daemonize: no\n"
                    "  chroot: \"\"\n  username: \"\"\n"
                    "  directory: \"%s\"\n  pidfile: \"%s/pid\"\n"
                    "  use-syslog: no\n  verbosity: 0\n  num-threads: 1\n"
                    "  so-reuseport: no\n  outgoing-range: 32\n"
                    "  do-ip6: no\n  access-control: 127.0.0.0/8 allow\n"
                    "  module-config: \"iterator\"\n%s"
                    "remote-control:\n  control-enable: no\n"
                    % (self.port, self.dir, self.dir, ZONE))
        self.log = open(os.path.join(self.dir, "out"), "wb")
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", conf],
                                     stdout=self.log, stderr=self.log)
        deadline = time.time() + T(10)
        while time.time() < deadline:
            if self.answers():
                return
            time.sleep(0.05)
        raise AssertionError("unbound did not start")

    def answers(self):
        q = (b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
             b"\x03mx1\x03mta\x04test\x00\x00\x01\x00\x01")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            s.sendto(q, ("127.0.0.1", self.port))
            try:
                return len(s.recv(512)) > 12
            except OSError:
                return False

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


def free_udp_tcp_port():
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue


# --------------------------------------------------------------------------
# A scripted SMTP peer

class Peer:
    """An SMTP server on (ip, port) that records every transaction.

    exts: EHLO keywords; ehlo=False answers 502 to EHLO (HELO only).
    starttls / implicit: TLS with the test certificate.  auth: (user,
    password) required before MAIL.  rcpt(addr) and dot(n) return the
    reply lines (n counts messages, from 1).  dot_delay: seconds before
    the reply to the final dot."""

    def __init__(self, ip, port=25, exts=("PIPELINING", "8BITMIME",
                                          "SIZE 10000000", "DSN",
                                          "ENHANCEDSTATUSCODES"),
                 ehlo=True, starttls=False, implicit=False, auth=None,
                 rcpt=None, dot=None, dot_delay=0, cert=None):
        self.ip, self.port = ip, port
        self.exts = list(exts)
        self.ehlo_ok = ehlo
        self.starttls = starttls
        self.implicit = implicit
        self.auth = auth
        self.rcpt_reply = rcpt or (lambda a: "250 2.1.5 ok")
        self.dot_reply = dot or (lambda n: "250 2.0.0 queued")
        self.dot_delay = dot_delay
        self.ctx = None
        if cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(*cert)
        self.lock = threading.Lock()
        self.msgs = []          # dicts: mail, rcpts, data, tls, auth
        self.nconn = 0
        self.cur = 0
        self.maxcur = 0
        self.commands = []
        peer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                peer.session(self.request)

        class Srv(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        # another run of these tests may hold the address for a while
        deadline = time.time() + 60
        while True:
            try:
                self.srv = Srv((ip, port), Handler)
                break
            except OSError as e:
                if e.errno != errno.EADDRINUSE or time.time() > deadline:
                    raise
                time.sleep(0.2)
        self.thread = threading.Thread(target=self.srv.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()

    def session(self, sock):
        with self.lock:
            self.nconn += 1
            self.cur += 1
            self.maxcur = max(self.maxcur, self.cur)
        try:
            self._session(sock)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            with self.lock:
                self.cur -= 1

    def _session(self, sock):
        tls = False
        if self.implicit:
            sock = self.ctx.wrap_socket(sock, server_side=True)
            tls = True
        f = sock.makefile("rb")

        def send(s):
            sock.sendall(s.encode() + b"\r\n")

        send("220 peer ESMTP")
        authed = self.auth is None
        user = None
        mail = None
        rcpts = []
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.rstrip(b"\r\n").decode("utf-8", "replace")
            with self.lock:
                self.commands.append(cmd)
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                if not self.ehlo_ok:
                    send("502 5.5.1 no EHLO")
                    continue
                exts = list(self.exts)
                if self.starttls and not tls:
                    exts.append("STARTTLS")
                if self.auth:
                    exts.append("AUTH PLAIN LOGIN")
                lines = ["peer hello"] + exts
                for i, l in enumerate(lines):
                    send("250%s%s" % ("-" if i < len(lines) - 1 else " ", l))
            elif verb == "HELO":
                send("250 peer")
            elif verb == "STARTTLS" and self.starttls and not tls:
                send("220 2.0.0 go ahead")
                sock = self.ctx.wrap_socket(sock, server_side=True)
                f = sock.makefile("rb")
                tls = True
            elif verb == "AUTH" and self.auth:
                user = self._auth(cmd, f, send)
                authed = user is not None
                send("235 2.7.0 ok" if authed else "535 5.7.8 no")
            elif verb == "MAIL":
                if not authed:
                    send("530 5.7.0 auth first")
                    continue
                mail, rcpts = cmd, []
                send("250 2.1.0 ok")
            elif verb == "RCPT":
                addr = re.search(r"<([^>]*)>", cmd).group(1)
                r = self.rcpt_reply(addr)
                if r.startswith("2"):
                    rcpts.append(cmd)
                send(r)
            elif verb == "DATA":
                send("354 go")
                data = b""
                while True:
                    l = f.readline()
                    if not l:
                        return
                    if l == b".\r\n":
                        break
                    data += l
                with self.lock:
                    self.msgs.append({"mail": mail, "rcpts": rcpts,
                                      "data": data, "tls": tls,
                                      "auth": user})
                    n = len(self.msgs)
                if self.dot_delay:
                    time.sleep(self.dot_delay)
                send(self.dot_reply(n))
            elif verb == "RSET":
                send("250 2.0.0 ok")
            elif verb == "NOOP":
                send("250 2.0.0 ok")
            elif verb == "QUIT":
                send("221 2.0.0 bye")
                return
            else:
                send("502 5.5.2 unknown")

    def _auth(self, cmd, f, send):
        parts = cmd.split()
        if parts[1].upper() == "PLAIN" and len(parts) == 3:
            z, u, p = base64.b64decode(parts[2]).split(b"\0")
        elif parts[1].upper() == "LOGIN":
            send("334 VXNlcm5hbWU6")
            u = base64.b64decode(f.readline().strip())
            send("334 UGFzc3dvcmQ6")
            p = base64.b64decode(f.readline().strip())
        else:
            return None
        if (u.decode(), p.decode()) == self.auth:
            return parts[1].upper()
        return None

    def wait_msgs(self, n, timeout=None):
        deadline = time.time() + (timeout or T(20))
        while time.time() < deadline:
            with self.lock:
                if len(self.msgs) >= n:
                    return list(self.msgs)
            time.sleep(0.05)
        raise AssertionError("peer %s got %d messages, not %d; commands: %r"
                             % (self.ip, len(self.msgs), n,
                                self.commands[-30:]))


def dot_unstuff(data):
    return re.sub(rb"(?m)^\.\.", b".", data)


# --------------------------------------------------------------------------
# Fixtures

@pytest.fixture(scope="module")
def env():
    root = tempfile.mkdtemp(prefix="facteur-mta-", dir="/tmp")
    os.chmod(root, 0o755)
    dns = Unbound(root)
    cert = (os.path.join(root, "cert.pem"), os.path.join(root, "key.pem"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=peer.mta.test", "-days", "2",
                    "-keyout", cert[1], "-out", cert[0]],
                   check=True, capture_output=True)
    e = type("Env", (), {})()
    e.root, e.dns, e.cert = root, dns, cert
    yield e
    dns.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def peers(env):
    made = []

    def make(ip, **kw):
        p = Peer(ip, cert=env.cert, **kw)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


@pytest.fixture
def mta_server(make_server, env):
    def make(start=True, **options):
        srv = make_server(start=False)
        p587 = free_port()
        while p587 == srv.port:         # free_port may repeat itself
            p587 = free_port()
        opts = {"listen submission": "127.0.0.1:%d" % p587,
                "dns_resolver": "127.0.0.1@%d" % env.dns.port,
                "auth_plaintext_loopback": "yes",
                "queue_retry_min": "1s",
                "queue_retry_max": "2s"}
        opts.update(options)
        srv.write_config(**opts)
        if start:
            srv.start()
        srv.p587 = p587
        return srv
    return make


def submit(srv, rcpts, body=None, sender="alice@" + DOMAIN, subject="hi",
           mail_options=(), msgid=None):
    msgid = msgid or new_msgid()
    if body is None:
        body = b"Hello there.\r\n.a line with a dot\r\n"
    msg = (("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: %s\r\n"
            "Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n")
           % (sender, rcpts[0], subject, msgid)).encode()
    if isinstance(body, tuple):          # (extra headers, body)
        msg += body[0] + b"\r\n" + body[1]
    else:
        msg += b"\r\n" + body
    s = smtplib.SMTP("127.0.0.1", srv.p587, timeout=T(10))
    s.ehlo()
    s.login(sender, PASSWORD)
    s.sendmail(sender, rcpts, msg, mail_options=list(mail_options))
    s.quit()
    return msgid, msg


def queue_empty(srv, timeout=None):
    qdir = os.path.join(srv.data_dir, "queue")
    deadline = time.time() + (timeout or T(20))
    left = []
    while time.time() < deadline:
        left = queue_envs(qdir)
        if not left:
            return True
        time.sleep(0.1)
    raise AssertionError("still queued: %r\n%s" % (left, srv.log()[-3000:]))


# --------------------------------------------------------------------------
# Tests

def test_delivery_by_mx(mta_server, peers):
    mx = peers("127.0.6.1")
    srv = mta_server()
    msgid, msg = submit(srv, ["bob@ok.mta.test", "carol@ok.mta.test"])
    got = mx.wait_msgs(1)[0]
    assert got["mail"].startswith("MAIL FROM:<alice@%s>" % DOMAIN)
    assert len(got["rcpts"]) == 2
    assert msgid.encode() in got["data"]
    assert b"\r\n..a line with a dot\r\n" in got["data"]
    assert not got["tls"]
    # PIPELINING: RCPTs went out with MAIL (checked by the order only:
    # the peer answers each as it reads)
    srv.wait_log(r"mta sent to=<bob@ok\.mta\.test> "
                 r"relay=mx1\.mta\.test\[127\.0\.6\.1\]")
    srv.wait_log(r"mta sent to=<carol@ok\.mta\.test>")
    queue_empty(srv)


def test_first_mx_down_second_takes_it(mta_server, peers):
    mx2 = peers("127.0.6.2")
    srv = mta_server()
    submit(srv, ["bob@second.mta.test"])
    mx2.wait_msgs(1)
    srv.wait_log(r"mta host-failed .*relay=dead\.mta\.test\[127\.0\.6\.99\]")
    srv.wait_log(r"mta sent to=<bob@second\.mta\.test> relay=mx2")
    queue_empty(srv)


def test_no_mx_uses_a(mta_server, peers):
    a = peers("127.0.6.3")
    srv = mta_server()
    submit(srv, ["bob@amx.mta.test"])
    a.wait_msgs(1)
    srv.wait_log(r"mta sent to=<bob@amx\.mta\.test> "
                 r"relay=amx\.mta\.test\[127\.0\.6\.3\]")


def wait_report(srv, user="alice", pattern=rb"", timeout=None):
    deadline = time.time() + (timeout or T(20))
    while time.time() < deadline:
        for m in srv.messages(user):
            if b"multipart/report" in m and re.search(pattern, m):
                return m
        time.sleep(0.1)
    raise AssertionError("no report for %s matching %r:\n%s"
                         % (user, pattern, srv.log()[-3000:]))


def test_null_mx_bounces_at_once(mta_server):
    srv = mta_server()
    submit(srv, ["bob@null.mta.test"])
    srv.wait_log(r"mta failed to=<bob@null\.mta\.test> .*dsn=5\.1\.10")
    report = wait_report(srv, pattern=rb"Status: 5\.1\.10")
    assert b"Final-Recipient: rfc822; bob@null.mta.test" in report
    assert b"message/delivery-status" in report
    queue_empty(srv)


def test_5xx_bounces_with_report(mta_server, peers):
    peers("127.0.6.1", rcpt=lambda a: "550 5.1.1 <%s>: no such user" % a
          if a.startswith("nobody") else "250 2.1.5 ok")
    srv = mta_server()
    submit(srv, ["nobody@ok.mta.test", "bob@ok.mta.test"])
    srv.wait_log(r"mta failed to=<nobody@ok\.mta\.test> .*dsn=5\.1\.1 .*"
                 r"reply=<550 5\.1\.1 <nobody@ok\.mta\.test>: no such user>")
    srv.wait_log(r"mta sent to=<bob@ok\.mta\.test>")
    report = wait_report(srv, pattern=rb"Status: 5\.1\.1")
    assert b"Final-Recipient: rfc822; nobody@ok.mta.test" in report
    assert b"Action: failed" in report
    assert b"Diagnostic-Code: smtp;" in report
    assert b"Final-Recipient: rfc822; bob@ok.mta.test" not in report
    queue_empty(srv)


def test_4xx_then_success_after_retry(mta_server, peers):
    mx = peers("127.0.6.6", dot=lambda n: "451 4.3.0 try again later"
               if n == 1 else "250 2.0.0 queued")
    srv = mta_server()
    submit(srv, ["bob@flaky.mta.test"])
    mx.wait_msgs(2, timeout=T(30))
    srv.wait_log(r"mta deferred to=<bob@flaky\.mta\.test> .*dsn=4\.3\.0")
    srv.wait_log(r"mta sent to=<bob@flaky\.mta\.test>")
    queue_empty(srv)


def test_starttls_to_the_peer(mta_server, peers):
    mx = peers("127.0.6.5", starttls=True)
    srv = mta_server()
    submit(srv, ["bob@tls.mta.test"])
    got = mx.wait_msgs(1)[0]
    assert got["tls"]
    srv.wait_log(r"mta tls session=\S+ relay=tlsmx\.mta\.test\[127\.0\.6\.5\] "
                 r"version=TLSv1\.[23] cipher=\S+ verified=no")
    srv.wait_log(r"mta sent to=<bob@tls\.mta\.test>")


def test_tls_required_never_in_clear(mta_server, peers):
    mx = peers("127.0.6.1")
    srv = mta_server(mta_tls_require="ok.mta.test other.test")
    submit(srv, ["bob@ok.mta.test"])
    srv.wait_log(r"mta deferred to=<bob@ok\.mta\.test> .*dsn=4\.7\.4")
    assert mx.msgs == []


def write_auth_file(srv, text, mode=0o600):
    path = os.path.join(srv.root, "smarthost.auth")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    import pwd
    pw = pwd.getpwnam("facteur")
    os.chown(path, pw.pw_uid, pw.pw_gid)
    return path


def test_smarthost_auth_over_starttls(mta_server, peers):
    relay = peers("127.0.6.20", port=2587, starttls=True,
                  auth=("relayuser", "relay pass"))
    mx = peers("127.0.6.1")
    srv = mta_server(start=False)
    srv.write_config(smarthost="relay.mta.test:2587",
                     smarthost_auth_file=write_auth_file(
                         srv, "relayuser relay pass\n"))
    srv.start()
    submit(srv, ["bob@ok.mta.test"])
    got = relay.wait_msgs(1)[0]
    assert got["tls"] and got["auth"] == "PLAIN"
    srv.wait_log(r"mta authenticated session=\S+ "
                 r"relay=relay\.mta\.test\[127\.0\.6\.20\]:2587 user=relayuser")
    srv.wait_log(r"mta sent to=<bob@ok\.mta\.test> relay=relay\.mta\.test")
    assert mx.msgs == []


def test_smarthost_implicit_tls(mta_server, peers):
    relay = peers("127.0.6.21", port=2465, implicit=True,
                  auth=("relayuser", "relay pass"))
    srv = mta_server(start=False)
    srv.write_config(smarthost="[127.0.6.21]:2465", smarthost_tls="implicit",
                     smarthost_auth_file=write_auth_file(
                         srv, "relayuser relay pass\n"))
    srv.start()
    submit(srv, ["bob@ok.mta.test"])
    got = relay.wait_msgs(1)[0]
    assert got["tls"] and got["auth"] == "PLAIN"


def test_smarthost_auth_file_readable_by_others(mta_server, peers):
    relay = peers("127.0.6.20", port=2587, starttls=True,
                  auth=("relayuser", "relay pass"))
    srv = mta_server(start=False)
    srv.write_config(smarthost="relay.mta.test:2587",
                     smarthost_auth_file=write_auth_file(
                         srv, "relayuser relay pass\n", 0o644))
    srv.start()
    submit(srv, ["bob@ok.mta.test"])
    srv.wait_log(r"mta deferred to=<bob@ok\.mta\.test> .*dsn=4\.7\.0 .*"
                 r"chmod 600")
    assert relay.msgs == []


def test_8bit_to_peer_without_8bitmime(mta_server, peers):
    old = peers("127.0.6.4", exts=("PIPELINING",))
    srv = mta_server()
    body = ("Caf\u00e9 cr\u00e8me\r\nsecond = line \r\n").encode()
    submit(srv, ["bob@old.mta.test"], body=(
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n", body),
        mail_options=["BODY=8BITMIME"])
    got = old.wait_msgs(1)[0]
    assert "BODY=" not in got["mail"]
    data = got["data"]
    assert all(b < 0x80 for b in data), data
    assert b"Content-Transfer-Encoding: quoted-printable\r\n" in data
    assert b"Caf=C3=A9 cr=C3=A8me\r\nsecond =3D line=20\r\n" in data
    srv.wait_log(r"mta converted session=\S+ relay=oldmx\S+ parts=1")


def test_8bit_to_peer_with_8bitmime(mta_server, peers):
    mx = peers("127.0.6.1")
    srv = mta_server()
    body = "Caf\u00e9\r\n".encode()
    submit(srv, ["bob@ok.mta.test"], body=(
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n", body),
        mail_options=["BODY=8BITMIME"])
    got = mx.wait_msgs(1)[0]
    assert "BODY=8BITMIME" in got["mail"]
    assert body in got["data"]


def test_helo_fallback(mta_server, peers):
    old = peers("127.0.6.4", ehlo=False)
    srv = mta_server()
    submit(srv, ["bob@old.mta.test"])
    old.wait_msgs(1)
    assert any(c.startswith("HELO ") for c in old.commands)


def test_connection_reuse(mta_server, peers):
    mx = peers("127.0.6.1")
    srv = mta_server()
    submit(srv, ["bob@ok.mta.test"])
    mx.wait_msgs(1)
    submit(srv, ["carol@ok.mta.test"])
    mx.wait_msgs(2)
    assert mx.nconn == 1
    assert "RSET" in mx.commands


def test_per_domain_connection_limit(mta_server, peers):
    mx = peers("127.0.6.7", dot_delay=0.5)
    srv = mta_server(mta_max_connections_per_domain=2)
    s = smtplib.SMTP("127.0.0.1", srv.p587, timeout=T(10))
    s.ehlo()
    s.login("alice@" + DOMAIN, PASSWORD)
    for i in range(6):
        s.sendmail("alice@" + DOMAIN, ["u%d@slow.mta.test" % i],
                   b"Subject: %d\r\n\r\nbody\r\n" % i)
    s.quit()
    mx.wait_msgs(6, timeout=T(30))
    assert mx.maxcur == 2, mx.maxcur
    queue_empty(srv)


@pytest.mark.skipif(not os.access(SMTP_SINK, os.X_OK),
                    reason="no smtp-sink (package postfix)")
def test_volume_to_smtp_sink(mta_server, tmp_path):
    sink = subprocess.Popen([SMTP_SINK, "-u", "nobody", "-c",
                             "127.0.6.30:25", "256"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        srv = mta_server()
        n = 200
        for i in range(n):
            if i % 50 == 0:     # the server's messages per connection
                if i > 0:
                    s.quit()
                s = smtplib.SMTP("127.0.0.1", srv.p587, timeout=T(20))
                s.ehlo()
                s.login("alice@" + DOMAIN, PASSWORD)
            s.sendmail("alice@" + DOMAIN, ["u%d@sink.mta.test" % (i % 7)],
                       b"Subject: %d\r\n\r\n" % i + b"line\r\n" * 50)
        s.quit()
        srv.wait_log(r"mta sent to=<u\d@sink\.mta\.test>", count=n,
                     timeout=T(60))
        queue_empty(srv)
        conns = len(re.findall(r"mta connected .*relay=sinkmx", srv.log()))
        assert conns <= 5 + 5, conns     # reused, within the limit
    finally:
        sink.send_signal(signal.SIGTERM)
        sink.wait(timeout=10)


def test_sigkill_during_delivery_loses_nothing(mta_server, peers):
    """Kill every process while messages are being handed to a slow
    peer; after a restart each of them reaches the peer (a duplicate is
    allowed, a loss is not)."""
    slow = peers("127.0.6.7", dot_delay=T(3))
    srv = mta_server()
    ids = [submit(srv, ["bob@slow.mta.test"])[0] for _ in range(5)]
    deadline = time.time() + T(10)
    while time.time() < deadline:       # a delivery is under way
        with slow.lock:
            if any(c.startswith("DATA") for c in slow.commands):
                break
        time.sleep(0.05)
    srv.kill_group()
    got = [m["data"] for m in slow.msgs]
    slow.close()
    fast = peers("127.0.6.7")
    srv.start()
    deadline = time.time() + T(30)
    while True:
        with fast.lock:
            got_all = got + [m["data"] for m in fast.msgs]
        missing = [i for i in ids
                   if not any(i.encode() in d for d in got_all)]
        if not missing:
            break
        assert time.time() < deadline, "lost after SIGKILL: %r\n%s" % (
            missing, srv.log()[-3000:])
        time.sleep(0.2)
    queue_empty(srv)
