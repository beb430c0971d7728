"""What the benches share: starting and ending the real parts, building encrypted callbacks, posting them.

Every process a bench starts (redis-server, the fake WeCom, gunicorn, `rq worker`, a private mariadbd) runs
in its own session, is logged to the bench's temp dir, and is ended with its whole process group when the
bench exits, also on Ctrl-C, SIGTERM or an exception. Every wait has a deadline and fails with a message
that names what it waited for and shows the tail of that process' log, so a bench never hangs silently.

Not a pytest module (tests/bench is outside pytest's collection); the benches import it by path.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from wecom.crypto import CallbackCrypto  # noqa: E402
from wecom.fake.sender import build_callback  # noqa: E402

CORP_ID = "wwbenchcorp00001"
TOKEN = "BenchToken2024"
AES_KEY = "BenchAesKey0123456789abcdefghijklmnopqrstuv"  # 43 alphanumerics, as WeCom's console gives
SECRET = "bench-app-secret-0001"
AGENT_ID = 1000002
CLK_TCK = os.sysconf("SC_CLK_TCK")
# rq's default Worker forks a work horse per job and the horse imports the job modules and builds the
# runtime afresh: ~0.8 s of CPU per job on the 2-core bench machine. The production worker (`scrm worker`,
# jobs/worker.py) is a SimpleWorker: jobs run in the worker process, so imports, DB pools, Redis and WeCom
# connections are made once.
DEFAULT_RQ_WORKER_CLASS = "jobs.worker.Worker"

assert len(AES_KEY) == 43 and AES_KEY.isalnum()


def say(message: str) -> None:
    """Progress on stderr, flushed, with the time: a long phase shows it is alive."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- processes ---------------------------------------------------------------------------------------

class Procs:
    """Every subprocess a bench starts, each in its own session so its whole group can be ended."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None,
              cwd: Path | None = ROOT) -> subprocess.Popen[bytes]:
        with open(self.logdir / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.started.append((name, proc))
        return proc

    def pid_of(self, name: str) -> int | None:
        return next((p.pid for n, p in self.started if n == name and p.poll() is None), None)

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.logdir / f"{name}.log"
        if not path.exists():
            return f"(no log {path})"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, wait: float = 15.0) -> None:
        """`sig` to the process' group, SIGKILL after `wait` seconds."""
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)  # the group is the process' own session (start_new_session)
            proc.wait(wait)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                return
            proc.wait(5)

    def stop_all(self) -> None:
        for _name, proc in reversed(self.started):
            try:
                self.stop(proc)
            except Exception as exc:  # keep going: every other process must still be ended
                print(f"warning: could not stop pid {proc.pid}: {exc}", file=sys.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], Any], timeout: float, what: str, procs: Procs | None = None,
               name: str | None = None) -> Any:
    """Poll `check` until truthy; RuntimeError naming `what` (with process `name`'s log tail) on timeout
    or when that process exits first."""
    proc = next((p for n, p in procs.started if n == name), None) if procs and name else None
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: {name} exited with {proc.returncode}\n{procs.log_tail(name)}")  # type: ignore[union-attr,arg-type]
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # not up yet
            last_error = exc
        time.sleep(0.1)
    tail = f"\n{procs.log_tail(name)}" if procs and name else ""
    raise RuntimeError(f"{what}: not done after {timeout:.0f} s (last error: {last_error!r}){tail}")


