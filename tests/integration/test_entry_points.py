"""Every process reads the same `.env`: the working directory's (or SCRM_ENV_FILE's), whatever the entry
point, and the `scrm` commands work from a directory holding a stray `config.py`, `app.py` and `jobs/`
that would shadow ours if the working directory were on sys.path first.

Each entry point runs as a subprocess in a fresh directory whose only configuration is its `.env`; if the
process ignored it, it would fall back to `sqlite:///scrm.db` there (un-migrated) or find no Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from redis import Redis
from rq import Queue
from sqlalchemy import create_engine, inspect

from integration.realparts import BIN, ROOT, free_port, wait_for

pytestmark = pytest.mark.integration

SCRM = [sys.executable, "-m", "cli.scrm"]
"""The `scrm` console script's code, run from this checkout (the installed wheel's is tests/integration/test_wheel.py)."""

CRON_JOBS = {"jobs.maintenance.sweep_job", "jobs.recycle.purge_recycle_bin_job", "jobs.kf.kf_tick",
             "jobs.bot.remind_plans_job", "jobs.channels.reroute_codes_job", "jobs.moderation.reply_timeouts_job"}


@pytest.fixture
def workdir(tmp_path: Path, redis_url: str, fake_wecom) -> Path:  # type: ignore[no-untyped-def]
    """A directory with a `.env` (a SQLite file in it, Redis, the fake) and decoys named like our modules.
    Its own SQLite whatever the suite's database: these tests run once, in the SQLite pass."""
    if os.environ.get("SCRM_TEST_DATABASE_URL", "").startswith("mysql"):
        pytest.skip("the .env names its own SQLite file; checked in the SQLite pass")
    home = tmp_path / "ops"
    home.mkdir()
    (home / ".env").write_text(f"DATABASE_URL=sqlite:///{home}/from-dotenv.db\nREDIS_URL={redis_url}\n"
                               f"WECOM_API_BASE={fake_wecom.api_base}\n", encoding="utf-8")
    for decoy in ("config.py", "app.py"):
        (home / decoy).write_text("raise SystemExit('the stray file in the working directory was imported')\n")
    (home / "jobs").mkdir()
    (home / "jobs" / "__init__.py").write_text("raise SystemExit('the stray jobs/ package was imported')\n")
    return home


