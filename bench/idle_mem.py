#!/usr/bin/python3
"""idle_mem.py: the memory of idle IMAP connections, and the IMAP tables
of bench/imap.sh (standard library only).

    idle_mem.py run --name NAME --port PORT --pid PID|@PIDFILE --conns N
                    --imapload BIN [--users K] [--password PW] [--addrs A-B]
                    [--out FILE]
    idle_mem.py table --load LOAD.txt --idle IDLE.jsonl [--secs S]

run: read the server's memory (the sum of Pss, and of Rss, from
/proc/PID/smaps_rollup over the server's whole process tree: Dovecot's
master and all its children: imap-login, imap, auth, anvil, log, config,
stats; facteur serve and its workers, auth and queue processes), open N
connections with `imapload idle` (LOGIN, SELECT INBOX, IDLE, at most 100
handshakes at a time), wait until every one is idling and the server has
settled, read the memory again, close the connections.  The figure is the
difference: what N idle IMAP sessions cost the server.  Kernel memory
(socket buffers, inotify) is not in it, for either server.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True


def die(msg):
    print("idle_mem.py: " + msg, file=sys.stderr)
    sys.exit(1)


def read_pid(spec):
    if spec.startswith("@"):
        try:
            with open(spec[1:]) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return -1
    return int(spec)


def tree(root):
    """root and every descendant, from /proc/*/stat."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rfind(")") + 2:].split()
        if fields[0] in ("Z", "X"):
            continue
        kids.setdefault(int(fields[1]), []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def memory(root):
    """(pss KB, rss KB, processes, {comm: count}) of root's tree."""
    pss = rss = n = 0
    names = {}
    for p in tree(root):
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                text = f.read()
            with open("/proc/%d/comm" % p) as f:
                comm = f.read().strip()
        except OSError:
            continue	# exited meanwhile
        for line in text.splitlines():
            if line.startswith("Pss:"):
                pss += int(line.split()[1])
            elif line.startswith("Rss:"):
                rss += int(line.split()[1])
        n += 1
        names[comm] = names.get(comm, 0) + 1
    return pss, rss, n, names


def settled(root, wait=1.0, rounds=10):
    """Read until two readings a second apart agree within 1%."""
    last = memory(root)
    for _ in range(rounds):
        time.sleep(wait)
        cur = memory(root)
        if cur[2] == last[2] and abs(cur[0] - last[0]) <= 0.01 * last[0]:
            return cur
        last = cur
    return last


def cmd_run(a):
    pid = read_pid(a.pid)
    if pid <= 0 or not os.path.exists("/proc/%d" % pid):
        die("%s: server process %s is not running" % (a.name, a.pid))
    base = settled(pid)
    args = [a.imapload, "idle", "-p", str(a.port), "-c", str(a.conns),
            "-k", str(a.users), "-w", a.password, "-a", a.addrs,
            "-P", str(a.parallel), "-N", a.name]
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    ready = p.stdout.readline().strip()
    t_ready = time.monotonic() - t0
    status = "ok"
    rec = {"bench": "imap-idle", "server": a.name, "conns": a.conns,
           "base_pss_kb": base[0], "base_rss_kb": base[1],
           "base_procs": base[2], "ready": ready,
           "setup_s": round(t_ready, 1)}
    try:
        if not ready.startswith("ready "):
            status = "imapload: %r" % ready
        else:
            kv = dict(x.split("=", 1) for x in ready.split()[1:4])
            idling, failed = int(kv["idling"]), int(kv["failed"])
            rec.update(idling=idling, failed=failed)
            if idling != a.conns:
                status = "%d of %d connections idling (%d failed)" % (
                    idling, a.conns, failed)
            held = settled(pid, wait=2.0)
            rec.update(pss_kb=held[0], rss_kb=held[1], procs=held[2],
                       names=held[3])
            d = held[0] - base[0]
            rec.update(delta_pss_kb=d,
                       per_conn_kb=round(d / max(idling, 1), 2),
                       delta_rss_kb=held[1] - base[1])
    finally:
        try:
            p.stdin.close()
        except OSError:
            pass
        # imapload closes its connections and exits at EOF on stdin
        killer = threading.Timer(120, p.kill)
        killer.start()
        rest = p.stdout.read()
        p.wait()
        killer.cancel()
    for line in rest.splitlines():
        if line.startswith("closing "):
            kv = dict(x.split("=", 1) for x in line.split()[1:])
            rec["dropped"] = int(kv.get("dropped", 0))
            if status == "ok" and rec["dropped"]:
                status = "%d connections dropped while idling" % (
                    rec["dropped"])
        elif line.strip():
            print(line)
    rec["status"] = status
    # let the server wind down (Dovecot: one imap process per connection)
    end = time.monotonic() + 60
    while time.monotonic() < end and len(tree(pid)) > base[2] + 2:
        time.sleep(0.5)
    if "pss_kb" in rec:
        top = sorted(rec["names"].items(), key=lambda x: -x[1])[:4]
        print("%-8s %d IDLE: PSS %.1f MB (idle server %.1f MB: +%.1f MB, "
              "%.1f KB per connection), RSS +%.1f MB, %d processes (%s), "
              "setup %.0f s  %s"
              % (a.name, a.conns, rec["pss_kb"] / 1024.0,
                 base[0] / 1024.0, rec["delta_pss_kb"] / 1024.0,
                 rec["per_conn_kb"], rec["delta_rss_kb"] / 1024.0,
                 rec["procs"], ", ".join("%s %d" % t for t in top),
                 t_ready, status), flush=True)
    else:
        print("%-8s %d IDLE: %s" % (a.name, a.conns, status), flush=True)
    with open(a.out, "a") as f:
        f.write(json.dumps(rec) + "\n")
    sys.exit(0 if status == "ok" else 1)


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    if n == 0:
        return 0
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2.0


OPS = ["FETCH 50 envelopes", "UID FETCH header", "UID FETCH body",
       "UID STORE flags", "SEARCH UNSEEN", "SEARCH FROM", "SEARCH SUBJECT",
       "APPEND 5 KB", "UID STORE \\Deleted",
       "UID EXPUNGE", "NOOP"]


def fmt_table(hdr, rows, left=False):
    """Right-aligned columns; left: the first one left-aligned."""
    w = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
         for i, h in enumerate(hdr)]

    def cell(i, c):
        return c.ljust(w[i]) if left and i == 0 else c.rjust(w[i])
    out = ["  ".join(cell(i, h) for i, h in enumerate(hdr)),
           "  ".join("-" * x for x in w)]
    for r in rows:
        out.append("  ".join(cell(i, c) for i, c in enumerate(r)))
    return out


def cmd_table(a):
    recs = []
    if a.load and os.path.exists(a.load):
        with open(a.load) as f:
            for line in f:
                if line.strip():
                    recs.append(dict(x.split("=", 1) for x in line.split()))
    out = []
    if recs:
        out.append("")
        out.append("mixed workload: ops/s = tagged OKs per second over %s s "
                   "after warm-up (NO, BAD and incomplete answers are errors,"
                   " not operations)" % a.secs)
        concs, by = [], {}
        for r in recs:
            c = int(r["conc"])
            if c not in concs:
                concs.append(c)
            by.setdefault((c, r["server"]), []).append(r)
        hdr = ("conc", "dovecot ops/s", "facteur ops/s", "facteur/dovecot",
               "errors d/f")
        rows, nrep = [], 1
        for c in concs:
            d, f = by.get((c, "dovecot"), []), by.get((c, "facteur"), [])
            nrep = max(nrep, len(d), len(f))
            dr = median([float(r["rate"]) for r in d]) if d else None
            fr = median([float(r["rate"]) for r in f]) if f else None
            de = sum(int(r["errors"]) for r in d) if d else None
            fe = sum(int(r["errors"]) for r in f) if f else None
            rows.append((str(c), "-" if dr is None else "%.0f" % dr,
                         "-" if fr is None else "%.0f" % fr,
                         "%.2f" % (fr / dr) if dr and fr is not None else "-",
                         "%s/%s" % ("-" if de is None else de,
                                    "-" if fe is None else fe)))
        out += fmt_table(hdr, rows)
        if nrep > 1:
            out.append("(medians of %d runs each)" % nrep)
        # latencies per command: median of the runs' p50 and p99
        out.append("")
        out.append("latency per command, ms (p50 / p99; medians over runs)")
        hdr = ["command"]
        for c in concs:
            for s in ("dovecot", "facteur"):
                if by.get((c, s)):
                    hdr.append("%s c=%d" % (s, c))
        rows = []
        for i, name in enumerate(OPS):
            row = [name]
            for c in concs:
                for s in ("dovecot", "facteur"):
                    rs = by.get((c, s))
                    if not rs:
                        continue
                    if not any(int(r.get("n_%d" % i, 0)) for r in rs):
                        row.append("-")
                        continue
                    row.append("%.2f / %.1f" % (
                        median([float(r["p50_%d" % i]) for r in rs]),
                        median([float(r["p99_%d" % i]) for r in rs])))
            rows.append(tuple(row))
        out += fmt_table(hdr, rows, left=True)
    idle = []
    if a.idle and os.path.exists(a.idle):
        with open(a.idle) as f:
            idle = [json.loads(l) for l in f if l.strip()]
    if idle:
        out.append("")
        out.append("IDLE: memory of the server's processes (sum of Pss from "
                   "/proc/PID/smaps_rollup) holding N connections in IDLE,"
                   " minus the idle server's")
        hdr = ("server", "N", "idling", "PSS MB", "idle server MB",
               "+MB for N", "KB/conn", "RSS +MB", "processes", "setup s")
        rows = []
        for r in idle:
            if "pss_kb" not in r:
                rows.append((r["server"], str(r["conns"]), "FAIL", "-",
                             "-", "-", "-", "-", "-", "-"))
                continue
            rows.append((r["server"], str(r["conns"]), str(r["idling"]),
                         "%.1f" % (r["pss_kb"] / 1024.0),
                         "%.1f" % (r["base_pss_kb"] / 1024.0),
                         "%.1f" % (r["delta_pss_kb"] / 1024.0),
                         "%.1f" % r["per_conn_kb"],
                         "%.1f" % (r["delta_rss_kb"] / 1024.0),
                         str(r["procs"]), "%.0f" % r["setup_s"]))
        out += fmt_table(hdr, rows)
        for r in idle:
            if r["status"] != "ok":
                out.append("FAIL %s IDLE: %s" % (r["server"], r["status"]))
    for r in recs:
        if int(r["errors"]):
            out.append("ERRORS %s conc=%s: %s errors (see the run's lines)"
                       % (r["server"], r["conc"], r["errors"]))
    print("\n".join(out))


def main():
    ap = argparse.ArgumentParser(prog="idle_mem.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--name", required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--pid", required=True, help="server pid or @pidfile")
    r.add_argument("--conns", type=int, required=True)
    r.add_argument("--imapload", required=True)
    r.add_argument("--users", type=int, default=1)
    r.add_argument("--password", default="bench-pw")
    r.add_argument("--addrs", default="1-1")
    r.add_argument("--parallel", type=int, default=100)
    r.add_argument("--out", default="/dev/null")
    t = sub.add_parser("table")
    t.add_argument("--load")
    t.add_argument("--idle")
    t.add_argument("--secs", default="10")
    a = ap.parse_args()
    {"run": cmd_run, "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    main()