def run_checked(argv: list[str], what: str, timeout: float, env: dict[str, str] | None = None) -> str:
    """Run a short command to completion; RuntimeError with its output if it fails or overruns."""
    try:
        done = subprocess.run(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{what}: no answer after {timeout:.0f} s\n{(exc.output or b'').decode()[-2000:]}") from None
    out = done.stdout.decode(errors="replace")
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{out[-3000:]}")
    return out


def http_json(port: int, method: str, path: str, body: Any = None, token: str | None = None,
              timeout: float = 30.0) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, None if body is None else json.dumps(body), headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            return resp.status, json.loads(raw) if raw else None
        except ValueError:
            return resp.status, raw.decode(errors="replace")
    finally:
        conn.close()


def http_get_ok(port: int, path: str) -> bool:
    return http_json(port, "GET", path, timeout=2)[0] == 200


# -- CPU accounting from /proc ------------------------------------------------------------------------

def proc_cpu(pid: int | None, children: bool = False) -> float:
    """utime+stime (plus the reaped children's with `children`) of one process, in seconds."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / CLK_TCK


def child_pids(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out.extend(int(p) for p in fh.read().split())
        except OSError:
            pass
    return out


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of `pid` and every descendant still alive, by pid."""
    result: dict[int, float] = {}
    todo = [pid]
    while todo:
        p = todo.pop()
        result[p] = proc_cpu(p)
        todo.extend(child_pids(p))
    return result


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(after[p] - before.get(p, 0.0) for p in after)


ROLES = {"rq-": "workers", "gunicorn": "web", "mariadbd": "database", "redis": "redis", "fake": "fake WeCom"}


def cpu_by_role(procs: Procs) -> dict[str, float]:
    """CPU seconds so far of each part of the stack (process trees, by role), and of this bench process
    (the load generator: customers and WeCom's callbacks)."""
    totals = {role: 0.0 for role in ROLES.values()}
    for name, proc in procs.started:
        role = next((r for prefix, r in ROLES.items() if name.startswith(prefix)), None)
        if role is not None and proc.poll() is None:
            totals[role] += sum(tree_cpu(proc.pid).values())
    me = os.times()
    totals["load generator"] = me.user + me.system
    return totals


def cpu_report(before: dict[str, float], after: dict[str, float], wall: float, units: int, unit: str) -> str:
    """Per role: share of the machine over `wall` seconds and CPU ms per `unit`."""
    cores = os.cpu_count() or 1
    lines = []
    for role in after:
        used = after[role] - before.get(role, 0.0)
        lines.append(f"  {role:<15} {100 * used / wall / cores:5.1f}% of the machine, "
                     f"{1000 * used / max(units, 1):6.2f} ms CPU per {unit}")
    return "\n".join(lines)


# -- the stack ---------------------------------------------------------------------------------------

@dataclass
class Stack:
    """The running parts of one bench and how to reach them."""

    args: argparse.Namespace
    tmp: Path
    procs: Procs
    db_url: str = ""
    redis_url: str = ""
    redis_pid: int | None = None
    fake_port: int = 0
    web_port: int = 0
    gunicorn_pid: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    _drop_at_exit: list[str] = field(default_factory=list)

    # database ----------------------------------------------------------------------------------------
    def start_database(self) -> str:
        """A SQLite file in the temp dir, the --database-url (a MySQL one recreated), or a private mariadbd."""
        if self.args.mariadb:
            self.db_url = self._start_mariadb()
        else:
            self.db_url = self.args.database_url or f"sqlite:///{self.tmp / 'bench.db'}"
        if self.db_url.startswith("mysql"):
            recreate_mysql_db(self.db_url)
            if not self.args.mariadb:  # a private mariadbd goes away with the temp dir
                self._drop_at_exit.append(self.db_url)
        return self.db_url

    def _start_mariadb(self) -> str:
        datadir, sock, port = self.tmp / "mariadb", self.tmp / "mariadb.sock", free_port()
        user = ["--user=root"] if os.geteuid() == 0 else []
        run_checked(["mariadb-install-db", "--no-defaults", f"--datadir={datadir}",
                     "--auth-root-authentication-method=normal", "--skip-test-db", *user],
                    "mariadb-install-db", 120)
        self.procs.start("mariadbd", ["mariadbd", "--no-defaults", f"--datadir={datadir}", f"--port={port}",
                                      "--bind-address=127.0.0.1", f"--socket={sock}", "--skip-grant-tables",
                                      "--skip-name-resolve", "--innodb-buffer-pool-size=1G",
                                      "--innodb-flush-log-at-trx-commit=2", "--max-connections=500",
                                      f"--pid-file={self.tmp / 'mariadb.pid'}", *user])

        def up() -> bool:
            import pymysql

            pymysql.connect(host="127.0.0.1", port=port, user="root", connect_timeout=1).close()
            return True

        wait_until(up, 60, "mariadbd accepting connections", self.procs, "mariadbd")
        return f"mysql+pymysql://root@127.0.0.1:{port}/scrm_bench"

    def db_size(self) -> int:
        """Bytes the database takes on disk (SQLite file + WAL, or MySQL data + index length)."""
        url = make_url(self.db_url)
        if url.get_backend_name() == "sqlite":
            base = Path(url.database or "")
            return sum(p.stat().st_size for p in (base, base.with_name(base.name + "-wal")) if p.exists())
        from models.db import make_engine

        engine = make_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return int(conn.scalar(text(
                    "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables "
                    "WHERE table_schema = DATABASE()")) or 0)
        finally:
            engine.dispose()

    # redis, fake, service ------------------------------------------------------------------------------
    def start_redis(self) -> str:
        port = free_port()
        proc = self.procs.start("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                          "--save", "", "--appendonly", "no", "--dir", str(self.tmp)])
        self.redis_url, self.redis_pid = f"redis://127.0.0.1:{port}/0", proc.pid
        from redis import Redis

        client = Redis.from_url(self.redis_url, socket_timeout=2, socket_connect_timeout=2)
        wait_until(client.ping, 15, "redis-server answering PING", self.procs, "redis")
        return self.redis_url

    def start_fake(self, seed: dict[str, Any], rate_limit: int) -> int:
        seed_path = self.tmp / "seed.json"
        seed_path.write_text(json.dumps(seed, ensure_ascii=False), encoding="utf-8")
        self.fake_port = free_port()
        # Under gunicorn's threaded worker rather than `python -m wecom.fake`: WeCom keeps HTTP connections
        # alive, werkzeug's server closes each one (see wecom/fake/wsgi.py).
        self.procs.start("fake", [sys.executable, "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "32",
                                  "--keep-alive", "30", "--backlog", "2048", "-b", f"127.0.0.1:{self.fake_port}",
                                  f"wecom.fake.wsgi:app({str(seed_path)!r}, rate_limit={rate_limit})"])
        wait_until(lambda: http_get_ok(self.fake_port, "/fake/health"), 60, "fake WeCom /fake/health",
                   self.procs, "fake")
        return self.fake_port

    def make_env(self) -> dict[str, str]:
        """The service's environment: this stack's DB, Redis, fake WeCom and the one bench app."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("WECOM_", "SCRM_", "DATABASE_URL", "REDIS_URL"))}
        env.update({
            "DATABASE_URL": self.db_url, "REDIS_URL": self.redis_url,
            "WECOM_API_BASE": f"http://127.0.0.1:{self.fake_port}/cgi-bin/",
            "WECOM_CORP_ID": CORP_ID, "WECOM_TOKEN": TOKEN, "WECOM_AES_KEY": AES_KEY, "WECOM_SECRET": SECRET,
            "WECOM_AGENT_ID": str(AGENT_ID), "WECOM_MAX_CLOCK_SKEW": "0",
            "PYTHONUNBUFFERED": "1",
        })
        self.env = env
        return env

    def flask(self, *argv: str, timeout: float = 120) -> str:
        return run_checked([sys.executable, "-m", "flask", "--app", "app", *argv], f"flask {argv[0]}", timeout,
                           self.env)

    def start_gunicorn(self, workers: int, worker_class: str = "sync", threads: int = 4,
                       extra: list[str] | None = None) -> int:
        self.web_port = free_port()
        argv = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{self.web_port}",
                "--backlog", "2048"]
        if worker_class == "gthread":
            argv += ["-k", "gthread", "--threads", str(threads)]
        proc = self.procs.start("gunicorn", [*argv, *(extra or []), "app:create_app()"], env=self.env)
        self.gunicorn_pid = proc.pid
        wait_until(lambda: http_get_ok(self.web_port, "/healthz"), 60, "gunicorn /healthz", self.procs, "gunicorn")
        wait_until(lambda: len(child_pids(proc.pid)) >= workers, 30, f"{workers} gunicorn workers", self.procs,
                   "gunicorn")
        for _ in range(4 * workers):  # warm every worker (app cache, DB pool, Redis) with a GET that stores nothing
            http_get_ok(self.web_port, "/healthz")
        return self.web_port

    def start_rq_workers(self, count: int, queues: list[str] | None = None) -> list[subprocess.Popen[bytes]]:
        from jobs import QUEUES

        argv = [sys.executable, "-m", "rq.cli", "worker", "-u", self.redis_url, "--with-scheduler"]
        if self.args.rq_worker_class != "fork":
            argv += ["-w", self.args.rq_worker_class]
        return [self.procs.start(f"rq-{k}", [*argv, *(queues or QUEUES)], env=self.env) for k in range(count)]

    def check_alive(self, procs: list[subprocess.Popen[bytes]]) -> None:
        for name, proc in self.procs.started:
            if proc in procs and proc.poll() is not None:
                raise RuntimeError(f"{name} died with {proc.returncode}:\n{self.procs.log_tail(name)}")

    def cleanup(self) -> None:
        self.procs.stop_all()
        for url in self._drop_at_exit:
            if not self.args.keep_tmp:
                try:
                    recreate_mysql_db(url, drop_only=True)
                except Exception as exc:
                    print(f"warning: could not drop {make_url(url).database}: {exc}", file=sys.stderr)
        if self.args.keep_tmp:
            print(f"temp dir kept: {self.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def recreate_mysql_db(url: str, drop_only: bool = False) -> None:
    from models.db import make_engine

    parsed = make_url(url)
    server = make_engine(parsed.set(database="").render_as_string(hide_password=False))
    try:
        with server.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{parsed.database}`"))
            if not drop_only:
                conn.execute(text(f"CREATE DATABASE `{parsed.database}` CHARACTER SET utf8mb4 "
                                  "COLLATE utf8mb4_unicode_ci"))
    finally:
        server.dispose()


def add_stack_args(ap: argparse.ArgumentParser) -> None:
    """The options every bench has: database, process counts, temp dir."""
    ap.add_argument("--database-url", help="default: a SQLite file in a temp dir; a mysql URL is recreated")
    ap.add_argument("--mariadb", action="store_true", help="start a private mariadbd in the temp dir and use it")
    ap.add_argument("--rq-workers", type=int, default=2)
    ap.add_argument("--rq-worker-class", default=DEFAULT_RQ_WORKER_CLASS,
                    help=f"rq worker -w class (default {DEFAULT_RQ_WORKER_CLASS}); 'fork' for rq's default Worker")
    ap.add_argument("--seed", type=int, default=20240601, help="random seed")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (logs, SQLite file)")


@contextmanager
def stack(args: argparse.Namespace) -> Iterator[Stack]:
    """A Stack in a fresh temp dir, torn down (processes ended, temp dir removed) however the bench ends."""
    if args.mariadb and args.database_url:
        raise SystemExit("--mariadb and --database-url exclude each other")

    def on_term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.signal(sig, on_term) for sig in (signal.SIGTERM, signal.SIGHUP)}
    tmp = Path(tempfile.mkdtemp(prefix="scrm-bench-"))
    st = Stack(args=args, tmp=tmp, procs=Procs(tmp))
    try:
        yield st
    except RuntimeError:
        for name, proc in st.procs.started:  # a part that died is the likeliest cause: show why
            if proc.poll() is not None and name != "py-spy":
                print(f"\n{name} (pid {proc.pid}) exited with {proc.returncode}:\n{st.procs.log_tail(name)}",
                      file=sys.stderr)
        raise
    finally:
        st.cleanup()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_main(args: argparse.Namespace, run: Callable[[argparse.Namespace, Stack], int]) -> int:
    """Start the parts, run the bench on them, stop them: exit 130 with a note on Ctrl-C/SIGTERM, 2 with
    the message on a setup error."""
    try:
        with stack(args) as st:
            return run(args, st)
    except KeyboardInterrupt:
        print("\ninterrupted; processes ended", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"\nbench failed: {exc}", file=sys.stderr)
        return 2


# -- callbacks ---------------------------------------------------------------------------------------

Request = tuple[str, bytes]  # (path with query string, encrypted body)


def encrypt(crypto: CallbackCrypto, plaintext: str, rng: random.Random, timestamp: str | None = None) -> Request:
    """The POST WeCom would send for `plaintext` to the environment app."""
    params, body = build_callback(crypto, plaintext, agent_id=AGENT_ID, timestamp=timestamp or str(int(time.time())),
                                  nonce=str(rng.randrange(10**10)))
    return f"/wecom/callback/default?{urlencode(params)}", body


def bench_crypto() -> CallbackCrypto:
    return CallbackCrypto(TOKEN, AES_KEY, CORP_ID)


class Poster:
    """One keep-alive connection to the service (reopened when the server closes it, as gunicorn's sync
    workers do after every response)."""

    HEADERS = {"Content-Type": "text/xml"}

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.port, self.timeout = port, timeout
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def post(self, req: Request) -> Any:
        """The answer's status, or the exception's class name (the connection is then reopened)."""
        try:
            self.conn.request("POST", req[0], req[1], self.HEADERS)
            resp = self.conn.getresponse()
            resp.read()
            return resp.status
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            return type(exc).__name__

    def close(self) -> None:
        self.conn.close()


def post_all(port: int, reqs: list[Request], concurrency: int,
             send: Callable[[Poster, int], Any] | None = None, pace: Callable[[int], None] | None = None,
             timeout: float = 900.0) -> tuple[list[float], collections.Counter[Any], float]:
    """Post `reqs` from `concurrency` threads as fast as the service answers (or, with `pace(i)`, when that
    returns); per-request latency (s, from after `pace`), answer counts, wall time. `send(poster, i)`
    replaces the plain post of reqs[i] when given."""
    latencies = [0.0] * len(reqs)
    statuses: collections.Counter[Any] = collections.Counter()
    counter = itertools.count()
    lock = threading.Lock()
    stop = threading.Event()

    def run() -> None:
        poster = Poster(port)
        local: collections.Counter[Any] = collections.Counter()
        try:
            while not stop.is_set():
                i = next(counter)
                if i >= len(reqs):
                    break
                if pace is not None:
                    pace(i)
                t0 = time.perf_counter()
                try:
                    status = send(poster, i) if send else poster.post(reqs[i])
                except Exception as exc:  # counted as a failed answer; the others go on
                    status = type(exc).__name__
                latencies[i] = time.perf_counter() - t0
                local[status] += 1
        finally:
            poster.close()
            with lock:
                statuses.update(local)

    threads = [threading.Thread(target=run, name=f"client-{k}", daemon=True) for k in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    try:
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
    finally:  # also on Ctrl-C: the threads stop before the service they post to is ended
        stop.set()
    if any(t.is_alive() for t in threads):
        raise RuntimeError(f"posting not finished after {timeout:.0f} s")
    return latencies, statuses, time.perf_counter() - start


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(round(q * (len(sorted_values) - 1))))]


def seed_corp(staff: int) -> dict[str, Any]:
    """The fake's corp and its `staff` members staff0000..; customers are added by each bench."""
    return {
        "corps": [{"corpid": CORP_ID, "secrets": {SECRET: AGENT_ID}}],
        "users": [{"corpid": CORP_ID, "userid": staff_id(k), "name": f"员工{k}", "department": [1], "status": 1}
                  for k in range(staff)],
    }


def staff_id(k: int) -> str:
    return f"staff{k:04d}"


def seed_customer(external_userid: str, userid: str, state: str = "") -> dict[str, Any]:
    return {"corpid": CORP_ID,
            "external_contact": {"external_userid": external_userid, "name": f"客户{external_userid[-6:]}",
                                 "type": 1, "gender": 1},
            "follow_user": [{"userid": userid, "remark": "", "description": "", "createtime": int(time.time()),
                             "tags": [], "remark_mobiles": [], "add_way": 1, "state": state}]}


def drain(stack_: Stack, workers: list[subprocess.Popen[bytes]], timeout: float,
          remaining: Callable[[], dict[str, int]], idle: float = 120.0, every: float = 5.0) -> tuple[float, bool]:
    """Wait until every count `remaining()` returns is zero, printing them every `every` seconds; (seconds,
    drained). Gives up after `timeout` seconds, or after `idle` seconds in which no count moved (rows stuck
    behind a failing job's back-off), and stops at once, with its log, if a worker dies."""
    start = time.perf_counter()
    next_note = start + every
    last: dict[str, int] | None = None
    last_change = start
    while True:
        counts = remaining()
        now = time.perf_counter()
        if not any(counts.values()):
            return now - start, True
        stack_.check_alive(workers)
        if counts != last:
            last, last_change = counts, now
        if now - start > timeout or now - last_change > idle:
            why = f"after {timeout:.0f} s" if now - start > timeout else f"nothing moved for {idle:.0f} s"
            say(f"gave up waiting ({why}): still {counts}")
            return now - start, False
        if now >= next_note:
            say(f"processing: {now - start:.0f} s, still {counts}")
            next_note = now + every
        time.sleep(0.25)


def server_pid(url: str) -> int | None:
    """The MariaDB server's process, when it runs on this machine (its CPU is the query's work), else None."""
    if not url.startswith("mysql"):
        return None
    port = str(make_url(url).port or 3306)
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        name = Path(argv[0].decode(errors="replace")).name
        if name in ("mariadbd", "mysqld") and any(port.encode() in a for a in argv):
            return int(proc.name)
    return None
