"""CSV files the admin API streams (customers, follow-up records, opportunities), made one way: UTF-8 with a
BOM (how Excel knows the file is UTF-8 and shows Chinese), text a spreadsheet would run as a formula quoted,
times in the corp's zone, and rows read from a streaming cursor a batch at a time, so memory does not grow
with the corp. Each export gives its query, its header and how to turn a batch of rows into lines."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, stream_with_context
from sqlalchemy import Select
from sqlalchemy.orm import Session

from jobs.runtime import Runtime

EXPORT_BATCH = 1000  # rows fetched (and what they need looked up) per round trip
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Render = Callable[[Session, list[Any]], Iterable[list[Any]]]
"""(lookup session, a batch of rows) → one list of cells per row."""


def cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula (a customer can name themselves "=HYPERLINK(…)") is
    quoted with a leading apostrophe, as OWASP advises for CSV injection."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def local(at: dt.datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if at else ""


def csv_line(row: list[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow([cell(v) for v in row])
    return buf.getvalue()


def csv_chunks(runtime: Runtime, query: Select, header: list[str], render: Render) -> Iterator[tuple[int, str]]:
    """The CSV as (rows in it, text): the header, then `EXPORT_BATCH` rows at a time, each batch rendered
    with a second session for its lookups."""
    yield 0, "\ufeff" + csv_line(header)
    with runtime.Session() as stream, runtime.Session() as lookup:
        result = stream.execute(query.execution_options(yield_per=EXPORT_BATCH))
        for batch in result.scalars().partitions():
            yield len(batch), "".join(csv_line(row) for row in render(lookup, batch))
            lookup.expunge_all()  # the streaming session's identity map is weak: sent rows are freed


def csv_response(chunks: Iterator[tuple[int, str]], filename: str) -> Response:
    """A download of `chunks`, sent as they are made (the request context stays open while it streams)."""
    return Response(stream_with_context(text for _, text in chunks), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Content-Type": "text/csv; charset=utf-8"})
