"""`epoch_seconds(column)`: a stored UTC time as whole seconds since 1970 computed by the database, for
reports that read tens of thousands of times and only subtract them (the funnel's days per stage): an
integer costs no datetime parsing per row in Python. Portable: SQLite's strftime, MariaDB/MySQL's
TIMESTAMPDIFF (which, unlike UNIX_TIMESTAMP, ignores the session's time zone)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class epoch_seconds(FunctionElement[int]):  # noqa: N801 (a SQL function, named as one)
    type = Integer()
    inherit_cache = True


@compiles(epoch_seconds, "sqlite")
def _sqlite(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(epoch_seconds, "mysql")
@compiles(epoch_seconds, "mariadb")
def _mysql(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    return f"TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', {compiler.process(element.clauses, **kw)})"
