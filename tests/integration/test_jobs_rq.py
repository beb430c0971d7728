"""Long work with real parts: the CLI starts a sync or an export, an `rq worker` does it, and `--wait` follows
the job run's progress until the worker is done (or failed: exit 1 with the error)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy import select

from models import JobRun
from models.db import make_engine, make_session_factory
from support import CORP_ID


def test_cli_waits_for_the_worker_with_progress(start_worker, flask_cli, service_env, fake_wecom, clean_db,
                                                tmp_path: Path) -> None:
    fake_wecom.seed({"departments": [{"corpid": CORP_ID, "id": 1, "name": "总部", "parentid": 0, "order": 1}]})
    env = {**service_env, "SCRM_EXPORT_DIR": str(tmp_path / "exports"), "SCRM_STORAGE_DIR": str(tmp_path / "files")}
    start_worker(env, worker_class="rq.worker.SimpleWorker")

    sync = flask_cli("directory", "sync", "--wait", env=env)
    assert sync.returncode == 0, sync.stdout + sync.stderr
    assert "directory_sync: done, 3/3" in sync.stdout and "staff upserted: 2" in sync.stdout

    out = tmp_path / "customers.csv"
    export = flask_cli("customers", "export", "--wait", "--out", str(out), env=env)
    assert export.returncode == 0, export.stdout + export.stderr
    assert "customers_export: done, 0/0" in export.stdout
    assert list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))[0][:2] == ["客户ID", "客户名称"]

    fake_wecom.fault("externalcontact/get_corp_tag_list", 60011)
    tags = flask_cli("tags", "sync", "--wait", env=env)
    assert tags.returncode == 1 and "60011" in tags.stdout
    with make_session_factory(make_engine(clean_db))() as s:
        states = dict(s.execute(select(JobRun.kind, JobRun.state)).all())
    assert states == {"directory_sync": "done", "customers_export": "done", "tags_sync": "failed"}
