"""A follow-up record's attachment and reminders (004 §4.1.3 B, C) over the admin API: uploads within 20 MB
and no programs (nothing stored otherwise), downloads only for those who may see the record, @mentions
told once by app message (seen on the fake WeCom's message/send), a reminder time as a Plan the scan
reminds once. Rows come from customer_world: zhangsan follows 王小明, lisi alone follows 赵六."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from customer_world import build, rejected
from jobs.bot import remind_due_plans
from jobs.outbound import deliver_outbox
from models import AuditLog, FollowUp, FollowUpAttachment, Material, Outbox, Plan
from models.db import utcnow
from rules.attachments import MAX_BYTES
from support import AGENT_ID, CORP_ID
from web.api_follow_up_files import FORM_OVERHEAD

PDF = b"%PDF-1.4\n" + "报价单".encode() * 100


@pytest.fixture
def files(runtime, monkeypatch, tmp_path) -> Path:  # type: ignore[no-untyped-def]
    """The local store in a directory of this test's own."""
    root = tmp_path / "files"
    monkeypatch.setattr(runtime, "settings", runtime.settings.with_overrides(storage_dir=str(root)))
    runtime.local.pop("storage", None)
    return root


@pytest.fixture
def world(runtime, make_token, files) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    ids = build(runtime)
    return {**ids, "zhangsan": make_token("member", userid="zhangsan", name="zs"),
            "lisi": make_token("member", userid="lisi", name="ls"), "admin": make_token("admin", name="adm")}


def stored(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def upload(client, headers: dict[str, str], data: bytes, name: str = "报价单.pdf",  # type: ignore[no-untyped-def]
           content_type: str = "application/pdf"):
    return client.post("/api/v1/follow-ups/attachments", headers=headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(data), name, content_type)})


def post(client, headers: dict[str, str], **body: Any):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/follow-ups", headers=headers, json=body)


# -- attachments --------------------------------------------------------------------------------------------
def test_an_uploaded_file_is_attached_and_downloaded_only_by_those_who_see_the_record(client, runtime, world,
                                                                                      files) -> None:
    r = upload(client, world["zhangsan"], PDF)
    assert r.status_code == 201, r.get_json()
    up = r.get_json()
    assert (up["filename"], up["content_type"], up["size"], up["follow_up_id"], up["download"]) == (
        "报价单.pdf", "application/pdf", len(PDF), None, None)
    assert len(stored(files)) == 1
    r = post(client, world["zhangsan"], customer_id=world["王小明"], text="发了报价", attachment_id=up["id"])
    assert r.status_code == 201, r.get_json()
    record = r.get_json()
    assert record["attachment"]["download"] == f"/api/v1/follow-ups/{record['id']}/attachment"
    got = client.get(record["attachment"]["download"], headers=world["zhangsan"])
    assert got.status_code == 200 and got.data == PDF
    assert got.headers["Content-Type"] == "application/pdf"
    assert "attachment" in got.headers["Content-Disposition"] and got.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(record["attachment"]["download"], headers=world["admin"]).data == PDF
    # lisi does not follow 王小明: the record and its file are absent for him
    denied = client.get(record["attachment"]["download"], headers=world["lisi"])
    assert denied.status_code == 404 and PDF not in denied.data
    assert client.get(f"/api/v1/follow-ups/{record['id']}", headers=world["lisi"]).status_code == 404
    # the list shows it; an upload is attached once
    [listed] = client.get("/api/v1/follow-ups", headers=world["zhangsan"]).get_json()["items"]
    assert listed["attachment"]["id"] == up["id"]
    error = rejected(runtime, lambda: post(client, world["zhangsan"], customer_id=world["王小明"], text="再发",
                                           attachment_id=up["id"]), 422, "invalid")
    assert list(error["fields"]) == ["attachment_id"]
    with runtime.Session() as s:
        assert s.scalar(select(AuditLog.detail).where(AuditLog.action == "follow_up.attachment_upload")) == {
            "filename": "报价单.pdf", "size": len(PDF)}


