"""Integration test fixtures: a real facteur daemon per test.

Every test gets its own data directory (under /tmp, mode 0755, because
the daemon drops to the unprivileged `facteur` user when run as root),
its own config, its own free port and its own daemon process.

    def test_x(server):                  # default config
    def test_y(make_server):
        srv = make_server(smtp_max_recipients=3)   # extra config options

Environment:
    FACTEUR_BIN        the binary (default <repo>/build/facteur)
    FACTEUR_SANITIZED  1 when the binary is an ASan/UBSan build: longer
                       timeouts, smaller loads
"""
import errno
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import uuid

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("FACTEUR_BIN") or os.path.join(REPO, "build", "facteur")
SANITIZED = os.environ.get("FACTEUR_SANITIZED", "") not in ("", "0")
# multiply every wait by this
SLOW = 4.0 if SANITIZED else 1.0

HOSTNAME = "mx.example.test"
DOMAIN = "example.test"
USERS = ("alice", "bob", "carol", "postmaster")

# what a crashing daemon leaves in its log
BAD_LOG = (
    re.compile(r"\bfatal\b"),
    re.compile(r"ERROR: AddressSanitizer"),
    re.compile(r"ERROR: LeakSanitizer"),
    re.compile(r"runtime error:"),
    # a child killed by a signal we did not send (SEGV, ABRT, BUS, FPE...)
    re.compile(r"child-exit .*signal=(?!9\b)\d+"),
)


def T(seconds):
    """A timeout scaled for sanitized builds."""
    return seconds * SLOW


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_user():
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam("facteur")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", "facteur"],
                       check=True)


def run_bin(argv, popen=False, **kw):
    """subprocess.run / Popen of the binary, retried for a while when it
    cannot be executed because a build is replacing it right now."""
    deadline = time.time() + 60
    while True:
        try:
            if popen:
                return subprocess.Popen(argv, **kw)
            return subprocess.run(argv, **kw)
        except (PermissionError, FileNotFoundError, OSError) as e:
            if time.time() > deadline or getattr(e, "errno", None) not in (
                    errno.EACCES, errno.ENOENT, errno.ETXTBSY):
                raise
            time.sleep(0.5)


SPARE_MAGIC = b"facteur-spare 1 "


def queue_envs(qdir):
    """The Q.env names in a queue directory that hold a queued message:
    spare files (doc/QUEUE.md, "Spare files") have both names too."""
    out = []
    try:
        names = sorted(os.listdir(qdir))
    except FileNotFoundError:
        return out
    for n in names:
        if not n.endswith(".env"):
            continue
        try:
            with open(os.path.join(qdir, n), "rb") as f:
                if f.read(len(SPARE_MAGIC)) == SPARE_MAGIC:
                    continue
        except FileNotFoundError:
            continue
        out.append(n)
    return out


def new_msgid():
    return "<%s@test.example.org>" % uuid.uuid4().hex


# --------------------------------------------------------------------------
# A raw SMTP client: exact bytes in, replies parsed, every wait bounded.

class Reply:
    def __init__(self, code, lines):
        self.code = code
        self.lines = lines          # text of each line, after "NNN-" / "NNN "

    @property
    def text(self):
        return "\n".join(self.lines)

    def __repr__(self):
        return "Reply(%d, %r)" % (self.code, self.lines)


class Closed(Exception):
    pass


