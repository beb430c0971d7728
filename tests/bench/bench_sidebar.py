"""Sidebar customer profile benchmark: server time of `GET /sidebar/customer` for a customer with 1,000
timeline entries, and the page's weight.

    python tests/bench/bench_sidebar.py [--entries 1000] [--requests 400] [--database-url URL]

A SQLite file in a temp dir (or --database-url, e.g. MariaDB) is migrated and given one customer followed by
the signed-in member, with 5 tags, 10 custom field values, 5 opportunities and `--entries` timeline entries
(follow-up records and other events). The page is rendered through the Flask test client with a real
signed session cookie (the whole request: session check, scope, queries, template), after a warm-up.

Printed: p50/p95/p99/max of the server time (target: p99 < 50 ms, exit 1 when missed) and the page weight:
HTML + CSS + JS bytes, raw and gzipped. Not a pytest test (tests/bench is outside collection).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from sqlalchemy import insert, select  # noqa: E402

from migrations import runner  # noqa: E402
from models import (App, Customer, CustomerEvent, CustomerFieldValue, CustomField, FollowRelation,  # noqa: E402
                    FollowTag, Staff, Tag, TagGroup)
from models.db import make_engine  # noqa: E402
from models.sales import Opportunity, OpportunityStage  # noqa: E402
from support import CORP_ID, make_settings  # noqa: E402

TARGET_MS = 50.0


def fill(url: str, entries: int) -> None:
    engine = make_engine(url)
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    with engine.begin() as conn:
        conn.execute(insert(Staff), [{"corp_id": CORP_ID, "userid": u, "name": n}
                                     for u, n in (("zhangsan", "张三"), ("lisi", "李四"))])
        cid = conn.execute(insert(Customer).values(corp_id=CORP_ID, external_userid="wmBench", name="王小明",
                                                   type=1, owner_userid="zhangsan", mobile="13800001111")).inserted_primary_key[0]
        fid = conn.execute(insert(FollowRelation).values(customer_id=cid, corp_id=CORP_ID, userid="zhangsan",
                                                         remark="老客户", added_at=now,
                                                         status_changed_at=now)).inserted_primary_key[0]
        gid = conn.execute(insert(TagGroup).values(corp_id=CORP_ID, group_id="g1", name="等级")).inserted_primary_key[0]
        for i in range(20):
            tid = conn.execute(insert(Tag).values(corp_id=CORP_ID, tag_id=f"t{i}", group_pk=gid,
                                                  name=f"标签{i}")).inserted_primary_key[0]
            if i < 5:
                conn.execute(insert(FollowTag).values(follow_id=fid, customer_id=cid, tag_pk=tid, tagged_by="zhangsan"))
        for i in range(10):
            field = conn.execute(insert(CustomField).values(corp_id=CORP_ID, key=f"f{i}", label=f"字段{i}", type="text",
                                                            order=i)).inserted_primary_key[0]
            conn.execute(insert(CustomerFieldValue).values(customer_id=cid, field_id=field, value=f"值{i}", text=f"值{i}"))
        stage = conn.execute(insert(OpportunityStage).values(corp_id=CORP_ID, name="报价",
                                                             probability=40)).inserted_primary_key[0]
        conn.execute(insert(Opportunity), [{"corp_id": CORP_ID, "customer_id": cid, "name": f"商机{i}", "stage_id": stage,
                                            "amount_cents": 100000 * i, "expected_close": dt.date(2026, 12, 31),
                                            "owner_userid": "zhangsan", "created_by": "bench"} for i in range(5)])
        conn.execute(insert(CustomerEvent), [
            {"customer_id": cid, "kind": "follow_up" if i % 3 else "fields_changed", "userid": "zhangsan",
             "detail": {"text": f"第{i}次沟通，聊了报价和交付时间", "type": "笔记"} if i % 3 else {"fields": ["f1"]},
             "source": f"bench:{i}", "at": now - dt.timedelta(minutes=i)} for i in range(entries)])
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        engine = make_engine(url)
        runner.upgrade(engine)
        engine.dispose()
        from app import create_app

        app = create_app(settings=make_settings(url, "http://127.0.0.1:9/cgi-bin/"))
        client = app.test_client()
        client.get("/healthz")  # start-up stores the environment's app (corp and agent)
        fill(url, args.entries)
        runtime = app.extensions["scrm"]
        with runtime.Session() as s:
            app_pk, agent_id = s.execute(select(App.id, App.agent_id)).one()
        from web.sidebar.session import SESSION_COOKIE, sign

        with app.test_request_context():
            cookie = sign("session", {"c": CORP_ID, "u": "zhangsan", "a": app_pk, "g": agent_id, "x": "bench-csrf"})
        client.set_cookie(SESSION_COOKIE, cookie, path="/sidebar")
        path = "/sidebar/customer?external_userid=wmBench"
        first = client.get(path)
        if first.status_code != 200:
            print(f"the page answered {first.status_code}: {first.get_data(as_text=True)[:300]}")
            return 1
        for _ in range(30):
            client.get(path)
        times, cpu = [], []
        for _ in range(args.requests):
            t0, c0 = time.perf_counter(), time.process_time()
            r = client.get(path)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            assert r.status_code == 200
        times.sort()
        pct, cpu_pct = statistics.quantiles(times, n=100), statistics.quantiles(cpu, n=100)
        html = first.get_data()
        css = client.get("/sidebar/assets/customer.css").get_data()
        js = client.get("/sidebar/assets/customer.js").get_data()
        print(f"customer profile, {args.entries} timeline entries, {args.requests} requests ({url.split(':')[0]}):")
        print(f"  server time p50 {pct[49]:.1f} ms, p95 {pct[94]:.1f} ms, p99 {pct[98]:.1f} ms, max {times[-1]:.1f} ms "
              f"(target p99 < {TARGET_MS:.0f} ms: {'ok' if pct[98] < TARGET_MS else 'MISSED'})")
        print(f"  CPU time p50 {cpu_pct[49]:.1f} ms, p99 {cpu_pct[98]:.1f} ms; load average {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} CPUs (a busy machine stretches the server time, not the CPU time)")
        total = len(html) + len(css) + len(js)
        gz = sum(len(gzip.compress(b)) for b in (html, css, js))
        print(f"  page weight: HTML {len(html):,} + CSS {len(css):,} + JS {len(js):,} = {total:,} bytes "
              f"({gz:,} gzipped)")
        app.extensions["scrm"].engine.dispose()
        return 0 if pct[98] < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
