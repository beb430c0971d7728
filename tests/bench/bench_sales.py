"""Sales-records benchmark (issue 13): the funnel, the per-member follow-up counts of a month and one
customer's timeline on a large data set, in SQLite and in MariaDB.

    python tests/bench/bench_sales.py [--db sqlite|mariadb|both] [--scale 1.0] [--runs 7]

At --scale 1: 1,000,000 customers (one follow relation each), 5,000,000 follow-ups (each with its timeline
entry, as record_follow_up writes them) and 200,000 opportunities with their stage history (~3 moves
each), spread over the last two years, owned by 200 members in 10 departments. Rows are generated in big
chunks and written with Core executemany (no ORM object per row). SQLite is a file in a temp dir; MariaDB
a private mariadbd in a temp dir (1 GiB buffer pool, as tests/bench/harness.py starts it for the other
benches), or the server at --mariadb-url (a database of its own, dropped and recreated).

Each query is asked through the real Flask app's test client, as the API serves it: GET /funnel (an admin,
the whole corp, this month; a department leader, their department, this quarter), GET /follow-ups/stats
(the whole corp, this month), GET /customers/<id> (its timeline; a member who follows the customer). Printed:
the median of --runs runs after a warm-up, and the query plan (EXPLAIN QUERY PLAN / EXPLAIN) of every
statement the request ran on the big tables, flagged when one scans a table without an index. Then the
statements a page of /follow-ups and of /opportunities costs a member at page_size 10 and 100 (the same
number: no query per row). Exits 1 if an answer is over --limit-ms (default 500) or a plan scans a big table.
Not a pytest test (tests/bench is outside collection).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "bench")]

from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from harness import recreate_mysql_db, stack  # noqa: E402
from migrations import runner  # noqa: E402
from models import Base  # noqa: E402
from models.db import make_engine, utcnow  # noqa: E402
from support import CORP_ID, make_settings  # noqa: E402

CHUNK = 50_000
STAFF, DEPTS = 200, 10
BIG = ("customers", "follow_relations", "follow_ups", "customer_events", "opportunities",
       "opportunity_stage_changes")
OPEN_STAGES = (("初步接洽", 10), ("需求确认", 30), ("方案演示", 50), ("谈判审核", 80), ("合同签约", 90))
DAYS = 730  # the data spans the last two years


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def staff_id(k: int) -> str:
    return f"staff{k:04d}"


def chunks(total: int) -> Iterator[range]:
    for start in range(0, total, CHUNK):
        yield range(start + 1, min(start + CHUNK, total) + 1)


def stamp(epoch: int) -> str:
    """A UTC time as the service's UTC column stores it (SQLite's text form; MariaDB reads it as well)."""
    return time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime(epoch))


class Filler:
    """Writes the data set in CHUNK-row batches of plain tuples (times pre-formatted, JSON pre-dumped): no ORM
    object, no per-row type processing. SQLite: executemany. MariaDB: LOAD DATA LOCAL INFILE of a
    tab-separated chunk, as pymysql's executemany spends ~60 µs escaping each row in Python."""

    def __init__(self, url: str, scale: float, seed: int, workdir: Path) -> None:
        mysql = url.startswith("mysql")
        self.engine = make_engine(url, **({"connect_args": {"local_infile": True}} if mysql else {}))
        self.rng, self.chunk_file = random.Random(seed), workdir / "chunk.tsv"
        self.customers = max(1000, int(1_000_000 * scale))
        self.follow_ups = max(5000, int(5_000_000 * scale))
        self.deals = max(1000, int(200_000 * scale))
        self.now = utcnow().replace(microsecond=0)
        self.last = int(self.now.timestamp())
        self.first = self.last - DAYS * 86_400

    def _begin(self) -> Any:
        conn = self.engine.connect()
        if self.engine.dialect.name == "mysql":  # bulk load: checks off for this session only
            conn.exec_driver_sql("SET unique_checks = 0, foreign_key_checks = 0")
        else:
            conn.exec_driver_sql("PRAGMA cache_size = -524288")  # 512 MiB for this connection's index writes
        conn.commit()
        return conn

    def _write(self, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
        names = [c.strip() for c in columns.split(",")]
        with self._begin() as conn, conn.begin():
            if self.engine.dialect.name == "sqlite":
                conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                                     rows)
                return
            self.chunk_file.write_text("\n".join("\t".join("\\N" if v is None else str(v) for v in row)
                                                  for row in rows) + "\n", encoding="utf-8")
            conn.exec_driver_sql(f"LOAD DATA LOCAL INFILE '{self.chunk_file}' INTO TABLE {table} "
                                 f"CHARACTER SET utf8mb4 ({', '.join(names)})")

    def when(self) -> int:
        return self.rng.randrange(self.first, self.last)

    def directory(self) -> tuple[list[int], int, int]:
        """Departments 1 (root) and 2..11, staff spread over them; stages; follow-up types."""
        now = stamp(self.last)
        self._write("departments", "corp_id, dept_id, name, parent_id, `order`, leaders, created_at, updated_at",
                    [(CORP_ID, 1, "总部", None, 0, "[]", now, now)]
                    + [(CORP_ID, d, f"销售{d}部", 1, 0, json.dumps([staff_id((d - 2) * (STAFF // DEPTS))]), now, now)
                       for d in range(2, DEPTS + 2)])
        self._write("staff", "corp_id, userid, name, department, status, mobile, position, created_at, updated_at",
                    [(CORP_ID, staff_id(k), f"员工{k}", json.dumps([2 + k // (STAFF // DEPTS)]), "active", "", "",
                      now, now) for k in range(STAFF)])
        stages = [(n + 1, name, n, p, "open") for n, (name, p) in enumerate(OPEN_STAGES)]
        won, lost = len(stages) + 1, len(stages) + 2
        stages += [(won, "赢单", 1_000_000, 100, "won"), (lost, "输单", 1_000_001, 0, "lost")]
        self._write("opportunity_stages", "id, corp_id, name, position, probability, outcome, created_at",
                    [(pk, CORP_ID, name, pos, p, outcome, now) for pk, name, pos, p, outcome in stages])
        self._write("follow_up_types", "id, corp_id, name, position, created_at",
                    [(n + 1, CORP_ID, name, n, now) for n, name in enumerate(("笔记", "电话", "拜访"))])
        return [pk for pk, *_ in stages[:len(OPEN_STAGES)]], won, lost

    def fill(self) -> None:
        """The secondary indexes of the big tables are dropped while loading and built afterwards (the usual
        bulk load: one sorted build instead of millions of random inserts), so the database ends with the
        migration's schema."""
        t0 = time.perf_counter()
        indexes = [ix for name in BIG for ix in Base.metadata.tables[name].indexes]
        with self._begin() as conn, conn.begin():
            for ix in indexes:
                ix.drop(conn)
        ladder, won, lost = self.directory()
        for ids in chunks(self.customers):
            added = [stamp(self.when()) for _ in ids]
            self._write("customers", "id, corp_id, external_userid, name, avatar, type, gender, corp_name, position, "
                                     "owner_userid, mobile, channel, created_at, updated_at",
                        [(i, CORP_ID, f"wm{i:010d}", f"客户{i}", "", 1, i % 3, "", "", staff_id(i % STAFF), "", "", a, a)
                         for i, a in zip(ids, added, strict=True)])
            self._write("follow_relations", "id, customer_id, corp_id, userid, remark, description, remark_mobiles, "
                                            "state, added_at, status, status_changed_at, inherit_status, "
                                            "transfer_fail_reason, created_at, updated_at",
                        [(i, i, CORP_ID, staff_id(i % STAFF), "", "", "[]", "", a, "active", a, "", "", a, a)
                         for i, a in zip(ids, added, strict=True)])
        say(f"  {self.customers:,} customers with a follow relation each")
        per_customer = self.follow_ups / self.customers
        for ids in chunks(self.follow_ups):
            rows = [(i, CORP_ID, 1 + int((i - 1) / per_customer), f"跟进{i}", stamp(self.when()), 1 + i % 3)
                    for i in ids]  # in customer order, as the timeline index is
            self._write("follow_ups", "id, corp_id, customer_id, userid, text, at, via, type_id",
                        [(i, corp, c, staff_id(c % STAFF), body, at, "api", kind) for i, corp, c, body, at, kind in rows])
            self._write("customer_events", "id, customer_id, kind, userid, detail, source, at",
                        [(i, c, "follow_up", staff_id(c % STAFF),
                          json.dumps({"text": body, "type": "笔记", "follow_up_id": i}, ensure_ascii=False),
                          f"api:{i}", at) for i, _, c, body, at, _ in rows])
            if ids.stop - 1 == self.follow_ups or (ids.stop - 1) % 500_000 == 0:
                say(f"  {ids.stop - 1:,} follow-ups and their timeline entries")
        change = 0
        for ids in chunks(self.deals):
            deals, moves = [], []
            for i in ids:
                customer = self.rng.randrange(1, self.customers + 1)
                owner, at = staff_id(customer % STAFF), self.when()
                created = at
                step = self.rng.randrange(len(ladder))
                path = ladder[:step + 1] + ([self.rng.choice((won, lost))] if self.rng.random() < 0.5 else [])
                before = None
                for stage in path:
                    change += 1
                    moves.append((change, i, before, stage, owner, "bench", stamp(min(at, self.last))))
                    before, at = stage, at + 3600 * self.rng.randrange(1, 24 * 20)
                close = dt.datetime.fromtimestamp(created + 90 * 86_400, dt.UTC).date()
                deals.append((i, CORP_ID, customer, f"商机{i}", path[-1], self.rng.randrange(100_00, 1_000_000_00),
                              close.isoformat(), owner, 0, "bench", stamp(created), stamp(min(at, self.last))))
            self._write("opportunities", "id, corp_id, customer_id, name, stage_id, amount_cents, expected_close, "
                                         "owner_userid, pinned, created_by, created_at, updated_at", deals)
            self._write("opportunity_stage_changes", "id, opportunity_id, from_stage_id, to_stage_id, userid, actor, at",
                        moves)
        say(f"  {self.deals:,} opportunities with {change:,} stage changes")
        for ix in indexes:
            with self._begin() as conn, conn.begin():
                ix.create(conn)
        say(f"  {len(indexes)} indexes built")
        with self._begin() as conn, conn.begin():  # the planner's statistics, as a live database has them
            if self.engine.dialect.name == "sqlite":
                conn.exec_driver_sql("ANALYZE")
            else:
                conn.exec_driver_sql(f"ANALYZE TABLE {', '.join(BIG)}")
        say(f"filled in {time.perf_counter() - t0:.0f} s")


class Statements:
    """The statements an engine runs while active (before_cursor_execute)."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.seen = engine, []  # type: list[tuple[str, Any]]

    def _record(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        self.seen.append((statement, parameters))

    def __enter__(self) -> Statements:
        self.seen = []
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


def plans(engine: Engine, statements: list[tuple[str, Any]]) -> tuple[list[str], list[str]]:
    """(lines to print, problems): each statement on a big table with its plan; a problem is a full scan
    of a big table (SQLite `SCAN t` without an index; MariaDB type ALL)."""
    lines, problems = [], []
    mysql = engine.dialect.name == "mysql"
    with engine.connect() as conn:
        for statement, params in statements:
            flat = " ".join(statement.split())
            if not flat.upper().startswith(("SELECT", "WITH")) or not any(t in flat for t in BIG):
                continue
            lines.append(f"    {flat[:150]}{' …' if len(flat) > 150 else ''}")
            rows = conn.exec_driver_sql(("EXPLAIN " if mysql else "EXPLAIN QUERY PLAN ") + statement, params).all()
            for row in rows:
                if mysql:
                    m = row._mapping
                    plan = (f"table={m['table']} type={m['type']} key={m['key']} rows={m['rows']} "
                            f"extra={m['Extra'] or ''}")
                    bad = m["type"] == "ALL" and m["table"] in BIG
                else:
                    plan = str(row[-1])
                    bad = plan.startswith("SCAN ") and plan.split()[1] in BIG and "INDEX" not in plan
                lines.append(f"      {'!! ' if bad else ''}{plan}")
                if bad:
                    problems.append(plan)
    return lines, problems


def timed(name: str, call: Callable[[], Any], runs: int, engine: Engine, limit_ms: float,
          problems: list[str]) -> float:
    call()  # warm-up: caches, the first connection
    with Statements(engine) as st:
        answer = call()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    median = statistics.median(times)
    flag = "" if median <= limit_ms else f"  OVER {limit_ms:.0f} ms"
    print(f"  {name}: median {median:.1f} ms of {runs} (min {min(times):.1f}, max {max(times):.1f}), "
          f"{len(st.seen)} statements; {answer}{flag}")
    lines, bad = plans(engine, st.seen)
    print("\n".join(lines))
    problems.extend(f"{name}: {b}" for b in bad)
    if median > limit_ms:
        problems.append(f"{name}: {median:.0f} ms")
    return median


def bench(url: str, args: argparse.Namespace) -> list[str]:
    filled = url.startswith("sqlite") and args.keep is not None and (args.keep / "sales.db").exists()
    engine = make_engine(url)
    runner.upgrade(engine)
    from app import create_app
    from web.auth import create_token

    app = create_app({"TESTING": False}, settings=make_settings(url, "http://127.0.0.1:9/cgi-bin/"))
    runtime = app.extensions["scrm"]
    with tempfile.TemporaryDirectory(prefix="scrm-bench-sales-") as workdir:
        filler = Filler(url, args.scale, args.seed, Path(workdir))
        if not filled:
            say(f"{engine.dialect.name}: filling (scale {args.scale})")
            filler.fill()
        filler.engine.dispose()
    with runtime.WriteSession.begin() as s:
        admin = {"Authorization": f"Bearer {create_token(s, 'bench-admin', 'admin', corp_id=CORP_ID)}"}
        leader = {"Authorization": f"Bearer {create_token(s, 'bench-lead', 'member', userid=staff_id(0), corp_id=CORP_ID)}"}
        follower = {"Authorization": f"Bearer {create_token(s, 'bench-m', 'member', userid=staff_id(7), corp_id=CORP_ID)}"}
    client = app.test_client()
    today = filler.now.astimezone(ZoneInfo('Asia/Shanghai')).date().isoformat()  # the corp's day

    def get(path: str, headers: dict[str, str], summary: Callable[[Any], str], **params: Any) -> Callable[[], str]:
        def call() -> str:
            r = client.get(path, headers=headers, query_string=params)
            assert r.status_code == 200, r.get_data(as_text=True)
            return summary(r.get_json())
        return call

    problems: list[str] = []
    engine_used = runtime.engine
    print(f"\n{engine.dialect.name} ({filler.customers:,} customers, {filler.follow_ups:,} follow-ups, "
          f"{filler.deals:,} opportunities); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    timed("funnel, whole corp, this month (admin)",
          get("/api/v1/funnel", admin, lambda b: f"{b['deals']} deals, win rate {b['win_rate']}",
              period="month", date=today, all="true"), args.runs, engine_used, args.limit_ms, problems)
    timed("funnel, a leader's department, this quarter",
          get("/api/v1/funnel", leader, lambda b: f"{b['deals']} deals of {len(b['userids'])} members",
              period="quarter", date=today, department=2), args.runs, engine_used, args.limit_ms, problems)
    timed("follow-up counts per member, this month (whole corp)",
          get("/api/v1/follow-ups/stats", admin,
              lambda b: f"{sum(m['total'] for m in b['items']):,} follow-ups of {b['total']} members",
              month=today[:7], all="true"), args.runs, engine_used, args.limit_ms, problems)
    customer = 8  # followed by staff0008; staff0007 follows customer 7
    timed("a customer's timeline (admin)",
          get(f"/api/v1/customers/{customer}", admin, lambda b: f"{len(b['timeline'])} timeline entries"),
          args.runs, engine_used, args.limit_ms, problems)
    timed("a customer's timeline (the member who follows it)",
          get("/api/v1/customers/7", follower, lambda b: f"{len(b['timeline'])} timeline entries"),
          args.runs, engine_used, args.limit_ms, problems)
    for path in ("/api/v1/follow-ups", "/api/v1/opportunities"):
        counts = []
        for size in (10, 100):
            with Statements(engine_used) as st:  # a member's list: an admin's counts all 5M rows for `total`
                get(path, follower, lambda b: "", page_size=size)()
            counts.append(len(st.seen))
        print(f"  {path}: {counts[0]} statements at page_size 10, {counts[1]} at 100")
        if counts[0] != counts[1]:
            problems.append(f"{path}: the statements grow with the page size {counts}")
    runtime.engine.dispose()
    engine.dispose()
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=("sqlite", "mariadb", "both"), default="both")
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the full data set (0.01 for a quick run)")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--limit-ms", type=float, default=500.0)
    ap.add_argument("--mariadb-url", help="use this server's database (dropped and recreated) instead of a private "
                                          "mariadbd (1 GiB buffer pool, in a temp dir, as the other benches start)")
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--keep", type=Path, help="SQLite: keep the file in this directory, and time it again "
                                              "without refilling when it is there already")
    args = ap.parse_args(argv)
    problems: list[str] = []
    if args.db in ("sqlite", "both") and args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        problems += bench(f"sqlite:///{args.keep}/sales.db", args)
    elif args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="scrm-bench-sales-") as tmp:
            problems += bench(f"sqlite:///{tmp}/sales.db", args)
    if args.db in ("mariadb", "both") and args.mariadb_url:
        recreate_mysql_db(args.mariadb_url)
        try:
            problems += bench(args.mariadb_url, args)
        finally:
            recreate_mysql_db(args.mariadb_url, drop_only=True)
    elif args.db in ("mariadb", "both"):
        private = argparse.Namespace(mariadb=True, database_url=None, keep_tmp=False)
        with stack(private) as st:
            problems += bench(st.start_database(), args)
    print("\n" + ("OK: every answer under the limit, no full scan of a big table" if not problems
                  else "PROBLEMS:\n  " + "\n  ".join(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