class RawSMTP:
    def __init__(self, port, timeout=None, greet=True, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port),
                                             timeout=timeout or T(10))
        self.buf = b""
        self.greeting = self.reply() if greet else None

    def settimeout(self, t):
        self.sock.settimeout(t)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise Closed("connection closed by the server; buffered %r"
                         % self.buf)
        self.buf += chunk

    def readline(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 100000:
                raise AssertionError("reply line too long: %r"
                                     % self.buf[:200])
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        lines = []
        while True:
            line = self.readline()
            m = re.match(rb"^(\d{3})([ -])(.*)$", line, re.S)
            assert m, "malformed reply line %r" % line
            code = int(m.group(1))
            lines.append(m.group(3).decode("utf-8", "replace"))
            if m.group(2) == b" ":
                return Reply(code, lines)

    def cmd(self, line):
        self.send(line + "\r\n" if isinstance(line, str) else line + b"\r\n")
        return self.reply()

    def expect(self, line, code):
        r = self.cmd(line)
        assert r.code == code, "%s -> %r, expected %d" % (line, r, code)
        return r

    def ehlo(self, name="client.example.org"):
        r = self.expect("EHLO " + name, 250)
        return r

    def is_closed(self, timeout=None):
        """True if the server closed (EOF or reset) within timeout."""
        old = self.sock.gettimeout()
        self.sock.settimeout(timeout or T(5))
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except (socket.timeout, ssl.SSLError):
            return False
        finally:
            try:
                self.sock.settimeout(old)
            except OSError:
                pass

    def starttls(self):
        r = self.cmd("STARTTLS")
        assert r.code == 220, r
        assert self.buf == b"", "bytes after the 220 to STARTTLS: %r" % self.buf
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock, server_hostname=HOSTNAME)
        return self.sock

    def send_mail(self, sender, rcpts, content, pipeline=True):
        """MAIL, RCPT..., DATA, dot-stuffed content; returns the final
        reply (or the first failing one)."""
        cmds = ["MAIL FROM:<%s>" % sender] + \
            ["RCPT TO:<%s>" % r for r in rcpts] + ["DATA"]
        if pipeline:
            self.send("".join(c + "\r\n" for c in cmds))
            replies = [self.reply() for _ in cmds]
        else:
            replies = [self.cmd(c) for c in cmds]
        for c, r in zip(cmds, replies):
            if c == "DATA":
                if r.code != 354:
                    return r
            elif r.code != 250 and c.startswith("MAIL"):
                return r
        if not any(r.code == 250 for r in replies[1:-1]):
            return replies[-1]
        self.send(dot_stuff(content) + b".\r\n")
        return self.reply()

    def quit(self):
        try:
            self.cmd("QUIT")
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


def dot_stuff(content):
    """Content (CRLF lines) as sent after DATA, without the final dot."""
    if not content.endswith(b"\r\n"):
        content += b"\r\n"
    out = []
    for line in content.split(b"\r\n")[:-1]:
        if line.startswith(b"."):
            line = b"." + line
        out.append(line + b"\r\n")
    return b"".join(out)


def simple_message(msgid=None, subject="test", body=b"hello\r\n",
                   sender="bob@example.org", to="alice@example.test"):
    msgid = msgid or new_msgid()
    head = ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-Id: %s\r\n\r\n"
            % (sender, to, subject, msgid)).encode()
    return msgid, head + body


# --------------------------------------------------------------------------
# The daemon

