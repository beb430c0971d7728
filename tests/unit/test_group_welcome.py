"""Group welcome templates (客户群欢迎语): kept in our DB and mirrored through group_welcome_template/add, edit
and del (seen on the fake WeCom over HTTP), with WeCom's limits checked before any call."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from models import GroupWelcomeTemplate
from support import CORP_ID


@pytest.fixture
def admin(make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_token("admin", name="adm")


def material(client, admin, kind: str, title: str, **payload: str) -> int:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/materials", headers=admin,
                    json={"corp_id": CORP_ID, "kind": kind, "title": title, "payload": payload})
    assert r.status_code == 201, r.get_json()
    return int(r.get_json()["id"])


def held(fake_wecom) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return requests.get(fake_wecom.url + "/fake/group_welcome_templates", timeout=5).json()["templates"]


def test_a_template_is_added_edited_and_deleted_in_wecom(client, admin, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    link = material(client, admin, "link", "秋季活动", url="https://example.invalid/a", desc="报名")
    r = client.post("/api/v1/group-welcome-templates", headers=admin,
                    json={"corp_id": CORP_ID, "text": "欢迎%NICKNAME%入群", "material_id": link})
    assert r.status_code == 202, r.get_json()
    pk = r.get_json()["id"]
    [add] = fake_wecom.calls("externalcontact/group_welcome_template/add")
    assert add["errcode"] == 0 and add["body"] == {
        "text": {"content": "欢迎%NICKNAME%入群"}, "notify": 1,
        "link": {"title": "秋季活动", "picurl": "", "desc": "报名", "url": "https://example.invalid/a"}}
    template = client.get(f"/api/v1/group-welcome-templates/{pk}", headers=admin).get_json()
    assert template["template_id"] == held(fake_wecom)[0]["template_id"]
    assert [t["id"] for t in client.get("/api/v1/group-welcome-templates", headers=admin).get_json()["items"]] == [pk]

    image = material(client, admin, "image", "海报", media_id="MEDIA1")
    r = client.patch(f"/api/v1/group-welcome-templates/{pk}", headers=admin, json={"text": "新欢迎语", "material_id": image})
    assert r.status_code == 202
    [edit] = fake_wecom.calls("externalcontact/group_welcome_template/edit")
    assert edit["errcode"] == 0 and edit["body"] == {"template_id": template["template_id"],
                                                     "text": {"content": "新欢迎语"}, "image": {"media_id": "MEDIA1"}}
    assert held(fake_wecom)[0]["image"] == {"media_id": "MEDIA1"} and "link" not in held(fake_wecom)[0]

    assert client.delete(f"/api/v1/group-welcome-templates/{pk}", headers=admin).status_code == 202
    [gone] = fake_wecom.calls("externalcontact/group_welcome_template/del")
    assert gone["errcode"] == 0 and gone["body"] == {"template_id": template["template_id"]}
    assert held(fake_wecom) == []
    assert client.get("/api/v1/group-welcome-templates", headers=admin).get_json()["items"] == []
    assert client.get(f"/api/v1/group-welcome-templates/{pk}", headers=admin).status_code == 404


def test_notify_off_is_sent_as_0(client, admin, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/group-welcome-templates", headers=admin,
                    json={"corp_id": CORP_ID, "text": "欢迎", "notify": False})
    assert r.status_code == 202 and r.get_json()["notify"] is False
    assert fake_wecom.calls("externalcontact/group_welcome_template/add")[0]["body"] == {
        "text": {"content": "欢迎"}, "notify": 0}


def test_wecoms_limits_are_checked_before_any_call(client, runtime, admin, make_token, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    long_title = material(client, admin, "link", "标" * 43, url="https://example.invalid")  # 129 bytes
    long_mini = material(client, admin, "miniprogram", "小" * 22, appid="wx1", page="/p", pic_media_id="M")
    with runtime.WriteSession.begin() as s:  # a material of another corp
        from models import Material
        other = Material(corp_id="wwothercorp00001", kind="image", title="x", payload={"media_id": "M"})
        s.add(other)
        s.flush()
        other_id = other.id
    cases = [({"text": "中" * 1001}, "text"),  # 3003 bytes: WeCom's limit is 3000
             ({"text": ""}, "text"), ({"text": "x", "material_id": long_title}, "material_id"),
             ({"text": "x", "material_id": long_mini}, "material_id"),
             ({"text": "x", "material_id": other_id}, "material_id"), ({"text": "x", "material_id": 999999}, "material_id")]
    for body, field in cases:
        r = client.post("/api/v1/group-welcome-templates", headers=admin, json={"corp_id": CORP_ID, **body})
        assert r.status_code == 422 and field in r.get_json()["error"]["fields"], (body, r.get_json())
    assert fake_wecom.calls("externalcontact/group_welcome_template/add") == []
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(GroupWelcomeTemplate)) == 0
    pk = client.post("/api/v1/group-welcome-templates", headers=admin, json={"corp_id": CORP_ID, "text": "ok"}).get_json()["id"]
    r = client.patch(f"/api/v1/group-welcome-templates/{pk}", headers=admin, json={"text": "中" * 1001})
    assert r.status_code == 422 and "text" in r.get_json()["error"]["fields"]
    assert fake_wecom.calls("externalcontact/group_welcome_template/edit") == []
    with runtime.Session() as s:
        assert s.get_one(GroupWelcomeTemplate, pk).text == "ok"
