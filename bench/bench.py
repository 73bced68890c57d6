#!/usr/bin/python3
"""bench.py: measuring helpers for bench/run.sh (standard library only).

    bench.py freeport                       print a free TCP port on 127.0.0.1
    bench.py waitsmtp PORT TIMEOUT          wait for a 220 banner on 127.0.0.1:PORT
    bench.py run --name ... (see below)     one timed run; appends a JSON line
    bench.py table RESULTS.jsonl            print the comparison table

A run: empty the Maildir, note the CPU time of the server's process tree,
start smtp-source, wait for it, then poll the Maildir's new/ until it holds
exactly the expected number of messages.  The clock stops at that moment
(end to end: accepted AND delivered).  Then wait for the server to settle
(Postfix: its queue empty), check the count again (no loss, no duplicate)
and read the CPU time again.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def die(msg):
    print("bench.py: " + msg, file=sys.stderr)
    sys.exit(1)


# --- processes --------------------------------------------------------------

def proc_table():
    """pid -> (ppid, utime+stime+cutime+cstime in ticks)."""
    procs = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d, "rb") as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rindex(b")") + 2:].split()
        # rest[0] is field 3 (state): ppid is field 4, utime..cstime 14..17
        procs[int(d)] = (int(rest[1]), sum(int(x) for x in rest[11:15]))
    return procs


def tree_cpu(root):
    """CPU seconds (user+system) of ROOT and all its descendants, including
    the children they have already reaped (cutime/cstime).  A child reaped
    between two readings moves from its own counters to its parent's c*time,
    so differences between two readings stay right."""
    if root <= 0:
        return 0.0
    procs = proc_table()
    kids = {}
    for pid, (ppid, _) in procs.items():
        kids.setdefault(ppid, []).append(pid)
    total, stack, seen = 0, [root], set()
    while stack:
        p = stack.pop()
        if p in seen or p not in procs:
            continue
        seen.add(p)
        total += procs[p][1]
        stack.extend(kids.get(p, ()))
    return total / CLK_TCK


def alive(pid):
    """Running, not a zombie (facteur is run.sh's child: a dead one stays
    a zombie until the shell reaps it)."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            s = f.read()
    except OSError:
        return False
    return s[s.rindex(b")") + 2:s.rindex(b")") + 3] not in (b"Z", b"X")


