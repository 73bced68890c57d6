#!/usr/bin/python3
"""pop3.py: the POP3 half of bench/run.sh (standard library only).

    pop3.py waitpop3 PORT TIMEOUT        wait for a +OK greeting on 127.0.0.1:PORT
    pop3.py run --name ... (see below)   one timed run; appends a JSON line
    pop3.py table RESULTS.jsonl          print the POP3 comparison table

A run: fill the Maildir's new/ with COUNT messages of exactly SIZE bytes
(CRLF line ends, the same bytes and file names for every server), sync(2)
(unless --no-sync), then time one POP3 session over one connection: connect, USER/PASS, LIST,
UIDL, RETR and DELE of every message (RETR n then DELE n, pipelined with at
most WINDOW commands outstanding; WINDOW 1 is lock-step like poplib or
fetchmail), QUIT.  The clock stops at QUIT's +OK: the deletions of UPDATE
are done.  Then check: every message came back byte for byte (dot-stuffing
undone), the LIST sizes, distinct UIDLs, new/ and cur/ are empty on disk
and a second session's STAT says 0 messages.
"""

import argparse
import json
import os
import pwd
import resource
import socket
import sys
import time

sys.dont_write_bytecode = True	# no bench/__pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the process and CPU helpers of the SMTP half)

BASE_SECS = 1700000000


def die(msg):
    print("pop3.py: " + msg, file=sys.stderr)
    sys.exit(1)


# --- the messages -------------------------------------------------------------

def make_msg(i, size):
    """Message i: exactly SIZE bytes, CRLF line ends, one body line that
    starts with '.' (the server must dot-stuff it)."""
    head = ("Return-Path: <u1@bench.test>\r\n"
            "Received: from client.bench.test (localhost [127.0.0.1])\r\n"
            "\tby bench.test; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
            "From: Bench Sender <u1@bench.test>\r\n"
            "To: <p1@bench.test>\r\n"
            "Subject: bench message %d\r\n"
            "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
            "Message-ID: <%d.bench@bench.test>\r\n"
            "\r\n"
            ".a body line that starts with a dot, message %d\r\n" % (i, i, i)
            ).encode()
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" \
        b"0123456789abcd\r\n"			# 78 octets
    left = size - len(head)
    if left < 3:
        die("message size %d too small" % size)
    body = line * ((left - 3) // len(line))
    pad = left - len(body)			# 3..80: one last line
    body += b"z" * (pad - 2) + b"\r\n"
    msg = head + body
    assert len(msg) == size
    return msg


def msg_name(i, size):
    """facteur's naming (store/maildir.h) plus Dovecot's ,W= (the size with
    CRLF line ends, what LIST reports): both servers read sizes from the
    name, neither needs to open a file for LIST."""
    return "%d.M%06dP%dQ%d.bench.test,S=%d,W=%d" % (
        BASE_SECS + i, i % 1000000, 4242, i + 1, size, size)


def fill(maildir, count, size, owner):
    pw = pwd.getpwnam(owner)
    uid, gid = pw.pw_uid, pw.pw_gid
    for d in (maildir, os.path.join(maildir, "new"),
              os.path.join(maildir, "cur"), os.path.join(maildir, "tmp")):
        os.makedirs(d, mode=0o700, exist_ok=True)
        os.chown(d, uid, gid)
    new = os.path.join(maildir, "new")
    for i in range(count):
        p = os.path.join(new, msg_name(i, size))
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, make_msg(i, size))
            os.fchown(fd, uid, gid)
        finally:
            os.close(fd)


def mail_files(maildir):
    n = 0
    for sub in ("new", "cur", "tmp"):
        n += bench.count(os.path.join(maildir, sub))
    return n


# --- a pipelined POP3 client --------------------------------------------------

class PopError(Exception):
    pass


