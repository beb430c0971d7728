"""Helpers for tests that run real processes: free ports, polling, killable process groups."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from collections.abc import Callable

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def start_redis(port: int, directory: Path, *extra: str) -> subprocess.Popen:
    """A redis-server on loopback `port`, storing in `directory` (`extra`: more options), once it answers PING."""
    import pytest
    from redis import Redis

    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (CI must install Debian's redis-server)")
        pytest.skip("redis-server is not installed")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(directory), *extra], stdout=subprocess.DEVNULL)
    client = Redis(port=port)
    wait_for(lambda: _pings(client), 10, "redis-server")
    return proc


def _pings(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


def _worker_slot() -> tuple[int, int]:
    """(this pytest-xdist worker's index, the number of workers); (0, 1) without xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker.removeprefix("gw")), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))


def free_port() -> int:
    """A loopback port free now. The port is closed again before the caller's server binds it, so under
    pytest-xdist each worker draws from its own slice of 20000-32767 (below Linux's ephemeral range, where
    the kernel's own picks for port 0 and outgoing connections fall): two workers never race for one port.
    (Not a filter on the kernel's pick: Linux hands out ports of one parity to bind(0).)"""
    index, count = _worker_slot()
    if count == 1:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    span = (32768 - 20000) // count
    first = 20000 + index * span
    for _ in range(200):
        port = random.randrange(first, first + span)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {first}-{first + span - 1}")


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition",
             explain: Callable[[], str] | None = None) -> Any:
    """`check()`'s first truthy answer within `timeout` s. `explain`: what the failure message should also
    show (the processes' logs, the rows), for a wait that times out only now and then, under CI's load."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f"\n{explain()}" if explain else ""))


def _children(pid: int) -> list[int]:
    """Pids whose parent is `pid`, read from /proc (RQ's work-horse is one: it runs the job)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


class Proc:
    """A child process in its own process group. Killing it kills its forked children as well: RQ 2.x
    puts its work-horse in a process group of its own (os.setpgrp), so killpg alone would leave the job
    running and a "worker killed mid-job" test would prove nothing."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def kill(self, sig: int = signal.SIGKILL) -> list[int]:
        """Signal the children (first, so none is re-parented unseen), then the group; the children's pids."""
        if self.proc.poll() is not None:
            return []
        children = _children(self.proc.pid)
        for child in children:
            try:
                os.kill(child, sig)
            except ProcessLookupError:
                pass
        os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:  # deaf to `sig`: a stray left running would take the next test's jobs
            self.kill(signal.SIGKILL)
        return children

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class TcpProxy:
    """A TCP forwarder on loopback that a test can take down (every connection cut, new ones refused) and
    bring back on the same port: a database outage without stopping a database that others share."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def up(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the accept() below
            self._server.close()
            self._server = None
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            _cut(conn)

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                return
            upstream.settimeout(None)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _pump(a: socket.socket, b: socket.socket) -> None:
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    _cut(b)


def _cut(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    conn.close()
