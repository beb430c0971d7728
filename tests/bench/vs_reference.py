"""`bench_ingress.py --vs-reference`: the service's ingress against the reference endpoint, same load, same run.

The reference (`../shared/bench/ingress_ref`, or `--reference-dir`: decrypt, defusedxml, Redis SET NX, one
SQLite insert, RPUSH) runs under `gunicorn -w 2 proto:app` with its own redis-server and SQLite file in the
temp dir; the service runs under gunicorn with the same worker count, its own redis-server and database
(SQLite, `--database-url` or `--mariadb`). Each is loaded with `wrk -t1 -c16 -d10s -s post.lua --latency`
alternately, reference first, `--rounds` times (2 by default). Every run posts bodies of its own (fresh
add_external_contact callbacks for the official test app, built like the reference's gen.py), so no run
measures the other runs' retries.

Printed per run: req/s and p99 (wrk's), CPU ms per request (gunicorn master + workers and its redis-server,
from /proc: steadier than req/s on a shared machine), then the mean ratio service ÷ reference and the service's worst
p99 against the reference's worst, with the targets of issue 18 (ratio >= 0.85, p99 <= 1.5x). Checked for
the service: every answer 2xx, no inbox row stored twice (rows = distinct dedup keys), none lost (every
body of a run that wrk saw answered, i.e. all but the <= --connections still in flight when wrk stopped,
is in the inbox) and none unknown. Exits 1 when a check fails (the targets only print).
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from harness import Stack, cpu_delta, free_port, http_get_ok, proc_cpu, say, tree_cpu, wait_until

from sqlalchemy import func, select

from wecom import events

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_DIR = next((up / "shared" / "bench" / "ingress_ref" for up in (ROOT.parent, ROOT.parent.parent)
                      if (up / "shared" / "bench" / "ingress_ref").is_dir()), ROOT.parent / "shared" / "bench" / "ingress_ref")
"""../shared/bench/ingress_ref from the main checkout (or ../../ from a worktree under /work/wt)."""
TOKEN, AES_KEY, CORP_ID = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7"
TARGET_RATIO, TARGET_P99 = 0.85, 1.5


@dataclass
class WrkRun:
    who: str
    rps: float
    p99_ms: float
    requests: int
    bad: int  # non-2xx answers + socket errors
    cpu_ms: float = 0.0  # CPU of the gunicorn master + workers and their redis-server, per request


def add_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--vs-reference", action="store_true",
                    help="wrk the reference endpoint and the service alternately; print req/s, ratio, p99s")
    ap.add_argument("--reference-dir", type=Path, default=REFERENCE_DIR)
    ap.add_argument("--rounds", type=int, default=2, help="--vs-reference: runs of each, alternating")
    ap.add_argument("--duration", default="10s", help="--vs-reference: wrk -d")
    ap.add_argument("--connections", type=int, default=16, help="--vs-reference: wrk -c")
    ap.add_argument("--bodies", type=int, default=20000, help="--vs-reference: callbacks built per run")


def _wxcrypt(ref: Path):  # the reference's own encryptor, so both sides get the very bodies gen.py makes
    sys.path.insert(0, str(ref))
    try:
        import wxcrypt
    finally:
        sys.path.remove(str(ref))
    return wxcrypt


def write_bodies(ref: Path, rundir: Path, offset: int, n: int, path_prefix: str) -> list[str]:
    """`n` callbacks as gen.py writes them (ExternalUserIDs from `offset` on) into rundir/bodies.txt,
    next to a copy of post.lua; their plaintexts, in file order."""
    wxcrypt = _wxcrypt(ref)
    rundir.mkdir(parents=True)
    shutil.copy(ref / "post.lua", rundir / "post.lua")
    ts = str(int(time.time()))
    plaintexts = []
    with open(rundir / "bodies.txt", "w") as fh:
        for i in range(offset, offset + n):
            xml = (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
                   f"<CreateTime>{ts}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
                   "<Event><![CDATA[change_external_contact]]></Event>"
                   "<ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID>"
                   f"<ExternalUserID><![CDATA[wm{i:020d}]]></ExternalUserID><State><![CDATA[c-1]]></State>"
                   f"<WelcomeCode><![CDATA[WC{i}]]></WelcomeCode></xml>")
            q, body = wxcrypt.callback(TOKEN, AES_KEY, CORP_ID, xml, timestamp=ts)
            fh.write(f"{path_prefix}?{urlencode(q)}\t{body}\n")
            plaintexts.append(xml)
    return plaintexts


def wrk(args: argparse.Namespace, who: str, port: int, rundir: Path) -> WrkRun:
    out = subprocess.run(["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}", "-s", "post.lua", "--latency",
                          f"http://127.0.0.1:{port}"], cwd=rundir, capture_output=True, text=True, timeout=300).stdout
    (rundir / "wrk.txt").write_text(out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]  # type: ignore[union-attr]
    bad = sum(int(m) for m in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", out))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    bad += sum(int(g) for g in errors.groups()) if errors else 0
    return WrkRun(who, rps, p99_ms, requests, bad)


def start_reference(args: argparse.Namespace, st: Stack) -> int:
    """The reference under gunicorn -w N in its own dir, on a redis-server of its own (proto.py's
    `redis.Redis()` pointed at that port: the one line changed in the copy)."""
    ref = st.tmp / "reference"
    ref.mkdir()
    proto = (args.reference_dir / "proto.py").read_text()
    redis_port = free_port()
    st.procs.start("ref-redis", ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", str(ref)])
    (ref / "proto.py").write_text(proto.replace("redis.Redis()", f"redis.Redis(port={redis_port})"))
    port = free_port()
    st.procs.start("ref-gunicorn", [sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-b",
                                    f"127.0.0.1:{port}", "proto:app"], cwd=ref)

    def up() -> bool:
        import socket

        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True

    wait_until(up, 60, "reference gunicorn", st.procs, "ref-gunicorn")
    return port


def run(args: argparse.Namespace, st: Stack) -> int:
    from models import Inbox
    from models.db import make_engine

    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    db_url = st.start_database()
    st.start_redis()
    st.make_env()
    st.env.update({"WECOM_CORP_ID": CORP_ID, "WECOM_TOKEN": TOKEN, "WECOM_AES_KEY": AES_KEY,
                   "WECOM_API_BASE": "http://127.0.0.1:9/cgi-bin/"})  # no WeCom call happens on ingress
    st.flask("db", "upgrade")
    st.start_gunicorn(args.workers, args.worker_class, args.threads)
    wait_until(lambda: http_get_ok(st.web_port, "/healthz"), 30, "service /healthz")
    ref_port = start_reference(args, st)
    say(f"reference on :{ref_port}, service on :{st.web_port} ({db_url.split(':')[0]}); logs in {st.tmp}")

    runs: list[WrkRun] = []
    service_runs: list[tuple[WrkRun, list[str]]] = []
    for k in range(args.rounds):
        for who, port, prefix in (("reference", ref_port, "/cb"), ("service", st.web_port, "/wecom/callback/default")):
            rundir = st.tmp / f"{who}-{k}"
            plaintexts = write_bodies(args.reference_dir, rundir, (2 * k + (who == "service")) * args.bodies,
                                      args.bodies, prefix)
            say(f"wrk {who} run {k + 1}")
            spy = None
            if args.py_spy and who == "service":  # --py-spy FILE: the service's workers, every service run
                spy = st.procs.start("py-spy", ["py-spy", "record", "--pid", str(st.gunicorn_pid), "--subprocesses",
                                                "--rate", "250", "--format", "raw", "--nonblocking",
                                                "-o", str(args.py_spy.resolve().with_suffix(f".{k}.txt"))])
                time.sleep(2.0)
            server = st.procs.pid_of("gunicorn" if who == "service" else "ref-gunicorn")
            redis_pid = st.procs.pid_of("redis" if who == "service" else "ref-redis")
            assert server is not None
            cpu_before, redis_before = tree_cpu(server), proc_cpu(redis_pid)
            result = wrk(args, who, port, rundir)
            result.cpu_ms = 1000 * (cpu_delta(cpu_before, tree_cpu(server)) + proc_cpu(redis_pid) - redis_before) \
                / max(result.requests, 1)
            if spy is not None:
                st.procs.stop(spy, signal.SIGINT, wait=30)
            runs.append(result)
            if who == "service":
                service_runs.append((result, plaintexts))
            print(f"{who:9} run {k + 1}: {result.rps:8.0f} req/s  p99 {result.p99_ms:6.1f} ms  "
                  f"CPU {result.cpu_ms:.2f} ms/request ({result.requests} requests, {result.bad} not 2xx)", flush=True)

    engine = make_engine(db_url)
    with engine.connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(Inbox)) or 0
        stored_keys = set(conn.scalars(select(Inbox.dedup_key)))
    engine.dispose()
    lost = doubled = unknown = 0
    known: set[str] = set()
    for result, plaintexts in service_runs:
        keys = [events.dedup_key(events.parse(p), p) for p in plaintexts]
        # wrk takes one request from post.lua before it connects (and never sends it): line 0; then
        # lines 1.. in order, of which all but the <= connections in flight when it stopped were answered.
        answered = min(result.requests - args.connections, len(keys) - 1)
        missing = [i for i in range(1, answered + 1) if keys[i] not in stored_keys]
        if missing:
            print(f"lost in a run of {result.requests} requests: body lines {missing[:20]}")
        lost += len(missing)
        known.update(keys[:result.requests + args.connections + 1])
    doubled = stored - len(stored_keys)
    unknown = len(stored_keys - known)

    ref = [r for r in runs if r.who == "reference"]
    svc = [r for r in runs if r.who == "service"]
    ref_rps, svc_rps = sum(r.rps for r in ref) / len(ref), sum(r.rps for r in svc) / len(svc)
    ref_p99, svc_p99 = max(r.p99_ms for r in ref), max(r.p99_ms for r in svc)
    ratio, tail = svc_rps / ref_rps, svc_p99 / ref_p99
    bad = sum(r.bad for r in runs)
    print()
    print(f"== vs reference: gunicorn -w {args.workers} each, wrk -t1 -c{args.connections} -d{args.duration}, "
          f"service DB {db_url.split(':')[0]}")
    ref_cpu, svc_cpu = (sum(r.cpu_ms for r in rs) / len(rs) for rs in (ref, svc))
    print(f"reference mean {ref_rps:.0f} req/s, worst p99 {ref_p99:.1f} ms, CPU {ref_cpu:.2f} ms/request")
    print(f"service   mean {svc_rps:.0f} req/s, worst p99 {svc_p99:.1f} ms, CPU {svc_cpu:.2f} ms/request")
    print(f"CPU ratio reference / service {ref_cpu / svc_cpu:.2f} (what req/s would be on a machine the two "
          "have to themselves, where both are CPU-bound)")
    print(f"ratio {ratio:.2f} (target >= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'NOT met'}); "
          f"p99 {tail:.2f}x the reference's (target <= {TARGET_P99}x: {'met' if tail <= TARGET_P99 else 'NOT met'})")
    print(f"service inbox: {stored} rows; doubled {doubled}; lost {lost}; unknown {unknown}; answers not 2xx {bad}")
    if args.py_spy:
        from bench_ingress import summarize_raw_profile

        for k in range(args.rounds):
            print(f"== py-spy, service run {k + 1}")
            print(summarize_raw_profile(args.py_spy.resolve().with_suffix(f".{k}.txt"), top=40))
    return 0 if not (lost or doubled or unknown or bad) else 1
