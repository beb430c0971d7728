"""The production path from the built wheel, as the README gives it: `pip install` the wheel into a fresh
virtual environment, then from another directory (holding a stray `config.py` and a `.env`) migrate,
create a token, serve with `scrm web`, process one callback with `scrm worker` against the fake WeCom and
register the cron jobs with `scrm cron`; `python -m wecom.fake` alone answers gettoken (its seed ships).

Runs once per CI run, in the SQLite pass: the wheel does not depend on the suite's database."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest
import requests
from alembic.script import ScriptDirectory
from redis import Redis
from rq import Queue

from integration.realparts import ROOT, free_port, wait_for
from migrations import runner
from support import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN

pytestmark = [
    pytest.mark.integration,
    pytest.mark.xdist_group("wheel"),  # one wheel build and venv: under --dist loadgroup, one worker
    pytest.mark.skipif(os.environ.get("SCRM_TEST_DATABASE_URL", "").startswith("mysql"),
                       reason="the wheel is checked once, in the SQLite pass"),
]

NOT_SHIPPED = {"tests", "scripts", "docs", "build", "dist"}
HEAD = ScriptDirectory.from_config(runner.alembic_config()).get_current_head()


def _ignored(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in {".venv", ".git", "build", "dist", "__pycache__", ".pytest_cache"}
            or n.endswith((".egg-info", ".db", ".log")) or ".writer-lock" in n}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """`pip wheel` of a copy of the checkout (setuptools would reuse a stale build/ in the checkout)."""
    src = tmp_path_factory.mktemp("src") / "scrm"
    shutil.copytree(ROOT, src, ignore=_ignored)
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("*.whl")
    return built


def test_every_package_and_module_of_the_checkout_is_in_the_wheel(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n.split("/")[0] for n in names}
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()} - NOT_SHIPPED
    modules = {p.name for p in ROOT.glob("*.py")}
    assert packages and packages <= shipped, packages - shipped
    assert modules and modules <= shipped, modules - shipped
    assert not shipped & NOT_SHIPPED
    sub = {str(p.relative_to(ROOT)) for p in ROOT.rglob("__init__.py") if p.parts[len(ROOT.parts)] in packages}
    assert sub <= set(names), sub - set(names)  # sub-packages too (wecom/fake)
    data = {"wecom/fake/default_seed.json", "migrations/script.py.mako",
            *(str(p.relative_to(ROOT)) for p in (ROOT / "migrations" / "versions").glob("*.py")),
            *(str(p.relative_to(ROOT)) for p in (ROOT / "wecom" / "fake" / "samples").glob("*.xml")),
            *(str(p.relative_to(ROOT)) for p in (ROOT / "web" / "sidebar").rglob("*")
              if p.is_file() and p.suffix in (".html", ".css", ".js", ".txt"))}
    assert data <= set(names), data - set(names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "License-Expression: MIT" in metadata
    assert "scrm = cli.scrm:main" in zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode()


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel and its dependencies, and nothing of the checkout."""
    home = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(home)], check=True, timeout=120)
    done = subprocess.run([str(home / "bin" / "python"), "-m", "pip", "install", "-q",
                           "--disable-pip-version-check", str(wheel)], capture_output=True, text=True, timeout=600,
                          env=clean_env())  # no PYTHONPATH: pip would take the checkout's metadata as installed
    assert done.returncode == 0, done.stdout + done.stderr
    return home / "bin"


@pytest.fixture
def ops(tmp_path: Path, redis_url: str, fake_wecom) -> Path:  # type: ignore[no-untyped-def]
    """The operator's directory: a `.env` with the README's variables, and a stray config.py."""
    home = tmp_path / "ops"
    home.mkdir()
    (home / ".env").write_text("\n".join([
        f"DATABASE_URL=sqlite:///{home}/scrm.db", f"REDIS_URL={redis_url}", "SECRET_KEY=prod-smoke",
        f"WECOM_API_BASE={fake_wecom.api_base}", f"WECOM_CORP_ID={CORP_ID}", f"WECOM_TOKEN={TOKEN}",
        f"WECOM_AES_KEY={AES_KEY}", f"WECOM_SECRET={SECRET}", f"WECOM_AGENT_ID={AGENT_ID}", ""]), encoding="utf-8")
    (home / "config.py").write_text("raise SystemExit('the stray config.py was imported')\n")
    return home


def clean_env() -> dict[str, str]:
    drop = ("WECOM_", "SCRM_", "DATABASE_URL", "REDIS_URL", "RQ_", "PYTHONPATH", "VIRTUAL_ENV")
    return {**{k: v for k, v in os.environ.items() if not k.startswith(drop)}, "PYTHONUNBUFFERED": "1"}


def test_the_readme_production_commands_from_the_wheel(venv: Path, ops: Path, redis_url: str,
                                                       tmp_path: Path) -> None:
    env = clean_env()

    def scrm(*args: str) -> str:
        done = subprocess.run([str(venv / "scrm"), *args], cwd=ops, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, f"scrm {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    procs: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        proc = subprocess.Popen([str(venv / "scrm"), *args], cwd=ops, env=env, start_new_session=True,
                                stdout=(tmp_path / f"{args[0]}.log").open("wb"), stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    try:
        assert f"database at {HEAD}" in scrm("db", "upgrade")
        token = scrm("token", "create", "--role", "super_admin", "--name", "ops").strip().splitlines()[-1]
        port = free_port()
        web = start("web", "-w", "2", "-b", f"127.0.0.1:{port}")
        base = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            assert web.poll() is None, (tmp_path / "web.log").read_text()
            try:
                return requests.get(f"{base}/healthz", timeout=2).json() == {"db": "ok", "redis": "ok",
                                                                              "apps_credentials_broken": []}
            except requests.RequestException:
                return False

        wait_for(healthy, 60, "scrm web")
        sent = scrm("send-sample", "change_external_contact/add_external_contact", "--base-url", base,
                    "--set", "ExternalUserID=wmCustomer0001", "--set", "UserID=zhangsan")
        assert "HTTP 200" in sent
        scrm("worker", "--burst")  # takes the callback's job, calls the fake's externalcontact/get
        customers = requests.get(f"{base}/api/v1/customers", headers={"Authorization": f"Bearer {token}"},
                                 timeout=10).json()
        assert [c["name"] for c in customers["items"]] == ["王小明😀"]

        start("cron")
        queue = Queue("maintenance", connection=Redis.from_url(redis_url))
        wait_for(lambda: "jobs.maintenance.sweep_job" in {j.func_name for j in queue.jobs}, 60, "scrm cron")
        assert "rid=" in (tmp_path / "web.log").read_text()  # the access log is on
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(20)


def test_the_installed_fake_serves_its_default_seed(venv: Path, tmp_path: Path) -> None:
    proc = subprocess.Popen([str(venv / "python"), "-m", "wecom.fake", "--port", "0"], cwd=tmp_path,
                            env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        found = re.search(r"(http://\S+/cgi-bin/)", line)
        assert found, line
        url = f"{found[1]}gettoken?corpid=wwdemo0000000001&corpsecret=demo-app-secret"
        assert json.load(urllib.request.urlopen(url, timeout=10))["errcode"] == 0
    finally:
        proc.terminate()
        proc.wait(10)
