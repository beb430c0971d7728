"""Ingress benchmark: encrypted WeCom callbacks through gunicorn + Redis into the inbox, then rq workers.

    python tests/bench/bench_ingress.py [--n 20000] [--database-url URL | --mariadb] [--workers 2]
                                        [--worker-class sync|gthread] [--threads 4] [--concurrency 16]

Everything runs on loopback and is started (and killed again, also on Ctrl-C) by this script: a Redis
server, the fake WeCom (`python -m wecom.fake`, seeded with every customer the callbacks name), the
service under gunicorn, and afterwards `rq worker` processes. The database is a SQLite file in a temp
dir unless `--database-url` names one (a MySQL/MariaDB database given there is dropped and created
afresh, and dropped again at the end) or `--mariadb` starts a private mariadbd in the temp dir.

Phases and what is measured:
  1. build    N encrypted callbacks are built before any timing: mostly add_external_contact with
              distinct ExternalUserIDs plus the other kinds WeCom sends; 5% of the N are exact re-sends
              (same query string, same body) of earlier ones, shuffled in shortly after their original.
  2. bare     in this process, CallbackCrypto.decrypt + wecom.events.parse over the same N bodies
              (CPU seconds, time.process_time): the floor the server cannot go below.
  3. post     --concurrency client threads post all N over keep-alive connections (http.client);
              per-request latency, and the CPU (utime+stime from /proc) of the gunicorn master and
              its workers before/after, so server CPU per callback can be set against the bare cost.
  4. process  `rq worker` processes are started on every queue of jobs.QUEUES and timed until no inbox
              row is `received` and no outbox row is `pending`.
Then the inbox is checked against the expected dedup keys: nothing lost, nothing stored twice.
Exits 1 if any answer was not 200, if a callback was lost or doubled, or if processing timed out.

This is not a pytest test (tests/bench is outside pytest's collection).
"""

from __future__ import annotations

import argparse
import collections
import http.client
import itertools
import json
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from wecom import events  # noqa: E402
from wecom.crypto import CallbackCrypto  # noqa: E402
from wecom.fake.sender import build_callback, render_sample  # noqa: E402

CORP_ID = "wwbenchcorp00001"
TOKEN = "BenchToken2024"
AES_KEY = "BenchAesKey0123456789abcdefghijklmnopqrstuv"  # 43 alphanumerics, as WeCom's console gives
SECRET = "bench-app-secret-0001"
AGENT_ID = 1000002
STAFF = 200  # members; UserIDs spread over them so no member hits the fake's 30 messages/min limit
CLK_TCK = os.sysconf("SC_CLK_TCK")

# (sample name, share of the distinct callbacks). Every kind the service receives in production.
MIX: list[tuple[str, float]] = [
    ("change_external_contact/add_external_contact", 0.60),
    ("change_external_contact/edit_external_contact", 0.08),
    ("change_external_contact/del_follow_user", 0.04),
    ("change_external_contact/del_external_contact", 0.02),
    ("change_external_chat/update", 0.06),
    ("change_external_tag/create", 0.03),
    ("message/text", 0.10),
    ("event/enter_agent", 0.04),
    ("kf_msg_or_event", 0.03),
]

assert len(AES_KEY) == 43 and AES_KEY.isalnum()


# -- processes ---------------------------------------------------------------------------------------

