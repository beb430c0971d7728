"""Real parts: a Redis server, the service under gunicorn and `rq worker` processes, all on loopback,
with the fake WeCom (from the parent conftest) over HTTP and the session's DB (SQLite or MariaDB)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from collections.abc import Callable, Iterator

import pytest
import requests

from integration.realparts import BIN, ROOT, Proc, free_port, start_redis, wait_for
from jobs.queue import QUEUES
from support import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[str]:
    port = free_port()
    proc = start_redis(port, tmp_path_factory.mktemp("redis"))
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    from redis import Redis

    Redis.from_url(redis_server).flushdb()
    return redis_server


@pytest.fixture
def service_env(clean_db: str, redis_url: str, fake_wecom) -> dict[str, str]:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "SCRM_", "DATABASE_URL", "REDIS_URL"))}
    env.update({
        "DATABASE_URL": clean_db, "REDIS_URL": redis_url, "WECOM_API_BASE": fake_wecom.api_base,
        "WECOM_CORP_ID": CORP_ID, "WECOM_TOKEN": TOKEN, "WECOM_AES_KEY": AES_KEY, "WECOM_SECRET": SECRET,
        "WECOM_AGENT_ID": str(AGENT_ID), "PYTHONUNBUFFERED": "1",
    })
    return env


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Proc]]:
    procs: list[Proc] = []

    def start(name: str, args: list[str], env: dict[str, str]) -> Proc:
        proc = Proc(args, env, tmp_path / f"{name}-{len(procs)}.log")
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill(signal.SIGTERM)


@pytest.fixture
def start_service(spawn) -> Callable[[dict[str, str]], str]:  # type: ignore[no-untyped-def]
    """Start the service under gunicorn, as in production, with `env`; its URL once /healthz answers."""

    def start(env: dict[str, str]) -> str:
        port = free_port()
        proc = spawn("gunicorn", [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "app:create_app()"],
                     env)
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert proc.proc.poll() is None, proc.output()
            try:
                return requests.get(f"{url}/healthz", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_for(up, 30, "gunicorn")
        return url

    return start


@pytest.fixture
def service(start_service, service_env) -> str:  # type: ignore[no-untyped-def]
    """The service under gunicorn, as in production."""
    return start_service(service_env)


@pytest.fixture
def start_worker(spawn, service_env) -> Callable[..., Proc]:  # type: ignore[no-untyped-def]
    def start(env: dict[str, str] | None = None, worker_class: str | None = None) -> Proc:
        """`worker_class` "jobs.worker.Worker" (the README's production line) or "rq.worker.SimpleWorker" runs
        jobs in the worker process: no fork and re-import per job (~0.8 s of CPU each); the default is rq's
        forking worker, whose work-horse the kill tests SIGKILL mid-job."""
        env = env or service_env
        klass = ["-w", worker_class] if worker_class else []
        return spawn("rq-worker", [str(BIN / "rq"), "worker", "-u", env["REDIS_URL"], "--with-scheduler", *klass,
                                   *QUEUES], env)

    return start


@pytest.fixture
def flask_cli(service_env) -> Callable[..., subprocess.CompletedProcess]:  # type: ignore[no-untyped-def]
    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "flask"), "--app", "app", *args], env=env or service_env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)

    return run