class Server:
    def __init__(self, root, options=None):
        self.root = root
        self.data_dir = os.path.join(root, "var")
        self.conf_path = os.path.join(root, "facteur.conf")
        self.log_path = os.path.join(root, "facteur.log")
        self.port = free_port()
        self.options = {
            "hostname": HOSTNAME,
            "data_dir": self.data_dir,
            "user": "facteur",
            "workers": "2",
            "postmaster": "postmaster@" + DOMAIN,
            "shutdown_grace": "5s",
        }
        self.options.update({k: str(v) for k, v in (options or {}).items()})
        self.proc = None
        self.logf = None
        self.allow_bad_log = False
        self.allowed_log = []       # regexes of expected "bad" lines
        self.write_config()

    # --- config and accounts ------------------------------------------
    def write_config(self, **changes):
        self.options.update({k: str(v) for k, v in changes.items()})
        lines = ["# written by tests/integration/conftest.py"]
        for k, v in self.options.items():
            if v is None or v == "None":
                continue
            lines.append("%s %s" % (k, v))
        lines.append("listen smtp 127.0.0.1:%d" % self.port)
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def cli(self, *args, input=None, check=True):
        r = run_bin([BIN, "-c", self.conf_path] + list(args),
                    input=input, capture_output=True, timeout=T(30))
        if check and r.returncode != 0:
            raise AssertionError("facteur %s: exit %d\nstdout: %s\nstderr: %s"
                                 % (" ".join(args), r.returncode,
                                    r.stdout.decode(errors="replace"),
                                    r.stderr.decode(errors="replace")))
        return r

    def setup_accounts(self):
        self.cli("domain", "add", DOMAIN)
        self.cli("domain", "add", "catch.test")
        for u in USERS:
            self.cli("user", "add", "%s@%s" % (u, DOMAIN),
                     input=b"secret password\n")
        self.cli("alias", "add", "sales@" + DOMAIN,
                 "alice@" + DOMAIN, "bob@" + DOMAIN)
        self.cli("alias", "add", "@catch.test", "carol@" + DOMAIN)

    # --- process --------------------------------------------------------
    def start(self, timeout=None):
        assert self.proc is None
        self.logf = open(self.log_path, "ab")
        env = dict(os.environ)
        self.proc = run_bin(
            [BIN, "-c", self.conf_path, "serve"], popen=True,
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf,
            start_new_session=True, env=env)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=None):
        deadline = time.time() + (timeout or T(20))
        last = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("facteur exited with %s at start:\n%s"
                                     % (self.proc.returncode, self.log()))
            try:
                with RawSMTP(self.port, timeout=T(2)) as c:
                    if c.greeting.code == 220:
                        c.quit()
                        # let the server count the probe as gone
                        time.sleep(0.1)
                        return
                    last = c.greeting
            except (OSError, Closed, AssertionError) as e:
                last = e
            time.sleep(0.05)
        raise AssertionError("facteur not ready on port %d (%r):\n%s"
                             % (self.port, last, self.log()))

    @property
    def pid(self):
        return self.proc.pid

    def signal(self, sig):
        self.proc.send_signal(sig)

    def sighup(self):
        self.signal(signal.SIGHUP)

    def sigterm(self):
        self.signal(signal.SIGTERM)

    def sigkill(self):
        """SIGKILL the parent alone."""
        self.signal(signal.SIGKILL)

    def kill_group(self):
        """SIGKILL the parent and every child (the whole process group)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=T(10))
        self._wait_group_gone()
        self.proc = None
        self.logf.close()

    def _wait_group_gone(self, timeout=None):
        deadline = time.time() + (timeout or T(10))
        while time.time() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.05)
        return False

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=None):
        """SIGTERM, then SIGKILL (whole group) after timeout; returns the
        exit status or None when it had to be killed."""
        if self.proc is None:
            return 0
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.wait_exit(timeout or T(10))
        if rc is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=T(10))
        # children may outlive the parent
        if not self._wait_group_gone(T(10)):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc = None
        self.logf.close()
        return rc

    def restart(self):
        self.stop()
        self.start()

    def children(self):
        """pids of the daemon's direct children."""
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
            except OSError:
                continue
            fields = st.rsplit(")", 1)[1].split()
            if int(fields[1]) == self.proc.pid:
                out.append(int(d))
        return out

    def worker_pids(self):
        """pids of the live workers, from the log's 'worker started' lines."""
        pids = set(int(p) for p in re.findall(
            r"worker\[(\d+)\]: \S+ worker started", self.log()))
        return sorted(p for p in pids if p in self.children())

    # --- log ----------------------------------------------------------
    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=None, count=1):
        rx = re.compile(pattern)
        deadline = time.time() + (timeout or T(10))
        while time.time() < deadline:
            if len(rx.findall(self.log())) >= count:
                return True
            time.sleep(0.05)
        raise AssertionError("log never matched %r (x%d):\n%s"
                             % (pattern, count, self.log()[-4000:]))

    def check_log(self):
        """Lines that show a crash or a fatal error (with the stack of a
        sanitizer report)."""
        lines = self.log().splitlines()
        bad = []
        for n, line in enumerate(lines):
            if any(rx.search(line) for rx in BAD_LOG) and not any(
                    re.search(a, line) for a in self.allowed_log):
                bad.append(line)
                if "Sanitizer" in line or "runtime error:" in line:
                    bad.extend(l for l in lines[n + 1:n + 30]
                               if re.match(r"\s+#\d|\S+ by thread|"
                                           r"previously|SUMMARY", l))
        return bad

    # --- mailboxes ----------------------------------------------------
    def maildir(self, user, domain=DOMAIN):
        return os.path.join(self.data_dir, "mail", domain, user)

    def files(self, user, domain=DOMAIN, sub="new"):
        d = os.path.join(self.maildir(user, domain), sub)
        try:
            names = sorted(os.listdir(d))
        except FileNotFoundError:
            return []
        return [os.path.join(d, n) for n in names]

    def messages(self, user, domain=DOMAIN):
        out = []
        for p in self.files(user, domain):
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def find(self, user, msgid, domain=DOMAIN):
        """files in the user's new/ holding this Message-Id."""
        key = msgid.encode()
        out = []
        for p in self.files(user, domain):
            with open(p, "rb") as f:
                if key in f.read():
                    out.append(p)
        return out

    def wait_message(self, user, msgid, timeout=None, domain=DOMAIN):
        deadline = time.time() + (timeout or T(5))
        while time.time() < deadline:
            found = self.find(user, msgid, domain)
            if found:
                return found
            time.sleep(0.05)
        return []

    def connect(self, **kw):
        return RawSMTP(self.port, **kw)


