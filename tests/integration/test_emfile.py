"""Out of descriptors: the worker pauses accepting (it does not crash
or spin) and serves again once descriptors are free."""
import resource
import socket
import time

import pytest

from conftest import T


def test_accept_paused_when_out_of_fds(make_server):
    srv = make_server(start=False, workers=1, max_connections=10000,
                      max_connections_per_ip=10000)
    # the daemon inherits a small descriptor limit (lowering another
    # process's limit needs CAP_SYS_RESOURCE, which containers drop)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (96, hard))
    try:
        srv.start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    worker = srv.worker_pids()[0]
    conns = []
    try:
        for _ in range(150):
            s = socket.create_connection(("127.0.0.1", srv.port),
                                         timeout=T(5))
            conns.append(s)
        srv.wait_log(r"accept: pausing", timeout=T(10))
        # the sessions it did accept still work
        greeted = 0
        for s in conns[:20]:
            s.settimeout(T(2))
            try:
                if s.recv(100).startswith(b"220"):
                    greeted += 1
            except OSError:
                pass
        assert greeted > 0
    finally:
        for s in conns:
            s.close()
    # descriptors come back: a new client is served
    deadline = time.time() + T(15)
    while True:
        with socket.create_connection(("127.0.0.1", srv.port),
                                      timeout=T(5)) as s:
            s.settimeout(T(3))
            try:
                if s.recv(100).startswith(b"220"):
                    break
            except OSError:
                pass
        assert time.time() < deadline, "never served again"
    assert worker in srv.worker_pids()      # the same worker: no crash
