"""Mass-message fan-out bench (群发, issue 16): one message to 100,000 customers sent through
externalcontact/add_msg_template on the fake WeCom over HTTP.

    python tests/bench/bench_massmsg.py [--db sqlite|mariadb|both] [--scale 1.0] [--staff 8] [--database-url URL]

`run_fanout(args)` is the section bench_automation.py runs as `fanout` (args: db, scale, staff, database_url).

Each database is migrated and filled by bulk inserts: N customers tagged `vip`, each followed by one of
`--staff` members (N / staff each: with 8, 12,500, so every sender's customers take two calls of WeCom's
10,000). The fake WeCom runs in its own process (`python -m wecom.fake`), so the RSS measured is the service's
alone. Then `jobs.mass_send.deliver` runs the message (audience `tags_any: [vip]` read in a super_admin's
scope, the monthly cap checked, recipients and calls written, each call made) while a thread samples VmRSS
every 50 ms.

Printed per database: the fill time; the send's time, its add_msg_template calls (count, largest) and
customers sent as the fake recorded them; the RSS before and its peak growth. Exits 1 if a count is wrong or a
call is past WeCom's limit. `--scale 0.1` for a quick run (10,000).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "bench")]

import requests  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from bench_pool import bulk, rss_kib, stored  # noqa: E402
from harness import recreate_mysql_db  # noqa: E402
from jobs.runtime import build_runtime, install  # noqa: E402
from migrations import runner  # noqa: E402
from models import Corp, Customer, FollowRelation, FollowTag, MassMessage, Staff, Tag, TagGroup  # noqa: E402
from models.corp import save_app  # noqa: E402
from models.db import make_engine, utcnow  # noqa: E402
from support import AES_KEY, AGENT_ID, CORP_ID, SECRET, SEED, TOKEN, FakeWeCom, make_settings  # noqa: E402
from web.auth import Principal  # noqa: E402
from web import mass_audience  # noqa: E402,F401  (imported once per worker: not part of a send's time)

N = 100_000
CHUNK = 20_000
PER_CALL = 10_000
ADD = "externalcontact/add_msg_template"
MARIADB = "mysql+pymysql://root@127.0.0.1:3307/bench_i16_massmsg"


def start_fake() -> tuple[subprocess.Popen[bytes], FakeWeCom]:
    """The fake WeCom in a process of its own, seeded with the test corp."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "wecom.fake", "--port", str(port), "--no-seed"], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL)
    fake = FakeWeCom(f"http://127.0.0.1:{port}")
    for _ in range(100):
        try:
            requests.get(f"{fake.url}/fake/health", timeout=1).raise_for_status()
            break
        except requests.RequestException:
            time.sleep(0.1)
    fake.seed(SEED)
    return proc, fake


def fill(url: str, n: int, staff: int) -> int:
    """The corp, its app, `staff` members and N customers tagged vip; returns the tag's pk."""
    engine = make_engine(url)
    old = stored(utcnow() - dt.timedelta(days=30))
    with engine.begin() as conn:
        conn.execute(insert(Corp).values(corp_id=CORP_ID, name="bench", timezone="Asia/Shanghai"))
        conn.execute(insert(Staff), [{"corp_id": CORP_ID, "userid": f"staff{i}", "name": f"员工{i}",
                                      "department": [1]} for i in range(staff)])
        group = conn.execute(insert(TagGroup).values(corp_id=CORP_ID, group_id="etgrp", name="群发")
                             ).inserted_primary_key[0]
        vip = conn.execute(insert(Tag).values(corp_id=CORP_ID, tag_id="etvip", group_pk=group, name="vip")
                           ).inserted_primary_key[0]
    for start in range(0, n, CHUNK):
        ids = range(start + 1, min(start + CHUNK, n) + 1)
        with engine.begin() as conn:
            bulk(conn, Customer.__table__, [
                {"id": i, "corp_id": CORP_ID, "external_userid": f"wm{i:09d}", "name": f"客户{i}",
                 "owner_userid": f"staff{i % staff}", "pool_reason": "", "avatar": "", "corp_name": "", "position": "",
                 "mobile": "", "channel": "", "created_at": old, "updated_at": old} for i in ids])
            bulk(conn, FollowRelation.__table__, [
                {"id": i, "customer_id": i, "corp_id": CORP_ID, "userid": f"staff{i % staff}", "remark": "",
                 "description": "", "remark_mobiles": "[]", "state": "", "added_at": old, "status": "active",
                 "status_changed_at": old, "inherit_status": "", "transfer_fail_reason": "", "created_at": old,
                 "updated_at": old} for i in ids])
            bulk(conn, FollowTag.__table__, [{"id": i, "follow_id": i, "customer_id": i, "tag_pk": vip, "tagged_by": "wecom",
                                              "tagged_at": old} for i in ids])
    engine.dispose()
    return vip


