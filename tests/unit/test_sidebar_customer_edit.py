"""The profile page's writes beyond tags and follow-ups, signed in as a member (zhangsan, who follows
wmCustomer0001; lisi follows wmCustomer0002): custom fields edited through the admin API's own
`set_fields`/`write_values`, and 退回公海 through the pool API's `give_back`. Bad input is a 422 naming the
field with nothing written; another member's customer is a 404; a write without the CSRF header a 403."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from customer_world import all_rows
from models import AuditLog, Customer, CustomerEvent
from models.fields import CustomerFieldValue
from models.pool import PoolMove
from sidebar_support import build_world, sign_in
from support import CORP_ID

CSRF = "X-CSRF-Token"


@pytest.fixture
def world(sender, client, runtime, fake_wecom, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    admin = make_token("admin", name="setup")
    ids = build_world(sender, client, runtime, fake_wecom.url, admin)
    for key, label, kind, extra in (("budget", "预算", "number", {"required": True}),
                                    ("level", "等级", "select", {"options": ["A", "B"]}),
                                    ("secret", "内部评级", "text", {"visible": False})):
        assert client.post("/api/v1/custom-fields", headers=admin,
                           json={"key": key, "label": label, "type": kind, **extra}).status_code == 201
    assert client.put(f"/api/v1/customers/{ids['wmCustomer0001']}/fields", headers=admin,
                      json={"budget": 10, "secret": "S"}).status_code == 200
    reason = client.post("/api/v1/pool-return-reasons", headers=admin, json={"corp_id": CORP_ID, "name": "无意向"})
    assert reason.status_code == 201
    return {**ids, "admin": admin, "reason": reason.get_json()["id"], "csrf": sign_in(client, fake_wecom.url)}


def stored(runtime: Any, customer_id: int) -> dict[int, Any]:
    with runtime.Session() as s:
        return dict(s.execute(select(CustomerFieldValue.field_id, CustomerFieldValue.value)
                              .where(CustomerFieldValue.customer_id == customer_id)).all())


def test_the_page_offers_the_visible_fields_and_the_return(client, world) -> None:
    html = client.get("/sidebar/customer?external_userid=wmCustomer0001").get_data(as_text=True)
    assert 'name="budget"' in html and 'value="10"' in html and 'name="level"' in html
    assert 'name="secret"' not in html and "内部评级" not in html
    assert 'id="pool-return-button"' in html and "无意向" in html


def test_a_member_edits_custom_fields(client, runtime, world) -> None:
    cid = world["wmCustomer0001"]
    r = client.post(f"/sidebar/api/customers/{cid}/fields", json={"budget": 25.5, "level": "B"},
                    headers={CSRF: world["csrf"]})
    assert r.status_code == 200 and r.get_json() == {"fields": ["budget", "level"]}
    assert sorted(map(str, stored(runtime, cid).values())) == ["25.5", "B", "S"]
    with runtime.Session() as s:
        assert s.scalar(select(AuditLog.actor).where(AuditLog.action == "customer.fields")
                        .order_by(AuditLog.id.desc())) == "sidebar:zhangsan"
        event = s.scalars(select(CustomerEvent).where(CustomerEvent.kind == "fields_changed")
                          .order_by(CustomerEvent.id.desc())).first()
        assert event.userid == "zhangsan" and event.detail["fields"] == ["budget", "level"]
    assert 'value="25.5"' in client.get("/sidebar/customer?external_userid=wmCustomer0001").get_data(as_text=True)


@pytest.mark.parametrize("body, bad", [({"budget": "很多"}, "budget"), ({"budget": None}, "budget"),
                                       ({"level": "C", "budget": 3}, "level"), ({"secret": "X"}, "secret")])
def test_a_bad_field_value_is_refused_by_name_and_nothing_is_written(client, runtime, world, body, bad) -> None:
    before = all_rows(runtime)
    r = client.post(f"/sidebar/api/customers/{world['wmCustomer0001']}/fields", json=body,
                    headers={CSRF: world["csrf"]})
    assert r.status_code == 422 and bad in r.get_json()["error"]["fields"], r.get_json()
    assert all_rows(runtime) == before


def test_a_member_returns_their_customer_to_the_pool(client, runtime, world) -> None:
    cid = world["wmCustomer0001"]
    r = client.post(f"/sidebar/api/customers/{cid}/pool", json={"reason_id": world["reason"]},
                    headers={CSRF: world["csrf"]})
    assert r.status_code == 201 and r.get_json()["action"] == "returned", r.get_json()
    with runtime.Session() as s:
        c = s.get(Customer, cid)
        assert (c.owner_userid, c.pool_left_by, c.pool_reason) == (None, "zhangsan", "无意向")
        assert c.pooled_at is not None and c.pool_id is not None
        move = s.scalar(select(PoolMove).where(PoolMove.customer_id == cid))
        assert (move.action, move.userid, move.reason_id) == ("returned", "zhangsan", world["reason"])
    again = client.post(f"/sidebar/api/customers/{cid}/pool", json={"reason_id": world["reason"]},
                        headers={CSRF: world["csrf"]})
    assert again.status_code in (404, 409)  # no longer theirs


@pytest.mark.parametrize("body", [{"reason_id": 999999}, {}, {"reason_id": "x"}])
def test_a_bad_return_is_refused_and_changes_nothing(client, runtime, world, body) -> None:
    before = all_rows(runtime)
    r = client.post(f"/sidebar/api/customers/{world['wmCustomer0001']}/pool", json=body,
                    headers={CSRF: world["csrf"]})
    assert r.status_code == 422 and r.get_json()["error"]["fields"], r.get_json()
    assert all_rows(runtime) == before


def test_another_members_customer_is_a_404_and_no_csrf_a_403(client, runtime, world) -> None:
    before = all_rows(runtime)
    other, mine = world["wmCustomer0002"], world["wmCustomer0001"]
    headers = {CSRF: world["csrf"]}
    assert client.post(f"/sidebar/api/customers/{other}/fields", json={"budget": 1},
                       headers=headers).status_code == 404
    assert client.post(f"/sidebar/api/customers/{other}/pool", json={"reason_id": world["reason"]},
                       headers=headers).status_code == 404
    for path, body in (("fields", {"budget": 1}), ("pool", {"reason_id": world["reason"]})):
        r = client.post(f"/sidebar/api/customers/{mine}/{path}", json=body)
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "csrf"
    assert all_rows(runtime) == before
