"""The SQLite writer gate: writers from threads and processes take turns, each waits while another holds
it and goes on as soon as that one commits or rolls back, and a wait past the busy timeout is a clear
"database is locked" error instead of a hang."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

import models.db
from models.db import make_engine, write_engine

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    yield engine
    engine.dispose()


def rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one()


def test_a_writer_waits_for_the_one_before_it_to_commit(engine: Engine) -> None:
    writer, seen = write_engine(engine), []

    def second() -> None:
        with writer.begin() as conn:
            seen.append(conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one())
            conn.exec_driver_sql("INSERT INTO t VALUES (2)")

    with writer.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        assert seen == []  # still waiting at the gate
    thread.join(5)
    assert seen == [1] and rows(engine) == 2  # it went on once the first committed, and saw its row


def test_a_rolled_back_writer_opens_the_gate(engine: Engine) -> None:
    writer = write_engine(engine)
    with pytest.raises(RuntimeError), writer.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        raise RuntimeError("handler failed")
    started = time.monotonic()
    with writer.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (2)")
    assert time.monotonic() - started < 0.5 and rows(engine) == 1


def test_a_writer_in_another_process_holds_it_until_it_commits(engine: Engine) -> None:
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from models.db import make_engine, write_engine
        with write_engine(make_engine({str(engine.url)!r})).begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            print("held", flush=True)
            time.sleep(1.0)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with write_engine(engine).begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (2)")
        waited = time.monotonic() - started
    finally:
        holder.wait(10)
    assert holder.returncode == 0 and 0.5 < waited < 5 and rows(engine) == 2


def test_waiting_past_the_busy_timeout_is_database_is_locked(engine: Engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(models.db, "BUSY_TIMEOUT", 0.2)
    writer, errors = write_engine(engine), []

    def second() -> None:
        try:
            with writer.begin() as conn:
                conn.exec_driver_sql("INSERT INTO t VALUES (2)")
        except OperationalError as exc:
            errors.append(str(exc))

    with writer.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(5)
    assert len(errors) == 1 and "database is locked" in errors[0]
    assert rows(engine) == 1


def _writer_process(engine: Engine, value: int, hold: float = 0.0, first: bool = False) -> subprocess.Popen[str]:
    """Another process that writes `value` (first in line or not), holding the gate `hold` seconds."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from models.db import make_engine, write_engine
        print("waiting", flush=True)
        with write_engine(make_engine({str(engine.url)!r}), first={first!r}).begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES ({value})")
            print("held", flush=True)
            time.sleep({hold!r})
    """)], stdout=subprocess.PIPE, text=True)


def test_a_writer_that_goes_first_passes_the_ones_already_waiting(engine: Engine) -> None:
    """A job's writer has waited longer, but the callback's one-row insert goes in before it."""
    holder = _writer_process(engine, 1, hold=1.0)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "waiting"
    assert holder.stdout.readline().strip() == "held"
    job = _writer_process(engine, 2)
    assert job.stdout is not None and job.stdout.readline().strip() == "waiting"
    time.sleep(0.3)  # the job's writer is at the gate
    with write_engine(engine, first=True).begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (3)")
    for proc in (holder, job):
        assert proc.wait(10) == 0
    with engine.connect() as conn:
        assert [n for (n,) in conn.exec_driver_sql("SELECT n FROM t ORDER BY rowid")] == [1, 3, 2]
