"""The README's first command, as a newcomer runs it: the customer must appear."""

from __future__ import annotations

import os
import subprocess

from integration.realparts import ROOT, free_port


def test_demo_script_shows_the_customer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "SCRM_", "REDIS_URL"))}
    env.update(PORT=str(free_port()), FAKE_PORT=str(free_port()), DATABASE_URL=f"sqlite:///{tmp_path}/demo.db")
    done = subprocess.run(["bash", "scripts/demo.sh", "--check"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "HTTP 200" in done.stdout
    assert '"name": "王小明"' in done.stdout and '"staff_name": "张三"' in done.stdout
