"""The lead import (导入线索, 004 §4.7): the template, a CSV or XLSX file as a job with progress, good rows
imported whatever the bad ones, each bad row in the failure file with its row number and reason, duplicates
by mobile (against the corp's leads and within the file) reported and never merged, the upload bounded."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from customer_world import build, rejected
from jobs.lead_import import MAX_BYTES
from models import Lead, LeadTag
from support import CORP_ID

IMPORTS = "/api/v1/leads/imports"
HEADER = ["姓名", "手机号", "性别", "公司", "职位", "来源渠道", "标签"]


@pytest.fixture
def world(client, runtime, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    ids = build(runtime)
    admin = make_token("admin", name="adm")
    r = client.post("/api/v1/leads", headers=admin, json={"corp_id": CORP_ID, "name": "已有", "mobile": "13900000001"})
    assert r.status_code == 201
    return {**ids, "admin": admin, "zhangsan": make_token("member", userid="zhangsan")}


def csv_file(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([HEADER, *rows])
    return ("\ufeff" + out.getvalue()).encode()


def xlsx_file(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    for row in [HEADER, *rows]:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client, headers, data: bytes, name: str):  # type: ignore[no-untyped-def]
    return client.post(IMPORTS, headers=headers, query_string={"corp_id": CORP_ID},
                       data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


ROWS = [["陈一", "13900001111", "男", "鼎资", "经理", "展会", "VIP，展会"],
        ["", "13900002222", "", "", "", "", ""],  # line 3: no name
        ["王二", "12ab", "", "", "", "", ""],  # line 4: a bad mobile
        ["张三", "13900000001", "", "", "", "", ""],  # line 5: the corp's lead has it
        ["李四", "139 0000 1111", "", "", "", "", ""],  # line 6: line 2 has it
        ["赵五", "", "机器人", "", "", "", ""],  # line 7: a bad gender
        ["孙六", "", "", "", "", "", "没有这个"],  # line 8: an unknown tag
        ["", "", "", "", "", "", ""],  # an empty line: not a record
        ["周七", "", "女", "", "", "官网", ""]]


@pytest.mark.parametrize("name, make", [("leads.csv", csv_file), ("leads.xlsx", xlsx_file)])
def test_bad_rows_never_stop_the_good_ones_and_each_is_reported(client, runtime, world, name, make) -> None:  # type: ignore[no-untyped-def]
    r = upload(client, world["admin"], make(ROWS), name)
    assert r.status_code == 202, r.get_json()
    job = client.get(r.headers["Location"], headers=world["admin"]).get_json()
    assert (job["state"], job["done"], job["total"]) == ("done", 9, 9)
    assert {k: job["result"][k] for k in ("total", "succeeded", "failed", "summary")} == {
        "total": 8, "succeeded": 2, "failed": 6, "summary": "共8条记录, 成功2, 失败6"}
    with runtime.Session() as s:
        leads = {lead.name: lead for lead in s.scalars(select(Lead))}
        assert set(leads) == {"已有", "陈一", "周七"}
        assert (leads["陈一"].mobile, leads["陈一"].gender, leads["陈一"].creator) == ("13900001111", "male",
                                                                                    "token:adm")
        assert set(s.scalars(select(LeadTag.tag_pk).where(LeadTag.lead_id == leads["陈一"].id))) == {
            world["vip"], world["fair"]}
    failures = client.get(f"{IMPORTS}/{job['id']}/failures", headers=world["admin"])
    assert failures.status_code == 200
    rows = list(csv.reader(io.StringIO(failures.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["行号", "原因", *HEADER]
    reasons = {int(row[0]): row[1] for row in rows[1:]}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8]
    assert "name" in reasons[3] and "mobile" in reasons[4] and reasons[5] == "手机号已存在（重复线索）"
    assert reasons[6] == "手机号与第2行重复" and "gender" in reasons[7] and reasons[8] == "标签不存在：没有这个"
    assert [row[2] for row in rows[1:]][1:3] == ["王二", "张三"]  # the row's own cells follow


def test_an_import_without_failures_has_no_failure_file(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    r = upload(client, world["admin"], csv_file([["甲", "", "", "", "", "", ""]]), "a.csv")
    job_id = r.get_json()["job"]["id"]
    assert r.get_json()["job"]["result"]["summary"] == "共1条记录, 成功1, 失败0"
    assert client.get(f"{IMPORTS}/{job_id}/failures", headers=world["admin"]).status_code == 404


def test_the_templates_have_the_columns(client, world) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/leads/import-template", headers=world["admin"])
    assert r.get_data(as_text=True).lstrip("\ufeff").strip() == ",".join(HEADER)
    r = client.get("/api/v1/leads/import-template", headers=world["admin"], query_string={"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(r.get_data())).active
    assert [c.value for c in sheet[1]] == HEADER


def test_the_upload_is_bounded_and_checked(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    rejected(runtime, lambda: upload(client, world["admin"], b"x" * (MAX_BYTES + 1), "big.csv"), 413, "too_large")
    rejected(runtime, lambda: upload(client, world["admin"], b"x", "leads.txt"), 422, "invalid")
    rejected(runtime, lambda: upload(client, world["zhangsan"], csv_file([]), "a.csv"), 403, "forbidden")
