#!/usr/bin/python3
"""relay.py: measuring helpers for bench/relay.sh (standard library only;
process and CPU helpers come from bench/bench.py).

    relay.py run --name ... (see below)   one timed run; appends a JSON line
    relay.py table RESULTS.jsonl          print the comparison table

A run: note the sink's message counter and the CPU times, start
smtp-source, wait for it, then poll until the sink has counted every
message AND the server's queue is empty (facteur: no *.env in
DATA_DIR/queue/ but spare files; Postfix: nothing in maildrop, incoming, active, deferred,
hold).  The clock stops then (end to end: accepted, relayed, dequeued).
Then settle, check the sink's count again (no loss, no duplicate) and
that the server's log of the run shows no deferral or bounce.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402  (bench/bench.py: tree_cpu, alive, ...)

MESG = re.compile(rb"mesg=(\d+)")

# lines of a server's log that mean a message was not relayed at once
BAD = {
    "facteur": re.compile(r" (queue (deferred|bounced)|mta (deferred|failed)"
                          r"|smtp (store-error|rcpt-rejected|rcpt-deferred"
                          r"|rejected)) "),
    # (not "warning:": Postfix warns about harmless things, such as the
    # file system clock being a second ahead)
    "postfix": re.compile(r"status=(deferred|bounced)|reject: "
                          r"| (fatal|panic): "),
}


def die(msg):
    print("relay.py: " + msg, file=sys.stderr)
    sys.exit(1)


def sink_count(path):
    """The last mesg= counter smtp-sink -c printed (0 before any)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            end = f.tell()
            f.seek(max(0, end - 256))
            tail = f.read()
    except FileNotFoundError:
        return 0
    m = MESG.findall(tail)
    return int(m[-1]) if m else 0


SPARE_MAGIC = b"facteur-spare 1 "


def facteur_queued(qdir):
    """Messages in facteur's queue: Q.env files in queue/ (not tmp/) that
    are not spare files (which have both names too, doc/QUEUE.md)."""
    n = 0
    try:
        with os.scandir(qdir) as it:
            for e in it:
                if not e.name.endswith(".env"):
                    continue
                try:
                    with open(e.path, "rb") as f:
                        n += f.read(len(SPARE_MAGIC)) != SPARE_MAGIC
                except FileNotFoundError:
                    pass
    except FileNotFoundError:
        return 0
    return n


def queued(kind, qdir):
    return B.queue_files(qdir) if kind == "postfix" else facteur_queued(qdir)


def log_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def log_since(path, off):
    try:
        with open(path, "rb") as f:
            f.seek(off)
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def cmd_run(a):
    left = queued(a.kind, a.queue_dir)
    if left:
        die("%s: %d messages left in %s before the run"
            % (a.name, left, a.queue_dir))
    pid = B.read_pid(a.pid)
    if pid <= 0 or not B.alive(pid):
        die("%s: server process %s is not running" % (a.name, a.pid))
    if not B.alive(a.sink_pid):
        die("%s: smtp-sink (pid %d) is not running" % (a.name, a.sink_pid))
    cmd = [a.smtp_source, "-4", "-s", str(a.conc), "-m", str(a.count),
           "-l", str(a.size), "-f", a.sender, "-t", a.rcpt,
           "-M", "client.bench.test", "-S", "relay bench"]
    if a.reuse:
        cmd.append("-d")
    cmd.append("127.0.0.1:%d" % a.port)

    sink0 = sink_count(a.sink_out)
    log0 = log_size(a.server_log)
    cpu0 = B.tree_cpu(pid)
    sinkcpu0 = B.tree_cpu(a.sink_pid)
    busy0 = B.machine_busy()
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
        _, wstatus, ru = B.wait4_timeout(p, deadline)
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
    # poll until the sink has them all and the queue is empty; the queue
    # is only looked at once the sink is done (a scandir of thousands of
    # names every 5 ms would cost the server CPU); give up on a stall
    stall = a.stall
    last, last_t = None, time.monotonic()
    t_sink = None
    while time.monotonic() < deadline and B.alive(pid):
        got = sink_count(a.sink_out) - sink0
        if got >= a.count:
            if t_sink is None:
                t_sink = time.monotonic()
            q = queued(a.kind, a.queue_dir)
            if q == 0:
                break
        else:
            q = -1
        now = time.monotonic()
        if (got, q) != last:
            last, last_t = (got, q), now
        elif now - last_t > stall:
            break
        time.sleep(0.005)
    t1 = time.monotonic()
    got = sink_count(a.sink_out) - sink0
    q = queued(a.kind, a.queue_dir)
    if not B.alive(pid):
        status = "server process %d is gone (%s)" % (pid, status)
    if status == "ok" and (got < a.count or q):
        why = "stalled %gs" % stall if t1 < deadline else "timeout"
        status = "%s: %d of %d at the sink, %d still queued" \
            % (why, got, a.count, q)
    if B.alive(pid):
        time.sleep(a.settle)
    final = sink_count(a.sink_out) - sink0
    cpu1 = B.tree_cpu(pid) if B.alive(pid) else cpu0
    sinkcpu = B.tree_cpu(a.sink_pid) - sinkcpu0
    other = B.machine_busy() - busy0 - (cpu1 - cpu0) - client_cpu \
        - sinkcpu - (sum(os.times()[:2]) - self0)
    if status == "ok" and final != a.count:
        status = "sink counted %d, expected %d" % (final, a.count)
    log = log_since(a.server_log, log0)
    bad = [l for l in log.splitlines() if BAD[a.kind].search(l)]
    if bad and status == "ok":
        status = "%d deferral/bounce/reject lines in the log, first: %s" \
            % (len(bad), bad[0][:300])
    elapsed = t1 - t0
    rec = {
        "server": a.name, "size": a.size, "conc": a.conc, "count": a.count,
        "reuse": a.reuse, "elapsed": round(elapsed, 4),
        "client_elapsed": round(t_client - t0, 4),
        "sink_elapsed": round((t_sink or t1) - t0, 4),
        "rate": round(a.count / elapsed, 1) if elapsed > 0 else 0,
        "intake_rate": round(a.count / (t_client - t0), 1)
        if t_client > t0 else 0,
        "cpu": round(cpu1 - cpu0, 2), "client_cpu": round(client_cpu, 2),
        "sink_cpu": round(sinkcpu, 2),
        "other_cpu": round(max(other, 0.0), 2),
        "relayed": final, "bad_log_lines": len(bad), "status": status,
    }
    if not a.warmup:
        with open(a.out, "a") as f:
            f.write(json.dumps(rec) + "\n")
    print("%-8s %4d KB  c=%-3d %6d msgs  %7.1f msg/s  %6.2f s "
          "(intake %.2f s)  cpu %6.2f s  (client %.2f, sink %.2f, "
          "others %.2f)  %s"
          % (a.name, a.size // 1024, a.conc, a.count, rec["rate"], elapsed,
             t_client - t0, rec["cpu"], client_cpu, sinkcpu,
             rec["other_cpu"],
             ("(warm-up) " if a.warmup else "") + status),
          flush=True)
    for l in bad[:5]:
        print("  log: " + l[:300])
    sys.exit(0 if status == "ok" else 1)


