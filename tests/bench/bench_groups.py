"""Customer-group sync benchmark: a full sync of GROUPS groups × MEMBERS members from the fake WeCom, then a
re-sync with nothing changed.

    python tests/bench/bench_groups.py [--scale 1.0] [--groups 10000] [--members 200] [--db sqlite|mariadb|URL]

The fake WeCom runs in a process of its own (its bulk groups are generated on demand from their index, one
owner and MEMBERS-1 customers each out of a pool of 100,000, so the fake holds no 2 M members). The sync
runs in this process exactly as a worker runs it (`deliver_outbox` of the outbox row
`request_groups_sync` writes; jobs inline), on a migrated SQLite file in a temp dir or on MariaDB (`--db
mariadb`: database b_i12core on 127.0.0.1:3307, dropped and created).

Printed for each pass: wall time, the CPU time of the sync and of the fake (what a shared machine's load
does not inflate), this process' peak RSS (the whole process: the sync, the ORM, the
client), SQL statements per group, and writes (INSERT/UPDATE/DELETE) to group data (customer_groups,
group_members, customers) apart from the bookkeeping (the job run's progress, the outbox row). Exits 1 if
the groups or stints are not all there, or if the re-sync wrote group data.
"""

from __future__ import annotations

import argparse
import collections
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import requests  # noqa: E402
from sqlalchemy import create_engine, event, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from migrations import runner  # noqa: E402
from models.db import make_engine  # noqa: E402
from support import AGENT_ID, CORP_ID, SECRET, make_settings  # noqa: E402

MARIADB = "mysql+pymysql://root@127.0.0.1:3307/b_i12core"
GROUP_TABLES = ("customer_groups", "group_members", "customers")


def start_fake(port: int, logdir: Path) -> subprocess.Popen[bytes]:
    log = open(logdir / "fake.log", "wb")  # noqa: SIM115 - the process keeps it
    proc = subprocess.Popen([sys.executable, "-m", "wecom.fake", "--port", str(port), "--no-seed",
                             "--rate-limit", "100000000"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/fake/health", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"the fake did not start: {(logdir / 'fake.log').read_text()[-2000:]}")


def database(choice: str, tmp: Path) -> str:
    if choice == "sqlite":
        return f"sqlite:///{tmp}/groups-bench.db"
    url = MARIADB if choice == "mariadb" else choice
    parsed = make_url(url)
    server = create_engine(parsed.set(database=""))
    with server.begin() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{parsed.database}`"))
        conn.execute(text(f"CREATE DATABASE `{parsed.database}` CHARACTER SET utf8mb4"))
    server.dispose()
    return url


class Statements:
    """Counts every statement the engine runs, and the writes by table."""

    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        self.total = 0
        self.writes: collections.Counter[str] = collections.Counter()
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement: str, parameters, context, executemany: bool) -> None:  # type: ignore[no-untyped-def]
        self.total += 1
        words = statement.split()
        verb = words[0].upper()
        if verb in ("INSERT", "UPDATE", "DELETE"):
            table = words[2] if verb in ("INSERT", "DELETE") else words[1]
            self.writes[table.strip("`\"").split("(")[0]] += 1

    def reset(self) -> None:
        self.total = 0
        self.writes.clear()


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of this process, or of process `pid`: load-independent, unlike wall time
    on a shared machine."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_pass(runtime, stats: Statements, groups: int, label: str, fake_pid: int) -> int:  # type: ignore[no-untyped-def]
    from jobs.group_sync import request_groups_sync
    from jobs.outbound import deliver_outbox
    from models import App, JobRun

    with runtime.WriteSession.begin() as s:
        app_pk = s.scalar(select(App.id).where(App.slug == "default"))
        row = request_groups_sync(s, CORP_ID, app_pk, "bench")
        outbox_id, job_id = row.id, row.args["job_id"]
    stats.reset()
    t0, cpu0, fake0 = time.perf_counter(), cpu_seconds(), cpu_seconds(fake_pid)
    deliver_outbox(outbox_id)
    elapsed = time.perf_counter() - t0
    cpu, fake_cpu = cpu_seconds() - cpu0, cpu_seconds(fake_pid) - fake0
    with runtime.Session() as s:
        run = s.get(JobRun, job_id)
        state, result = run.state, run.result
    group_writes = sum(n for table, n in stats.writes.items() if table in GROUP_TABLES)
    other = {table: n for table, n in stats.writes.items() if table not in GROUP_TABLES}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{label}: {state} in {elapsed:.1f} s (CPU: sync {cpu:.1f} s, fake WeCom {fake_cpu:.1f} s; load average "
          f"{os.getloadavg()[0]:.1f}); peak RSS {peak:.0f} MiB; {stats.total:,} statements "
          f"({stats.total / groups:.2f} per group); writes to group data: {group_writes:,} statements "
          f"({group_writes / groups:.3f} per group); bookkeeping writes: {other}")
    print(f"  result: {result}")
    return group_writes


def run(groups: int, members: int, db: str, tmp: Path) -> int:
    from harness import free_port

    port = free_port()
    fake = start_fake(port, tmp)
    try:
        api = f"http://127.0.0.1:{port}"
        requests.post(f"{api}/fake/seed", json={"corps": [{"corpid": CORP_ID, "secrets": {SECRET: AGENT_ID}}]},
                      timeout=10).raise_for_status()
        requests.post(f"{api}/fake/groups/bulk", json={"corpid": CORP_ID, "count": groups, "members": members,
                                                       "customers": 100_000, "at": 1_790_000_000},
                      timeout=10).raise_for_status()
        url = database(db, tmp)
        engine = make_engine(url)
        runner.upgrade(engine)
        engine.dispose()

        from app import create_app

        app = create_app({"TESTING": True}, settings=make_settings(url, f"{api}/cgi-bin/"))
        runtime = app.extensions["scrm"]
        stats = Statements(runtime.engine)
        print(f"{groups:,} groups × {members} members on {make_url(url).get_backend_name()}")
        one_pass(runtime, stats, groups, "full sync", fake.pid)
        resync_writes = one_pass(runtime, stats, groups, "re-sync, nothing changed", fake.pid)

        from models.groups import CustomerGroup, GroupMember

        with runtime.Session() as s:
            held = s.scalar(select(func.count()).select_from(CustomerGroup))
            open_stints = s.scalar(select(func.count()).select_from(GroupMember).where(GroupMember.quit_at.is_(None)))
        print(f"groups held: {held:,}, open stints: {open_stints:,}")
        runtime.engine.dispose()
        ok = held == groups and open_stints == groups * members and resync_writes == 0
        return 0 if ok else 1
    finally:
        fake.terminate()
        fake.wait(10)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--groups", type=int, default=10_000)
    ap.add_argument("--members", type=int, default=200)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply --groups (0.01: 100 groups to develop on)")
    ap.add_argument("--db", default="sqlite", help="sqlite (a temp file), mariadb (127.0.0.1:3307) or a URL")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        return run(max(1, int(args.groups * args.scale)), args.members, args.db, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
