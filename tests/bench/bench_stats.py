"""Statistics bench (issue 16): the statistics API's answers for a 30-day range at 1,000,000 customers.

    python tests/bench/bench_stats.py [--db sqlite|mariadb|both] [--scale 1.0] [--database-url URL]

Each database is migrated and filled by bulk inserts: N customers of one corp (Asia/Shanghai) followed by 200
members, added evenly over the last 1,095 days (so a 30-day range holds ~N/36 adds), 5 % of the relations
lost some days after; a channel code on every third relation, WeCom's add_way varied, a tag on every tenth;
a follow-up record on every other customer 1 to 7 days after the add (so follow-up visits happen), and 60
days of WeCom's 联系客户统计 and 群聊数据统计 per member. Then, through the Flask app as an admin token calls
them, `GET /api/v1/stats/customers`, `/stats/staff` (with the visits) and `/stats/groups` for the 30 days
ending today: each timed cold (first call) and warm (best of 3).

Printed per database: the fill time and each answer's wall and CPU times, cold and warm (this process' CPU,
on SQLite the database's work too; on MariaDB plus the server's when it runs on this machine, which on a shared
server includes other clients' work), their sums and the load average. Target: the 30-day statistics
under 1 s. Exits 1 if the API's new-customer count differs from the fill's. `--scale 0.01` for a quick run.
`run_stats(args)` is the entry the automation bench (bench_automation.py) calls with its parsed arguments
(db, scale, database_url); SQLite is a file in a temp dir, MariaDB `--database-url` (default: database
`bench_i16_stats` on 127.0.0.1:3307, dropped and recreated). Not a pytest test."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "bench")]

from sqlalchemy import insert, select  # noqa: E402

from bench_pool import bulk, stored  # noqa: E402
from harness import proc_cpu, recreate_mysql_db, server_pid  # noqa: E402
from migrations import runner  # noqa: E402
from models import (App, ChannelCode, Corp, Customer, FollowRelation, FollowTag, FollowUp, Staff, Tag,  # noqa: E402
                    TagGroup)
from models.db import make_engine, utcnow  # noqa: E402
from models.stats import BehaviorDay, GroupChatDay  # noqa: E402
from support import CORP_ID, make_settings  # noqa: E402

N = 1_000_000
CHUNK = 20_000
STAFF = 200
SPREAD_DAYS = 1095
RANGE_DAYS = 30
WECOM_DAYS = 60
TARGET_SECONDS = 1.0
MARIADB = "mysql+pymysql://root@127.0.0.1:3307/bench_i16_stats"
ZONE = ZoneInfo("Asia/Shanghai")


def _fixed(conn: Any, app_pk: int) -> tuple[list[int], int]:
    """The corp's members, channel codes and tag: (code ids, tag id)."""
    conn.execute(insert(Staff), [{"corp_id": CORP_ID, "userid": f"staff{i}", "name": f"员工{i}", "department": [1]}
                                 for i in range(STAFF)])
    codes = [conn.execute(insert(ChannelCode).values(corp_id=CORP_ID, app_pk=app_pk, kind="single", name=f"码{i}",
                                                     channel=f"渠道{i}", state=f"s{i}")).inserted_primary_key[0]
             for i in range(5)]
    group = conn.execute(insert(TagGroup).values(corp_id=CORP_ID, group_id="g", name="组")).inserted_primary_key[0]
    tag = conn.execute(insert(Tag).values(corp_id=CORP_ID, tag_id="t", group_pk=group, name="意向")).inserted_primary_key[0]
    return codes, tag


def _wecom_days(conn: Any, today: dt.date) -> None:
    days = [today - dt.timedelta(days=d) for d in range(1, WECOM_DAYS + 1)]
    bulk(conn, BehaviorDay.__table__, [
        {"corp_id": CORP_ID, "day": d.isoformat(), "userid": f"staff{i}", "chat_cnt": i % 7, "message_cnt": i % 13,
         "reply_percentage": 50.0, "avg_reply_time": 3, "negative_feedback_cnt": 0, "new_apply_cnt": 1,
         "new_contact_cnt": 1} for d in days for i in range(STAFF)])
    bulk(conn, GroupChatDay.__table__, [
        {"corp_id": CORP_ID, "day": d.isoformat(), "owner": f"staff{i}", "new_chat_cnt": 1, "chat_total": 20,
         "chat_has_msg": 5, "new_member_cnt": 3, "member_total": 300, "member_has_msg": 40, "msg_total": 90,
         "migrate_trainee_chat_cnt": 0} for d in days for i in range(STAFF)])


