"""Engine, session factory and the declarative base shared by every model.

The engine is tuned per backend here, once: SQLite gets WAL and a busy timeout so that several gunicorn
workers and an rq worker can write to the embedded default; MySQL/MariaDB gets utf8mb4 so Chinese names
and emoji round-trip.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event, select
from sqlalchemy.exc import IntegrityError
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


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create the engine for `url` with the per-backend settings the service relies on."""
    if url.startswith("mysql"):
        if "charset=" not in url:
            url += ("&" if "?" in url else "?") + "charset=utf8mb4"
        kwargs.setdefault("pool_recycle", 3600)
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    """pysqlite's own transaction handling breaks SAVEPOINT; take it over (SQLAlchemy's documented recipe)."""
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    """Jobs read then write; in WAL a deferred transaction that read an older snapshot fails with
    SQLITE_BUSY_SNAPSHOT when it tries to write, so writer sessions take the write lock up front."""
    immediate = conn.get_execution_options().get("begin_immediate")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_session_factory(engine: Engine, *, writer: bool = False) -> sessionmaker:
    """`writer=True` for job sessions that read before they write (see `_sqlite_begin`); no-op elsewhere."""
    bind = engine.execution_options(begin_immediate=True) if writer else engine
    return sessionmaker(bind, expire_on_commit=False)


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
