"""The download centre (004 §9.1): an export started as a job lands in its owner's list with progress and its
file; nobody else lists it or fetches it (404); files go after 7 days (the hourly purge), rows are listed 30 days;
the lead import is listed as an import with its failed rows as the file."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from sqlalchemy import select

from customer_world import build
from jobs.downloads import keep_file, open_download, purge_downloads
from jobs.progress import open_run
from models import Download, DownloadKind, JobRun
from models.db import utcnow
from storage import Missing, storage
from support import CORP_ID
from web.auth import Principal

LIST = "/api/v1/downloads"


def export(client, headers: dict[str, str], **query: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/customers/exports", query_string={"corp_id": CORP_ID, **query}, headers=headers)
    assert r.status_code == 202, r.get_data(as_text=True)
    return r.get_json()


def test_an_export_is_listed_to_its_owner_with_the_file_the_stream_sends(client, runtime, make_token) -> None:
    world = build(runtime)
    root = make_token("super_admin", name="root")
    body = export(client, root, tag=world["vip"])
    download = body["download"]
    assert (download["kind"], download["what"], download["state"], download["rows"]) == ("export", "customers",
                                                                                          "done", 2)
    assert body["job"]["state"] == "done" and download["owner"] == "token:root"
    listed = client.get(LIST, headers=root).get_json()
    assert [d["id"] for d in listed["items"]] == [download["id"]] and listed["items"][0]["file"] == download["file"]
    r = client.get(download["file"], headers=root)
    streamed = client.get("/api/v1/customers/export.csv", query_string={"corp_id": CORP_ID, "tag": world["vip"]},
                          headers=root)
    assert r.status_code == 200 and r.data == streamed.data  # the same scope and filters as the list
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert sorted(row[1] for row in rows[1:]) == ["王小明", "赵六"]
    assert download["filename"] in r.headers["Content-Disposition"]

    # another super admin: not in their list, and the file is absent for them
    other = make_token("super_admin", name="other")
    assert client.get(LIST, headers=other).get_json()["items"] == []
    assert client.get(download["file"], headers=other).status_code == 404


def member_download(runtime, userid: str, content: bytes = b"a,b\n") -> int:  # type: ignore[no-untyped-def]
    """A member's finished export with a stored file, as an export job leaves it."""
    principal = Principal(f"m-{userid}", "member", userid, CORP_ID)
    with runtime.WriteSession.begin() as s:
        run = open_run(s, "customers_export", CORP_ID, principal.actor)
        run.state = "done"
        download = open_download(s, run.id, CORP_ID, principal, DownloadKind.export, "customers", "mine.csv")
        job_id, download_id = run.id, download.id
    assert keep_file(job_id, io.BytesIO(content), "text/csv", 1) == download_id
    return download_id


def test_a_members_file_is_404_to_another_member_and_gone_after_7_days(client, runtime, make_token) -> None:
    download_id = member_download(runtime, "zhangsan")
    owner = make_token("member", userid="zhangsan", name="another-token")  # the member's, by another token
    other = make_token("member", userid="lisi", name="m-lisi")
    url = f"{LIST}/{download_id}/file"
    assert client.get(url, headers=owner).data == b"a,b\n"
    assert client.get(url, headers=make_token("admin", name="m-zhangsan")).status_code == 404  # not a member
    assert client.get(url, headers=other).status_code == 404
    assert client.get(LIST, headers=other).get_json()["total"] == 0
    with runtime.Session() as s:
        row = s.get_one(Download, download_id)
        key, expires = row.file_key, row.expires_at
    assert dt.timedelta(days=6, hours=23) < expires - utcnow() <= dt.timedelta(days=7)

    assert purge_downloads(now=expires - dt.timedelta(minutes=1)) == 0  # not yet
    assert client.get(url, headers=owner).status_code == 200
    assert purge_downloads(now=expires) == 1
    try:
        storage(runtime).open(key)
        raise AssertionError("the file is still stored")
    except Missing:
        pass
    r = client.get(url, headers=owner)
    assert r.status_code == 410 and r.get_json()["error"]["code"] == "gone"
    [listed] = client.get(LIST, headers=owner).get_json()["items"]  # still listed, without its file
    assert listed["id"] == download_id and listed["file"] is None


def test_the_list_covers_30_days(client, runtime, make_token) -> None:
    old, recent = member_download(runtime, "zhangsan"), member_download(runtime, "zhangsan")
    with runtime.WriteSession.begin() as s:
        s.get_one(Download, old).created_at = utcnow() - dt.timedelta(days=30, minutes=1)
        s.get_one(Download, recent).created_at = utcnow() - dt.timedelta(days=29, hours=23)
    owner = make_token("member", userid="zhangsan", name="m-zhangsan")
    assert [d["id"] for d in client.get(LIST, headers=owner).get_json()["items"]] == [recent]
    assert client.get(LIST, query_string={"kind": "import"}, headers=owner).get_json()["total"] == 0


def test_a_file_not_made_yet_is_409(client, runtime, make_token) -> None:
    principal = Principal("m-zhangsan", "member", "zhangsan", CORP_ID)
    with runtime.WriteSession.begin() as s:
        run = open_run(s, "customers_export", CORP_ID, principal.actor)
        download_id = open_download(s, run.id, CORP_ID, principal, DownloadKind.export, "customers", "x.csv").id
    owner = make_token("member", userid="zhangsan", name="m-zhangsan")
    r = client.get(f"{LIST}/{download_id}/file", headers=owner)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_ready"
    [listed] = client.get(LIST, headers=owner).get_json()["items"]
    assert (listed["state"], listed["file"]) == ("queued", None)


def test_a_lead_import_is_listed_with_its_failed_rows(client, runtime, make_token) -> None:
    admin = make_token("admin", name="importer")
    data = "姓名,手机号\n张一,13800000001\n,13800000002\n".encode()
    r = client.post("/api/v1/leads/imports", query_string={"corp_id": CORP_ID}, headers=admin,
                    data={"file": (io.BytesIO(data), "leads.csv")}, content_type="multipart/form-data")
    assert r.status_code == 202, r.get_data(as_text=True)
    [listed] = client.get(LIST, headers=admin).get_json()["items"]
    assert (listed["kind"], listed["what"], listed["filename"], listed["state"]) == ("import", "leads", "leads.csv",
                                                                                     "done")
    assert listed["result"]["summary"] == "共2条记录, 成功1, 失败1"
    failed = client.get(listed["file"], headers=admin).data.decode("utf-8-sig")
    assert failed.splitlines()[0].startswith("行号,原因") and "13800000002" in failed
    with runtime.Session() as s:
        assert s.scalar(select(JobRun.kind).where(JobRun.id == r.get_json()["job"]["id"])) == "leads_import"