class Procs:
    """Every subprocess this script starts, each in its own session so its whole group can be ended."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None,
              cwd: Path | None = None) -> subprocess.Popen[bytes]:
        log = open(self.logdir / f"{name}.log", "ab")
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.started.append((name, proc))
        return proc

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.logdir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, wait: float = 15.0) -> None:
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)  # the group is this process' own session (start_new_session)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
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


def wait_until(check: Any, timeout: float, what: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} while starting")
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {timeout:.0f} s")


def http_get_ok(port: int, path: str) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    finally:
        conn.close()


def proc_cpu(pid: int, children: bool = False) -> float:
    """utime+stime (plus the reaped children's with `children`) of one process, in seconds."""
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


# -- the callbacks -----------------------------------------------------------------------------------

def build_plaintexts(n_distinct: int, rng: random.Random) -> tuple[list[str], list[str]]:
    """`n_distinct` plaintexts, all with different dedup keys, and the ExternalUserIDs they name."""
    counts = [int(share * n_distinct) for _, share in MIX]
    counts[0] += n_distinct - sum(counts)
    kinds = [name for (name, _), c in zip(MIX, counts, strict=True) for _ in range(c)]
    rng.shuffle(kinds)
    base = int(time.time()) - n_distinct  # CreateTime base + i: in the past, and one per callback
    customers: list[str] = []
    plaintexts: list[str] = []
    for i, kind in enumerate(kinds):
        staff = f"staff{rng.randrange(STAFF):04d}"
        fields: dict[str, str | int] = {"CreateTime": base + i}
        if kind.endswith("add_external_contact"):
            external = f"wmBench{i:08d}"
            customers.append(external)
            fields.update(UserID=staff, ExternalUserID=external, State="", WelcomeCode=f"WELCOME-bench-{i}")
        elif kind.startswith("change_external_contact/"):
            # edits and deletions name a customer that is (or will be) added in this run
            external = customers[rng.randrange(len(customers))] if customers else f"wmBench{i:08d}"
            if not customers:
                customers.append(external)
            fields.update(UserID=staff, ExternalUserID=external)
            if kind.endswith("del_external_contact"):
                fields["Source"] = ""
        elif kind == "change_external_chat/update":
            fields.update(ChatId=f"wrBenchChat{i:08d}")
        elif kind == "change_external_tag/create":
            fields.update(Id=f"etBenchTag{i:08d}")
        elif kind == "message/text":
            fields.update(FromUserName=staff, MsgId=7300000000000000000 + i, Content=f"hello {i}",
                          AgentID=AGENT_ID)
        elif kind == "event/enter_agent":
            fields.update(FromUserName=staff, AgentID=AGENT_ID)
        elif kind == "kf_msg_or_event":
            fields.update(Token=f"ENCbenchKfToken{i:08d}")
        plaintexts.append(render_sample(kind, corp_id=CORP_ID, **fields))
    return plaintexts, customers


def build_requests(plaintexts: list[str], n_resend: int, rng: random.Random,
                   crypto: CallbackCrypto) -> list[tuple[str, bytes, dict[str, str], int]]:
    """(path with query, body, params, distinct index) in posting order, re-sends shuffled in."""
    built = []
    now = str(int(time.time()))
    for i, plaintext in enumerate(plaintexts):
        params, body = build_callback(crypto, plaintext, agent_id=AGENT_ID, timestamp=now,
                                      nonce=str(rng.randrange(10**10)))
        built.append((f"/wecom/callback/default?{urlencode(params)}", body, params, i))
    # Retries come after their original, sometimes while it is still in flight, sometimes later.
    order = [(float(i), req) for i, req in enumerate(built)]
    for k in rng.sample(range(len(built)), n_resend):
        order.append((k + rng.uniform(0.5, 300.0), built[k]))
    order.sort(key=lambda item: item[0])
    return [req for _, req in order]


def bare_cost(reqs: list[tuple[str, bytes, dict[str, str], int]], crypto: CallbackCrypto) -> tuple[float, float]:
    """CPU seconds per callback of decrypt alone and of decrypt + parse, over the same bodies."""
    t0 = time.process_time()
    for _, body, p, _ in reqs:
        crypto.decrypt(body, p["msg_signature"], p["timestamp"], p["nonce"])
    t1 = time.process_time()
    for _, body, p, _ in reqs:
        events.parse(crypto.decrypt(body, p["msg_signature"], p["timestamp"], p["nonce"]))
    t2 = time.process_time()
    return (t1 - t0) / len(reqs), (t2 - t1) / len(reqs)


# -- posting -----------------------------------------------------------------------------------------

def post_all(port: int, reqs: list[tuple[str, bytes, dict[str, str], int]],
             concurrency: int) -> tuple[list[float], collections.Counter[Any], float]:
    latencies = [0.0] * len(reqs)
    statuses: collections.Counter[Any] = collections.Counter()
    counter = itertools.count()
    lock = threading.Lock()
    headers = {"Content-Type": "text/xml"}

    def run() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local: collections.Counter[Any] = collections.Counter()
        while True:
            i = next(counter)
            if i >= len(reqs):
                break
            path, body, _, _ = reqs[i]
            t0 = time.perf_counter()
            try:
                conn.request("POST", path, body, headers)
                resp = conn.getresponse()
                resp.read()
                status: Any = resp.status
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            latencies[i] = time.perf_counter() - t0
            local[status] += 1
        conn.close()
        with lock:
            statuses.update(local)

    threads = [threading.Thread(target=run, name=f"client-{k}", daemon=True) for k in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, statuses, time.perf_counter() - start


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(round(q * (len(sorted_values) - 1))))]


