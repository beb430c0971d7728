"""The file stores behind storage.Storage: the local directory (made on first use, keys never paths) and
the S3-compatible bucket, the latter against a real S3-compatible server (moto_server, started here on a
free loopback port) through boto3 over HTTP."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from config import ConfigError, S3Settings, load_settings
from integration.realparts import free_port
from storage import Missing, build
from storage.local import LocalStorage

# One moto_server for the module (moto_url): under pytest-xdist's --dist loadgroup the module stays on one worker.
pytestmark = pytest.mark.xdist_group("moto_server")

PAYLOAD = "合同扫描件 %PDF-1.4\n".encode() * 1000


def test_the_local_store_makes_its_directory_and_round_trips(tmp_path: Path) -> None:
    root = tmp_path / "not" / "yet"
    store = LocalStorage(root)
    key = store.put(io.BytesIO(PAYLOAD), "application/pdf")
    with store.open(key) as f:
        assert f.read() == PAYLOAD
    assert [p.name for p in root.rglob("*") if p.is_file()] == [key]
    store.delete(key)
    store.delete(key)  # gone already: no error
    with pytest.raises(Missing):
        store.open(key)
    assert [p for p in root.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("key", ["../../etc/passwd", "/etc/passwd", "ab", "A" * 32, "0" * 31 + "/"])
def test_a_key_of_another_shape_never_reaches_the_filesystem(tmp_path: Path, key: str) -> None:
    store = LocalStorage(tmp_path)
    for act in (store.open, store.delete):
        with pytest.raises(ValueError):
            act(key)


def test_storage_settings_come_from_the_environment() -> None:
    assert build(load_settings({"SCRM_STORAGE_DIR": "/srv/files"})).root == Path("/srv/files")  # type: ignore[attr-defined]
    s3 = load_settings({"SCRM_STORAGE": "s3", "SCRM_S3_BUCKET": "b", "SCRM_S3_ENDPOINT_URL": "http://minio:9000",
                        "SCRM_S3_REGION": "cn-north-1", "SCRM_S3_ACCESS_KEY_ID": "ak",
                        "SCRM_S3_SECRET_ACCESS_KEY": "very-secret"})
    assert s3.s3 == S3Settings("b", "http://minio:9000", "cn-north-1", "ak", "very-secret")
    assert "very-secret" not in repr(s3)
    with pytest.raises(ConfigError, match="SCRM_S3_BUCKET"):
        load_settings({"SCRM_STORAGE": "s3"})
    with pytest.raises(ConfigError, match="SCRM_STORAGE"):
        load_settings({"SCRM_STORAGE": "ftp"})


# -- S3 against moto_server ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = free_port()
    server = Path(sys.executable).with_name("moto_server")
    command = [str(server)] if server.exists() else ["moto_server"]
    proc = subprocess.Popen([*command, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_s3_store_round_trips_through_an_s3_server(moto_url: str) -> None:
    import boto3

    s3 = load_settings({"SCRM_STORAGE": "s3", "SCRM_S3_BUCKET": "scrm-files", "SCRM_S3_ENDPOINT_URL": moto_url,
                        "SCRM_S3_REGION": "us-east-1", "SCRM_S3_ACCESS_KEY_ID": "testing",
                        "SCRM_S3_SECRET_ACCESS_KEY": "testing"})
    bucket = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    bucket.create_bucket(Bucket="scrm-files")
    store = build(s3)
    key = store.put(io.BytesIO(PAYLOAD), "application/pdf")
    stored = bucket.get_object(Bucket="scrm-files", Key=key)  # seen by another client: it is on the server
    assert (stored["ContentType"], stored["Body"].read()) == ("application/pdf", PAYLOAD)
    with store.open(key) as f:
        assert f.read() == PAYLOAD
    store.delete(key)
    assert bucket.list_objects_v2(Bucket="scrm-files").get("KeyCount") == 0
    with pytest.raises(Missing):
        store.open(key)
    with pytest.raises(ValueError):
        store.open("../other-bucket")


def test_the_api_keeps_attachments_in_the_s3_store(client, runtime, make_token, monkeypatch, moto_url) -> None:  # type: ignore[no-untyped-def]
    import boto3

    from config import S3Settings
    from customer_world import build as build_world

    bucket = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    bucket.create_bucket(Bucket="scrm-api")
    monkeypatch.setattr(runtime, "settings", runtime.settings.with_overrides(
        storage="s3", s3=S3Settings("scrm-api", moto_url, "us-east-1", "testing", "testing")))
    runtime.local.pop("storage", None)
    ids = build_world(runtime)
    member = make_token("member", userid="zhangsan", name="zs")
    up = client.post("/api/v1/follow-ups/attachments", headers=member, content_type="multipart/form-data",
                     data={"file": (io.BytesIO(PAYLOAD), "合同.pdf", "application/pdf")}).get_json()
    [key] = [o["Key"] for o in bucket.list_objects_v2(Bucket="scrm-api")["Contents"]]
    record = client.post("/api/v1/follow-ups", headers=member, json={"customer_id": ids["王小明"], "text": "签了",
                                                                     "attachment_id": up["id"]}).get_json()
    got = client.get(record["attachment"]["download"], headers=member)
    assert (got.status_code, got.data) == (200, PAYLOAD)
    bucket.delete_object(Bucket="scrm-api", Key=key)  # lost on the store's side: said so, not a 500
    assert client.get(record["attachment"]["download"], headers=member).status_code == 410
