"""CSV export benchmark: stream N customers out of `GET /api/v1/customers/export.csv` and watch memory.

    python tests/bench/bench_export.py [--n 100000] [--keep DIR]

A SQLite file in a temp dir (or DIR) is migrated and filled by bulk insert: N customers, each with one
follow relation (a third with a second one), tags on half the relations, and two custom field values.
The export is then read through the Flask test client chunk by chunk, as a browser would download it,
and the process' resident set size (VmRSS, /proc/self/status) is sampled after every chunk.

Printed: rows/s of the export, and the RSS growth over the RSS before the request at 10 %, 50 % and
100 % of the rows, and at its peak. Constant memory shows as a growth that does not rise with the rows
read. Exits 1 if the CSV does not hold N rows. Not a pytest test (tests/bench is outside collection).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from sqlalchemy import insert, select  # noqa: E402

from migrations import runner  # noqa: E402
from models import (App, Customer, CustomerFieldValue, CustomField, FollowRelation, FollowTag, Staff, Tag,  # noqa: E402
                    TagGroup)
from models.db import make_engine  # noqa: E402
from support import CORP_ID, make_settings  # noqa: E402

CHUNK = 10_000


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def fill(url: str, n: int) -> None:
    """Bulk insert N customers with relations, tags and field values (executemany, CHUNK rows at a time)."""
    engine = make_engine(url)
    t0 = time.perf_counter()
    added = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    with engine.begin() as conn:
        conn.execute(insert(Staff), [{"corp_id": CORP_ID, "userid": f"staff{i}", "name": f"员工{i}",
                                      "department": [1]} for i in range(50)])
        group = conn.execute(insert(TagGroup).values(corp_id=CORP_ID, group_id="g", name="等级")).inserted_primary_key[0]
        tags = [conn.execute(insert(Tag).values(corp_id=CORP_ID, tag_id=f"t{i}", group_pk=group, name=name))
                .inserted_primary_key[0] for i, name in enumerate(("VIP", "展会", "老客户"))]
        level = conn.execute(insert(CustomField).values(corp_id=CORP_ID, key="level", label="等级", type="select",
                                                        options=["A", "B", "C"])).inserted_primary_key[0]
        budget = conn.execute(insert(CustomField).values(corp_id=CORP_ID, key="budget", label="预算",
                                                         type="number", options=[])).inserted_primary_key[0]
    for start in range(0, n, CHUNK):
        ids = range(start + 1, min(start + CHUNK, n) + 1)
        with engine.begin() as conn:
            conn.execute(insert(Customer), [
                {"id": i, "corp_id": CORP_ID, "external_userid": f"wm{i:09d}", "name": f"客户{i}", "type": 1,
                 "gender": i % 3, "owner_userid": f"staff{i % 50}", "mobile": f"138{i:08d}", "channel": "线下门店",
                 "created_at": added, "updated_at": added} for i in ids])
            conn.execute(insert(FollowRelation), [
                {"id": i, "customer_id": i, "corp_id": CORP_ID, "userid": f"staff{i % 50}", "remark": f"备注{i}",
                 "description": "", "remark_mobiles": [f"139{i:08d}"], "state": "", "added_at": added,
                 "status": "active", "status_changed_at": added, "inherit_status": "", "transfer_fail_reason": "",
                 "created_at": added, "updated_at": added} for i in ids])
            conn.execute(insert(FollowRelation), [
                {"id": n + i, "customer_id": i, "corp_id": CORP_ID, "userid": f"staff{(i + 7) % 50}",
                 "remark": "", "description": "", "remark_mobiles": [], "state": "", "added_at": added,
                 "status": "active", "status_changed_at": added, "inherit_status": "", "transfer_fail_reason": "",
                 "created_at": added, "updated_at": added} for i in ids if i % 3 == 0])
            conn.execute(insert(FollowTag), [{"follow_id": i, "customer_id": i, "tag_pk": tags[i % 3], "tagged_by": "wecom",
                                              "tagged_at": added} for i in ids if i % 2 == 0])
            conn.execute(insert(CustomerFieldValue), [
                {"customer_id": i, "field_id": f, "value": v, "text": str(v)}
                for i in ids for f, v in ((level, "ABC"[i % 3]), (budget, i * 10))])
    engine.dispose()
    print(f"filled {n:,} customers in {time.perf_counter() - t0:.1f} s")


def run(n: int, workdir: Path) -> int:
    url = f"sqlite:///{workdir}/export-bench.db"
    engine = make_engine(url)
    runner.upgrade(engine)
    engine.dispose()

    from app import create_app
    from web.auth import create_token

    app = create_app({"TESTING": True}, settings=make_settings(url, "http://127.0.0.1:9/cgi-bin/"))
    runtime = app.extensions["scrm"]
    with runtime.Session() as s:
        assert s.scalar(select(App.id).where(App.slug == "default")) is not None
    fill(url, n)
    with runtime.WriteSession.begin() as s:
        token = create_token(s, "bench", "super_admin")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    gc.collect()
    base = rss_kib()
    marks = {max(1, n // 10): "10 %", max(1, n // 2): "50 %"}
    seen: dict[str, int] = {}
    peak, rows, size = base, -1, 0  # the header line is not a customer
    t0 = time.perf_counter()
    r = client.get("/api/v1/customers/export.csv", headers=headers, buffered=False)
    assert r.status_code == 200, r.get_data(as_text=True)
    for chunk in r.response:
        data = chunk if isinstance(chunk, bytes) else chunk.encode()
        size += len(data)
        before = rows
        rows += data.count(b"\n")  # no field holds a newline in this data set
        peak = max(peak, rss_kib())
        for at, label in marks.items():
            if before < at <= rows:
                seen[label] = rss_kib() - base
    r.close()
    elapsed = time.perf_counter() - t0
    seen["100 %"] = rss_kib() - base
    print(f"exported {rows:,} rows, {size / 2**20:.1f} MiB of CSV, in {elapsed:.1f} s: {rows / elapsed:,.0f} rows/s")
    print("RSS growth over the RSS before the request: "
          + ", ".join(f"{label} of rows {kib / 1024:.1f} MiB" for label, kib in seen.items())
          + f"; peak {(peak - base) / 1024:.1f} MiB (RSS before: {base / 1024:.0f} MiB)")
    runtime.engine.dispose()
    return 0 if rows == n else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--keep", type=Path, help="put the SQLite file here (and keep it) instead of a temp dir")
    args = ap.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        return run(args.n, args.keep)
    with tempfile.TemporaryDirectory() as tmp:
        return run(args.n, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
