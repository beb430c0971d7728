"""The SQLite writer gate: writers from threads and processes take turns, each waits while another holds
it and goes on as soon as that one commits or rolls back, and a wait past the busy timeout is a clear
"database is locked" error instead of a hang."""

from __future__ import annotations

import fcntl
import os
import select
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
    """Each process says where it stands (see `_writer_process`), so the order is checked, not timed."""
    holder, second = _writer_process(engine, 1), None
    try:
        assert _said(holder, "parked") and _said(holder, "held")
        second = _writer_process(engine, 2)
        assert _said(second, "parked")
        assert second.stdout is not None
        ready, _, _ = select.select([second.stdout], [], [], 0.3)
        assert not ready, "the second writer got in while the first held the gate"
        _commit(holder)
        assert _said(second, "held")
        _commit(second)
        for proc in (holder, second):
            assert proc.wait(10) == 0
    finally:
        for proc in (holder, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
    with engine.connect() as conn:
        assert [n for (n,) in conn.exec_driver_sql("SELECT n FROM t ORDER BY rowid")] == [1, 2]


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


def _writer_process(engine: Engine, value: int) -> subprocess.Popen[str]:
    """Another process that writes `value`: it says "parked" right before it starts polling the writer gate,
    "held" once it has it, and commits when a line comes in on its stdin.

    FIRST_WAIT (how long it lets writers that go first pass) is lifted here: the test is about who goes in
    first, and under CPU load the callback's writer may not be scheduled within the 50 ms bound."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        import models.db
        from models.db import WriterGate, make_engine, write_engine
        models.db.FIRST_WAIT = 60.0
        take = WriterGate._take

        def parked(gate, room, deadline):
            print("parked", flush=True)
            take(gate, room, deadline)

        WriterGate._take = staticmethod(parked)
        with write_engine(make_engine({str(engine.url)!r})).begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES ({value})")
            print("held", flush=True)
            sys.stdin.readline()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _said(proc: subprocess.Popen[str], word: str) -> bool:
    assert proc.stdout is not None
    return proc.stdout.readline().strip() == word


def _commit(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("commit\n")
    proc.stdin.flush()


def _someone_waits_to_go_first(engine: Engine) -> bool:
    """True while a writer that goes first holds the gate's waiting room (a shared flock on `.first`)."""
    fd = os.open(f"{engine.url.database}.writer-lock.first", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the lock if we got it
    return False


def test_a_writer_that_goes_first_passes_the_ones_already_waiting(engine: Engine) -> None:
    """A job's writer has waited longer, but the callback's one-row insert goes in before it.

    No sleeps: each step waits for the state the next one needs (the holder holds the gate, the job's
    writer is parked on it, the callback's writer is in the waiting room) before the holder commits."""
    holder, job = _writer_process(engine, 1), None
    try:
        assert _said(holder, "parked") and _said(holder, "held")
        job = _writer_process(engine, 2)
        assert _said(job, "parked")

        def callback_insert() -> None:
            with write_engine(engine, first=True).begin() as conn:
                conn.exec_driver_sql("INSERT INTO t VALUES (3)")

        first = threading.Thread(target=callback_insert)
        first.start()
        deadline = time.monotonic() + 10
        while not _someone_waits_to_go_first(engine):
            assert time.monotonic() < deadline, "the writer that goes first never reached the gate"
            time.sleep(0.001)
        _commit(holder)
        first.join(10)
        assert not first.is_alive()
        assert _said(job, "held")
        _commit(job)
        for proc in (holder, job):
            assert proc.wait(10) == 0
    finally:
        for proc in (holder, job):
            if proc is not None and proc.poll() is None:
                proc.kill()
    with engine.connect() as conn:
        assert [n for (n,) in conn.exec_driver_sql("SELECT n FROM t ORDER BY rowid")] == [1, 3, 2]