def fill(url: str, n: int, now: dt.datetime, first: dt.datetime) -> int:
    """The corp and N customers; returns how many relations were added at or after `first` (and before now)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        corp = conn.execute(insert(Corp).values(corp_id=CORP_ID, name="bench", timezone="Asia/Shanghai")
                            ).inserted_primary_key[0]
        app_pk = conn.execute(insert(App).values(slug="default", corp_pk=corp, kind="agent", token="t", aes_key="k" * 43,
                                                 secret="s", agent_id=1000002)).inserted_primary_key[0]
        codes, tag = _fixed(conn, app_pk)
        _wecom_days(conn, now.astimezone(ZONE).date())
    step = dt.timedelta(days=SPREAD_DAYS) / n
    start = now - dt.timedelta(days=SPREAD_DAYS)
    in_range = 0
    for lo in range(0, n, CHUNK):
        customers, relations, tags, notes = [], [], [], []
        for i in range(lo + 1, min(lo + CHUNK, n) + 1):
            added = start + step * i
            in_range += added >= first
            lost = i % 20 == 0
            changed = added + dt.timedelta(days=3) if lost else added
            at = stored(added)
            customers.append({"id": i, "corp_id": CORP_ID, "external_userid": f"wm{i:09d}", "name": f"客户{i}",
                              "owner_userid": f"staff{i % STAFF}", "avatar": "", "corp_name": "", "position": "",
                              "mobile": "", "channel": "", "pool_reason": "", "created_at": at, "updated_at": at})
            relations.append({"id": i, "customer_id": i, "corp_id": CORP_ID, "userid": f"staff{i % STAFF}", "remark": "",
                              "description": "", "remark_mobiles": "[]", "state": "", "added_at": at,
                              "add_way": i % 5, "channel_code_id": codes[i % 5] if i % 3 == 0 else None,
                              "status": "deleted_by_customer" if lost else "active",
                              "status_changed_at": stored(changed), "inherit_status": "", "transfer_fail_reason": "",
                              "created_at": at, "updated_at": at})
            if i % 10 == 0:
                tags.append({"follow_id": i, "customer_id": i, "tag_pk": tag, "tagged_by": "wecom", "tagged_at": at})
            if i % 2 == 0:
                notes.append({"corp_id": CORP_ID, "customer_id": i, "userid": f"staff{i % STAFF}", "text": "回访",
                              "at": stored(added + dt.timedelta(days=1 + i % 7)), "via": "api"})
        with engine.begin() as conn:
            bulk(conn, Customer.__table__, customers)
            bulk(conn, FollowRelation.__table__, relations)
            bulk(conn, FollowTag.__table__, tags)
            bulk(conn, FollowUp.__table__, notes)
    engine.dispose()
    return in_range


def run_one(url: str, n: int) -> int:
    from app import create_app
    from web.auth import create_token

    engine = make_engine(url)
    runner.upgrade(engine)
    engine.dispose()
    now = utcnow()
    today = now.astimezone(ZONE).date()
    first_day = today - dt.timedelta(days=RANGE_DAYS - 1)
    first = dt.datetime.combine(first_day, dt.time(), ZONE)
    t0 = time.perf_counter()
    expected = fill(url, n, now, first)
    print(f"  filled {n:,} customers ({expected:,} added in the range) in {time.perf_counter() - t0:.1f} s")
    app = create_app({"TESTING": False}, settings=make_settings(url, "http://127.0.0.1:9/cgi-bin/"))
    runtime = app.extensions["scrm"]
    with runtime.WriteSession.begin() as s:
        admin = {"Authorization": f"Bearer {create_token(s, 'bench', 'admin', corp_id=CORP_ID)}"}
        assert s.scalar(select(Corp.corp_id)) == CORP_ID
    client = app.test_client()
    period = {"from": first_day.isoformat(), "to": today.isoformat()}
    server = server_pid(url)
    cold = warm = cold_cpu = cpu = 0.0
    answers: dict[str, Any] = {}
    for path in ("customers", "staff", "groups"):
        times, cpus = [], []
        for _ in range(4):
            t0, c0 = time.perf_counter(), time.process_time() + proc_cpu(server)
            answer = client.get(f"/api/v1/stats/{path}", headers=admin, query_string=period)
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() + proc_cpu(server) - c0)
            assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
        answers[path] = answer.get_json()
        cold, warm, cold_cpu, cpu = cold + times[0], warm + min(times[1:]), cold_cpu + cpus[0], cpu + min(cpus[1:])
        print(f"  GET /api/v1/stats/{path} (30 days): cold {times[0] * 1000:.0f} ms (CPU {cpus[0] * 1000:.0f} ms), "
              f"warm {min(times[1:]) * 1000:.0f} ms (CPU {min(cpus[1:]) * 1000:.0f} ms); "
              f"{len(json.dumps(answers[path])):,} bytes")
    visits = [v for row in answers["staff"]["items"] for v in row["visits"]]
    whose = "this process and the MariaDB server" if server else "this process"
    print(f"  the three together: cold {cold * 1000:.0f} ms (CPU {cold_cpu * 1000:.0f} ms), warm {warm * 1000:.0f} ms, "
          f"CPU of {whose} {cpu * 1000:.0f} ms (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"target {TARGET_SECONDS * 1000:.0f} ms warm: "
          f"{'met' if warm < TARGET_SECONDS else 'MISSED'}); new {answers['customers']['new']:,}, lost "
          f"{answers['customers']['lost']:,}, visits due {sum(v['due'] for v in visits):,}, done "
          f"{sum(v['done'] for v in visits):,}")
    runtime.engine.dispose()
    if answers["customers"]["new"] != expected:
        print(f"  WRONG: the API counts {answers['customers']['new']:,} new customers, the fill added {expected:,}")
        return 1
    return 0


def run_stats(args: argparse.Namespace) -> int:
    """The bench with parsed arguments (db: sqlite|mariadb|both, scale, database_url); 1 if a count is wrong."""
    n = max(100, int(N * args.scale))
    url = getattr(args, "database_url", None) or MARIADB
    failed = 0
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            print(f"statistics, SQLite, N = {n:,}")
            failed |= run_one(f"sqlite:///{tmp}/stats-bench.db", n)
    if args.db in ("mariadb", "both"):
        print(f"statistics, MariaDB ({url.rsplit('@', 1)[-1]}), N = {n:,}")
        recreate_mysql_db(url)
        try:
            failed |= run_one(url, n)
        finally:
            recreate_mysql_db(url, drop_only=True)
    return failed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--db", choices=("sqlite", "mariadb", "both"), default="both")
    ap.add_argument("--scale", type=float, default=1.0, help="N = 1,000,000 × scale")
    ap.add_argument("--database-url", default=MARIADB, help="the MariaDB database (dropped and recreated)")
    return run_stats(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