def cmd_table(a):
    """One row per size and concurrency; with repeats (BENCH_REPEAT) the
    medians; FAIL if any run of that server failed."""
    recs = []
    if os.path.exists(a.results):
        with open(a.results) as f:
            recs = [json.loads(l) for l in f if l.strip()]
    by, keys = {}, []
    for r in recs:
        k = (r["size"], r["conc"])
        if k not in by:
            by[k] = {}
            keys.append(k)
        by[k].setdefault(r["server"], []).append(r)

    def summary(rs):
        """(rate, cpu ms/msg, intake rate) medians, or None on a failure"""
        if not rs or any(r["status"] != "ok" for r in rs):
            return None
        return (B.median([r["rate"] for r in rs]),
                B.median([1000.0 * r["cpu"] / r["count"] for r in rs]),
                B.median([r["intake_rate"] for r in rs]))

    hdr = ("size", "conc", "msgs", "postfix msg/s", "facteur msg/s",
           "facteur/postfix", "postfix cpu ms/msg", "facteur cpu ms/msg",
           "postfix intake msg/s", "facteur intake msg/s")
    rows, nrep = [], 1
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
                     col(p, ps, 2, "%.0f"), col(f, fs, 2, "%.0f")))
    w = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
         for i, h in enumerate(hdr)]
    out = ["  ".join(h.rjust(w[i]) for i, h in enumerate(hdr)),
           "  ".join("-" * x for x in w)]
    for r in rows:
        out.append("  ".join(c.rjust(w[i]) for i, c in enumerate(r)))
    out.append("msg/s: end to end (until relayed and dequeued); intake "
               "msg/s: until smtp-source finished")
    if nrep > 1:
        out.append("(medians of %d runs each)" % nrep)
    busy = sum(r.get("other_cpu", 0) for r in recs)
    sink = sum(r.get("sink_cpu", 0) for r in recs)
    wall = sum(r["elapsed"] for r in recs)
    if wall > 0:
        out.append("")
        out.append("smtp-sink used %.1f CPU s; other processes %.1f CPU s "
                   "during %.1f s of runs (%.0f%% of one core; about 0 on an "
                   "idle machine)" % (sink, busy, wall, 100.0 * busy / wall))
    for r in recs:
        if r["status"] != "ok":
            out.append("FAIL %s %d KB c=%d: %s" % (
                r["server"], r["size"] // 1024, r["conc"], r["status"]))
    print("\n".join(out))


def main():
    ap = argparse.ArgumentParser(prog="relay.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--name", required=True)
    r.add_argument("--kind", choices=("postfix", "facteur"), required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--pid", required=True, help="server pid or @pidfile")
    r.add_argument("--queue-dir", required=True)
    r.add_argument("--server-log", required=True)
    r.add_argument("--sink-out", required=True,
                   help="smtp-sink -c's standard output")
    r.add_argument("--sink-pid", type=int, required=True)
    r.add_argument("--size", type=int, required=True)
    r.add_argument("--conc", type=int, required=True)
    r.add_argument("--count", type=int, required=True)
    r.add_argument("--reuse", action="store_true")
    r.add_argument("--sender", default="u1@bench.test")
    r.add_argument("--rcpt", default="rcpt@relay.example")
    r.add_argument("--smtp-source", default="/usr/sbin/smtp-source")
    r.add_argument("--timeout", type=float, default=300)
    r.add_argument("--stall", type=float, default=30,
                   help="give up when nothing moves for this long")
    r.add_argument("--settle", type=float, default=0.5)
    r.add_argument("--log", default="/dev/null")
    r.add_argument("--out", default="/dev/null")
    r.add_argument("--warmup", action="store_true")
    t = sub.add_parser("table")
    t.add_argument("results")
    a = ap.parse_args()
    {"run": cmd_run, "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    main()