class Client:
    """One connection.  Responses are parsed in order from one buffer:
    'line' kinds end at CRLF, 'multi' kinds (RETR, LIST, UIDL) at CRLF.CRLF
    after a +OK line (a -ERR is a single line)."""

    def __init__(self, port, deadline):
        self.deadline = deadline
        self.s = socket.create_connection(("127.0.0.1", port),
                                          timeout=self._left())
        self.buf = bytearray()
        self.pos = 0
        self.sent = 0

    def _left(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise PopError("timed out")
        return left

    def _fill(self):
        self.s.settimeout(self._left())
        try:
            data = self.s.recv(1 << 18)
        except socket.timeout:
            raise PopError("timed out")
        if not data:
            raise PopError("connection closed by the server")
        self.buf += data

    def _compact(self):
        """Drop what was parsed; only between answers (positions move)."""
        if self.pos > (1 << 20):
            del self.buf[:self.pos]
            self.pos = 0

    def send(self, data):
        self.s.settimeout(self._left())
        self.s.sendall(data)

    def line(self):
        """The next line, without its CRLF."""
        self._compact()
        while True:
            e = self.buf.find(b"\r\n", self.pos)
            if e >= 0:
                ln = bytes(self.buf[self.pos:e])
                self.pos = e + 2
                return ln
            self._fill()

    def multi(self):
        """(status line, raw data up to and including the last CRLF, still
        dot-stuffed) or (status line, None) for a -ERR."""
        st = self.line()
        if not st.startswith(b"+OK"):
            return st, None
        start = self.pos
        frm = start - 2			# an empty answer is ".\r\n" at once
        while True:
            e = self.buf.find(b"\r\n.\r\n", frm)
            if e >= 0:
                data = bytes(self.buf[start:e + 2])
                self.pos = e + 5
                return st, data
            frm = max(frm, len(self.buf) - 4)
            self._fill()

    def ok(self, what):
        ln = self.line()
        if not ln.startswith(b"+OK"):
            raise PopError("%s: %r" % (what, ln[:120]))
        return ln

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def login(c, user, password):
    g = c.line()
    if not g.startswith(b"+OK"):
        raise PopError("greeting: %r" % g[:120])
    c.send(b"USER %s\r\n" % user.encode())
    c.ok("USER")
    c.send(b"PASS %s\r\n" % password.encode())
    c.ok("PASS")


def session(port, user, password, window, deadline):
    """The timed session.  Returns (phase times, sizes, uidls, bodies)."""
    t = {"start": time.monotonic()}
    c = Client(port, deadline)
    try:
        login(c, user, password)
        t["login"] = time.monotonic()
        c.send(b"LIST\r\nUIDL\r\n")
        st, data = c.multi()
        if data is None:
            raise PopError("LIST: %r" % st[:120])
        sizes = [int(l.split()[1]) for l in data.split(b"\r\n") if l]
        st, data = c.multi()
        if data is None:
            raise PopError("UIDL: %r" % st[:120])
        uidls = [l.split()[1] for l in data.split(b"\r\n") if l]
        t["list"] = time.monotonic()
        n = len(sizes)
        # RETR i, DELE i for i = 1..n with at most `window` commands
        # outstanding; commands go out in batches of about window/2
        bodies = []
        nxt = 0			# next command index (2 per message)
        done = 0		# answers read
        total = 2 * n
        batch = max(1, window // 2)
        while done < total:
            if nxt < total and nxt - done <= window - batch:
                end = min(total, done + window)
                out = []
                for k in range(nxt, end):
                    out.append(b"RETR %d\r\n" % (k // 2 + 1) if k % 2 == 0
                               else b"DELE %d\r\n" % (k // 2 + 1))
                c.send(b"".join(out))
                nxt = end
            if done % 2 == 0:
                st, data = c.multi()
                if data is None:
                    raise PopError("RETR %d: %r" % (done // 2 + 1, st[:120]))
                bodies.append(data)
            else:
                c.ok("DELE %d" % (done // 2 + 1))
            done += 1
        t["retr"] = time.monotonic()
        c.send(b"QUIT\r\n")
        c.ok("QUIT")
        t["quit"] = time.monotonic()
        # the server closes after QUIT
        try:
            while True:
                c._fill()
        except PopError as e:
            if "closed" not in str(e):
                raise
    finally:
        c.close()
    return t, sizes, uidls, bodies


def stat_after(port, user, password, deadline):
    c = Client(port, deadline)
    try:
        login(c, user, password)
        c.send(b"STAT\r\n")
        st = c.ok("STAT")
        c.send(b"QUIT\r\n")
        c.ok("QUIT")
    finally:
        c.close()
    return st


def check(count, size, sizes, uidls, bodies):
    """'' if every message came back intact, else the first problem."""
    if len(sizes) != count:
        return "LIST: %d messages, expected %d" % (len(sizes), count)
    if len(uidls) != count or len(set(uidls)) != count:
        return "UIDL: %d ids, %d distinct" % (len(uidls), len(set(uidls)))
    bad = [s for s in sizes if s != size]
    if bad:
        return "LIST: %d sizes differ from %d (e.g. %d)" % (
            len(bad), size, bad[0])
    if len(bodies) != count:
        return "RETR: %d messages" % len(bodies)
    seen = set()
    for k, raw in enumerate(bodies):
        msg = raw.replace(b"\r\n..", b"\r\n.")
        if msg.startswith(b".."):
            msg = msg[1:]
        h = msg.find(b"Subject: bench message ")
        if h < 0:
            return "RETR %d: no Subject" % (k + 1)
        e = msg.find(b"\r\n", h)
        try:
            i = int(msg[h + 23:e])
        except ValueError:
            return "RETR %d: bad Subject" % (k + 1)
        if i in seen:
            return "RETR %d: message %d twice" % (k + 1, i)
        seen.add(i)
        if msg != make_msg(i, size):
            return "RETR %d: message %d differs (%d octets)" % (
                k + 1, i, len(msg))
    return ""


# --- commands -------------------------------------------------------------------

def cmd_waitpop3(a):
    deadline = time.monotonic() + a.timeout
    last = "no attempt"
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", a.port), 2) as s:
                s.settimeout(5)
                line = s.recv(512)
                if line.startswith(b"+OK"):
                    s.sendall(b"QUIT\r\n")
                    return
                last = "greeting %r" % line[:80]
        except OSError as e:
            last = str(e)
        time.sleep(0.1)
    die("no POP3 greeting on 127.0.0.1:%d after %gs (%s)"
        % (a.port, a.timeout, last))


def cmd_run(a):
    if mail_files(a.maildir):
        bench.clear_maildir(a.maildir)
    t_fill = time.monotonic()
    fill(a.maildir, a.count, a.size, a.owner)
    if not a.no_sync:
        os.sync()	# written back, as mail delivered a while ago
    t_fill = time.monotonic() - t_fill
    pid = bench.read_pid(a.pid)
    if pid <= 0 or not bench.alive(pid):
        die("%s: server process %s is not running" % (a.name, a.pid))

    cpu0 = bench.tree_cpu(pid)
    busy0 = bench.machine_busy()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    deadline = time.monotonic() + a.timeout
    status = "ok"
    t = sizes = uidls = bodies = None
    try:
        t, sizes, uidls, bodies = session(a.port, a.user, a.password,
                                          a.window, deadline)
    except (PopError, OSError, ValueError, IndexError) as e:
        status = "session: %s" % e
    # Settle: Dovecot's pop3 process exits after QUIT and is reaped by
    # its master; a reading taken while that happens can miss its CPU (the
    # child gone from /proc, the master's cutime read before the reaping).
    time.sleep(a.settle)
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    busy1 = bench.machine_busy()
    cpu1 = max(bench.tree_cpu(pid), bench.tree_cpu(pid)) \
        if bench.alive(pid) else cpu0
    client_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    other = busy1 - busy0 - (cpu1 - cpu0) - client_cpu
    if not bench.alive(pid):
        status = "server process %d is gone (%s)" % (pid, status)

    if status == "ok":
        status = check(a.count, a.size, sizes, uidls, bodies) or "ok"
    left = mail_files(a.maildir)
    if status == "ok" and left:
        status = "%d files left in new/ cur/ tmp/ after QUIT" % left
    if status == "ok":
        try:
            st = stat_after(a.port, a.user, a.password,
                            time.monotonic() + 30)
            if st.split()[1:3] != [b"0", b"0"]:
                status = "STAT after QUIT: %r" % st[:80]
        except (PopError, OSError, IndexError) as e:
            status = "second session: %s" % e

    elapsed = (t["quit"] - t["start"]) if t and "quit" in t else 0.0
    rec = {
        "bench": "pop3", "server": a.name, "size": a.size,
        "count": a.count, "window": a.window,
        "elapsed": round(elapsed, 4),
        "rate": round(a.count / elapsed, 1) if elapsed > 0 else 0,
        "cpu": round(cpu1 - cpu0, 2), "client_cpu": round(client_cpu, 2),
        "other_cpu": round(max(other, 0.0), 2),
        "fill": round(t_fill, 2), "synced": not a.no_sync,
        "status": status,
    }
    if t and "quit" in t:
        rec.update({
            "login": round(t["login"] - t["start"], 4),
            "list": round(t["list"] - t["login"], 4),
            "retr_dele": round(t["retr"] - t["list"], 4),
            "quit": round(t["quit"] - t["retr"], 4),
        })
    if not a.warmup:
        with open(a.out, "a") as f:
            f.write(json.dumps(rec) + "\n")
    print("%-8s %4d KB  w=%-4d %6d msgs  %7.1f msg/s  %6.2f s  cpu %6.2f s"
          "  (client %.2f, others %.2f; login %.2f, list %.2f, quit %.2f)  %s"
          % (a.name, a.size // 1024, a.window, a.count, rec["rate"], elapsed,
             rec["cpu"], client_cpu, rec["other_cpu"], rec.get("login", 0),
             rec.get("list", 0), rec.get("quit", 0),
             ("(warm-up) " if a.warmup else "") + status), flush=True)
    bench.clear_maildir(a.maildir)
    sys.exit(0 if status == "ok" else 1)


def cmd_table(a):
    """One row per size and window: median msg/s and CPU of each server's
    runs (BENCH_REPEAT), FAIL if any run failed."""
    recs = []
    if os.path.exists(a.results):
        with open(a.results) as f:
            recs = [json.loads(l) for l in f if l.strip()]
    by, keys = {}, []
    for r in recs:
        k = (r["size"], r["window"], r["count"])
        if k not in by:
            by[k] = {}
            keys.append(k)
        by[k].setdefault(r["server"], []).append(r)

    def summary(rs):
        if not rs or any(r["status"] != "ok" for r in rs):
            return None
        med = bench.median
        return (med([r["rate"] for r in rs]), med([r["cpu"] for r in rs]),
                med([1000.0 * r["cpu"] / r["count"] for r in rs]),
                med([r["client_cpu"] for r in rs]))

    hdr = ("size", "window", "msgs", "dovecot msg/s", "facteur msg/s",
           "facteur/dovecot", "dovecot cpu s", "facteur cpu s",
           "dovecot cpu ms/msg", "facteur cpu ms/msg", "client cpu s d/f")
    rows, nrep = [], 1
    for k in keys:
        ds, fs = by[k].get("dovecot", []), by[k].get("facteur", [])
        nrep = max(nrep, len(ds), len(fs))
        d, f = summary(ds), summary(fs)

        def col(x, rs, i, fmt):
            if not rs:
                return "-"
            return "FAIL" if x is None else fmt % x[i]
        ratio = "%.2f" % (f[0] / d[0]) if d and f and d[0] > 0 else "-"
        rows.append(("%d KB" % (k[0] // 1024), str(k[1]), str(k[2]),
                     col(d, ds, 0, "%.0f"), col(f, fs, 0, "%.0f"), ratio,
                     col(d, ds, 1, "%.2f"), col(f, fs, 1, "%.2f"),
                     col(d, ds, 2, "%.3f"), col(f, fs, 2, "%.3f"),
                     col(d, ds, 3, "%.2f") + "/" + col(f, fs, 3, "%.2f")))
    w = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
         for i, h in enumerate(hdr)]
    out = ["  ".join(h.rjust(w[i]) for i, h in enumerate(hdr)),
           "  ".join("-" * x for x in w)]
    for r in rows:
        out.append("  ".join(c.rjust(w[i]) for i, c in enumerate(r)))
    if nrep > 1:
        out.append("(medians of %d runs each)" % nrep)

    # where the time goes: the phases of the session
    phdr = ("phases (median s)", "login", "LIST+UIDL", "RETR+DELE", "QUIT",
            "RETR+DELE msg/s")
    prows = []
    for k in keys:
        for srv in ("dovecot", "facteur"):
            rs = [r for r in by[k].get(srv, []) if r["status"] == "ok"]
            if not rs or len(rs) != len(by[k][srv]):
                continue
            med = bench.median
            rd = med([r["retr_dele"] for r in rs])
            prows.append(("%s %d KB w=%d" % (srv, k[0] // 1024, k[1]),
                          "%.2f" % med([r["login"] for r in rs]),
                          "%.2f" % med([r["list"] for r in rs]),
                          "%.2f" % rd,
                          "%.2f" % med([r["quit"] for r in rs]),
                          "%.0f" % (k[2] / rd) if rd > 0 else "-"))
    if prows:
        pw = [max(len(h), *(len(r[i]) for r in prows))
              for i, h in enumerate(phdr)]
        out.append("")
        out.append("  ".join(h.rjust(pw[i]) if i else h.ljust(pw[i])
                             for i, h in enumerate(phdr)))
        out.append("  ".join("-" * x for x in pw))
        for r in prows:
            out.append("  ".join(c.rjust(pw[i]) if i else c.ljust(pw[i])
                                 for i, c in enumerate(r)))
    busy = sum(r.get("other_cpu", 0) for r in recs if r["status"] == "ok")
    wall = sum(r["elapsed"] for r in recs if r["status"] == "ok")
    if wall > 0:
        out.append("")
        out.append("other processes used %.1f CPU s during %.1f s of runs "
                   "(%.0f%% of one core; about 0 on an idle machine)"
                   % (busy, wall, 100.0 * busy / wall))
    for r in recs:
        if r["status"] != "ok":
            out.append("FAIL %s %d KB w=%d: %s" % (
                r["server"], r["size"] // 1024, r["window"], r["status"]))
    print("\n".join(out))


def main():
    ap = argparse.ArgumentParser(prog="pop3.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("waitpop3")
    w.add_argument("port", type=int)
    w.add_argument("timeout", type=float)
    r = sub.add_parser("run")
    r.add_argument("--name", required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--pid", required=True, help="server pid or @pidfile")
    r.add_argument("--maildir", required=True)
    r.add_argument("--owner", required=True, help="user owning the Maildir")
    r.add_argument("--user", required=True, help="POP3 login")
    r.add_argument("--password", required=True)
    r.add_argument("--size", type=int, required=True)
    r.add_argument("--count", type=int, required=True)
    r.add_argument("--window", type=int, default=64,
                   help="commands outstanding at most (1: lock-step)")
    r.add_argument("--timeout", type=float, default=300)
    r.add_argument("--settle", type=float, default=0.5)
    r.add_argument("--no-sync", action="store_true",
                   help="no sync(2) after filling: the files are still "
                        "dirty in the page cache (no blocks on disk yet)")
    r.add_argument("--out", default="/dev/null")
    r.add_argument("--warmup", action="store_true")
    t = sub.add_parser("table")
    t.add_argument("results")
    a = ap.parse_args()
    if a.cmd == "run" and a.window < 1:
        die("--window must be at least 1")
    {"waitpop3": cmd_waitpop3, "run": cmd_run, "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    main()