def test_a_file_over_20_mb_is_a_413_and_nothing_is_stored(client, runtime, world, files) -> None:
    rejected(runtime, lambda: upload(client, world["zhangsan"], b"x" * (MAX_BYTES + 1)), 413, "too_large")
    assert stored(files) == []
    # a request past the file and its form's room is refused before it is read
    rejected(runtime, lambda: upload(client, world["zhangsan"], b"x" * (MAX_BYTES + FORM_OVERHEAD)), 413, "too_large")
    assert stored(files) == []
    assert upload(client, world["zhangsan"], b"x" * MAX_BYTES, "扫描件.tif", "image/tiff").status_code == 201
    assert len(stored(files)) == 1


@pytest.mark.parametrize("name, content_type, data", [
    ("setup.exe", "application/octet-stream", b"MZ\x90\x00 a program"),
    ("报价单.pdf", "application/pdf", b"MZ\x90\x00 an .exe renamed"),
    ("install.sh", "text/plain", b"echo hi"),
    ("notes.txt", "text/plain", b"#!/bin/sh\nrm -rf ~"),
    ("app", "application/x-executable", b"\x7fELF\x02\x01"),
    ("tool.JAR", "application/zip", b"PK\x03\x04"),
    ("空.pdf", "application/pdf", b""),
])
def test_a_program_or_an_empty_file_is_a_422_naming_file_and_nothing_is_stored(client, runtime, world, files,
                                                                                  name, content_type, data) -> None:
    error = rejected(runtime, lambda: upload(client, world["zhangsan"], data, name, content_type), 422, "invalid")
    assert list(error["fields"]) == ["file"]
    assert stored(files) == []


def test_an_upload_without_a_file_is_a_422_naming_the_field(client, runtime, world) -> None:
    error = rejected(runtime, lambda: client.post("/api/v1/follow-ups/attachments", headers=world["zhangsan"],
                                                  json={"file": "x"}), 422, "invalid")
    assert list(error["fields"]) == ["file"]


def test_a_member_cannot_attach_another_members_upload(client, runtime, world) -> None:
    theirs = upload(client, world["lisi"], PDF).get_json()["id"]
    error = rejected(runtime, lambda: post(client, world["zhangsan"], customer_id=world["王小明"], text="x",
                                           attachment_id=theirs), 422, "invalid")
    assert list(error["fields"]) == ["attachment_id"]


def test_a_material_of_the_corp_is_the_other_kind_of_attachment(client, runtime, world) -> None:
    with runtime.WriteSession.begin() as s:
        material = Material(corp_id=CORP_ID, kind="link", title="产品手册", payload={"url": "https://example.com"})
        s.add(material)
        s.flush()
        material_id = material.id
    record = post(client, world["zhangsan"], customer_id=world["王小明"], text="发了手册", material_id=material_id)
    assert record.status_code == 201, record.get_json()
    attachment = record.get_json()["attachment"]
    assert (attachment["material_id"], attachment["filename"], attachment["download"]) == (material_id, "产品手册",
                                                                                         None)
    assert client.get(f"/api/v1/follow-ups/{record.get_json()['id']}/attachment",
                      headers=world["zhangsan"]).status_code == 404  # a material is no stored file
    for body in ({"material_id": material_id + 1000}, {"material_id": material_id, "attachment_id": 1}):
        error = rejected(runtime, lambda body=body: post(client, world["zhangsan"], customer_id=world["王小明"],
                                                         text="x", **body), 422, "invalid")
        assert list(error["fields"]) == ["material_id"]


# -- reminders ----------------------------------------------------------------------------------------------
def test_a_mention_is_told_once_by_app_message(client, runtime, world, fake_wecom) -> None:
    r = post(client, world["zhangsan"], customer_id=world["王小明"], text="客户要报价", mention=["lisi", "lisi"])
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["mention"] == ["lisi"]
    [call] = fake_wecom.calls("message/send")
    assert (call["body"]["touser"], call["body"]["agentid"]) == ("lisi", AGENT_ID)
    assert call["body"]["text"]["content"] == "张三在客户「王小明」的跟进记录中提到了你：客户要报价"
    with runtime.Session() as s:
        [outbox_id] = s.scalars(select(Outbox.id).where(Outbox.key.like("follow_up_mention:%"))).all()
    deliver_outbox(outbox_id)  # a delivery job run again (a retry, the sweeper) sends nothing more
    assert len(fake_wecom.calls("message/send")) == 1