# -- database ----------------------------------------------------------------------------------------

def start_mariadb(procs: Procs, tmp: Path) -> str:
    datadir, sock, port = tmp / "mariadb", tmp / "mariadb.sock", free_port()
    user = ["--user=root"] if os.geteuid() == 0 else []
    install = subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={datadir}",
                              "--auth-root-authentication-method=normal", "--skip-test-db", *user],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if install.returncode != 0:
        raise RuntimeError("mariadb-install-db failed:\n" + install.stdout.decode(errors="replace")[-2000:])
    proc = procs.start("mariadbd", ["mariadbd", "--no-defaults", f"--datadir={datadir}", f"--port={port}",
                                    "--bind-address=127.0.0.1", f"--socket={sock}", "--skip-grant-tables",
                                    "--skip-name-resolve", "--innodb-buffer-pool-size=1G",
                                    f"--pid-file={tmp / 'mariadb.pid'}", *user])
    url = f"mysql+pymysql://root@127.0.0.1:{port}/scrm_bench"

    def up() -> bool:
        import pymysql

        pymysql.connect(host="127.0.0.1", port=port, user="root", connect_timeout=1).close()
        return True

    wait_until(up, 60, "mariadbd", proc)
    return url


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


# -- py-spy summary ----------------------------------------------------------------------------------

