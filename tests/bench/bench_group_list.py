"""Customer-group read API benchmark: the list (plain, `active=`, `tag=`), a group's size on a day, its
portrait and the CSV export over N groups × M members, on SQLite or (`--url`) MariaDB.

    python tests/bench/bench_group_list.py [--groups 10000] [--members 50] [--url mysql+pymysql://…/db]

The groups are bulk inserted (a tenth of each group's stints closed, a third of the groups joined by
someone within the last week, every other group with a group tag). Each request is made through the Flask
test client with its SQL statements counted; printed: milliseconds and statements per request. Not a
pytest test (tests/bench is outside collection).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from sqlalchemy import event, insert  # noqa: E402

from harness import recreate_mysql_db  # noqa: E402
from migrations import runner  # noqa: E402
from models import CustomerGroup, GroupMember, GroupTag, GroupTagging, GroupTagGroup  # noqa: E402
from models.db import make_engine  # noqa: E402
from support import CORP_ID, make_settings  # noqa: E402


def fill(url: str, groups: int, members: int) -> None:
    engine = make_engine(url)
    now = dt.datetime.now(dt.UTC)
    old, recent = now - dt.timedelta(days=60), now - dt.timedelta(days=2)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        tag_group = conn.execute(insert(GroupTagGroup).values(corp_id=CORP_ID, name="行业", order=0, exclusive=False,
                                                              created_at=now, updated_at=now)).inserted_primary_key[0]
        tag = conn.execute(insert(GroupTag).values(corp_id=CORP_ID, tag_group_id=tag_group, name="水果", order=0,
                                                   colour="", description="", created_at=now)).inserted_primary_key[0]
    for start in range(0, groups, 1000):
        ids = range(start + 1, min(start + 1000, groups) + 1)
        with engine.begin() as conn:
            conn.execute(insert(CustomerGroup), [
                {"id": i, "corp_id": CORP_ID, "chat_id": f"wr{i:08d}", "name": f"群{i}", "owner_userid": f"staff{i % 50}",
                 "notice": "", "admins": [], "status": 0, "group_created_at": old, "member_version": "",
                 "staff_count": 1, "external_count": members - 1 - members // 10, "created_at": old,
                 "updated_at": old} for i in ids])
            stints = []
            for i in ids:
                for k in range(members):
                    joined = recent if (i % 3 == 0 and k % 5 == 0) else old
                    quit_at = old + dt.timedelta(days=10) if k % 10 == 9 else None
                    member = "staff0" if k == 0 else f"wm{i}-{k}"
                    stints.append({"group_id": i, "corp_id": CORP_ID, "member_id": member, "member_type": 1 if k == 0 else 2,
                                   "unionid": "", "name": member, "group_nickname": "", "inviter_userid": "",
                                   "join_scene": 1 + k % 3, "join_state": "", "joined_at": joined, "quit_at": quit_at,
                                   "open_key": None if quit_at else member, "created_at": old})
            conn.execute(insert(GroupMember), stints)
            conn.execute(insert(GroupTagging), [{"group_id": i, "tag_id": tag, "tagged_by": "bench", "tagged_at": now}
                                                for i in ids if i % 2 == 0])
    engine.dispose()
    print(f"filled {groups:,} groups × {members} members in {time.perf_counter() - t0:.1f} s")


def run(url: str, groups: int, members: int) -> int:
    engine = make_engine(url)
    runner.upgrade(engine)
    engine.dispose()
    fill(url, groups, members)
    from app import create_app
    from web.auth import create_token

    app = create_app({"TESTING": True}, settings=make_settings(url, "http://127.0.0.1:9/cgi-bin/"))
    runtime = app.extensions["scrm"]
    with runtime.WriteSession.begin() as s:
        headers = {"Authorization": f"Bearer {create_token(s, 'bench', 'super_admin')}"}
    client = app.test_client()
    statements = [0]
    event.listen(runtime.engine, "before_cursor_execute", lambda *a: statements.__setitem__(0, statements[0] + 1))
    today = dt.datetime.now(dt.UTC).date().isoformat()
    for label, path in (("list, page 1 of 50", "/api/v1/groups?page_size=50"),
                        ("list, page 100 of 50", "/api/v1/groups?page_size=50&page=100"),
                        ("list, active=true", "/api/v1/groups?active=true&page_size=50"),
                        ("list, active=false&tag", "/api/v1/groups?active=false&tag=1&page_size=50"),
                        ("list, min_size&name", "/api/v1/groups?min_size=10&name=群1&page_size=50"),
                        ("size?date", f"/api/v1/groups/wr00000003/size?date={today}"),
                        ("portrait?days=30", "/api/v1/groups/wr00000003/portrait?days=30"),
                        ("detail", "/api/v1/groups/wr00000003")):
        statements[0] = 0
        t0 = time.perf_counter()
        r = client.get(path, headers=headers)
        ms = (time.perf_counter() - t0) * 1000
        assert r.status_code == 200, (path, r.get_data(as_text=True))
        total = r.get_json().get("total", "")
        print(f"{label:28s} {ms:8.1f} ms  {statements[0]:3d} statements  {f'total {total}' if total != '' else ''}")
    statements[0] = 0
    t0 = time.perf_counter()
    r = client.get("/api/v1/groups/export.csv", headers=headers, buffered=False)
    rows = sum(bytes(chunk if isinstance(chunk, bytes) else chunk.encode()).count(b"\n") for chunk in r.response) - 1
    r.close()
    print(f"{'export.csv':28s} {(time.perf_counter() - t0) * 1000:8.1f} ms  {statements[0]:3d} statements  {rows:,} rows")
    runtime.engine.dispose()
    return 0 if rows == groups else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--groups", type=int, default=10_000)
    ap.add_argument("--members", type=int, default=50)
    ap.add_argument("--url", help="a MySQL/MariaDB URL (its database is dropped and made again)")
    args = ap.parse_args(argv)
    if args.url:
        recreate_mysql_db(args.url)
        return run(args.url, args.groups, args.members)
    with tempfile.TemporaryDirectory() as tmp:
        return run(f"sqlite:///{tmp}/groups-bench.db", args.groups, args.members)


if __name__ == "__main__":
    sys.exit(main())