@pytest.fixture
def env() -> dict[str, str]:
    """Our code on PYTHONPATH (as installed code is on sys.path); no configuration in the environment."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("WECOM_", "SCRM_", "DATABASE_URL", "REDIS_URL", "RQ_"))}
    return {**clean, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


def scrm(workdir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SCRM, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=120)


def start(args: list[str], workdir: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    """A long-running entry point in `workdir`, in its own process group (gunicorn forks workers)."""
    return subprocess.Popen(args, cwd=workdir, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)


def tables(workdir: Path) -> list[str]:
    engine = create_engine(f"sqlite:///{workdir}/from-dotenv.db")
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_cli_commands_read_the_working_directorys_env(workdir: Path, env: dict[str, str]) -> None:
    done = scrm(workdir, env, "db", "upgrade")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "inbox" in tables(workdir) and not (workdir / "scrm.db").exists()
    token = scrm(workdir, env, "token", "create", "--role", "super_admin", "--name", "ops")
    assert token.returncode == 0 and len(token.stdout.strip().splitlines()[-1]) >= 32, token.stderr


def test_scrm_env_file_names_another_file_and_a_missing_one_is_refused(workdir: Path, env: dict[str, str],
                                                                       tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (workdir / ".env").rename(elsewhere / "scrm.env")
    done = scrm(workdir, {**env, "SCRM_ENV_FILE": str(elsewhere / "scrm.env")}, "db", "upgrade")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "inbox" in tables(workdir)
    missing = scrm(workdir, {**env, "SCRM_ENV_FILE": str(elsewhere / "typo.env")}, "db", "current")
    assert (missing.returncode, missing.stderr.strip()) == (1, f"error: SCRM_ENV_FILE={elsewhere}/typo.env: no such file")


@pytest.mark.parametrize("command", ["scrm web", "gunicorn -c python:web.gunicorn_conf"])
def test_the_web_reads_the_env_and_logs_each_request_with_its_id(workdir: Path, env: dict[str, str],
                                                                 tmp_path: Path, command: str) -> None:
    assert scrm(workdir, env, "db", "upgrade").returncode == 0
    port = free_port()
    if command.startswith("gunicorn"):  # plain gunicorn puts the working directory first: no decoys here
        for decoy in ("config.py", "app.py", "jobs/__init__.py"):
            (workdir / decoy).unlink()
        args = [str(BIN / "gunicorn"), "-c", "python:web.gunicorn_conf", "-w", "1", "-b", f"127.0.0.1:{port}"]
    else:
        args = [*SCRM, "web", "-w", "1", "-b", f"127.0.0.1:{port}"]
    proc = start(args, workdir, env, tmp_path / "web.log")
    try:
        def healthy() -> bool:
            assert proc.poll() is None, (tmp_path / "web.log").read_text()
            try:
                return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2,
                                    headers={"X-Request-Id": "probe-0001"}).status_code == 200
            except requests.RequestException:
                return False

        wait_for(healthy, 30, command)
        answer = requests.get(f"http://127.0.0.1:{port}/api/v1/customers?keyword=13800000000", timeout=5)
        assert answer.status_code == 401 and len(answer.headers["X-Request-Id"]) == 32
        rid = answer.headers["X-Request-Id"]
        wait_for(lambda: f"rid={rid}" in (tmp_path / "web.log").read_text(), 10, "the access line")
        log = (tmp_path / "web.log").read_text()
        assert '"GET /healthz" 200' in log and "rid=probe-0001" in log
        assert "13800000000" not in log  # the query string (a phone number here) stays out of the log
    finally:
        stop(proc)


def test_the_worker_reads_the_env(workdir: Path, env: dict[str, str], redis_url: str) -> None:
    assert scrm(workdir, env, "db", "upgrade").returncode == 0
    job = Queue("maintenance", connection=Redis.from_url(redis_url)).enqueue("jobs.maintenance.sweep_job")
    done = scrm(workdir, env, "worker", "--burst")
    assert done.returncode == 0, done.stdout + done.stderr
    job.refresh()
    assert job.get_status() == "finished", done.stdout + done.stderr  # it swept the .env's database


def test_cron_reads_the_env_and_registers_its_jobs(workdir: Path, env: dict[str, str], tmp_path: Path,
                                                   redis_url: str) -> None:
    proc = start([*SCRM, "cron"], workdir, env, tmp_path / "cron.log")
    try:
        queue = Queue("maintenance", connection=Redis.from_url(redis_url))
        wait_for(lambda: {job.func_name for job in queue.jobs} >= CRON_JOBS, 30, "the cron jobs")
    finally:
        stop(proc)


def test_worker_and_cron_without_redis_say_so(workdir: Path, env: dict[str, str]) -> None:
    (workdir / ".env").write_text(f"DATABASE_URL=sqlite:///{workdir}/from-dotenv.db\n", encoding="utf-8")
    for command in ("worker", "cron"):
        done = scrm(workdir, env, command)
        assert done.returncode == 2 and "REDIS_URL is not set" in done.stderr


def test_a_worker_line_carries_the_request_id_of_the_callback(service: str, service_env: dict[str, str]) -> None:
    """The callback's X-Request-Id travels with its job: `scrm worker`'s JSON line for it says so."""
    from support import AGENT_ID, CORP_ID
    from wecom.crypto import CallbackCrypto
    from wecom.fake.sender import build_callback, render_sample

    crypto = CallbackCrypto(service_env["WECOM_TOKEN"], service_env["WECOM_AES_KEY"], CORP_ID)
    xml = render_sample("change_external_contact/add_external_contact", corp_id=CORP_ID,
                        ExternalUserID="wmCustomer0001", UserID="zhangsan")
    params, body = build_callback(crypto, xml, AGENT_ID)
    answer = requests.post(f"{service}/wecom/callback/default", params=params, data=body, timeout=10,
                           headers={"X-Request-Id": "wecom-cb-0001"})
    assert (answer.status_code, answer.headers["X-Request-Id"]) == (200, "wecom-cb-0001")
    done = subprocess.run([*SCRM, "worker", "--burst"], cwd=ROOT, env={**service_env, "SCRM_LOG_FORMAT": "json"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [json.loads(line) for line in (done.stdout + done.stderr).splitlines() if line.startswith("{")]
    assert any(line["request_id"] == "wecom-cb-0001" and "Job OK" in line["message"] for line in lines), lines
