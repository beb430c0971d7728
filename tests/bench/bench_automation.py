"""Automation bench (issue 16): one function per section over a corp of N customers (1,000,000 by default).

    python tests/bench/bench_automation.py [--db sqlite|mariadb|both] [--mariadb] [--scale 1.0]
                                           [--only segments] [--database-url URL] [--keep]

Sections (`--only NAME`, repeatable; all by default):
- segments: a segment count (web/segment_query.py, the query `GET /segments/<id>/count` runs) with three tag
  conditions (tags_all) and an added-date range, cold (first run) and warm (best of 5), wall and this
  process' CPU time (on a shared machine the wall time includes waiting for a core; the load average is
  printed). Target: under 1 s on SQLite and on MariaDB. Exits 1 if the count differs from the one computed
  while filling or from the plain query's (each tag through its follow relation, `plain_count`).
- stats: the statistics of a 30-day range at N customers (tests/bench/bench_stats.py `run_stats`, its own fill):
  target under 1 s.
- fanout: a mass message fanned out to 100,000 × scale customers through the fake WeCom over HTTP
  (tests/bench/bench_massmsg.py `run_fanout`, its own fill): time, peak RSS, add_msg_template calls.

The corp is filled once per database by bulk inserts (CHUNK rows per executemany, values as the database
stores them): N customers, each followed by one of STAFF members, added over the past 365 days; tags on
their relations: 甲 on every 2nd customer, 乙 on every 3rd, 丙 on every 5th, and one of 7 filler tags each
(about 2.5 N follow_tags rows). SQLite: a file in a temp dir. MariaDB (`--mariadb` or `--db mariadb`):
`--database-url` (default: database bench_i16_automation on the shared server at 127.0.0.1:3307, dropped and
recreated, dropped again at the end; with `--keep` it is kept, and a kept database already holding N customers is
reused instead of filled again). Not a pytest test (tests/bench is outside collection).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "bench")]

from sqlalchemy import func, insert, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench_massmsg import run_fanout  # noqa: E402
from bench_pool import bulk, stored  # noqa: E402
from bench_stats import run_stats  # noqa: E402
from harness import proc_cpu, recreate_mysql_db, server_pid  # noqa: E402
from migrations import runner  # noqa: E402
from models import Corp, Customer, FollowRelation, FollowTag, Staff, Tag, TagGroup  # noqa: E402
from models.db import make_engine  # noqa: E402
from support import CORP_ID  # noqa: E402

N = 1_000_000
CHUNK = 20_000
STAFF = 200
MARIADB = "mysql+pymysql://root@127.0.0.1:3307/bench_i16_automation"
NOW = dt.datetime(2026, 11, 29, 4, 0, tzinfo=dt.UTC)
RANGE_DAYS = (30, 120)  # the segment's added range: from 120 to 30 days ago
TAGGED = {"甲": 2, "乙": 3, "丙": 5}  # tag name → every k-th customer
FILLERS = 7


def added_days_ago(i: int) -> int:
    return (i * 7919) % 365  # spread over the year, independent of the tags' moduli


def fill(url: str, n: int) -> dict[str, Any]:
    """The corp, its staff, tags and N customers; what the sections need (tag pks, expected counts)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(Corp).values(corp_id=CORP_ID, name="bench", timezone="Asia/Shanghai"))
        conn.execute(insert(Staff), [{"corp_id": CORP_ID, "userid": f"staff{i}", "name": f"员工{i}",
                                      "department": [1]} for i in range(STAFF)])
        group = conn.execute(insert(TagGroup).values(corp_id=CORP_ID, group_id="g1", name="bench")
                             ).inserted_primary_key[0]
        names = [*TAGGED, *(f"填充{k}" for k in range(FILLERS))]
        tags = {name: conn.execute(insert(Tag).values(corp_id=CORP_ID, tag_id=f"et{k}", group_pk=group, name=name)
                                   ).inserted_primary_key[0] for k, name in enumerate(names)}
    days = {d: stored(NOW - dt.timedelta(days=d, hours=3)) for d in range(365)}
    for start in range(0, n, CHUNK):
        customers, relations, tagged = [], [], []
        for i in range(start + 1, min(start + CHUNK, n) + 1):
            ago = added_days_ago(i)
            at = days[ago]
            customers.append({"id": i, "corp_id": CORP_ID, "external_userid": f"wm{i:09d}", "name": f"客户{i}",
                              "owner_userid": f"staff{i % STAFF}", "pool_reason": "", "avatar": "", "corp_name": "",
                              "position": "", "mobile": "", "channel": "", "created_at": at, "updated_at": at})
            relations.append({"id": i, "customer_id": i, "corp_id": CORP_ID, "userid": f"staff{i % STAFF}",
                              "remark": "", "description": "", "remark_mobiles": "[]", "state": "", "added_at": at,
                              "status": "active", "status_changed_at": at, "inherit_status": "",
                              "transfer_fail_reason": "", "created_at": at, "updated_at": at})
            carried = [name for name, k in TAGGED.items() if i % k == 0] + [f"填充{i % FILLERS}"]
            tagged += [{"follow_id": i, "customer_id": i, "tag_pk": tags[name], "tagged_by": "bench", "tagged_at": at}
                       for name in carried]
        with engine.begin() as conn:
            bulk(conn, Customer.__table__, customers)
            bulk(conn, FollowRelation.__table__, relations)
            bulk(conn, FollowTag.__table__, tagged)
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with engine.begin() as conn:
            for table in ("customers", "follow_relations", "follow_tags"):
                conn.exec_driver_sql(f"ANALYZE TABLE {table}")
    engine.dispose()
    return {"tags": tags, "segment_count": expected_count(n)}


