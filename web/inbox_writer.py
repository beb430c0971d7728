"""The callback's inbox insert: one statement on a driver connection kept per worker thread.

The insert is the only write WeCom waits on, and through SQLAlchemy it cost a pool checkout, the
connection events, BEGIN IMMEDIATE, the INSERT and a COMMIT, plus the Core's per-execution bookkeeping:
about a third of a callback's CPU besides decrypting (bench_ingress --vs-reference). Here it is a single
autocommit INSERT with a fixed SQL string, as durable as before (SQLite commits it in WAL with the
engine's own pragmas; InnoDB commits it on return), through the SQLite writer gate as before (as a writer
that goes first), so job transactions still cannot starve it. Only this one statement takes this path;
everything else keeps the ORM and its sessions.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
import weakref
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from models.db import FIRST_BUSY_TIMEOUT, writer_gate

COLUMNS = ("app_pk", "corp_id", "dedup_key", "routing_key", "raw_xml", "status", "error", "attempts",
           "received_at")


DEDUP_KEY = "uq_inbox_corp_id_dedup_key"
"""The unique key whose violation, and only it, means a retry (migrations/versions/0001)."""


class Duplicate(Exception):
    """The row's (corp_id, dedup_key) is stored already: a WeCom retry."""


class Refused(Exception):
    """The DB refused the row for another reason than its dedup key (its app deleted since this process
    cached it, a column it rejects): the callback is not stored, and must not be answered as if it were.
    `reason` names the error code and constraint only: MySQL's messages quote the values."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Conn:
    """One driver connection, detached from the engine's pool (the connect events ran: SQLite's WAL,
    synchronous and foreign-key pragmas), and the statement in its driver's parameter style."""

    def __init__(self, engine: Engine) -> None:
        self.sqlite = engine.dialect.name == "sqlite"
        self.pid = os.getpid()
        proxy = engine.raw_connection()
        driver = proxy.driver_connection
        assert driver is not None, "a raw connection always has its driver's"
        self.driver: Any = driver
        proxy.detach()  # ours for good: never handed back to the pool, closed by close()
        mark = "?" if self.sqlite else "%s"
        self.sql = f"INSERT INTO inbox ({', '.join(COLUMNS)}) VALUES ({', '.join([mark] * len(COLUMNS))})"
        self.gate = writer_gate(engine)
        self.record = SimpleNamespace(info={})  # what the gate marks as holding it
        if self.sqlite:
            self.driver.execute(f"PRAGMA busy_timeout={int(FIRST_BUSY_TIMEOUT * 1000)}")
        else:
            self.driver.autocommit(True)

    def insert(self, row: dict[str, Any], received_at: dt.datetime) -> int:
        naive = received_at.astimezone(dt.UTC).replace(tzinfo=None)
        # SQLite holds datetimes as SQLAlchemy writes them (always with microseconds), so ranges compare.
        when: Any = naive.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else naive
        values = tuple(when if c == "received_at" else row[c] for c in COLUMNS)
        if self.gate is not None:
            self.gate.acquire(self.record, first=True, timeout=FIRST_BUSY_TIMEOUT, callback=True)
        try:
            cursor = self.driver.cursor()
            try:
                cursor.execute(self.sql, values)
                return int(cursor.lastrowid)
            finally:
                cursor.close()
        finally:
            if self.gate is not None:
                self.gate.release(self.record)

    def close(self) -> None:
        try:
            self.driver.close()
        except Exception:  # noqa: BLE001 - a connection that broke is dropped all the same
            pass


class InboxWriter:
    """Inserts inbox rows for one engine; a connection per thread (gunicorn's sync worker has one thread),
    made again in a forked child and after the driver reported it broken."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()

    def insert(self, row: dict[str, Any], received_at: dt.datetime) -> int:
        """The new row's id. Duplicate for a retry; sqlalchemy's OperationalError when the DB cannot take it
        (unreachable, or SQLite's write lock held past FIRST_BUSY_TIMEOUT)."""
        dbapi = self.engine.dialect.loaded_dbapi
        for attempt in (1, 2):
            conn = self._conn()
            try:
                return conn.insert(row, received_at)
            except dbapi.IntegrityError as exc:
                if _is_retry(exc, conn.sqlite):
                    raise Duplicate() from exc
                raise Refused(_integrity_reason(exc, conn.sqlite)) from exc
            except (dbapi.OperationalError, dbapi.InterfaceError) as exc:
                self._drop()
                # A MySQL connection the server closed (restart, wait_timeout) is re-made once; SQLite's
                # errors here are a lock held too long or a missing file: no second try.
                if attempt == 2 or conn.sqlite or not _disconnect(exc):
                    raise OperationalError("INSERT INTO inbox", {}, exc) from exc
        raise AssertionError("unreachable")

    def _conn(self) -> _Conn:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.pid != os.getpid():  # a forked child never uses its parent's connection
            try:
                conn = self._local.conn = _Conn(self.engine)
            except OperationalError:
                raise
            except Exception as exc:  # the driver's own error while connecting
                raise OperationalError("connect", {}, exc) from exc
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None and conn.pid == os.getpid():
            conn.close()


def _is_retry(exc: Exception, sqlite: bool) -> bool:
    """The dedup key's violation: SQLite names its columns ("UNIQUE constraint failed: inbox.corp_id,
    inbox.dedup_key"), MySQL/MariaDB its name with errno 1062 ("Duplicate entry '…' for key '…'")."""
    if sqlite:
        return str(exc) == "UNIQUE constraint failed: inbox.corp_id, inbox.dedup_key"
    return bool(exc.args) and exc.args[0] == 1062 and DEDUP_KEY in str(exc.args[-1])


def _integrity_reason(exc: Exception, sqlite: bool) -> str:
    """What to log of another integrity error: SQLite's message (it names columns, never values); for
    MySQL the errno and the constraint or column named, not the message (1062's quotes the row's values)."""
    if sqlite:
        return str(exc)[:200]
    code = exc.args[0] if exc.args else "?"
    names = re.findall(r"(?:CONSTRAINT|[Kk]ey|Column) [`']([\w.]+)[`']", str(exc.args[-1]) if exc.args else "")
    return f"errno {code} {','.join(names)}".strip()


def _disconnect(exc: Exception) -> bool:
    """A MySQL error that means the connection is gone (2006 server has gone away, 2013 lost, 0 closed)."""
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    return code in (0, 2006, 2013, 2055) or type(exc).__name__ == "InterfaceError"


_writers: weakref.WeakKeyDictionary[Engine, InboxWriter] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def writer_for(engine: Engine) -> InboxWriter:
    """The process' InboxWriter for `engine`, made on first use."""
    writer = _writers.get(engine)
    if writer is None:
        with _writers_lock:
            writer = _writers.setdefault(engine, InboxWriter(engine))
    return writer
