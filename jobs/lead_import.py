"""The lead import (导入线索, 004 §4.7) as a job: a CSV or XLSX file with the template's columns
(rules/leads.py IMPORT_COLUMNS), one lead per row, each row in its own transaction so a bad row never stops
the good ones. A row fails with its reason: a missing name, a bad mobile or gender, an unknown tag, or a
mobile the corp has already or an earlier row of the file had (duplicates are reported, never merged).

The result: "共N条记录, 成功X, 失败Y" and, when a row failed, a CSV of the failed rows (行号 = the row's line
in the file, the header being line 1; 原因; the row's cells), downloaded from
`GET /api/v1/leads/imports/<job_id>/failures`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select

from jobs.downloads import keep_file
from jobs.progress import fail_run, tracked
from jobs.queue import enqueue_outbox, job, on_dead
from jobs.runtime import current
from models import JobRun, Tag
from rules.leads import IMPORT_COLUMNS
from web import lead_writes
from web.csv_export import csv_line
from web.errors import ApiError

KIND = "leads_import"
MAX_BYTES = 2 * 1024 * 1024  # the upload's bound (web/api_lead_import.py): some 20,000 rows of CSV
TAG_SPLIT = ("，", "、", ";", "；")


def read_rows(data: bytes, filename: str) -> Iterator[list[str]]:
    """The file's rows (header first) as text cells: XLSX by its name or its zip magic, else CSV in UTF-8
    (a BOM is dropped) or, failing that, GB18030 (what Excel in China saves)."""
    if filename.lower().endswith(".xlsx") or data[:2] == b"PK":
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield ["" if v is None else str(v).strip() for v in values]
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gb18030", errors="replace")
    for row in csv.reader(io.StringIO(text)):
        yield [cell.strip() for cell in row]


def template(fmt: str) -> bytes:
    """The template to fill in: the header row."""
    header = list(IMPORT_COLUMNS)
    if fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook()
        book.active.append(header)
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
    return ("\ufeff" + csv_line(header)).encode()


def _row_values(header: list[str], row: list[str]) -> dict[str, str]:
    return {IMPORT_COLUMNS[h]: (row[n] if n < len(row) else "") for n, h in enumerate(header) if h in IMPORT_COLUMNS}


def _import_row(corp_id: str, cells: dict[str, str], tags: dict[str, int], actor: str, seen: dict[str, int],
                line: int) -> list[Any]:
    """Save one row's lead; its app messages to send. Raises ApiError with the reason."""
    values = lead_writes.clean({k: v for k, v in cells.items() if k != "tags"})
    if values.get("mobile") in seen:
        raise ApiError(409, "duplicate", f"手机号与第{seen[values['mobile']]}行重复")
    names = [n.strip() for n in _split(cells.get("tags", "")) if n.strip()]
    unknown = [n for n in names if n not in tags]
    if unknown:
        raise ApiError(422, "invalid", f"标签不存在：{'、'.join(unknown)}")
    with current().WriteSession.begin() as s:
        lead, written = lead_writes.create(s, corp_id, values, [tags[n] for n in names], {}, actor, actor)
    if values.get("mobile"):
        seen[values["mobile"]] = line
    return written.outbox


def _split(text: str) -> list[str]:
    for mark in TAG_SPLIT:
        text = text.replace(mark, ",")
    return text.split(",")


def _reason(exc: ApiError) -> str:
    if exc.code == "duplicate" and exc.message.startswith("mobile"):
        return "手机号已存在（重复线索）"
    return exc.message


@job("import_leads", queue="maintenance")
def import_leads(job_id: int) -> str:
    runtime = current()
    with runtime.Session() as s:
        run = s.get(JobRun, job_id)
        if run is None or run.finished:
            return "skipped"
        params, corp_id = dict(run.params), run.corp_id
        tags = dict(s.execute(select(Tag.name, Tag.id).where(Tag.corp_id == corp_id, Tag.deleted_at.is_(None)))
                    .all())
    source = Path(params["path"])
    with tracked(job_id) as progress:
        rows = list(read_rows(source.read_bytes(), params["filename"]))
        header, body = (rows[0], rows[1:]) if rows else ([], [])
        failures: list[list[Any]] = []
        seen: dict[str, int] = {}
        progress.total = len(body)
        for line, row in enumerate(body, start=2):
            if not any(row):
                progress.advance()
                continue
            try:
                enqueue_outbox((o.id, o.queue) for o in _import_row(
                    corp_id, _row_values(header, row), tags, params["actor"], seen, line))
            except ApiError as exc:
                failures.append([line, _reason(exc), *row])
            progress.advance()
        counted = progress.total - sum(1 for row in body if not any(row))
        result = {"total": counted, "succeeded": counted - len(failures), "failed": len(failures),
                  "summary": f"共{counted}条记录, 成功{counted - len(failures)}, 失败{len(failures)}"}
        if failures:  # the download centre's 下载结果: the failed rows with their reason
            text = csv_line(["行号", "原因", *header]) + "".join(csv_line(f) for f in failures)
            download_id = keep_file(job_id, io.BytesIO(("\ufeff" + text).encode()), "text/csv", len(failures))
            result |= {"filename": "lead-import-failures.csv", "download_id": download_id}
        source.unlink(missing_ok=True)
        progress.result = result
    return "done"


@on_dead("import_leads")
def _failed(args: list[Any], error: str) -> None:
    fail_run(args[0], error)
