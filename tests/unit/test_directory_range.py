"""Directory sync against an app's visible range (可见范围, doc 96260): the fake WeCom shows the app only its
range, as WeCom does, and only WeCom saying a member is gone (user/get 60111, delete_user) resigns them.
A member who merely left the range keeps their customers."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import delete, select

from models import FollowRelation, Outbox, Staff
from tests.support import AGENT_ID, CORP_ID

ADD = "change_external_contact/add_external_contact"
DEPARTMENTS = [
    {"corpid": CORP_ID, "id": 1, "name": "总公司", "parentid": 0, "order": 100},
    {"corpid": CORP_ID, "id": 2, "name": "销售部", "parentid": 1, "order": 50},
    {"corpid": CORP_ID, "id": 3, "name": "客服部", "parentid": 1, "order": 80},
]


def visible_range(fake_wecom, users: list[str], parties: list[int]) -> None:  # type: ignore[no-untyped-def]
    r = requests.post(f"{fake_wecom.url}/fake/visible_range",
                      json={"corpid": CORP_ID, "agentid": AGENT_ID, "users": users, "parties": parties}, timeout=5)
    r.raise_for_status()


def state(runtime) -> tuple[dict[str, str], dict[str, str]]:  # type: ignore[no-untyped-def]
    """(userid → staff status, userid → follow relation inherit_status)."""
    with runtime.Session() as s:
        return (dict(s.execute(select(Staff.userid, Staff.status)).all()),
                dict(s.execute(select(FollowRelation.userid, FollowRelation.inherit_status)).all()))


def sync(client, make_token, runtime) -> None:  # type: ignore[no-untyped-def]
    """POST /directory/sync as a fresh request: syncs asked for within one minute share one outbox row, so
    the earlier one is forgotten first (as if a minute had passed)."""
    with runtime.WriteSession.begin() as s:
        s.execute(delete(Outbox).where(Outbox.job == "sync_directory"))
    assert client.post("/api/v1/directory/sync", headers=make_token("admin")).status_code == 202


@pytest.fixture
def corp(fake_wecom, sender, runtime, client, make_token):  # type: ignore[no-untyped-def]
    """zhangsan (sales, dept 2, follows wmCustomer0001) and lisi (service, dept 3, follows wmCustomer0002);
    a first sync while the app sees the whole corp."""
    fake_wecom.seed({"departments": DEPARTMENTS, "users": [
        {"corpid": CORP_ID, "userid": "zhangsan", "name": "张三", "department": [2], "status": 1},
        {"corpid": CORP_ID, "userid": "lisi", "name": "李四", "department": [3], "status": 1},
    ]})
    sender.post(ADD, UserID="zhangsan", ExternalUserID="wmCustomer0001", WelcomeCode="")
    sender.post(ADD, UserID="lisi", ExternalUserID="wmCustomer0002", WelcomeCode="")
    sync(client, make_token, runtime)
    assert state(runtime) == ({"zhangsan": "active", "lisi": "active"}, {"zhangsan": "", "lisi": ""})
    return fake_wecom


def test_member_leaving_the_visible_range_keeps_customers_and_deleted_member_hands_them_on(
        corp, client, make_token, runtime):
    visible_range(corp, users=[], parties=[2])  # the admin narrowed the app to the sales department
    requests.delete(f"{corp.url}/fake/users/{CORP_ID}/zhangsan", timeout=5).raise_for_status()  # and zhangsan left
    corp.clear_calls()
    sync(client, make_token, runtime)

    statuses, inherit = state(runtime)
    assert statuses == {"zhangsan": "resigned", "lisi": "out_of_range"}
    assert inherit == {"zhangsan": "to_inherit", "lisi": ""}
    asked = {(c["query"]["userid"], c["errcode"]) for c in corp.calls("user/get")}
    assert asked == {("zhangsan", 60111), ("lisi", 60011)}
    listed = client.get("/api/v1/staff?status=out_of_range", headers=make_token("admin")).get_json()
    assert [row["userid"] for row in listed["items"]] == ["lisi"]


def test_member_back_in_range_is_active_again(corp, client, make_token, runtime):
    visible_range(corp, users=[], parties=[2])
    sync(client, make_token, runtime)
    visible_range(corp, users=["lisi"], parties=[2])  # named one by one: user/list of dept 3 is refused
    sync(client, make_token, runtime)
    assert state(runtime) == ({"zhangsan": "active", "lisi": "active"}, {"zhangsan": "", "lisi": ""})


def test_fake_refuses_what_the_range_hides(corp):
    visible_range(corp, users=[], parties=[2])
    token = requests.get(f"{corp.api_base}gettoken", params={"corpid": CORP_ID, "corpsecret": "test-app-secret-0001"},
                         timeout=5).json()["access_token"]

    def get(path: str, **params: object) -> dict:
        return requests.get(f"{corp.api_base}{path}", params={"access_token": token, **params}, timeout=5).json()

    assert [d["id"] for d in get("department/list")["department"]] == [2]
    assert get("department/list", id=1)["errcode"] == 60011
    assert get("user/list", department_id=3)["errcode"] == 60011
    assert [u["userid"] for u in get("user/list", department_id=2)["userlist"]] == ["zhangsan"]
    assert get("user/get", userid="lisi")["errcode"] == 60011
    assert get("user/get", userid="nobody")["errcode"] == 60111


def test_bad_visible_range_is_refused(corp):
    r = requests.post(f"{corp.url}/fake/visible_range", json={"corpid": CORP_ID, "agentid": "x"}, timeout=5)
    assert r.status_code == 400