def test_an_unknown_colleague_is_a_422_and_nothing_is_written_or_sent(client, runtime, world, fake_wecom) -> None:
    error = rejected(runtime, lambda: post(client, world["zhangsan"], customer_id=world["王小明"], text="x",
                                           mention=["lisi", "nobody"]), 422, "invalid")
    assert list(error["fields"]) == ["mention"] and "nobody" in error["message"]
    assert fake_wecom.calls("message/send") == []


def test_a_reminder_time_becomes_a_plan_reminded_once(client, runtime, world, fake_wecom) -> None:
    due = (utcnow() + dt.timedelta(hours=2)).replace(microsecond=0)
    r = post(client, world["zhangsan"], customer_id=world["王小明"], text="回访报价", remind_at=due.isoformat())
    assert r.status_code == 201, r.get_json()
    assert dt.datetime.fromisoformat(r.get_json()["remind_at"]) == due
    with runtime.Session() as s:
        plan = s.scalar(select(Plan))
        assert (plan.userid, plan.customer_id, plan.text, plan.due_at) == ("zhangsan", world["王小明"], "回访报价", due)
    assert remind_due_plans(now=due - dt.timedelta(seconds=1)) == 0
    assert fake_wecom.calls("message/send") == []
    assert remind_due_plans(now=due) == 1
    assert remind_due_plans(now=due + dt.timedelta(minutes=5)) == 0
    [call] = fake_wecom.calls("message/send")
    assert call["body"]["touser"] == "zhangsan" and call["body"]["text"]["content"].endswith("：回访报价（客户：王小明）")
    error = rejected(runtime, lambda: post(client, world["zhangsan"], customer_id=world["王小明"], text="x",
                                           remind_at="2020-01-01T00:00:00Z"), 422, "invalid")
    assert list(error["fields"]) == ["remind_at"]


def test_a_refused_record_leaves_its_upload_unattached(client, runtime, world) -> None:
    up = upload(client, world["zhangsan"], PDF).get_json()["id"]
    rejected(runtime, lambda: post(client, world["zhangsan"], customer_id=world["王小明"], text="x",
                                   attachment_id=up, mention=["nobody"]), 422, "invalid")
    assert post(client, world["zhangsan"], customer_id=world["王小明"], text="x", attachment_id=up).status_code == 201
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(FollowUpAttachment)
                        .where(FollowUpAttachment.follow_up_id == s.scalar(select(FollowUp.id)))) == 1


def test_uploads_no_record_holds_go_with_their_files_after_a_day(client, runtime, world, files) -> None:
    from jobs.attachments import UNCLAIMED_AFTER, purge_unclaimed
    from models.recycle import purge

    kept = upload(client, world["zhangsan"], PDF).get_json()["id"]
    post(client, world["zhangsan"], customer_id=world["王小明"], text="x", attachment_id=kept)
    lonely = upload(client, world["zhangsan"], PDF).get_json()["id"]
    assert len(stored(files)) == 2
    assert purge_unclaimed() == 0  # a fresh upload may still be attached
    assert purge_unclaimed(now=utcnow() + UNCLAIMED_AFTER) == 1
    with runtime.Session() as s:
        assert s.scalars(select(FollowUpAttachment.id)).all() == [kept]
        assert s.get(FollowUpAttachment, lonely) is None
    assert len(stored(files)) == 1
    # the record's customer purged from the recycle bin: its file goes on the next run
    with runtime.WriteSession.begin() as s:
        purge(s, [world["王小明"]])
    assert purge_unclaimed(now=utcnow() + UNCLAIMED_AFTER) == 1
    assert stored(files) == []