def expected_count(n: int) -> int:
    """The customers the segment must count: all three tags, added within RANGE_DAYS (by the fill's rules)."""
    low, high = RANGE_DAYS
    return sum(1 for i in range(1, n + 1)
               if all(i % k == 0 for k in TAGGED.values()) and low <= added_days_ago(i) <= high)


def filled(url: str, n: int) -> dict[str, Any] | None:
    """A kept database's world if it already holds the corp with N customers (`--keep`), else None."""
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            if s.scalar(select(func.count(Customer.id)).where(Customer.corp_id == CORP_ID)) != n:
                return None
            tags = dict(s.execute(select(Tag.name, Tag.id).where(Tag.corp_id == CORP_ID)).all())
    finally:
        engine.dispose()
    return {"tags": tags, "segment_count": expected_count(n)}


def section_segments(url: str, n: int, world: dict[str, Any]) -> int:
    """A segment count: three tags (all of them) and an added range, as GET /segments/<id>/count runs it."""
    from web.schemas.segment_filters import SegmentFilters
    from web.segment_query import count_of, segment_customers

    local = (NOW + dt.timedelta(hours=8)).date()  # the corp's day in Asia/Shanghai
    low, high = RANGE_DAYS
    filters = SegmentFilters(tags_all=[world["tags"][name] for name in TAGGED],
                             added_from=local - dt.timedelta(days=high), added_to=local - dt.timedelta(days=low))
    engine = make_engine(url)
    server = server_pid(url)
    times, cpu, count = [], [], -1
    with Session(engine) as s:
        for _ in range(6):
            t0, c0 = time.perf_counter(), time.process_time() + (proc_cpu(server) if server else 0.0)
            count = count_of(s, segment_customers(s, CORP_ID, filters))
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() + (proc_cpu(server) if server else 0.0) - c0)
        plain = plain_count(s, filters)
    engine.dispose()
    warm = min(times[1:])
    verdict = "ok" if warm < 1.0 else "OVER the 1 s target"
    whose = "this process and the MariaDB server" if server else "this process (SQLite runs in it)"
    print(f"  segments: count {count:,} of {n:,} (3 tags, added {high}..{low} days ago): first {times[0]:.3f} s "
          f"(CPU {cpu[0]:.3f} s), warm best of 5 {warm:.3f} s wall ({verdict}); CPU of {whose}: best "
          f"{min(cpu[1:]):.3f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if count != world["segment_count"] or count != plain:
        print(f"  WRONG: expected {world['segment_count']:,} (the fill's count), the plain query counts {plain:,}")
        return 1
    return 0


def plain_count(s: Session, filters: Any) -> int:
    """The segment's count by the plain query (before follow_tags.customer_id): each tag found through its
    follow relation, one IN per tag; what the segment query must agree with."""
    from web.segment_query import day_bounds, in_range

    low, high = day_bounds(ZoneInfo("Asia/Shanghai"), filters.added_from, filters.added_to)
    tags = [Customer.id.in_(select(FollowRelation.customer_id).join(FollowTag, FollowTag.follow_id == FollowRelation.id)
                            .where(FollowTag.tag_pk == pk)) for pk in filters.tags_all]
    added = Customer.id.in_(select(FollowRelation.customer_id).where(
        FollowRelation.status == "active", *in_range(FollowRelation.added_at, (low, high))))
    return s.scalar(select(func.count(Customer.id)).where(Customer.corp_id == CORP_ID, Customer.deleted_at.is_(None),
                                                          *tags, added)) or 0


SECTIONS: dict[str, Callable[[str, int, dict[str, Any]], int]] = {"segments": section_segments}
OWN_FILL: dict[str, Callable[[argparse.Namespace], int]] = {"stats": run_stats, "fanout": run_fanout}
"""Sections that fill their own corp (their benches also run alone), called with this bench's arguments."""


def run_one(url: str, n: int, only: list[str], world: dict[str, Any] | None = None) -> int:
    engine = make_engine(url)
    runner.upgrade(engine)
    engine.dispose()
    if world is None:
        t0 = time.perf_counter()
        world = fill(url, n)
        print(f"  filled {n:,} customers in {time.perf_counter() - t0:.1f} s")
    else:
        print(f"  reusing the kept database's {n:,} customers")
    return max(SECTIONS[name](url, n, world) for name in only)


def kept(url: str, n: int) -> dict[str, Any] | None:
    """`filled(url, n)` when the database exists (a first `--keep` run finds none and fills it)."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    try:
        return filled(url, n)
    except (OperationalError, ProgrammingError):  # no such database or no customers table yet
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=("sqlite", "mariadb", "both"), default="both")
    ap.add_argument("--mariadb", action="store_const", const="mariadb", dest="db", help="= --db mariadb")
    ap.add_argument("--scale", type=float, default=1.0, help="N = 1,000,000 × scale")
    ap.add_argument("--only", action="append", choices=sorted(SECTIONS | OWN_FILL), help="a section (repeatable; default all)")
    ap.add_argument("--database-url", default=MARIADB, help="the MariaDB database (dropped and recreated)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the MariaDB database at the end, and reuse it if it already holds N customers")
    args = ap.parse_args(argv)
    n = max(100, int(N * args.scale))
    every = args.only or [*SECTIONS, *OWN_FILL]
    only = [name for name in every if name in SECTIONS]
    failed = 0
    if only and args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            print(f"SQLite, N = {n:,}")
            failed |= run_one(f"sqlite:///{tmp}/automation-bench.db", n, only)
    if only and args.db in ("mariadb", "both"):
        print(f"MariaDB ({args.database_url.rsplit('@', 1)[-1]}), N = {n:,}")
        world = kept(args.database_url, n) if args.keep else None
        if world is None:
            recreate_mysql_db(args.database_url)
        try:
            failed |= run_one(args.database_url, n, only, world)
        finally:
            if not args.keep:
                recreate_mysql_db(args.database_url, drop_only=True)
    for name in every:
        if name in OWN_FILL:
            failed |= OWN_FILL[name](args)
    return failed


if __name__ == "__main__":
    sys.exit(main())
