"""Ingress benchmark: encrypted WeCom callbacks through gunicorn + Redis into the inbox, then rq workers.

    python tests/bench/bench_ingress.py [--n 20000] [--database-url URL | --mariadb] [--workers 2]
                                        [--worker-class sync|gthread] [--threads 4] [--concurrency 16]
    python tests/bench/bench_ingress.py --vs-reference [--mariadb] [--rounds 2]   (tests/bench/vs_reference.py)

Everything runs on loopback and is started (and ended again, also on Ctrl-C) by tests/bench/harness.py:
a Redis server, the fake WeCom (`python -m wecom.fake`, seeded with every customer the callbacks name),
the service under gunicorn, and afterwards `rq worker` processes. The database is a SQLite file in a temp
dir unless `--database-url` names one (a MySQL/MariaDB database given there is dropped and created
afresh, and dropped again at the end) or `--mariadb` starts a private mariadbd in the temp dir.

Phases and what is measured:
  1. build    N encrypted callbacks are built before any timing: mostly add_external_contact with
              distinct ExternalUserIDs plus the other kinds WeCom sends; 5% of the N are exact re-sends
              (same query string, same body) of earlier ones, shuffled in shortly after their original.
  2. bare     in this process, CallbackCrypto.decrypt + wecom.events.parse over the same N bodies
              (CPU seconds, time.process_time): the floor the server cannot go below.
  3. post     --concurrency client threads post all N (keep-alive where the server allows it);
              per-request latency, and the CPU (utime+stime from /proc) of the gunicorn master and
              its workers before/after, so server CPU per callback can be set against the bare cost.
  4. process  `rq worker` processes are started on every queue of jobs.QUEUES and timed until no inbox
              row is `received` and no outbox row is `pending` (progress is printed every 5 s).
Then the inbox is checked against the expected dedup keys: nothing lost, nothing stored twice.
Exits 1 if any answer was not 200, if a callback was lost or doubled, or if processing timed out;
2 if a part could not be started (the message says which, with its log).

This is not a pytest test (tests/bench is outside pytest's collection).
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import shlex
import signal
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    AGENT_ID, CORP_ID, Request, Stack, add_stack_args, bench_crypto, cpu_delta, drain, encrypt, percentile,
    post_all, proc_cpu, run_main, say, seed_corp, seed_customer, staff_id, tree_cpu,
)
import vs_reference  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from wecom import events  # noqa: E402
from wecom.crypto import CallbackCrypto  # noqa: E402
from wecom.fake.sender import render_sample  # noqa: E402

STAFF = 200  # members; UserIDs spread over them so no member hits the fake's 30 messages/min limit

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
        staff = staff_id(rng.randrange(STAFF))
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
                   crypto: CallbackCrypto) -> list[Request]:
    """The POSTs in posting order, re-sends (the very same request again) shuffled in."""
    now = str(int(time.time()))
    built = [encrypt(crypto, plaintext, rng, now) for plaintext in plaintexts]
    # Retries come after their original, sometimes while it is still in flight, sometimes later.
    order = [(float(i), req) for i, req in enumerate(built)]
    for k in rng.sample(range(len(built)), n_resend):
        order.append((k + rng.uniform(0.5, 300.0), built[k]))
    order.sort(key=lambda item: item[0])
    return [req for _, req in order]


def bare_cost(reqs: list[Request], crypto: CallbackCrypto) -> tuple[float, float]:
    """CPU seconds per callback of decrypt alone and of decrypt + parse, over the same bodies."""
    work = [(body, {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}) for path, body in reqs]
    t0 = time.process_time()
    for body, p in work:
        crypto.decrypt(body, p["msg_signature"], p["timestamp"], p["nonce"])
    t1 = time.process_time()
    for body, p in work:
        events.parse(crypto.decrypt(body, p["msg_signature"], p["timestamp"], p["nonce"]))
    t2 = time.process_time()
    return (t1 - t0) / len(reqs), (t2 - t1) / len(reqs)


def statement_census(db_url: str) -> dict[str, float]:
    """After the run, in this process: fresh callbacks of each kind of the mix stored and processed as one
    chunk each, their statements counted (the workers are gone; nothing is delivered)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from statements import census

    from models import App
    from models.db import make_engine, make_session_factory

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            app_pk = conn.scalar(select(App.id).order_by(App.id))
        census(make_session_factory(engine, writer=True), app_pk, CORP_ID, tag="warm",
               users=tuple(staff_id(k) for k in range(5)))  # a first pass: what only a first chunk reads is not counted
        return census(make_session_factory(engine, writer=True), app_pk, CORP_ID, tag="bench",
                      users=tuple(staff_id(k) for k in range(5)))
    finally:
        engine.dispose()


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