def machine_busy():
    """CPU seconds the whole machine spent busy (all cores), /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    # user nice system idle iowait irq softirq steal
    # irq and softirq left out: loopback TCP is partly softirq work that
    # is charged to no process
    return (v[0] + v[1] + v[2] + v[7]) / CLK_TCK


def read_pid(spec):
    """An integer, or @FILE holding one (Postfix's master.pid)."""
    if spec.startswith("@"):
        try:
            with open(spec[1:]) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return 0
    return int(spec)


# --- Maildir ----------------------------------------------------------------

def count(d):
    try:
        with os.scandir(d) as it:
            return sum(1 for e in it if not e.name.startswith("."))
    except FileNotFoundError:
        return 0


def clear_maildir(md):
    for sub in ("new", "cur", "tmp"):
        try:
            with os.scandir(os.path.join(md, sub)) as it:
                for e in it:
                    if e.is_file(follow_symlinks=False):
                        os.unlink(e.path)
        except FileNotFoundError:
            pass


def queue_files(qdir):
    """Messages still in a Postfix queue (not yet delivered)."""
    n = 0
    for sub in ("maildrop", "incoming", "active", "deferred", "hold"):
        for _dir, _dirs, files in os.walk(os.path.join(qdir, sub)):
            n += len(files)
    return n


def file_sizes(d):
    sizes = []
    with os.scandir(d) as it:
        for e in it:
            if not e.name.startswith("."):
                sizes.append(e.stat(follow_symlinks=False).st_size)
    return sizes


# --- commands ---------------------------------------------------------------

def cmd_freeport(_a):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def cmd_waitsmtp(a):
    deadline = time.monotonic() + a.timeout
    last = "no attempt"
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", a.port), 2) as s:
                s.settimeout(5)
                line = s.recv(512)
                if line.startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    return
                last = "banner %r" % line[:80]
        except OSError as e:
            last = str(e)
        time.sleep(0.1)
    die("no SMTP banner on 127.0.0.1:%d after %gs (%s)"
        % (a.port, a.timeout, last))


def cmd_run(a):
    new = os.path.join(a.maildir, "new")
    clear_maildir(a.maildir)
    if a.queue_dir:
        # leftovers from a failed run would be delivered into this one
        left = queue_files(a.queue_dir)
        if left:
            die("%s: %d messages left in %s before the run"
                % (a.name, left, a.queue_dir))
    pid = read_pid(a.pid)
    if pid <= 0 or not alive(pid):
        die("%s: server process %s is not running" % (a.name, a.pid))
    cmd = [a.smtp_source, "-4", "-s", str(a.conc), "-m", str(a.count),
           "-l", str(a.size), "-f", a.sender, "-t", a.rcpt,
           "-M", "client.bench.test", "-S", "bench"]
    if a.reuse:
        cmd.append("-d")
    cmd.append("127.0.0.1:%d" % a.port)

    cpu0 = tree_cpu(pid)
    busy0 = machine_busy()
    self0 = sum(os.times()[:2])
    errf = open(a.log, "ab")
    errf.write(("\n# %s\n" % " ".join(cmd)).encode())
    errf.flush()
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=errf,
                         stderr=errf)
    deadline = t0 + a.timeout
    status = "ok"
    try:
        _, wstatus, ru = wait4_timeout(p, deadline)
        p.returncode = os.waitstatus_to_exitcode(wstatus)
        client_cpu = ru.ru_utime + ru.ru_stime
    except TimeoutError:
        p.kill()
        p.wait()
        client_cpu = 0.0
        status = "smtp-source timed out"
    t_client = time.monotonic()
    if status == "ok" and p.returncode != 0:
        status = "smtp-source exit %d" % p.returncode
    # poll new/ until every message is there
    n = count(new)
    while n < a.count and time.monotonic() < deadline \
            and alive(pid):
        time.sleep(0.005)
        n = count(new)
    t1 = time.monotonic()
    if not alive(pid):
        status = "server process %d is gone (%s)" % (pid, status)
    if status == "ok" and n < a.count:
        status = "timeout: %d of %d delivered" % (n, a.count)
    # settle: the queue empties, late duplicates would show up
    if a.queue_dir:
        while queue_files(a.queue_dir) and time.monotonic() < deadline + 30:
            time.sleep(0.05)
        left = queue_files(a.queue_dir)
        if left and status == "ok":
            status = "%d messages still queued" % left
    if alive(pid):
        time.sleep(a.settle)
    final = count(new)
    cpu1 = tree_cpu(pid) if alive(pid) else cpu0
    # everything else the machine did meanwhile: 0 on an idle machine
    other = machine_busy() - busy0 - (cpu1 - cpu0) - client_cpu \
        - (sum(os.times()[:2]) - self0)
    if status == "ok" and final != a.count:
        status = "count %d, expected %d" % (final, a.count)
    if status == "ok":
        sizes = file_sizes(new)
        # the payload counts CRLF line ends (80-octet lines); servers may
        # store LF only: allow 1/40 less, headers are not counted
        floor = a.size - a.size // 40
        small = [s for s in sizes if s < floor]
        if small:
            status = "%d messages shorter than %d bytes" % (len(small), floor)
    if final == a.count and len(set(os.listdir(new))) != final:
        status = "duplicate names"
    elapsed = t1 - t0
    rec = {
        "server": a.name, "size": a.size, "conc": a.conc, "count": a.count,
        "reuse": a.reuse, "elapsed": round(elapsed, 4),
        "client_elapsed": round(t_client - t0, 4),
        "rate": round(a.count / elapsed, 1) if elapsed > 0 else 0,
        "cpu": round(cpu1 - cpu0, 2), "client_cpu": round(client_cpu, 2),
        "other_cpu": round(max(other, 0.0), 2),
        "delivered": final, "status": status,
    }
    if not a.warmup:
        with open(a.out, "a") as f:
            f.write(json.dumps(rec) + "\n")
    print("%-8s %4d KB  c=%-3d %6d msgs  %7.1f msg/s  %6.2f s  cpu %6.2f s"
          "  (client %.2f, others %.2f)  %s"
          % (a.name, a.size // 1024, a.conc, a.count, rec["rate"], elapsed,
             rec["cpu"], client_cpu, rec["other_cpu"],
             ("(warm-up) " if a.warmup else "") + status),
          flush=True)
    clear_maildir(a.maildir)
    sys.exit(0 if status == "ok" else 1)


