"""`python -m wecom.fake` refuses a seed it cannot use with exit status 2 and says which kind of problem it is,
before it binds a port; `wecom.fake.wsgi.app` (what the benches serve under gunicorn) loads a good one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wecom.fake import wsgi

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "cannot read seed"),
    (json.dumps({"corps": "not a list"}), "invalid seed"),
])
def test_a_bad_seed_is_refused_with_its_reason(tmp_path: Path, content: str, message: str) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(content, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "wecom.fake", "--port", "0", "--seed", str(seed)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith(f"{message} {seed}:")
    assert "listening" not in done.stdout


def test_a_missing_seed_file_is_refused(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "wecom.fake", "--port", "0", "--seed", str(tmp_path / "none.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr.split(" ")[:3]) == (2, ["cannot", "read", "seed"])


def test_the_wsgi_app_serves_its_seed(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"corps": [{"corpid": "wwseed", "secrets": {"s3": 1000002}}]}), encoding="utf-8")
    client = wsgi.app(str(seed), token_ttl=60).test_client()
    token = client.get("/cgi-bin/gettoken", query_string={"corpid": "wwseed", "corpsecret": "s3"}).get_json()
    assert (token["errcode"], token["expires_in"]) == (0, 60)
    refused = client.get("/cgi-bin/gettoken", query_string={"corpid": "wwseed", "corpsecret": "wrong"}).get_json()
    assert refused["errcode"] != 0


def test_without_arguments_the_fake_serves_the_demo_corp(tmp_path: Path) -> None:
    """`python -m wecom.fake` alone, from any directory: gettoken for the demo corp answers a token."""
    import re
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-m", "wecom.fake", "--port", "0"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        base = re.search(r"(http://\S+/cgi-bin/)", line)
        assert base, line + proc.stderr.read()  # type: ignore[union-attr]
        url = f"{base[1]}gettoken?corpid=wwdemo0000000001&corpsecret=demo-app-secret"
        answer = json.load(urllib.request.urlopen(url, timeout=10))
        assert answer["errcode"] == 0 and answer["access_token"]
    finally:
        proc.terminate()
        proc.wait(10)