def run_one(url: str, n: int, staff: int) -> int:
    from jobs.mass_send import deliver

    engine = make_engine(url)
    runner.upgrade(engine)
    engine.dispose()
    proc, fake = start_fake()
    try:
        t0 = time.perf_counter()
        vip = fill(url, n, staff)
        print(f"  filled {n:,} customers ({staff} senders) in {time.perf_counter() - t0:.1f} s")
        runtime = build_runtime(make_settings(url, fake.api_base))
        install(runtime)
        with runtime.WriteSession.begin() as s:
            app = save_app(s, {"slug": "default", "corp_id": CORP_ID, "kind": "agent", "token": TOKEN,
                               "aes_key": AES_KEY, "secret": SECRET, "agent_id": AGENT_ID})
            msg = MassMessage(corp_id=CORP_ID, app_pk=app.id, text="双十一活动开始啦", status="scheduled",
                              send_at=utcnow(), audience={"include": {"tags_any": [vip]}},
                              principal=dataclasses.asdict(Principal("bench", "super_admin", None, None)))
            s.add(msg)
            s.flush()
            message_id = msg.id
        gc.collect()
        base = peak = rss_kib()
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.05):
                peak = max(peak, rss_kib())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.perf_counter()
        outcome = deliver(runtime, message_id)
        elapsed = time.perf_counter() - t0
        done.set()
        sampler.join()
        peak = max(peak, rss_kib())
        everything = fake.calls(ADD)  # a call refused for a token the previous run's fake issued is made again
        calls = [c for c in everything if c["errcode"] == 0]
        refused = sorted({c["errcode"] for c in everything if c["errcode"]})
        sizes = [len(c["body"]["external_userid"]) for c in calls]
        with runtime.Session() as s:
            target = s.scalar(select(MassMessage.target_count).where(MassMessage.id == message_id))
        runtime.engine.dispose()
    finally:
        proc.terminate()
        proc.wait()
    print(f"  send: {outcome}, {sum(sizes):,} customers in {len(calls)} add_msg_template calls (largest "
          f"{max(sizes, default=0):,}; refused first: {refused or 'none'}) in {elapsed:.1f} s ({n / elapsed:,.0f} customers/s); "
          f"RSS before {base / 1024:.0f} MiB, peak growth {(peak - base) / 1024:.1f} MiB")
    want_calls = staff * -(-(n // staff) // PER_CALL) if n % staff == 0 else None
    ok = (outcome == "sent" and sum(sizes) == target == n and max(sizes) <= PER_CALL
          and set(refused) <= {40014, 42001} and want_calls in (None, len(calls)))
    if not ok:
        print(f"  WRONG: expected {n:,} customers in {want_calls} calls of ≤{PER_CALL:,}")
    return 0 if ok else 1


def run_fanout(args: Any) -> int:
    """The fan-out section: `args.db` (sqlite, mariadb, both), `args.scale` (N = 100,000 × scale),
    `args.staff` (senders, default 8), `args.database_url` (the MariaDB database, dropped and recreated)."""
    n = max(10, int(N * args.scale))
    staff = getattr(args, "staff", 8)
    url = getattr(args, "database_url", None) or MARIADB
    failed = 0
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            print(f"fan-out, SQLite, N = {n:,}")
            failed |= run_one(f"sqlite:///{tmp}/massmsg-bench.db", n, staff)
    if args.db in ("mariadb", "both"):
        print(f"fan-out, MariaDB ({url.rsplit('@', 1)[-1]}), N = {n:,}")
        recreate_mysql_db(url)
        try:
            failed |= run_one(url, n, staff)
        finally:
            recreate_mysql_db(url, drop_only=True)
    return failed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=("sqlite", "mariadb", "both"), default="both")
    ap.add_argument("--scale", type=float, default=1.0, help="N = 100,000 × scale")
    ap.add_argument("--staff", type=int, default=8, help="senders the customers are spread over")
    ap.add_argument("--database-url", default=MARIADB, help="the MariaDB database (dropped and recreated)")
    return run_fanout(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
