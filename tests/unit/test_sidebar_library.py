"""The sidebar's 快捷回复 and 素材库, signed in as a member: what each JSON answer holds (the corp's library and
the member's own, never another member's), counting a use (CSRF-guarded), and the media_id a material's
image is sent with, uploaded to the fake WeCom once per file and app."""

from __future__ import annotations

import io
from typing import Any

import pytest
import requests
from sqlalchemy import select

from models import KnowledgeItem, Material
from sidebar_support import build_world, sign_in
from test_follow_up_files import files  # noqa: F401  (the fixture: a store of the test's own)

CSRF = "X-CSRF-Token"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100


@pytest.fixture
def world(sender, client, runtime, fake_wecom, make_token, files) -> dict[str, Any]:  # type: ignore[no-untyped-def]  # noqa: F811
    admin = make_token("admin", name="setup")
    ids = build_world(sender, client, runtime, fake_wecom.url, admin)
    return {**ids, "admin": admin, "lisi": make_token("member", userid="lisi", name="ls"),
            "csrf": sign_in(client, fake_wecom.url)}


def test_both_pages_render_for_the_signed_in_member(client, world) -> None:
    for path, title in (("/sidebar/quick-replies", "快捷回复"), ("/sidebar/materials", "素材库")):
        r = client.get(path)
        assert r.status_code == 200 and f"<title>{title}</title>" in r.get_data(as_text=True)


def test_quick_replies_hold_the_corps_and_my_own_library(client, world) -> None:
    admin = world["admin"]
    folder = client.post("/api/v1/library-categories", headers=admin, json={"section": "qa", "name": "售后"}).get_json()
    corp = client.post("/api/v1/kf/knowledge", headers=admin, json={
        "question": "怎么退货", "answer": "七天无理由退货", "category_id": folder["id"]}).get_json()
    assert client.post("/api/v1/kf/knowledge", headers=world["lisi"], json={
        "mine": True, "question": "李四的", "answer": "李四的话术"}).status_code == 201
    r = client.get("/sidebar/api/quick-replies?kind=qa")
    assert r.status_code == 200
    body = r.get_json()
    assert [(c["id"], c["name"]) for c in body["categories"]] == [(folder["id"], "售后")]
    assert [(i["id"], i["title"], i["text"], i["category_id"]) for i in body["items"]] == [
        (corp["id"], "怎么退货", "七天无理由退货", folder["id"])]
    assert client.get("/sidebar/api/quick-replies?kind=qa&mine=true").get_json()["items"] == []  # not lisi's
    assert client.get("/sidebar/api/quick-replies?kind=qa&keyword=无理由").get_json()["items"][0]["id"] == corp["id"]


def test_a_use_is_counted_with_the_pages_csrf_token_only(client, runtime, world) -> None:
    item = client.post("/api/v1/kf/knowledge", headers=world["admin"], json={
        "question": "q", "answer": "a"}).get_json()["id"]
    assert client.post(f"/sidebar/api/quick-replies/{item}/uses").status_code == 403
    r = client.post(f"/sidebar/api/quick-replies/{item}/uses", headers={CSRF: world["csrf"]})
    assert r.status_code == 200 and r.get_json() == {"id": item, "uses": 1}
    with runtime.Session() as s:
        assert s.get(KnowledgeItem, item).uses == 1


def test_a_materials_image_is_sent_with_a_media_id_uploaded_once(client, runtime, world, fake_wecom) -> None:
    r = client.post("/api/v1/materials/upload", headers=world["admin"], query_string={"kind": "image"},
                    content_type="multipart/form-data", data={"file": (io.BytesIO(PNG), "产品.png", "image/png")})
    assert r.status_code == 201, r.get_json()
    material = r.get_json()["id"]
    listed = client.get("/sidebar/api/materials?kind=image").get_json()["items"]
    assert [(m["id"], m["title"], m["has_file"]) for m in listed] == [(material, "产品.png", True)]
    assert client.get(listed[0]["thumb"]).data == PNG
    headers = {CSRF: world["csrf"]}
    first = client.post(f"/sidebar/api/materials/{material}/media", headers=headers)
    assert first.status_code == 200, first.get_json()
    again = client.post(f"/sidebar/api/materials/{material}/media", headers=headers)
    [record] = requests.get(f"{fake_wecom.url}/fake/media", timeout=5).json()["media"]
    assert first.get_json()["media_id"] == again.get_json()["media_id"] == record["media_id"]
    assert (record["type"], record["filename"], record["size"]) == ("image", "产品.png", len(PNG))
    assert client.post(f"/sidebar/api/materials/{material}/uses", headers=headers).get_json()["uses"] == 1
    with runtime.Session() as s:
        assert s.scalar(select(Material.uses).where(Material.id == material)) == 1


def test_a_text_material_has_no_media_and_an_unknown_one_is_absent(client, world) -> None:
    text = client.post("/api/v1/materials", headers=world["admin"], json={
        "kind": "text", "title": "问候", "payload": {"text": "您好"}}).get_json()["id"]
    headers = {CSRF: world["csrf"]}
    assert client.post(f"/sidebar/api/materials/{text}/media", headers=headers).status_code == 422
    assert client.post("/sidebar/api/materials/99999/media", headers=headers).status_code == 404
    assert client.post("/sidebar/api/materials/99999/uses", headers=headers).status_code == 404
