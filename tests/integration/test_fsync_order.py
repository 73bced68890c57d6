"""The 250 after DATA is sent only once the message is durable: strace
watches the worker and the order of its system calls must be
fdatasync(tmp file) -> link(into new/) -> fsync(new/) -> write(250).
(Killing processes cannot show this: the kernel keeps unsynced data.)"""
import re
import shutil
import subprocess
import time

import pytest

from conftest import T, new_msgid, simple_message


@pytest.mark.skipif(shutil.which("strace") is None, reason="no strace")
def test_250_after_fsync(make_server):
    srv = make_server(workers=1)
    worker = srv.worker_pids()[0]
    out = srv.root + "/strace.out"
    st = subprocess.Popen(
        ["strace", "-f", "-y", "-qq", "-s", "64", "-o", out,
         "-e", "trace=fdatasync,fsync,link,linkat,write,sendto,sendmsg",
         "-p", str(worker)], stderr=subprocess.DEVNULL)
    try:
        time.sleep(T(1))            # strace attaches to every thread
        msgid, msg = simple_message()
        with srv.connect() as c:
            c.ehlo()
            r = c.send_mail("bob@example.org", ["alice@example.test"], msg,
                            pipeline=False)
            assert r.code == 250, r
            c.quit()
        assert srv.wait_message("alice", msgid)
        time.sleep(T(0.5))
    finally:
        st.terminate()
        st.wait(T(10))
    lines = open(out).read().splitlines()

    def first(pattern):
        for i, line in enumerate(lines):
            if re.search(pattern, line) and "<unfinished" not in line:
                return i
        raise AssertionError("no %r in strace output:\n%s"
                             % (pattern, "\n".join(lines[-40:])))

    sync = first(r"fdatasync\(\d+</[^>]*/alice/tmp/[^>]*>")
    link = first(r"link(at)?\(.*/alice/tmp/.*/alice/new/")
    dsync = first(r"fsync\(\d+</[^>]*/alice/new>")
    reply = first(r"(write|sendto|sendmsg)\(\d+<(TCP|socket)[^>]*>.*250 2\.0\.0")
    assert sync < link < dsync < reply, (sync, link, dsync, reply)
