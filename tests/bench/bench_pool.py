"""Public pool bench: the daily recycle scan (jobs/pool_scan.py) over 1,000,000 customers, 10 % of them due.

    python tests/bench/bench_pool.py [--db sqlite|mariadb|both] [--scale 1.0] [--database-url URL]

Each database is migrated and filled by bulk inserts (CHUNK rows per executemany): N customers in one
pool with all four recycle rules on (从未跟进 30 days, 未加企微好友 30, 未再跟进 30, 未成交 365), each with
its follower's follow relation. Every tenth customer is due (assigned 400 days ago, never followed up, its
relation deleted by the customer); every thousandth of those has a won opportunity and must stay. The rest
were assigned 5 days ago and followed up yesterday. Then one `scan_corp` runs, as the hourly cron would
on the corp's new day, while a thread samples the process' resident set size (VmRSS) every 50 ms.

Printed per database: the fill time, the scan's time and customers moved, and the RSS before the scan and
its peak growth during it (streamed: the growth is one batch's worth, whatever N). Target (issue 14): the
scan under 30 s at N = 1,000,000. Exits 1 if a count is wrong. `--scale 0.01` for a quick run (10,000).

SQLite: a file in a temp dir. MariaDB: `--database-url` (default: database `bench_i14_pool` on the shared
server at 127.0.0.1:3307, dropped and recreated). Not a pytest test (tests/bench is outside collection).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "bench")]

from sqlalchemy import func, insert, select  # noqa: E402

from harness import recreate_mysql_db  # noqa: E402
from jobs.runtime import build_runtime, install  # noqa: E402
from migrations import runner  # noqa: E402
from models import Corp, Customer, FollowRelation, Opportunity, OpportunityStage, Staff  # noqa: E402
from models.db import make_engine  # noqa: E402
from models.pool import Pool, PoolMove  # noqa: E402
from support import CORP_ID, make_settings  # noqa: E402

N = 1_000_000
CHUNK = 20_000
STAFF = 200
MARIADB = "mysql+pymysql://root@127.0.0.1:3307/bench_i14_pool"


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def bulk(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    """One executemany of `rows` straight to the driver: the values are given as the database stores them
    (times as naive UTC text, JSON as text), skipping the per-value type processing that would make the
    fill of a million rows the slow part of the bench."""
    cols = list(rows[0])
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    quote = conn.dialect.identifier_preparer.quote
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(quote(c) for c in cols)}) "
                         f"VALUES ({', '.join([mark] * len(cols))})", [tuple(r[c] for c in cols) for r in rows])


def stored(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def fill(url: str, n: int, now: dt.datetime) -> tuple[int, int]:
    """The corp, its pool and N customers; (customers due, of them exempt by a won deal)."""
    engine = make_engine(url)
    old, recent, yesterday = (stored(now - dt.timedelta(days=d)) for d in (400, 5, 1))
    with engine.begin() as conn:
        conn.execute(insert(Corp).values(corp_id=CORP_ID, name="bench", timezone="Asia/Shanghai"))
        conn.execute(insert(Staff), [{"corp_id": CORP_ID, "userid": f"staff{i}", "name": f"员工{i}",
                                      "department": [1]} for i in range(STAFF)])
        pool = conn.execute(insert(Pool).values(
            corp_id=CORP_ID, name="bench", is_default=True, departments=[], auto_recycle=True,
            never_followed_days=30, not_friend_days=30, idle_days=30, no_deal_days=365)).inserted_primary_key[0]
        won = conn.execute(insert(OpportunityStage).values(corp_id=CORP_ID, name="赢单", probability=100,
                                                           position=9, outcome="won")).inserted_primary_key[0]
    due = exempt = 0
    for start in range(0, n, CHUNK):
        ids = range(start + 1, min(start + CHUNK, n) + 1)
        customers, relations, deals = [], [], []
        for i in ids:
            late = i % 10 == 0
            due += late
            customers.append({"id": i, "corp_id": CORP_ID, "external_userid": f"wm{i:09d}", "name": f"客户{i}",
                              "owner_userid": f"staff{i % STAFF}", "pool_id": pool, "pool_reason": "",
                              "avatar": "", "corp_name": "", "position": "", "mobile": "", "channel": "",
                              "assigned_at": old if late else recent, "last_followed_at": None if late else yesterday,
                              "created_at": old, "updated_at": old})
            relations.append({"id": i, "customer_id": i, "corp_id": CORP_ID, "userid": f"staff{i % STAFF}",
                              "remark": "", "description": "", "remark_mobiles": "[]", "state": "", "added_at": old,
                              "status": "deleted_by_customer" if late else "active", "status_changed_at": old,
                              "inherit_status": "", "transfer_fail_reason": "", "created_at": old, "updated_at": old})
            if i % 10_000 == 0:
                exempt += 1
                deals.append({"corp_id": CORP_ID, "customer_id": i, "name": "单", "stage_id": won,
                              "amount_cents": 100, "expected_close": old[:10], "owner_userid": f"staff{i % STAFF}",
                              "pinned": 0, "lost_reason": "", "created_by": "bench", "created_at": old,
                              "updated_at": old})
        with engine.begin() as conn:
            bulk(conn, Customer.__table__, customers)
            bulk(conn, FollowRelation.__table__, relations)
            if deals:
                bulk(conn, Opportunity.__table__, deals)
    engine.dispose()
    return due, exempt


def run_one(url: str, n: int) -> int:
    from jobs.pool_scan import scan_corp

    engine = make_engine(url)
    runner.upgrade(engine)
    engine.dispose()
    now = dt.datetime(2026, 11, 29, 16, 30, tzinfo=dt.UTC)  # 00:30 in Shanghai: the corp's new day
    t0 = time.perf_counter()
    due, exempt = fill(url, n, now)
    print(f"  filled {n:,} customers ({due:,} due, {exempt:,} of them won) in {time.perf_counter() - t0:.1f} s")
    runtime = build_runtime(make_settings(url, "http://127.0.0.1:9/cgi-bin/"))
    install(runtime)
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
    result = scan_corp(CORP_ID, now=now, runtime=runtime)
    elapsed = time.perf_counter() - t0
    done.set()
    sampler.join()
    peak = max(peak, rss_kib())
    assert result is not None
    with runtime.Session() as s:
        moved = s.scalar(select(func.count()).select_from(Customer).where(Customer.pooled_at.is_not(None)))
        moves = s.scalar(select(func.count()).select_from(PoolMove))
    runtime.engine.dispose()
    want = due - exempt
    print(f"  scan: {result['moved']:,} moved in {elapsed:.1f} s ({n / elapsed:,.0f} customers/s); "
          f"RSS before {base / 1024:.0f} MiB, peak growth {(peak - base) / 1024:.1f} MiB")
    ok = result["moved"] == moved == moves == want
    if not ok:
        print(f"  WRONG: expected {want:,} moved, the scan said {result['moved']:,}, {moved:,} in the pool, "
              f"{moves:,} history rows")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=("sqlite", "mariadb", "both"), default="both")
    ap.add_argument("--scale", type=float, default=1.0, help="N = 1,000,000 × scale")
    ap.add_argument("--database-url", default=MARIADB, help="the MariaDB database (dropped and recreated)")
    args = ap.parse_args(argv)
    n = max(10, int(N * args.scale))
    failed = 0
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            print(f"SQLite, N = {n:,}")
            failed |= run_one(f"sqlite:///{tmp}/pool-bench.db", n)
    if args.db in ("mariadb", "both"):
        print(f"MariaDB ({args.database_url.rsplit('@', 1)[-1]}), N = {n:,}")
        recreate_mysql_db(args.database_url)
        try:
            failed |= run_one(args.database_url, n)
        finally:
            recreate_mysql_db(args.database_url, drop_only=True)
    return failed


if __name__ == "__main__":
    sys.exit(main())