def summarize_raw_profile(path: Path, top: int = 25) -> str:
    """Top frames by self and by inclusive samples from `py-spy record --format raw` output."""
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        own[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    if not total:
        return "(no samples)"
    lines = [f"{total} samples (busy only)", "  self%  frame"]
    lines += [f"  {100 * c / total:5.1f}  {f}" for f, c in own.most_common(top)]
    lines += ["  incl%  frame"]
    lines += [f"  {100 * c / total:5.1f}  {f}" for f, c in incl.most_common(top)]
    return "\n".join(lines)


# -- the preloading rq worker (--rq-worker-class preload) ------------------------------------------------

try:
    from rq.worker import Worker as _RqWorker
except ImportError:  # pragma: no cover
    _RqWorker = object  # type: ignore[misc,assignment]


class PreloadWorker(_RqWorker):  # type: ignore[misc,valid-type]
    """rq's forking Worker, but with the job modules imported once in the parent.

    rq's default Worker forks a work horse per job and only the horse imports the job's function, so
    every job pays `import jobs` (~0.5 s of CPU: handlers, models, SQLAlchemy, wechatpy). Importing
    them before forking lets every horse inherit them. This only exists to measure that fix.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        import handlers  # noqa: F401
        import jobs  # noqa: F401

        super().__init__(*args, **kwargs)


# -- main --------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20000, help="callbacks posted, re-sends included")
    ap.add_argument("--resend", type=float, default=0.05, help="share of the N that are exact re-sends")
    ap.add_argument("--database-url", help="default: a SQLite file in a temp dir; a mysql URL is recreated")
    ap.add_argument("--mariadb", action="store_true", help="start a private mariadbd and use it")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    ap.add_argument("--worker-class", choices=("sync", "gthread"), default="sync")
    ap.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    ap.add_argument("--gunicorn-args", default="", help="more gunicorn options, e.g. \"-c prof.conf.py\"")
    ap.add_argument("--concurrency", type=int, default=16, help="client threads")
    ap.add_argument("--rq-workers", type=int, default=2)
    ap.add_argument("--rq-worker-class", default=None,
                    help="rq -w class, e.g. rq.worker.SimpleWorker, or 'preload' for PreloadWorker below "
                         "(default: rq's forking Worker)")
    ap.add_argument("--no-process", action="store_true", help="skip the rq processing phase")
    ap.add_argument("--process-timeout", type=float, default=600.0)
    ap.add_argument("--fake-rate-limit", type=int, default=10**9,
                    help="fake WeCom calls/min per API (WeCom's real limit is 10000; the default lifts it so "
                         "the processing phase measures the service, not the throttle)")
    ap.add_argument("--py-spy", type=Path, metavar="FILE.txt",
                    help="py-spy record the gunicorn workers during posting (raw collapsed stacks); "
                         "sampling costs CPU, so the timings of such a run are not clean")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (logs, SQLite file)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.mariadb and args.database_url:
        raise SystemExit("--mariadb and --database-url exclude each other")
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="scrm-bench-"))
    procs = Procs(tmp)
    mysql_dbs: list[str] = []  # MySQL databases this run created, dropped again at the end

    def on_term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    try:
        return run(args, rng, tmp, procs, mysql_dbs.append)
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        procs.stop_all()
        for url in mysql_dbs:
            if not args.keep_tmp:
                try:
                    recreate_mysql_db(url, drop_only=True)
                except Exception:
                    pass
        if args.keep_tmp:
            print(f"temp dir kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, rng: random.Random, tmp: Path, procs: Procs, note_mysql: Any) -> int:
    from models.db import make_engine
    from models import Inbox, Outbox

    # 1. database ------------------------------------------------------------------------------------
    if args.mariadb:
        db_url = start_mariadb(procs, tmp)
    else:
        db_url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    if db_url.startswith("mysql"):
        recreate_mysql_db(db_url)
        if not args.mariadb:  # a private mariadbd goes away with the temp dir
            note_mysql(db_url)

    # 2. the callbacks, built before anything is timed -----------------------------------------------
    n_resend = int(round(args.n * args.resend))
    n_distinct = args.n - n_resend
    crypto = CallbackCrypto(TOKEN, AES_KEY, CORP_ID)
    t0 = time.perf_counter()
    plaintexts, customers = build_plaintexts(n_distinct, rng)
    expected_keys = [events.dedup_key(events.parse(p), p) for p in plaintexts]
    if len(set(expected_keys)) != n_distinct:
        raise RuntimeError("the generator made two callbacks with one dedup key")
    reqs = build_requests(plaintexts, n_resend, rng, crypto)
    kinds = collections.Counter(events.parse(p).routing_key for p in plaintexts)
    print(f"built {len(reqs)} callbacks ({n_distinct} distinct + {n_resend} re-sends) in "
          f"{time.perf_counter() - t0:.1f} s")

    # 3. Redis, fake WeCom ----------------------------------------------------------------------------
    redis_port = free_port()
    redis_proc = procs.start("redis", ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                                       "--save", "", "--appendonly", "no", "--dir", str(tmp)])
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    from redis import Redis

    wait_until(lambda: Redis.from_url(redis_url).ping(), 15, "redis-server", redis_proc)

    seed = {
        "corps": [{"corpid": CORP_ID, "secrets": {SECRET: AGENT_ID}}],
        "users": [{"corpid": CORP_ID, "userid": f"staff{k:04d}", "name": f"员工{k}", "department": [1],
                   "status": 1} for k in range(STAFF)],
        "external_contacts": [
            {"corpid": CORP_ID,
             "external_contact": {"external_userid": ext, "name": f"客户{ext[-6:]}", "type": 1, "gender": 1},
             "follow_user": [{"userid": f"staff{rng.randrange(STAFF):04d}", "remark": "", "description": "",
                              "createtime": 1732000000, "tags": [], "remark_mobiles": [], "add_way": 1,
                              "state": ""}]}
            for ext in sorted(set(customers))],
    }
    seed_path = tmp / "seed.json"
    seed_path.write_text(json.dumps(seed, ensure_ascii=False), encoding="utf-8")
    fake_port = free_port()
    fake_proc = procs.start("fake", [sys.executable, "-m", "wecom.fake", "--port", str(fake_port),
                                     "--seed", str(seed_path), "--rate-limit", str(args.fake_rate_limit)],
                            cwd=ROOT)
    wait_until(lambda: http_get_ok(fake_port, "/fake/health"), 30, "fake WeCom", fake_proc)

    # 4. environment, migration ------------------------------------------------------------------------
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WECOM_", "SCRM_", "DATABASE_URL", "REDIS_URL"))}
    env.update({
        "DATABASE_URL": db_url, "REDIS_URL": redis_url,
        "WECOM_API_BASE": f"http://127.0.0.1:{fake_port}/cgi-bin/",
        "WECOM_CORP_ID": CORP_ID, "WECOM_TOKEN": TOKEN, "WECOM_AES_KEY": AES_KEY, "WECOM_SECRET": SECRET,
        "WECOM_AGENT_ID": str(AGENT_ID), "WECOM_MAX_CLOCK_SKEW": "0", "PYTHONUNBUFFERED": "1",
    })
    migrate = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], env=env, cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if migrate.returncode != 0:
        raise RuntimeError("migration failed:\n" + migrate.stdout.decode(errors="replace")[-3000:])

    # 5. gunicorn ---------------------------------------------------------------------------------------
    web_port = free_port()
    gargv = [sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-b", f"127.0.0.1:{web_port}",
             "--backlog", "2048"]
    if args.worker_class == "gthread":
        gargv += ["-k", "gthread", "--threads", str(args.threads)]
    gargv += shlex.split(args.gunicorn_args)
    gunicorn = procs.start("gunicorn", [*gargv, "app:create_app()"], env=env, cwd=ROOT)
    try:
        wait_until(lambda: http_get_ok(web_port, "/healthz"), 60, "gunicorn", gunicorn)
        wait_until(lambda: len(child_pids(gunicorn.pid)) >= args.workers, 30, "gunicorn workers", gunicorn)
    except RuntimeError:
        print(procs.log_tail("gunicorn"), file=sys.stderr)
        raise
    # Warm every worker (app cache, DB pool, Redis) with a GET that costs no row.
    for _ in range(4 * args.workers):
        http_get_ok(web_port, "/healthz")
    engine = make_engine(db_url)

    # 6. bare decrypt + parse ---------------------------------------------------------------------------
    bare_decrypt, bare_total = bare_cost(reqs, crypto)

    # 7. posting ----------------------------------------------------------------------------------------
    spy = None
    if args.py_spy:
        spy = procs.start("py-spy", ["py-spy", "record", "--pid", str(gunicorn.pid), "--subprocesses",
                                     "--rate", "250", "--format", "raw", "--nonblocking",
                                     "-o", str(args.py_spy.resolve())])
        time.sleep(2.0)
    cpu_before = tree_cpu(gunicorn.pid)
    redis_before = proc_cpu(redis_proc.pid)
    db_pid = next((p.pid for name, p in procs.started if name == "mariadbd"), None)
    db_before = proc_cpu(db_pid) if db_pid else 0.0
    client_before = time.process_time()
    latencies, statuses, elapsed = post_all(web_port, reqs, args.concurrency)
    client_cpu = time.process_time() - client_before
    cpu_after = tree_cpu(gunicorn.pid)
    server_cpu = cpu_delta(cpu_before, cpu_after)
    redis_cpu = proc_cpu(redis_proc.pid) - redis_before
    db_cpu = (proc_cpu(db_pid) - db_before) if db_pid else None
    if spy is not None:
        procs.stop(spy, signal.SIGINT, wait=30)

    with engine.connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(Inbox))
        stored_keys = set(conn.scalars(select(Inbox.dedup_key)))
    lost_keys = set(expected_keys) - stored_keys
    extra_keys = stored_keys - set(expected_keys)

    # 8. processing -------------------------------------------------------------------------------------
    from jobs import QUEUES

    proc_elapsed = inbox_elapsed = last_progress = None
    timed_out = False
    rq_cpu = 0.0
    pending_jobs: dict[str, int] = {}
    if not args.no_process:
        rq_env = env
        worker_class = args.rq_worker_class
        if worker_class == "preload":
            # bench_ingress.PreloadWorker (below) imports the jobs before forking: see its docstring
            rq_env = {**env, "PYTHONPATH": os.pathsep.join(
                p for p in (str(Path(__file__).resolve().parent), env.get("PYTHONPATH", "")) if p)}
            worker_class = "bench_ingress.PreloadWorker"
        rq_argv = [sys.executable, "-m", "rq.cli", "worker", "-u", redis_url, "--with-scheduler"]
        if worker_class:
            rq_argv += ["-w", worker_class]
        t_start = time.perf_counter()
        workers = [procs.start(f"rq-{k}", [*rq_argv, *QUEUES], env=rq_env, cwd=ROOT)
                   for k in range(args.rq_workers)]
        rq_cpu_before = {w.pid: proc_cpu(w.pid, children=True) for w in workers}
        deadline = time.monotonic() + args.process_timeout
        last_counts: tuple[int, int] | None = None
        while True:
            with engine.connect() as conn:
                received = conn.scalar(select(func.count()).select_from(Inbox).where(Inbox.status == "received"))
                pending = conn.scalar(select(func.count()).select_from(Outbox).where(Outbox.status == "pending"))
            if not received and inbox_elapsed is None:
                inbox_elapsed = time.perf_counter() - t_start
            if (received, pending) != last_counts:
                last_counts, last_progress = (received, pending), time.perf_counter() - t_start
            if not received and not pending:
                break
            if time.monotonic() > deadline:
                timed_out = True
                print(f"processing timed out: {received} inbox rows received, {pending} outbox rows pending",
                      file=sys.stderr)
                break
            if any(w.poll() is not None for w in workers):
                print("an rq worker died:\n" + procs.log_tail("rq-0"), file=sys.stderr)
                timed_out = True
                break
            time.sleep(0.25)
        proc_elapsed = time.perf_counter() - t_start
        rq_cpu = sum(proc_cpu(w.pid, children=True) - rq_cpu_before[w.pid] for w in workers)
        for w in workers:
            procs.stop(w)
        with engine.connect() as conn:
            pending_jobs = dict(conn.execute(select(Outbox.job, func.count()).where(Outbox.status == "pending")
                                             .group_by(Outbox.job)).all())

    with engine.connect() as conn:
        by_status = dict(conn.execute(select(Inbox.status, func.count()).group_by(Inbox.status)).all())
        outbox = dict(conn.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).all())
        dead = conn.scalar(text("SELECT COUNT(*) FROM dead_letters"))
        dead_by = conn.execute(text("SELECT job, error FROM dead_letters LIMIT 3")).all()
    engine.dispose()

    # 9. report -----------------------------------------------------------------------------------------
    lat = sorted(latencies)
    non200 = {k: v for k, v in statuses.items() if k != 200}
    duplicates = stored - n_distinct
    lost = len(lost_keys)
    server_ms = 1000 * server_cpu / len(reqs)
    bare_ms = 1000 * bare_total
    db_label = make_url(db_url).render_as_string(hide_password=True)
    print()
    print("== config")
    print(f"gunicorn: {args.workers} workers, class {args.worker_class}"
          + (f" x {args.threads} threads" if args.worker_class == "gthread" else "")
          + f"; client threads {args.concurrency}; rq workers {args.rq_workers}"
          + f" ({args.rq_worker_class or 'rq default Worker'}, --with-scheduler)")
    print(f"DB: {db_label}; Redis {redis_url}; fake WeCom rate limit {args.fake_rate_limit}/min; cores {os.cpu_count()}")
    print("mix: " + ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
    print("== posting")
    print(f"posted {len(reqs)} in {elapsed:.2f} s: {len(reqs) / elapsed:.0f} callbacks/s")
    print(f"latency ms: p50 {1000 * percentile(lat, 0.50):.1f}  p90 {1000 * percentile(lat, 0.90):.1f}  "
          f"p99 {1000 * percentile(lat, 0.99):.1f}  max {1000 * lat[-1]:.1f}")
    print(f"answers: {dict(statuses)}" + (f"  NOT 200: {non200}" if non200 else ""))
    print(f"server CPU (gunicorn master+workers): {server_cpu:.2f} s = {server_ms:.3f} ms/callback "
          f"({100 * server_cpu / elapsed / (os.cpu_count() or 1):.0f}% of the machine)")
    print(f"also during posting: redis-server {1000 * redis_cpu / len(reqs):.3f} ms/callback"
          + (f", mariadbd {1000 * db_cpu / len(reqs):.3f} ms/callback" if db_cpu is not None else "")
          + f", bench client {1000 * client_cpu / len(reqs):.3f} ms/callback")
    print(f"bare decrypt: {1000 * bare_decrypt:.3f} ms/callback; decrypt+parse: {bare_ms:.3f} ms/callback")
    print(f"server CPU / bare decrypt+parse: {server_ms / bare_ms:.1f}x")
    print("== inbox")
    print(f"distinct expected {n_distinct}; stored {stored}; duplicates {duplicates}; lost {lost}"
          + (f"; unexpected keys {len(extra_keys)}" if extra_keys else ""))
    print(f"inbox by status: {by_status}")
    print(f"processed {by_status.get('processed', 0)} + unhandled {by_status.get('unhandled', 0)} + failed "
          f"{by_status.get('failed', 0)} (received {by_status.get('received', 0)})")
    print(f"outbox by status: {outbox}; dead letters {dead}")
    for job, error in dead_by:
        print(f"  dead letter: {job}: {error[:200]}")
    if proc_elapsed is not None:
        done_events = n_distinct - by_status.get("received", 0)
        print("== processing")
        print(f"rq workers: {args.rq_workers} x {args.rq_worker_class or 'rq default Worker'}")
        if inbox_elapsed is not None:
            print(f"inbox drained (every row processed/unhandled/failed): {n_distinct} events in "
                  f"{inbox_elapsed:.1f} s = {n_distinct / inbox_elapsed:.0f} events/s")
        else:
            print(f"inbox NOT drained: {done_events} of {n_distinct} events in {proc_elapsed:.1f} s = "
                  f"{done_events / proc_elapsed:.1f} events/s")
        print("inbox and outbox drained: " + (f"NO, gave up after {proc_elapsed:.0f} s; pending outbox by job "
                                                f"{pending_jobs}" if timed_out else
                                                f"{proc_elapsed:.1f} s = {n_distinct / proc_elapsed:.0f} events/s"))
        if timed_out and last_progress is not None:
            print(f"last progress (a row left received/pending) at {last_progress:.1f} s")
        print(f"rq CPU (workers + their work horses): {1000 * rq_cpu / max(done_events, 1):.2f} ms/event")
    if args.py_spy and args.py_spy.exists():
        print("== py-spy (gunicorn workers, posting phase)")
        print(summarize_raw_profile(args.py_spy))
    print("== targets")
    print(f"  >= 1500 callbacks/s: {len(reqs) / elapsed:.0f} -> {'met' if len(reqs) / elapsed >= 1500 else 'NOT met'}")
    p99 = 1000 * percentile(lat, 0.99)
    print(f"  p99 < 50 ms: {p99:.1f} -> {'met' if p99 < 50 else 'NOT met'}")
    print(f"  zero lost/doubled: lost {lost}, doubled {duplicates} -> "
          f"{'met' if not lost and not duplicates else 'NOT met'}")
    ratio = server_ms / bare_ms
    print(f"  server CPU < 4x bare: {ratio:.1f}x -> {'met' if ratio < 4 else 'NOT met'}")

    ok = not non200 and not lost and not duplicates and not extra_keys and not timed_out
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