# -- main --------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20000, help="callbacks posted, re-sends included")
    ap.add_argument("--resend", type=float, default=0.05, help="share of the N that are exact re-sends")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    ap.add_argument("--worker-class", choices=("sync", "gthread"), default="sync")
    ap.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    ap.add_argument("--gunicorn-args", default="", help="more gunicorn options, e.g. \"-c prof.conf.py\"")
    ap.add_argument("--concurrency", type=int, default=16, help="client threads")
    ap.add_argument("--no-process", action="store_true", help="skip the rq processing phase")
    ap.add_argument("--process-timeout", type=float, default=900.0, help="seconds the processing phase may take")
    ap.add_argument("--fake-rate-limit", type=int, default=10**9,
                    help="fake WeCom calls/min per API (WeCom's real limit is 10000; the default lifts it so "
                         "the processing phase measures the service, not the throttle)")
    ap.add_argument("--py-spy", type=Path, metavar="FILE.txt",
                    help="py-spy record the gunicorn workers during posting (raw collapsed stacks); "
                         "sampling costs CPU, so the timings of such a run are not clean")
    vs_reference.add_args(ap)
    add_stack_args(ap)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_main(args, vs_reference.run if args.vs_reference else run)


def run(args: argparse.Namespace, st: Stack) -> int:
    from models import Inbox, Outbox
    from models.db import make_engine

    rng = random.Random(args.seed)
    # 1. the callbacks, built before anything is timed -----------------------------------------------
    n_resend = int(round(args.n * args.resend))
    n_distinct = args.n - n_resend
    crypto = bench_crypto()
    t0 = time.perf_counter()
    plaintexts, customers = build_plaintexts(n_distinct, rng)
    expected_keys = [events.dedup_key(events.parse(p), p) for p in plaintexts]
    if len(set(expected_keys)) != n_distinct:
        raise RuntimeError("the generator made two callbacks with one dedup key")
    reqs = build_requests(plaintexts, n_resend, rng, crypto)
    kinds = collections.Counter(events.parse(p).routing_key for p in plaintexts)
    say(f"built {len(reqs)} callbacks ({n_distinct} distinct + {n_resend} re-sends) in "
        f"{time.perf_counter() - t0:.1f} s")

    # 2. the parts ------------------------------------------------------------------------------------
    db_url = st.start_database()
    st.start_redis()
    seed = seed_corp(STAFF)
    seed["external_contacts"] = [seed_customer(ext, staff_id(rng.randrange(STAFF))) for ext in sorted(set(customers))]
    st.start_fake(seed, args.fake_rate_limit)
    st.make_env()
    st.flask("db", "upgrade")
    st.start_gunicorn(args.workers, args.worker_class, args.threads, shlex.split(args.gunicorn_args))
    say(f"DB, Redis, fake WeCom and gunicorn up (logs in {st.tmp})")
    engine = make_engine(db_url)

    # 3. bare decrypt + parse -------------------------------------------------------------------------
    bare_decrypt, bare_total = bare_cost(reqs, crypto)

    # 4. posting --------------------------------------------------------------------------------------
    spy = None
    if args.py_spy:
        spy = st.procs.start("py-spy", ["py-spy", "record", "--pid", str(st.gunicorn_pid), "--subprocesses",
                                        "--rate", "250", "--format", "raw", "--nonblocking",
                                        "-o", str(args.py_spy.resolve())])
        time.sleep(2.0)
    assert st.gunicorn_pid is not None
    cpu_before = tree_cpu(st.gunicorn_pid)
    redis_before = proc_cpu(st.redis_pid)
    db_pid = st.procs.pid_of("mariadbd")
    db_before = proc_cpu(db_pid)
    client_before = time.process_time()
    say(f"posting {len(reqs)} callbacks from {args.concurrency} threads")
    latencies, statuses, elapsed = post_all(st.web_port, reqs, args.concurrency)
    client_cpu = time.process_time() - client_before
    server_cpu = cpu_delta(cpu_before, tree_cpu(st.gunicorn_pid))
    redis_cpu = proc_cpu(st.redis_pid) - redis_before
    db_cpu = (proc_cpu(db_pid) - db_before) if db_pid else None
    if spy is not None:
        st.procs.stop(spy, signal.SIGINT, wait=30)
    say(f"posted in {elapsed:.1f} s")

    with engine.connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(Inbox))
        stored_keys = set(conn.scalars(select(Inbox.dedup_key)))
    lost_keys = set(expected_keys) - stored_keys
    extra_keys = stored_keys - set(expected_keys)

    # 5. processing -----------------------------------------------------------------------------------
    proc_elapsed = inbox_elapsed = None
    drained = True
    rq_cpu = 0.0
    others_cpu = (0.0, 0.0, 0.0)
    pending_jobs: dict[str, int] = {}
    if not args.no_process:
        workers = st.start_rq_workers(args.rq_workers)
        rq_cpu_before = {w.pid: proc_cpu(w.pid, children=True) for w in workers}
        fake_pid = st.procs.pid_of("fake")
        others_before = (tree_cpu(fake_pid) if fake_pid else {}, proc_cpu(st.redis_pid), proc_cpu(db_pid))
        t_start = time.perf_counter()

        def remaining() -> dict[str, int]:
            nonlocal inbox_elapsed
            with engine.connect() as conn:
                received = conn.scalar(select(func.count()).select_from(Inbox).where(Inbox.status == "received"))
                pending = conn.scalar(select(func.count()).select_from(Outbox).where(Outbox.status == "pending"))
            if not received and inbox_elapsed is None:
                inbox_elapsed = time.perf_counter() - t_start
            return {"inbox received": received, "outbox pending": pending}

        proc_elapsed, drained = drain(st, workers, args.process_timeout, remaining)
        rq_cpu = sum(proc_cpu(w.pid, children=True) - rq_cpu_before[w.pid] for w in workers)
        others_cpu = (cpu_delta(others_before[0], tree_cpu(fake_pid)) if fake_pid else 0.0,
                      proc_cpu(st.redis_pid) - others_before[1], proc_cpu(db_pid) - others_before[2])
        for w in workers:
            st.procs.stop(w)
        with engine.connect() as conn:
            pending_jobs = dict(conn.execute(select(Outbox.job, func.count()).where(Outbox.status == "pending")
                                             .group_by(Outbox.job)).all())

    with engine.connect() as conn:
        by_status = dict(conn.execute(select(Inbox.status, func.count()).group_by(Inbox.status)).all())
        outbox = dict(conn.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).all())
        dead = conn.scalar(text("SELECT COUNT(*) FROM dead_letters"))
        dead_by = conn.execute(text("SELECT job, error FROM dead_letters LIMIT 3")).all()
    engine.dispose()

    # 6. report ---------------------------------------------------------------------------------------
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
          + f"; client threads {args.concurrency}; rq workers {args.rq_workers} x {args.rq_worker_class}")
    print(f"DB: {db_label}; Redis {st.redis_url}; fake WeCom rate limit {args.fake_rate_limit}/min; "
          f"cores {os.cpu_count()}")
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
    print(f"outbox by status: {outbox}; dead letters {dead}")
    for job, error in dead_by:
        print(f"  dead letter: {job}: {error[:200]}")
    if proc_elapsed is not None:
        done_events = n_distinct - by_status.get("received", 0)
        print("== processing")
        if inbox_elapsed is not None:
            print(f"inbox drained (every row processed/unhandled/failed): {n_distinct} events in "
                  f"{inbox_elapsed:.1f} s = {n_distinct / inbox_elapsed:.0f} events/s")
        else:
            print(f"inbox NOT drained: {done_events} of {n_distinct} events in {proc_elapsed:.1f} s")
        print("inbox and outbox drained: " + (f"{proc_elapsed:.1f} s = {n_distinct / proc_elapsed:.0f} events/s"
                                                if drained else f"NO, gave up after {proc_elapsed:.0f} s; "
                                                f"pending outbox by job {pending_jobs}"))
        per_event = 1000 / max(done_events, 1)
        print(f"rq CPU (workers + their work horses): {per_event * rq_cpu:.2f} ms/event")
        print(f"also while processing: fake WeCom {per_event * others_cpu[0]:.2f} ms/event, redis-server "
              f"{per_event * others_cpu[1]:.2f} ms/event" + (f", mariadbd {per_event * others_cpu[2]:.2f} ms/event"
                                                             if db_pid else ""))
    if proc_elapsed is not None:
        print("== statements per event in a process_inbox chunk of 20, by kind (tests/statements.py census)")
        for kind, per_event in statement_census(db_url).items():
            print(f"  {per_event:6.2f}  {kind}")
    if args.py_spy and args.py_spy.exists():
        print("== py-spy (gunicorn workers, posting phase)")
        print(summarize_raw_profile(args.py_spy))
    rate, p99, ratio = len(reqs) / elapsed, 1000 * percentile(lat, 0.99), server_ms / bare_ms
    print("== targets")
    print(f"  >= 1500 callbacks/s: {rate:.0f} -> {'met' if rate >= 1500 else 'NOT met'}")
    print(f"  p99 < 50 ms: {p99:.1f} -> {'met' if p99 < 50 else 'NOT met'}")
    print(f"  zero lost/doubled: lost {lost}, doubled {duplicates} -> "
          f"{'met' if not lost and not duplicates else 'NOT met'}")
    print(f"  server CPU < 4x bare: {ratio:.1f}x -> {'met' if ratio < 4 else 'NOT met'}")
    return 0 if not non200 and not lost and not duplicates and not extra_keys and drained else 1


if __name__ == "__main__":
    sys.exit(main())
