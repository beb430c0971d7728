"""The customer profile page and its JSON routes, signed in as a member: what the page shows, what the member
may reach (their customers only, as their member token would), tags through mark_tag at the fake WeCom,
follow-up records through record_follow_up; bad input changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from customer_world import all_rows
from models import AuditLog, CustomerEvent, FollowTag, FollowUp, Tag
from sidebar_support import build_world, sign_in

CSRF = "X-CSRF-Token"


@pytest.fixture
def world(sender, client, runtime, fake_wecom, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    admin = make_token("admin", name="setup")
    ids = build_world(sender, client, runtime, fake_wecom.url, admin)
    return {**ids, "admin": admin, "csrf": sign_in(client, fake_wecom.url)}


def page(client: Any, external_userid: str = "wmCustomer0001") -> Any:
    return client.get(f"/sidebar/customer?external_userid={external_userid}")


def test_the_profile_shows_the_customer(client, world) -> None:
    admin, cid = world["admin"], world["wmCustomer0001"]
    for key, label, order, visible in (("budget", "预算", 2, True), ("region", "区域", 1, True),
                                       ("secret", "内部评级", 0, False)):
        assert client.post("/api/v1/custom-fields", headers=admin, json={
            "key": key, "label": label, "type": "text", "order": order, "visible": visible}).status_code == 201
    assert client.put(f"/api/v1/customers/{cid}/fields", headers=admin,
                      json={"budget": "五十万", "region": "华东", "secret": "S级"}).status_code == 200
    stage = client.post("/api/v1/opportunity-stages", headers=admin, json={"name": "报价", "probability": 40}).get_json()
    assert client.post("/api/v1/opportunities", headers=admin, json={
        "customer_id": cid, "name": "年度采购", "stage_id": stage["id"], "amount_cents": 12345600,
        "expected_close": "2026-12-31", "owner": "zhangsan", "pinned": True}).status_code == 201
    r = page(client)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    html = r.get_data(as_text=True)
    for shown in ("王小明😀", "@微信", "备注：老客户", "张三", "年度采购", "报价", "¥123,456.00", "置顶", "添加客户", "A级"):
        assert shown in html, shown
    assert html.index("区域") < html.index("预算")  # the configured order
    assert "内部评级" not in html and "S级" not in html  # invisible to members, as in their API
    assert "赵六" not in html


def test_a_member_cannot_open_another_members_customer(client, runtime, world) -> None:
    r = page(client, "wmCustomer0002")  # lisi's
    assert r.status_code == 404 and "赵六" not in r.get_data(as_text=True)
    assert page(client, "wmNoSuchCustomer").status_code == 404
    before = all_rows(runtime)
    other = world["wmCustomer0002"]
    headers = {CSRF: world["csrf"]}
    assert client.post(f"/sidebar/api/customers/{other}/tags", json={"add": [world["A级"]]},
                       headers=headers).status_code == 404
    assert client.post(f"/sidebar/api/customers/{other}/follow-ups", json={"text": "偷看"},
                       headers=headers).status_code == 404
    assert client.get(f"/sidebar/api/customers/{other}/timeline").status_code == 404
    assert all_rows(runtime) == before


def test_tags_go_to_wecom_through_mark_tag(client, runtime, fake_wecom, world) -> None:
    cid, a = world["wmCustomer0001"], world["A级"]
    r = client.post(f"/sidebar/api/customers/{cid}/tags", json={"add": [a]}, headers={CSRF: world["csrf"]})
    assert r.status_code == 202 and r.get_json()["status"] == "done"
    assert [t["name"] for t in r.get_json()["tags"]] == ["A级"]
    [call] = fake_wecom.calls("externalcontact/mark_tag")
    with runtime.Session() as s:
        assert call["body"]["userid"] == "zhangsan" and call["body"]["external_userid"] == "wmCustomer0001"
        assert call["body"]["add_tag"] == [s.get(Tag, a).tag_id]
        assert s.execute(select(FollowTag.tag_pk, FollowTag.tagged_by)).all() == [(a, "zhangsan")]
        assert s.scalar(select(AuditLog.actor).where(AuditLog.action == "customer.tag")) == "sidebar:zhangsan"
    assert f'data-tag="{a}">A级<button' in page(client).get_data(as_text=True)
    r = client.post(f"/sidebar/api/customers/{cid}/tags", json={"remove": [a]}, headers={CSRF: world["csrf"]})
    assert r.status_code == 202 and r.get_json()["tags"] == []
    assert fake_wecom.calls("externalcontact/mark_tag")[-1]["body"]["remove_tag"] == [call["body"]["add_tag"][0]]


def test_a_follow_up_record_is_written_and_on_the_timeline(client, runtime, world) -> None:
    cid = world["wmCustomer0001"]
    r = client.post(f"/sidebar/api/customers/{cid}/follow-ups", json={"text": "  电话沟通了报价  "},
                    headers={CSRF: world["csrf"]})
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["text"], r.get_json()["via"], r.get_json()["type"]) == ("电话沟通了报价", "sidebar", "笔记")
    with runtime.Session() as s:
        [row] = s.scalars(select(FollowUp)).all()
        assert (row.customer_id, row.userid, row.via) == (cid, "zhangsan", "sidebar")
        assert s.scalar(select(AuditLog.actor).where(AuditLog.action == "customer.follow_up")) == "sidebar:zhangsan"
    items = client.get(f"/sidebar/api/customers/{cid}/timeline").get_json()["items"]
    assert items[0]["kind"] == "follow_up" and items[0]["text"] == "笔记：电话沟通了报价" and items[0]["who"] == "张三"
    assert "电话沟通了报价" in page(client).get_data(as_text=True)


@pytest.mark.parametrize("body", [{"text": ""}, {"text": "   "}, {"text": "字" * 101}, {"text": 5},
                                  {"text": "ok", "type_id": 999999}, {}])
def test_a_bad_follow_up_is_refused_and_changes_nothing(client, runtime, world, body) -> None:
    before = all_rows(runtime)
    r = client.post(f"/sidebar/api/customers/{world['wmCustomer0001']}/follow-ups", json=body,
                    headers={CSRF: world["csrf"]})
    assert r.status_code == 422 and r.get_json()["error"]["fields"], r.get_json()
    assert all_rows(runtime) == before


@pytest.mark.parametrize("body", [{}, {"add": [999999]}, {"add": ["x"]}])
def test_a_bad_tagging_is_refused_and_changes_nothing(client, runtime, fake_wecom, world, body) -> None:
    before = all_rows(runtime)
    r = client.post(f"/sidebar/api/customers/{world['wmCustomer0001']}/tags", json=body, headers={CSRF: world["csrf"]})
    assert r.status_code == 422
    assert all_rows(runtime) == before and fake_wecom.calls("externalcontact/mark_tag") == []


def test_the_timeline_pages_newest_first(client, runtime, world) -> None:
    cid = world["wmCustomer0001"]
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with runtime.WriteSession.begin() as s:
        s.add_all([CustomerEvent(customer_id=cid, kind="follow_up", userid="zhangsan", source=f"t:{i}",
                                 at=start + dt.timedelta(minutes=i), detail={"text": f"第{i}条", "type": "笔记"})
                   for i in range(70)])
    first = page(client).get_data(as_text=True)
    # 30 a page: the customer's "added" (now, from the callback), then 第69条 down to 第41条
    assert "添加客户" in first and "第69条" in first and "第41条" in first and "第40条" not in first
    assert "加载更多" in first
    last_id = first.rsplit('data-id="', 1)[1].split('"')[0]
    more = client.get(f"/sidebar/api/customers/{cid}/timeline?before={last_id}").get_json()["items"]
    assert [e["text"] for e in more] == [f"笔记：第{i}条" for i in range(40, 10, -1)]
    rest = client.get(f"/sidebar/api/customers/{cid}/timeline?before={more[-1]['id']}").get_json()["items"]
    assert [e["text"] for e in rest] == [f"笔记：第{i}条" for i in range(10, -1, -1)]
    assert client.get(f"/sidebar/api/customers/{cid}/timeline?before=x").status_code == 400


def test_each_page_loads_one_stylesheet_and_one_script_from_this_service(client, world) -> None:
    html = page(client).get_data(as_text=True)
    css = [h for h in html.split('"') if h.startswith("/sidebar/assets/") and ".css" in h]
    js = [h for h in html.split('"') if h.startswith("/sidebar/assets/") and ".js" in h]
    assert len(css) == len(js) == 1 and "https://" not in html.split("<body")[0]
    r = client.get(css[0])
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/css")
    assert "immutable" in r.headers["Cache-Control"] and b"WeUI v2.6.26" in r.data
    assert client.get(js[0]).headers["Content-Type"].startswith("text/javascript")
    assert client.get("/sidebar/assets/../session.py").status_code == 404
    assert client.get("/sidebar/assets/nothing.css").status_code == 404
    assert client.get("/sidebar/api/nothing").get_json()["error"]["code"] == "not_found"
