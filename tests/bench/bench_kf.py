"""Customer-service benchmark: customers write to 10 kf accounts at a steady rate; each message brings a
kf_msg_or_event callback; the service syncs, matches the knowledge base and answers with kf/send_msg.

    python tests/bench/bench_kf.py [--rate 10000] [--seconds 60] [--accounts 10] [--rq-workers 2]
                                   [--database-url URL | --mariadb] [--workers 2]
                                   [--clients 32]

Parts (tests/bench/harness.py): Redis, the fake WeCom, gunicorn, `rq worker` processes (jobs.worker.Worker, a SimpleWorker).
Setup goes through the admin API: --accounts kf accounts (kf/account/add) and one knowledge-base item.
Then, paced at --rate messages per minute for --seconds, a client thread per slot does what a customer and
WeCom do: the customer writes (POST /fake/kf/messages, one message, a new customer each time so WeCom's
five-replies-per-message limit never bites) and WeCom posts the encrypted callback with the Token. The
latency of a message is from that callback's POST to the fake's record of the kf/send_msg that answers it
(both clocks are this machine's time.time()). Printed: messages sent, answered, callback HTTP p50/p99, and
callback → answer p50/p99/max; exit 1 if any message is unanswered after the drain, or stored twice.

The fake's per-API limit is lifted by default (WeCom's own is 10000/min per corp and API: with one
sync_msg per callback that is the ceiling of this very load). Not a pytest test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    CORP_ID, Poster, Stack, add_stack_args, bench_crypto, cpu_by_role, cpu_report, encrypt, http_json, percentile,
    post_all, run_main, say, seed_corp, wait_until,
)

QUESTION, ANSWER = "请问怎么退货", "订单页点“申请售后”即可办理退货。"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=int, default=10000, help="messages per minute (default 10000)")
    ap.add_argument("--seconds", type=float, default=60.0, help="how long to send (default 60)")
    ap.add_argument("--accounts", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    ap.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--clients", type=int, default=32, help="client threads (customers + WeCom)")
    ap.add_argument("--drain-timeout", type=float, default=300.0)
    ap.add_argument("--fake-rate-limit", type=int, default=10**9)
    add_stack_args(ap)
    return ap.parse_args(argv)


def setup(st: Stack, token: str, accounts: int) -> list[str]:
    """Accounts and the knowledge base through the API; the open_kfids once WeCom (the fake) made them."""
    for k in range(accounts):
        status, body = http_json(st.web_port, "POST", "/api/v1/kf/accounts",
                                 {"name": f"客服{k}", "media_id": f"MEDIA{k}"}, token)
        if status != 202:
            raise RuntimeError(f"kf account {k}: HTTP {status} {body}")
    status, body = http_json(st.web_port, "POST", "/api/v1/kf/knowledge",
                             {"question": "怎么退货", "similar": ["如何退货"], "answer": ANSWER}, token)
    if status != 201:
        raise RuntimeError(f"knowledge item: HTTP {status} {body}")

    def made() -> list[str] | None:
        items = http_json(st.web_port, "GET", "/api/v1/kf/accounts", token=token)[1]["items"]
        kfids = [a["open_kfid"] for a in items if a["open_kfid"]]
        return kfids if len(kfids) == accounts else None

    return wait_until(made, 120, "the kf accounts to reach the fake", st.procs, "rq-0")


def answers(st: Stack) -> dict[str, float]:
    """Customer → time the fake received the kf/send_msg answering them."""
    calls = http_json(st.fake_port, "GET", "/fake/calls?path=kf/send_msg", timeout=60)[1]["calls"]
    return {c["body"]["touser"]: c["at"] for c in calls if c["errcode"] == 0}


def where_the_time_went(conn: Any, posted_at: list[float], answered: dict[str, float]) -> dict[str, list[float]]:
    """Stages of a message's trip, from the rows' own timestamps (UTC, this machine's clock; SQLite keeps
    microseconds, MySQL's DATETIME whole seconds, so the caller asks on SQLite only): callback
    posted → its inbox row processed (process_batch), callback posted → the message stored by a sync pass,
    stored → answer received by the fake, and a sync pass planned → done (its wait on the queue included)."""
    from sqlalchemy import select

    from models import Inbox, Message, Outbox

    def seconds(at: Any) -> float:
        return at.replace(tzinfo=dt.UTC).timestamp() if at.tzinfo is None else at.timestamp()

    stored_at = {who: seconds(at) for who, at in conn.execute(
        select(Message.external_userid, Message.created_at).where(Message.origin == "customer"))}
    posted = {f"wmBench{i:08d}": at for i, at in enumerate(posted_at)}
    inbox = [seconds(done) - seconds(got) for got, done in conn.execute(
        select(Inbox.received_at, Inbox.processed_at).where(Inbox.processed_at.is_not(None)))]
    syncs = [seconds(done) - seconds(made) for made, done in conn.execute(
        select(Outbox.created_at, Outbox.done_at).where(Outbox.job == "kf_sync", Outbox.done_at.is_not(None)))]
    return {
        "callback stored → processed (process_batch)": sorted(inbox),
        "callback posted → message stored (sync pass)": sorted(stored_at[w] - posted[w] for w in stored_at if w in posted),
        "message stored → answer at the fake": sorted(answered[w] - stored_at[w] for w in stored_at if w in answered),
        f"sync pass planned → done ({len(syncs)} passes)": sorted(syncs),
    }


def run(args: argparse.Namespace, st: Stack) -> int:
    from sqlalchemy import func, select

    from models import Message
    from models.db import make_engine
    from wecom.fake.sender import render_sample

    rng = random.Random(args.seed)
    st.start_database()
    st.start_redis()
    st.start_fake(seed_corp(1), args.fake_rate_limit)
    st.make_env()
    st.flask("db", "upgrade")
    token = st.flask("token", "create", "--role", "admin", "--name", "bench").strip().splitlines()[-1]
    st.start_gunicorn(args.workers, args.worker_class, args.threads)
    workers = st.start_rq_workers(args.rq_workers)
    kfids = setup(st, token, args.accounts)
    http_json(st.fake_port, "DELETE", "/fake/calls")
    say(f"parts up: {len(kfids)} accounts (logs in {st.tmp})")

    n = int(args.rate * args.seconds / 60)
    crypto = bench_crypto()
    posted_at = [0.0] * n
    start = time.perf_counter() + 0.5
    lock, seq = threading.Lock(), itertools.count()

    def pace(i: int) -> None:
        delay = start + i * 60.0 / args.rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)

    def send(poster: Poster, i: int) -> object:
        open_kfid = kfids[i % len(kfids)]
        status, written = http_json(st.fake_port, "POST", "/fake/kf/messages", {
            "corpid": CORP_ID, "open_kfid": open_kfid,
            "messages": [{"external_userid": f"wmBench{i:08d}", "text": QUESTION}]})
        if status != 200:
            return f"fake {status}"
        with lock:
            nonce = next(seq)
        plaintext = render_sample("kf_msg_or_event", corp_id=CORP_ID, Token=written["token"], OpenKfId=open_kfid,
                                  CreateTime=int(time.time()) + nonce % 7)
        req = encrypt(crypto, plaintext, rng)
        posted_at[i] = time.time()
        return poster.post(req)

    cpu_before, started = cpu_by_role(st.procs), time.monotonic()
    latencies, statuses, wall = post_all(st.web_port, [("", b"")] * n, args.clients, send=send, pace=pace)
    say(f"sent {n} messages in {wall:.1f} s ({n / wall * 60:.0f}/min); answers: {dict(statuses)}")

    def unanswered() -> dict[str, int]:
        return {"unanswered": n - len(answers(st))}

    drained = wait_until(lambda: not unanswered()["unanswered"] or None, args.drain_timeout,
                         "every message to be answered", st.procs, "rq-0") if statuses.get(200) == n else None
    st.check_alive(workers)
    cpu_after, elapsed = cpu_by_role(st.procs), time.monotonic() - started
    answered = answers(st)
    e2e = sorted(answered[f"wmBench{i:08d}"] - posted_at[i] for i in range(n) if f"wmBench{i:08d}" in answered)
    http_ms = sorted(x * 1000 for x in latencies)
    engine = make_engine(st.db_url)
    with engine.connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(Message).where(Message.origin == "customer"))
        distinct = conn.scalar(select(func.count(func.distinct(Message.msgid))).where(Message.origin == "customer"))
        # MySQL DATETIME columns keep whole seconds: the stages mean something on SQLite only.
        stages = where_the_time_went(conn, posted_at, answered) if conn.dialect.name == "sqlite" else {}
    engine.dispose()
    say(f"callback HTTP p50 {percentile(http_ms, 0.5):.1f} ms, p99 {percentile(http_ms, 0.99):.1f} ms")
    say(f"callback → bot answer ({len(e2e)}/{n}): p50 {percentile(e2e, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(e2e, 0.99) * 1000:.0f} ms, max {e2e[-1] * 1000 if e2e else float('nan'):.0f} ms")
    say(f"customer messages stored {stored} (distinct msgids {distinct})")
    if stages:
        say("where the time went (p50 / p99):\n" + "\n".join(
            f"  {name:<45} {percentile(v, 0.5) * 1000:6.0f} / {percentile(v, 0.99) * 1000:6.0f} ms"
            for name, v in stages.items() if v))
    say(f"CPU from the first message to the last answer ({elapsed:.1f} s):\n"
        + cpu_report(cpu_before, cpu_after, elapsed, n, "message"))
    ok = drained is not None and len(e2e) == n and stored == distinct == n
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    return run_main(parse_args(argv), run)


if __name__ == "__main__":
    raise SystemExit(main())