def split_trace(data):
    """(trace header lines unfolded, rest) of a stored message: the
    leading Return-Path / Delivered-To / Received fields."""
    fields = []
    pos = 0
    while True:
        m = re.match(rb"(Return-Path|Delivered-To|Received):", data[pos:])
        if not m:
            break
        end = pos
        while True:
            nl = data.index(b"\r\n", end)
            end = nl + 2
            if data[end:end + 1] not in (b" ", b"\t"):
                break
        fields.append(data[pos:end])
        pos = end
    return fields, data[pos:]


def make_root():
    root = tempfile.mkdtemp(prefix="facteur-test-", dir="/tmp")
    os.chmod(root, 0o755)
    return root


@pytest.fixture(scope="session", autouse=True)
def _binary():
    if not os.access(BIN, os.X_OK):
        pytest.exit("facteur binary not found at %s (build it: ninja -C build, "
                    "or set FACTEUR_BIN)" % BIN, returncode=2)
    ensure_user()


@pytest.fixture
def make_server(request):
    made = []

    def make(start=True, accounts=True, **options):
        root = make_root()
        srv = Server(root, options)
        made.append(srv)
        if accounts:
            srv.setup_accounts()
        if start:
            srv.start()
        return srv

    yield make
    teardown_servers(request, made)


def teardown_servers(request, made):
    """Stop every daemon a test made, fail the test on a crash or a fatal
    line in a log, and remove their directories (kept when the test
    failed, or with FACTEUR_KEEP set)."""
    problems = []
    for srv in made:
        try:
            srv.stop()
        except Exception as e:      # keep going: stop every daemon
            problems.append("stop failed: %r" % e)
        bad = srv.check_log()
        if bad and not srv.allow_bad_log:
            problems.append("bad lines in %s:\n  %s"
                            % (srv.log_path, "\n  ".join(bad[:60])))
    failed = getattr(request.node, "rep_call", None)
    keep = os.environ.get("FACTEUR_KEEP") or (failed is not None and
                                              failed.failed)
    for srv in made:
        if keep:
            print("kept %s" % srv.root)
        else:
            shutil.rmtree(srv.root, ignore_errors=True)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def server(make_server):
    return make_server()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
