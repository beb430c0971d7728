"""The README's first command, as a newcomer runs it: the customer must appear."""

from __future__ import annotations

import os
import subprocess

import pytest

from integration.realparts import ROOT, free_port

# demo.sh installs into the checkout's .venv/ (created on first use) with `pip install -e .`: two runs at
# once on two pytest-xdist workers would build that one venv and egg-info together. One worker runs both.
pytestmark = pytest.mark.xdist_group("checkout_venv")


def test_demo_script_shows_the_customer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "SCRM_", "REDIS_URL"))}
    env.update(PORT=str(free_port()), FAKE_PORT=str(free_port()), DATABASE_URL=f"sqlite:///{tmp_path}/demo.db")
    done = subprocess.run(["bash", "scripts/demo.sh", "--check"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "HTTP 200" in done.stdout
    assert '"name": "王小明"' in done.stdout and '"staff_name": "张三"' in done.stdout


def test_a_step_that_fails_shows_its_cause(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The service cannot bind its port: the demo says so with the service's own error, not a bare timeout."""
    import socket

    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "SCRM_", "REDIS_URL"))}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        env.update(PORT=str(taken.getsockname()[1]), FAKE_PORT=str(free_port()),
                   DATABASE_URL=f"sqlite:///{tmp_path}/demo.db")
        done = subprocess.run(["bash", "scripts/demo.sh", "--check"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
    assert done.returncode == 1
    assert "error: the service exited before answering" in done.stderr
    assert "Address already in use" in done.stderr  # the end of the service's log, shown