def wait4_timeout(p, deadline):
    while True:
        pid, wstatus, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            return pid, wstatus, ru
        if time.monotonic() >= deadline:
            raise TimeoutError
        time.sleep(0.005)


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def cmd_table(a):
    """One row per size and concurrency; with repeats (BENCH_REPEAT) the
    median msg/s and CPU of that server's runs; FAIL if any run failed."""
    recs = []
    if os.path.exists(a.results):
        with open(a.results) as f:
            recs = [json.loads(l) for l in f if l.strip()]
    by = {}
    keys = []
    for r in recs:
        k = (r["size"], r["conc"])
        if k not in by:
            by[k] = {}
            keys.append(k)
        by[k].setdefault(r["server"], []).append(r)

    def summary(rs):
        """(rate, cpu seconds, cpu ms/msg) medians, or None if a run failed"""
        if not rs or any(r["status"] != "ok" for r in rs):
            return None
        return (median([r["rate"] for r in rs]),
                median([r["cpu"] for r in rs]),
                median([1000.0 * r["cpu"] / r["count"] for r in rs]))

    hdr = ("size", "conc", "msgs", "postfix msg/s", "facteur msg/s",
           "facteur/postfix", "postfix cpu s", "facteur cpu s",
           "postfix cpu ms/msg", "facteur cpu ms/msg")
    rows = []
    nrep = 1
    for k in keys:
        ps, fs = by[k].get("postfix", []), by[k].get("facteur", [])
        nrep = max(nrep, len(ps), len(fs))
        p, f = summary(ps), summary(fs)

        def col(x, rs, i, fmt):
            if not rs:
                return "-"
            return "FAIL" if x is None else fmt % x[i]
        ratio = "%.2f" % (f[0] / p[0]) if p and f and p[0] > 0 else "-"
        rows.append(("%d KB" % (k[0] // 1024), str(k[1]),
                     str((ps or fs)[0]["count"]),
                     col(p, ps, 0, "%.0f"), col(f, fs, 0, "%.0f"), ratio,
                     col(p, ps, 1, "%.2f"), col(f, fs, 1, "%.2f"),
                     col(p, ps, 2, "%.2f"), col(f, fs, 2, "%.2f")))
    w = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
         for i, h in enumerate(hdr)]
    out = ["  ".join(h.rjust(w[i]) for i, h in enumerate(hdr)),
           "  ".join("-" * x for x in w)]
    for r in rows:
        out.append("  ".join(c.rjust(w[i]) for i, c in enumerate(r)))
    if nrep > 1:
        out.append("(medians of %d runs each)" % nrep)
    busy = sum(r.get("other_cpu", 0) for r in recs)
    wall = sum(r["elapsed"] for r in recs)
    if wall > 0:
        out.append("")
        out.append("other processes used %.1f CPU s during %.1f s of runs "
                   "(%.0f%% of one core; about 0 on an idle machine)"
                   % (busy, wall, 100.0 * busy / wall))
    for r in recs:
        if r["status"] != "ok":
            out.append("FAIL %s %d KB c=%d: %s" % (
                r["server"], r["size"] // 1024, r["conc"], r["status"]))
    print("\n".join(out))


def main():
    ap = argparse.ArgumentParser(prog="bench.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("freeport")
    w = sub.add_parser("waitsmtp")
    w.add_argument("port", type=int)
    w.add_argument("timeout", type=float)
    r = sub.add_parser("run")
    r.add_argument("--name", required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--pid", required=True, help="server pid or @pidfile")
    r.add_argument("--maildir", required=True)
    r.add_argument("--queue-dir", help="Postfix queue_directory")
    r.add_argument("--size", type=int, required=True)
    r.add_argument("--conc", type=int, required=True)
    r.add_argument("--count", type=int, required=True)
    r.add_argument("--reuse", action="store_true",
                   help="smtp-source -d: all messages of a session over "
                        "one connection")
    r.add_argument("--sender", default="u1@bench.test")
    r.add_argument("--rcpt", default="u1@bench.test")
    r.add_argument("--smtp-source", default="/usr/sbin/smtp-source")
    r.add_argument("--timeout", type=float, default=300)
    r.add_argument("--settle", type=float, default=0.5)
    r.add_argument("--log", default="/dev/null")
    r.add_argument("--out", default="/dev/null")
    r.add_argument("--warmup", action="store_true")
    t = sub.add_parser("table")
    t.add_argument("results")
    a = ap.parse_args()
    {"freeport": cmd_freeport, "waitsmtp": cmd_waitsmtp, "run": cmd_run,
     "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    main()
