"""Engine, session factory and the declarative base shared by every model.

The engine is tuned per backend here, once: SQLite gets WAL, a busy timeout and a writer gate (below) so
that several gunicorn workers and rq workers can write to the embedded default; MySQL/MariaDB gets utf8mb4
so Chinese names and emoji round-trip.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import threading
import time
import weakref
from collections.abc import Iterable
from typing import Annotated, Any, cast

from sqlalchemy import JSON, CursorResult, DateTime, Engine, MetaData, create_engine, event, select
from sqlalchemy import insert as insert_statement
from sqlalchemy.dialects import mysql as mysql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores naive UTC (portable to SQLite and MySQL), hands back aware UTC datetimes.

    Refusing naive datetimes on the way in is deliberate: a naive value is a local time someone forgot to
    convert, and the DB must only ever hold UTC.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return value.replace(tzinfo=dt.UTC) if value is not None else None


intpk = Annotated[int, mapped_column(primary_key=True)]
created_at = Annotated[dt.datetime, mapped_column(UTCDateTime, default=utcnow)]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


BUSY_TIMEOUT = 10.0
"""Seconds a SQLite writer waits for the write lock (or the writer gate) before giving up."""
FIRST_BUSY_TIMEOUT = 1.5
"""The same for writers that go `first` (the callback's insert): WeCom gives up on a callback after 5 s,
so while another process holds the lock the callback answers 503 (and WeCom retries) within twice this
(the gate, then SQLite's lock), not after WeCom has stopped listening."""
FIRST_WAIT = 0.05
STEP_BACK = 0.002
"""Seconds at most a SQLite writer lets writers that go first pass (WriterGate), and at a time."""


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create the engine for `url` with the per-backend settings the service relies on."""
    if url.startswith("mysql"):
        if "charset=" not in url:
            url += ("&" if "?" in url else "?") + "charset=utf8mb4"
        kwargs.setdefault("pool_recycle", 3600)
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "before_cursor_execute", _optimizer_switch, retval=True)
        return engine
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        database = engine.url.database
        gate = WriterGate(f"{database}.writer-lock") if database and database != ":memory:" else None
        if gate is not None and database:
            GATES[os.path.abspath(database)] = gate
        event.listen(engine, "begin", lambda conn: _sqlite_begin(conn, gate))
        if gate is not None:
            event.listen(engine, "commit", lambda conn: gate.end(conn, "COMMIT"))
            event.listen(engine, "rollback", lambda conn: gate.end(conn, "ROLLBACK"))
            event.listen(engine, "checkin", lambda _dbapi_conn, record: gate.release(record))
            event.listen(engine, "close", lambda _dbapi_conn, record: gate.release(record))
    return engine


OPTIMIZER_SWITCH = "mariadb_optimizer_switch"
"""An execution option: MariaDB optimizer_switch flags (e.g. "subquery_cache=off") for that statement only,
sent as `SET STATEMENT optimizer_switch='…' FOR <statement>` (ignored on SQLite and MySQL). For a query whose
best plan MariaDB's cost model misses (web/segment_query.py), without touching the pooled connection."""


def _optimizer_switch(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                      executemany: bool) -> tuple[str, Any]:
    switch = context.execution_options.get(OPTIMIZER_SWITCH) if context is not None else None
    if switch and conn.dialect.is_mariadb and not executemany:
        statement = f"SET STATEMENT optimizer_switch='{switch}' FOR {statement}"
    return statement, parameters


GATES: weakref.WeakValueDictionary[str, WriterGate] = weakref.WeakValueDictionary()
"""The writer gate of the latest engine on each SQLite file, by absolute path (gates of several engines on
one file exclude each other through their flocks like those of two processes)."""


def writer_gate(engine: Engine) -> WriterGate | None:
    """The writer gate of `engine`'s SQLite file (None for other backends and in-memory databases), for
    code that writes through a raw driver connection (web/inbox_writer.py)."""
    database = engine.url.database
    return GATES.get(os.path.abspath(database)) if engine.dialect.name == "sqlite" and database else None


def _sqlite_connect(dbapi_conn: Any, record: Any) -> None:
    """pysqlite's own transaction handling breaks SAVEPOINT; take it over (SQLAlchemy's documented recipe)."""
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
    record.info["busy_timeout"] = BUSY_TIMEOUT


def _busy_timeout(conn: Any, seconds: float) -> None:
    """Set the connection's SQLite busy timeout, with a PRAGMA only when it changes (pooled connections
    serve both kinds of writer, but a web worker's are nearly all callback inserts)."""
    info = conn.connection._connection_record.info
    if info.get("busy_timeout") != seconds:
        conn.exec_driver_sql(f"PRAGMA busy_timeout={int(seconds * 1000)}")
        info["busy_timeout"] = seconds


def _sqlite_begin(conn: Any, gate: WriterGate | None) -> None:
    """Jobs read then write; in WAL a deferred transaction that read an older snapshot fails with
    SQLITE_BUSY_SNAPSHOT when it tries to write, so writer sessions take the write lock up front, passing
    the writer gate first."""
    options = conn.get_execution_options()
    immediate = options.get("begin_immediate")
    first = bool(options.get("writer_first"))
    if immediate:
        timeout = FIRST_BUSY_TIMEOUT if first else BUSY_TIMEOUT
        if gate is not None:
            gate.acquire(conn.connection._connection_record, first=first, timeout=timeout)
        _busy_timeout(conn, timeout)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class WriterGate:
    """One SQLite writer at a time across this machine's processes and threads, taken before BEGIN IMMEDIATE
    and given back right after the transaction's COMMIT or ROLLBACK (which the gate issues itself, since
    SQLAlchemy's commit event comes before the commit; the driver's commit then finds nothing to do), or
    when a connection returns to the pool or closes holding it.

    Why: SQLite's own busy handler polls the write lock with sleeps that grow to 100 ms, so under a steady
    stream of short write transactions from several processes a waiter keeps sleeping through the moments
    the lock is free, and a 1 ms transaction waits hundreds of ms. The gate is an flock on a file next to
    the database, polled at most 1 ms apart, plus a thread lock (flock does not exclude threads sharing a
    file). It bounds its wait like the busy timeout, and a crashed holder's flock goes with its process.

    Writers that go `first` (the callback view's one-row inserts, which WeCom and a waiting customer time)
    hold a shared flock on a second file while they wait; the others, once they have the gate, give it
    back for a moment while anyone holds that, FIRST_WAIT in all. Without that the gate is a free-for-all
    that a job running transaction after transaction mostly wins (the releaser asks again at once, the
    waiters are asleep): the ingress waited 20 ms at p50 in one bench run and 200 ms in the next. A callback's
    insert also waits in a room of its own, which a job's chunk of events looks at between two events
    (`callback_waiting`, jobs/events.py) to let it in before its budget is spent."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._threads = threading.Lock()
        self._fds = (-1, -1, -1)
        self._pid = 0

    def _files(self) -> tuple[int, int, int]:
        """(the gate, the waiting room, the callbacks' waiting room), opened once per process."""
        if self._pid != os.getpid():  # a forked child must not share its parent's open files (and locks)
            try:
                self._fds = tuple(os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # type: ignore[assignment]
                                  for path in (self.path, f"{self.path}.first", f"{self.path}.callback"))
            except OSError as exc:  # the database's directory is missing or read-only: the DB is unusable
                raise OperationalError("BEGIN IMMEDIATE", {}, exc) from exc
            self._pid = os.getpid()
        return self._fds

    def acquire(self, record: Any, first: bool = False, timeout: float = BUSY_TIMEOUT,
                callback: bool = False) -> None:
        """`callback`: a callback's insert (first as well), which also waits in the callbacks' room."""
        if record.info.get("writer_gate"):
            return  # this connection already holds it (a second transaction before its return to the pool)
        deadline = time.monotonic() + timeout
        if not self._threads.acquire(timeout=timeout):
            raise _locked("another thread holds the writer gate")
        try:
            gate, room, callbacks = self._files()
            rooms = [room, callbacks] if callback else [room] if first else []
            for waiting in rooms:
                fcntl.flock(waiting, fcntl.LOCK_SH)  # only ever held exclusively for an instant, below
            try:
                self._take(gate, None if rooms else room, deadline)
            finally:
                for waiting in rooms:
                    fcntl.flock(waiting, fcntl.LOCK_UN)
        except BaseException:
            self._threads.release()
            raise
        record.info["writer_gate"] = self  # the gate this connection holds, for `held_gate`

    @staticmethod
    def _take(gate: int, room: int | None, deadline: float) -> None:
        """Poll the gate. With `room`: having got it, give it back while writers that go first are waiting,
        STEP_BACK at a time (longer than their polling interval, so one of them gets in), FIRST_WAIT in all."""
        pause, stepped_back = 0.0001, 0.0
        while True:
            try:
                fcntl.flock(gate, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise _locked("another process holds the writer gate") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.001)
                continue
            if room is None or stepped_back >= FIRST_WAIT or not WriterGate._occupied(room):
                return
            fcntl.flock(gate, fcntl.LOCK_UN)
            time.sleep(STEP_BACK)
            stepped_back += STEP_BACK

    @staticmethod
    def _occupied(room: int) -> bool:
        """Whether some writer waits in `room` (holds its shared flock): an exclusive try, given back at once."""
        try:
            fcntl.flock(room, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(room, fcntl.LOCK_UN)
        return False

    def callback_waiting(self) -> bool:
        """Whether a callback's insert waits in another process (for the holder of the gate, which may end its
        transaction early for it: a job's chunk of events, between two of them). No other thread of this
        process can be in the room meanwhile: a waiter holds the thread lock, which the holder has."""
        return self._occupied(self._files()[2])

    def end(self, conn: Any, statement: str) -> None:
        """End a gated transaction with `statement` now, then open the gate."""
        record = conn.connection._connection_record
        if not record.info.get("writer_gate"):
            return
        try:
            driver = conn.connection.driver_connection
            if driver.in_transaction:
                driver.execute(statement)
        finally:
            if statement == "ROLLBACK" or not conn.connection.driver_connection.in_transaction:
                self.release(record)

    def release(self, record: Any) -> None:
        if record is None or not record.info.pop("writer_gate", False):
            return
        fcntl.flock(self._fds[0], fcntl.LOCK_UN)
        self._threads.release()


def held_gate(session: Any) -> WriterGate | None:
    """The writer gate `session`'s transaction holds (SQLite writer sessions), else None. Read off the
    connection rather than looked up in GATES: that holds the latest engine's gate per file, which another
    engine on the file (tests make several) may have replaced or let go."""
    gate = session.connection().connection._connection_record.info.get("writer_gate")
    return gate if isinstance(gate, WriterGate) else None


def _locked(why: str) -> OperationalError:
    return OperationalError("BEGIN IMMEDIATE", {}, Exception(f"database is locked: {why}"))


def write_engine(engine: Engine, first: bool = False) -> Engine:
    """`engine` for transactions that read before they write (see `_sqlite_begin`); the same elsewhere.
    `first`: short writes someone is waiting on, which pass SQLite's writer gate ahead of the others."""
    return engine.execution_options(begin_immediate=True, writer_first=first)


def make_session_factory(engine: Engine, *, writer: bool = False, first: bool = False) -> sessionmaker:
    """`writer=True` for job sessions that read before they write (see `_sqlite_begin`); `first` for those
    whose writes someone is waiting on (`write_engine`)."""
    return sessionmaker(write_engine(engine, first=first) if writer else engine, expire_on_commit=False)


def get_or_create(session: Session, model: type[Any], keys: dict[str, Any], **defaults: Any) -> tuple[Any, bool]:
    """The row with `keys`, inserted with `defaults` if missing; safe against a concurrent insert."""
    row = session.scalar(select(model).filter_by(**keys))
    if row is not None:
        return row, False
    try:
        with session.begin_nested():
            row = model(**keys, **defaults)
            session.add(row)
    except IntegrityError:
        return session.scalar(select(model).filter_by(**keys)), False
    return row, True


def insert_unless_present(session: Session, model: type[Any], values: dict[str, Any]) -> bool:
    """Insert a row unless its unique key is taken (a concurrent transaction's row): True when inserted.
    One statement and no savepoint, so a collision neither raises nor aborts the transaction: SQLite's
    ON CONFLICT DO NOTHING, MySQL/MariaDB's INSERT IGNORE (which also skips, rather than fails, a row whose
    foreign key names a row deleted meanwhile: the callers' rows are then moot anyway)."""
    if session.get_bind().dialect.name == "sqlite":
        statement: Any = sqlite_dialect.insert(model).values(**values).on_conflict_do_nothing()
    else:
        statement = mysql_dialect.insert(model).values(**values).prefix_with("IGNORE")
    return bool(cast(CursorResult[Any], session.execute(statement)).rowcount)


def insert_missing(session: Session, model: type[Any], rows: Iterable[dict[str, Any]]) -> None:
    """One INSERT of `rows`, leaving out those a unique key already has (SQLite ON CONFLICT DO NOTHING,
    MySQL/MariaDB ON DUPLICATE KEY UPDATE of nothing): a concurrent insert of the same row is no error, and
    no SAVEPOINT per row is needed. The first column of each row must belong to that unique key (MySQL sets
    it to itself on a duplicate). The rows are not loaded: the caller reads them back. Unlike
    `insert_unless_present` (one row, and whether it went in), MySQL keeps its strict mode here: INSERT IGNORE
    would also turn an overlong value into a warning and a truncated row."""
    rows = list(rows)
    if not rows:
        return
    name = session.get_bind().dialect.name
    if name == "sqlite":
        stmt: Any = sqlite_dialect.insert(model).on_conflict_do_nothing()
    elif name in ("mysql", "mariadb"):
        first = next(iter(rows[0]))
        stmt = mysql_dialect.insert(model)
        stmt = stmt.on_duplicate_key_update({first: stmt.inserted[first]})
    else:  # pragma: no cover  (the service runs on SQLite and MySQL/MariaDB only)
        stmt = insert_statement(model)
    session.execute(stmt, rows)
