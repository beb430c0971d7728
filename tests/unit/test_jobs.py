"""Long work as jobs with progress: the directory sync, the tag sync and the customer export answer 202 with
`{"job": ...}` and a Location, the job is readable at GET /api/v1/jobs/<id> (admin, corp-bounded), an export's
file downloads from the job, and the CLI waits with a progress bar. Jobs run inline (no Redis), against
the fake WeCom over HTTP."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import jobs.progress
from customer_world import OTHER_CORP, build, rejected
from jobs.progress import fail_run, open_run, tracked
from models import Download, JobRun
from support import CORP_ID, SECRET
from web.auth import create_token
from wecom.client import WeComClient

DEPARTMENTS = [{"corpid": CORP_ID, "id": 1, "name": "总部", "parentid": 0, "order": 100},
               {"corpid": CORP_ID, "id": 2, "name": "销售部", "parentid": 1, "order": 90}]


@pytest.fixture
def exports(runtime, tmp_path: Path, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    """Export files go to this test's own folder."""
    monkeypatch.setattr(runtime, "settings", runtime.settings.with_overrides(export_dir=str(tmp_path / "exports")))
    return tmp_path / "exports"


def corp_token(runtime, role: str, corp_id: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        return {"Authorization": f"Bearer {create_token(s, f'corp-{role}', role, corp_id=corp_id)}"}


def job_count(runtime) -> int:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return s.scalar(select(func.count()).select_from(JobRun))


def started(r) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A 202 that started a job: the body's job, whose URL is the Location."""
    assert r.status_code == 202, r.get_data(as_text=True)
    job = r.get_json()["job"]
    assert r.headers["Location"].endswith(f"/api/v1/jobs/{job['id']}") and job["url"] == f"/api/v1/jobs/{job['id']}"
    return job


# -- directory sync ---------------------------------------------------------------------------------------------
def test_a_directory_sync_is_a_job_with_its_progress(client, runtime, make_token, fake_wecom) -> None:
    fake_wecom.seed({"departments": DEPARTMENTS})
    admin = make_token("admin")
    job = started(client.post("/api/v1/directory/sync", headers=admin))
    assert job["kind"] == "directory_sync" and job["corp_id"] == CORP_ID
    r = client.get(f"/api/v1/jobs/{job['id']}", headers=admin)
    assert r.status_code == 200
    body = r.get_json()
    assert (body["state"], body["done"], body["total"], body["error_count"]) == ("done", 4, 4, 0)  # 2 depts, 2 users
    assert body["result"]["departments"] == 2 and body["result"]["staff"] == 2
    assert body["started_at"] and body["finished_at"] and body["finished_at"].endswith("+00:00")
    assert len(fake_wecom.calls("user/list")) == 2  # one per department: user/list has no fetch_child (doc 96260)


def test_a_failed_directory_sync_says_so_on_its_job(client, runtime, make_token, fake_wecom) -> None:
    fake_wecom.fault("department/list", 60011)  # no privilege: retrying will not help
    job = started(client.post("/api/v1/directory/sync", headers=make_token("admin")))
    assert job["state"] == "failed" and job["error_count"] == 1 and "60011" in job["errors"][0]
    assert job["finished_at"] and job["result"] is None


def test_jobs_are_for_admins_and_bounded_to_the_tokens_corp(client, runtime, make_token, fake_wecom) -> None:
    job = started(client.post("/api/v1/directory/sync", headers=make_token("admin")))
    url = f"/api/v1/jobs/{job['id']}"
    assert client.get(url, headers=make_token("member", userid="zhangsan")).status_code == 403
    assert client.get(url).status_code == 401
    assert client.get(url, headers=corp_token(runtime, "admin", CORP_ID)).status_code == 200
    other = corp_token(runtime, "admin", OTHER_CORP)
    r = client.get(url, headers=other)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/jobs", headers=other).get_json()["items"] == []
    assert [j["id"] for j in client.get("/api/v1/jobs", headers=make_token("admin")).get_json()["items"]] == [job["id"]]
    assert client.get("/api/v1/jobs/999999", headers=make_token("admin")).status_code == 404


def test_bad_job_list_filters_are_400(client, runtime, make_token) -> None:
    admin = make_token("admin")
    rejected(runtime, lambda: client.get("/api/v1/jobs?state=stuck", headers=admin), 400, "bad_request")


# -- tag sync ---------------------------------------------------------------------------------------------------
def test_a_tag_sync_is_a_job_counting_the_groups(client, runtime, make_token, fake_wecom) -> None:
    wecom = WeComClient(CORP_ID, SECRET, fake_wecom.api_base)
    for name in ("等级", "来源"):
        wecom.post("externalcontact/add_corp_tag", data={"group_name": name, "tag": [{"name": f"{name}1"}]})
    job = started(client.post("/api/v1/tags/sync", headers=make_token("admin")))
    assert job["kind"] == "tags_sync" and (job["state"], job["done"], job["total"]) == ("done", 2, 2)


# -- export -----------------------------------------------------------------------------------------------------
def test_an_export_job_makes_the_file_the_streamed_export_sends(client, runtime, make_token, exports) -> None:
    world = build(runtime)
    root = make_token("super_admin")
    query = {"corp_id": CORP_ID, "tag": world["vip"]}
    job = started(client.post("/api/v1/exports", query_string=query, headers=root))
    assert (job["kind"], job["state"], job["done"], job["total"]) == ("customers_export", "done", 2, 2)
    assert job["result"]["rows"] == 2 and "path" not in job["result"]
    r = client.get(job["download"], headers=root)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert job["result"]["filename"] in r.headers["Content-Disposition"]
    streamed = client.get("/api/v1/customers/export.csv", query_string=query, headers=root)
    assert r.data == streamed.data and r.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert sorted(row[1] for row in rows[1:]) == ["王小明", "赵六"]
    assert not exports.exists()  # made in a temporary file, kept in the download centre's storage
    with runtime.Session() as s:
        download = s.get_one(Download, job["result"]["download_id"])
        assert (download.job_id, download.what, download.rows) == (job["id"], "customers", 2)


def test_a_bad_export_filter_is_400_and_starts_nothing(client, runtime, make_token, exports) -> None:
    build(runtime)
    root = make_token("super_admin")
    error = rejected(runtime, lambda: client.post("/api/v1/exports", query_string={"corp_id": CORP_ID, "tag": "x"},
                                                  headers=root), 400, "bad_request")
    assert "tag" in error["message"]
    assert client.post("/api/v1/exports", query_string={"corp_id": CORP_ID},
                       headers=make_token("admin")).status_code == 403
    assert job_count(runtime) == 0 and not exports.exists()


def test_download_is_only_for_a_finished_export(client, runtime, make_token, fake_wecom) -> None:
    root = make_token("super_admin")
    sync = started(client.post("/api/v1/directory/sync", headers=root))
    r = client.get(f"/api/v1/jobs/{sync['id']}/download", headers=root)
    assert r.status_code == 404 and "no file" in r.get_json()["error"]["message"]
    with runtime.WriteSession.begin() as s:
        queued = open_run(s, "customers_export", CORP_ID, "test", query={}, principal={}).id
    r = client.get(f"/api/v1/jobs/{queued}/download", headers=root)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_ready"


# -- the progress helper ----------------------------------------------------------------------------------------
def read(runtime, job_id: int) -> JobRun:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return s.get(JobRun, job_id)


def test_progress_is_visible_while_the_work_goes_on(runtime, monkeypatch) -> None:
    monkeypatch.setattr(jobs.progress, "FLUSH_SECONDS", 0.0)
    with runtime.WriteSession.begin() as s:
        job_id = open_run(s, "lead_import", CORP_ID, "test").id
    assert read(runtime, job_id).state == "queued"
    seen = []
    with tracked(job_id) as progress:
        for line in progress.each(["a", "", "c"]):
            if not line:
                progress.error("line 2: empty")
            run = read(runtime, job_id)
            seen.append((run.state, run.done, run.total))
        progress.result = {"imported": 2}
    assert seen == [("running", 0, 3), ("running", 1, 3), ("running", 2, 3)]
    run = read(runtime, job_id)
    assert (run.state, run.done, run.total, run.errors, run.error_count, run.result) == (
        "done", 3, 3, ["line 2: empty"], 1, {"imported": 2})


def test_a_failing_attempt_waits_for_its_retry_and_the_dead_letter_fails_it(runtime) -> None:
    with runtime.WriteSession.begin() as s:
        job_id = open_run(s, "lead_import", CORP_ID, "test").id
    with pytest.raises(RuntimeError), tracked(job_id) as progress:
        progress.total = 10
        progress.advance(4)
        raise RuntimeError("WeCom is down")
    run = read(runtime, job_id)
    assert (run.state, run.done, run.total, run.errors) == ("queued", 4, 10, ["RuntimeError: WeCom is down"])
    fail_run(job_id, "RuntimeError: WeCom is down")
    run = read(runtime, job_id)
    assert (run.state, run.error_count) == ("failed", 1) and run.finished_at is not None


def test_errors_are_counted_and_the_first_ones_kept(runtime) -> None:
    with runtime.WriteSession.begin() as s:
        job_id = open_run(s, "lead_import", CORP_ID, "test").id
    with tracked(job_id) as progress:
        for n in progress.each(range(120)):
            progress.error(f"line {n}: bad")
    run = read(runtime, job_id)
    assert run.error_count == 120 and run.errors[:2] == ["line 0: bad", "line 1: bad"] and len(run.errors) == 50


# -- CLI --------------------------------------------------------------------------------------------------------
def test_cli_directory_sync_waits_with_a_progress_bar(app, runtime, fake_wecom) -> None:
    fake_wecom.seed({"departments": DEPARTMENTS})
    result = app.test_cli_runner().invoke(args=["directory", "sync", "--wait"])
    assert result.exit_code == 0, result.output
    assert "directory_sync (job" in result.output  # the bar's label
    assert "directory_sync: done, 4/4" in result.output and "departments upserted: 2" in result.output


def test_cli_tags_sync(app, runtime, fake_wecom) -> None:
    result = app.test_cli_runner().invoke(args=["tags", "sync", "--wait"])
    assert result.exit_code == 0, result.output
    assert "tags_sync: done, 0/0" in result.output
    assert fake_wecom.calls("externalcontact/get_corp_tag_list")


def test_cli_failed_sync_exits_1_with_the_error(app, runtime, fake_wecom) -> None:
    fake_wecom.fault("externalcontact/get_corp_tag_list", 60011)
    result = app.test_cli_runner().invoke(args=["tags", "sync", "--wait"])
    assert result.exit_code == 1 and "failed" in result.output and "60011" in result.output


def test_cli_export_writes_the_file(app, runtime, exports, tmp_path: Path) -> None:
    world = build(runtime)
    out = tmp_path / "vip.csv"
    result = app.test_cli_runner().invoke(args=["customers", "export", "--corp-id", CORP_ID, "--tag",
                                                str(world["vip"]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "customers_export: done, 2/2" in result.output
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert sorted(row[1] for row in rows[1:]) == ["王小明", "赵六"]


def test_cli_export_refuses_a_bad_filter_and_starts_nothing(app, runtime, exports) -> None:
    build(runtime)
    result = app.test_cli_runner().invoke(args=["customers", "export", "--corp-id", CORP_ID, "--added-from", "May"])
    assert result.exit_code == 2 and "added_from: a date" in result.output
    assert job_count(runtime) == 0
