"""The admin API `/api/v1` over HTTP: auth and roles, events and their replay, dead letters, customers,
apps and the OpenAPI document. Every rejection is checked for its JSON error and for changing nothing."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from models import ApiToken, App, AuditLog, Base, Customer, DeadLetter, FollowRelation, Inbox, Outbox
from models.db import utcnow
from web.auth import create_token
from wecom.crypto import CallbackCrypto
from wecom.fake.sender import build_callback, render_sample

ADD = "change_external_contact/add_external_contact"
UNHANDLED = "event/view"  # a menu link opened: no handler takes it
MISSING = object()

NEW_APP = {"slug": "sales", "corp_id": "wwsalescorp00001", "kind": "contact", "token": "SalesToken9",
           "aes_key": "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut", "secret": "sales-secret-0001",
           "agent_id": 1000005}


# -- helpers -------------------------------------------------------------------------------------------
def db_state(runtime) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Row counts of every table and the columns a replay or an app update would change."""
    with runtime.Session() as s:
        return {
            "counts": {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables},
            "inbox": s.execute(select(Inbox.id, Inbox.status, Inbox.attempts).order_by(Inbox.id)).all(),
            "dead": s.execute(select(DeadLetter.id, DeadLetter.replayed_at).order_by(DeadLetter.id)).all(),
            "apps": s.execute(select(App.slug, App.token, App.aes_key, App.secret).order_by(App.id)).all(),
        }


def assert_rejected(runtime, send: Callable[[], Any], status: int, code: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """`send()` answers `status` with the API's error shape, and the DB is exactly as before."""
    before = db_state(runtime)
    r = send()
    assert r.status_code == status, r.get_data(as_text=True)
    error = r.get_json()["error"]
    assert error["code"] == code and error["message"]
    assert db_state(runtime) == before
    return error


def ids(response) -> list[Any]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["id"] for item in response.get_json()["items"]]


def audit_rows(runtime) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return s.execute(select(AuditLog.actor, AuditLog.action, AuditLog.target).order_by(AuditLog.id)).all()


def inbox_ids(runtime) -> list[int]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return s.scalars(select(Inbox.id).order_by(Inbox.id)).all()


def post_sample(client, crypto: CallbackCrypto, slug: str, name: str):  # type: ignore[no-untyped-def]
    params, body = build_callback(crypto, render_sample(name, corp_id=crypto.corp_id))
    return client.post(f"/wecom/callback/{slug}", query_string=params, data=body, content_type="text/xml")


@pytest.fixture
def world(sender, runtime) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """One synced customer (its add event processed) and one dead letter (a customer WeCom does not know)."""
    assert sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan").status_code == 200
    assert sender.post(ADD, ExternalUserID="wmLate", UserID="zhangsan").status_code == 200
    with runtime.Session() as s:
        return {
            "inbox": s.scalar(select(Inbox.id).order_by(Inbox.id)),
            "customer": s.scalar(select(Customer.id).where(Customer.external_userid == "wmCustomer0001")),
            "dead": s.scalar(select(DeadLetter.id)),
        }


# -- auth ----------------------------------------------------------------------------------------------
# (method, path, lowest role allowed); paths name ids from the `world` fixture.
GUARDED = [
    ("GET", "/api/v1/events", "admin"),
    ("GET", "/api/v1/events/{inbox}", "admin"),
    ("POST", "/api/v1/events/{inbox}/replay", "admin"),
    ("GET", "/api/v1/dead-letters", "admin"),
    ("POST", "/api/v1/dead-letters/{dead}/replay", "admin"),
    ("GET", "/api/v1/customers", "member"),
    ("GET", "/api/v1/customers/{customer}", "member"),
    ("GET", "/api/v1/apps", "super_admin"),
    ("POST", "/api/v1/apps", "super_admin"),
]
ROLE_BELOW = {"admin": ("member", "zhangsan"), "super_admin": ("admin", None)}


def call(client, method: str, path: str, world: dict[str, int], headers: dict[str, str]):  # type: ignore[no-untyped-def]
    """Call a GUARDED endpoint; POST /apps carries a valid app, so only the guard can refuse it."""
    body = NEW_APP if path.endswith("/apps") else None
    return client.open(path.format(**world), method=method, headers=headers, json=body)


def _bare_token(make_token) -> str:  # type: ignore[no-untyped-def]
    return make_token("super_admin")["Authorization"].split(" ", 1)[1]


def _revoked(make_token, runtime) -> dict[str, str]:  # type: ignore[no-untyped-def]
    headers = make_token("super_admin", name="revoked")
    with runtime.WriteSession.begin() as s:
        s.scalar(select(ApiToken).where(ApiToken.name == "revoked")).revoked_at = utcnow()
    return headers


BAD_CREDENTIALS = {
    "no header": lambda make_token, runtime: {},
    "wrong scheme": lambda make_token, runtime: {"Authorization": f"Basic {_bare_token(make_token)}"},
    "no scheme": lambda make_token, runtime: {"Authorization": _bare_token(make_token)},
    "empty bearer": lambda make_token, runtime: {"Authorization": "Bearer "},
    "unknown token": lambda make_token, runtime: {"Authorization": f"Bearer {_bare_token(make_token)}x"},
    "revoked token": _revoked,
}


@pytest.mark.parametrize("credentials", BAD_CREDENTIALS.values(), ids=BAD_CREDENTIALS.keys())
@pytest.mark.parametrize("method,path,role", GUARDED, ids=[f"{m} {p}" for m, p, _ in GUARDED])
def test_bad_credentials_get_401_and_change_nothing(client, runtime, make_token, world, credentials, method,
                                                    path, role) -> None:
    headers = credentials(make_token, runtime)
    assert_rejected(runtime, lambda: call(client, method, path, world, headers), 401, "unauthorized")


@pytest.mark.parametrize("method,path,role", [g for g in GUARDED if g[2] != "member"],
                         ids=[f"{m} {p}" for m, p, r in GUARDED if r != "member"])
def test_role_below_the_endpoints_gets_403_and_changes_nothing(client, runtime, make_token, world, method, path,
                                                               role) -> None:
    low_role, userid = ROLE_BELOW[role]
    headers = make_token(low_role, userid=userid)
    error = assert_rejected(runtime, lambda: call(client, method, path, world, headers), 403, "forbidden")
    assert role in error["message"]


@pytest.mark.parametrize("method,path,role", GUARDED, ids=[f"{m} {p}" for m, p, _ in GUARDED])
def test_the_lowest_allowed_role_gets_through(client, make_token, world, method, path, role) -> None:
    userid = "zhangsan" if role == "member" else None
    assert call(client, method, path, world, make_token(role, userid=userid)).status_code in (200, 201, 202)


# -- events --------------------------------------------------------------------------------------------
@pytest.fixture
def three_events(sender, runtime) -> list[int]:  # type: ignore[no-untyped-def]
    """Two processed adds and one event no handler takes (unhandled), oldest first."""
    for name, fields in ((ADD, {"ExternalUserID": "wmCustomer0001", "UserID": "zhangsan"}),
                         (ADD, {"ExternalUserID": "wmCustomer0002", "UserID": "lisi"}),
                         (UNHANDLED, {})):
        assert sender.post(name, **fields).status_code == 200
    return inbox_ids(runtime)


def test_events_are_listed_newest_first_a_page_at_a_time(client, make_token, three_events) -> None:
    headers = make_token("admin")
    first = client.get("/api/v1/events", query_string={"page_size": 2}, headers=headers).get_json()
    second = client.get("/api/v1/events", query_string={"page_size": 2, "page": 2}, headers=headers).get_json()
    assert [e["id"] for e in first["items"]] == three_events[::-1][:2]
    assert [e["id"] for e in second["items"]] == three_events[:1]
    assert (first["page"], first["page_size"], first["total"]) == (1, 2, 3)
    assert (second["page"], second["page_size"], second["total"]) == (2, 2, 3)
    assert first["items"][0]["routing_key"] == UNHANDLED and "raw_xml" not in first["items"][0]


@pytest.mark.parametrize("query,expected", [
    ({"status": "unhandled"}, [2]),
    ({"status": "processed"}, [1, 0]),
    ({"status": "failed"}, []),
    ({"routing_key": UNHANDLED}, [2]),
    ({"routing_key": ADD}, [1, 0]),
    ({"routing_key": ADD, "status": "unhandled"}, []),
])
def test_events_filtered_by_status_and_routing_key(client, make_token, three_events, query, expected) -> None:
    r = client.get("/api/v1/events", query_string=query, headers=make_token("admin"))
    assert ids(r) == [three_events[i] for i in expected]
    assert r.get_json()["total"] == len(expected)


@pytest.mark.parametrize("query,expected", [
    ({"since": "2026-01-02T00:00:00Z"}, [2, 1]),
    ({"until": "2026-01-02T00:00:00Z"}, [0]),  # until is exclusive
    ({"since": "2026-01-02T08:00:00+08:00"}, [2, 1]),  # the same instant, in Beijing time
    ({"since": "2026-01-01T12:00:00", "until": "2026-01-03T00:00:00"}, [1]),  # naive means UTC
])
def test_events_filtered_by_time(client, runtime, make_token, three_events, query, expected) -> None:
    with runtime.WriteSession.begin() as s:
        for day, inbox_id in enumerate(three_events, start=1):
            s.get(Inbox, inbox_id).received_at = dt.datetime(2026, 1, day, tzinfo=dt.UTC)
    r = client.get("/api/v1/events", query_string=query, headers=make_token("admin"))
    assert ids(r) == [three_events[i] for i in expected]


@pytest.mark.parametrize("path,query,name", ids=lambda v: v if isinstance(v, str) else "&".join(
    f"{k}={x}" for k, x in v.items()), argvalues=[
    ("/api/v1/events", {"page_size": "0"}, "page_size"),
    ("/api/v1/events", {"page_size": "201"}, "page_size"),
    ("/api/v1/events", {"page_size": "x"}, "page_size"),
    ("/api/v1/events", {"page_size": "-5"}, "page_size"),
    ("/api/v1/events", {"page": "0"}, "page"),
    ("/api/v1/events", {"status": "done"}, "status"),
    ("/api/v1/events", {"since": "yesterday"}, "since"),
    ("/api/v1/events", {"until": "2026-13-01"}, "until"),
    ("/api/v1/dead-letters", {"page_size": "1000"}, "page_size"),
    ("/api/v1/customers", {"page": "1.5"}, "page"),
    ("/api/v1/apps", {"page_size": ""}, "page_size"),
    pytest.param("/api/v1/dead-letters", {"replayed": "maybe"}, "replayed"),
    pytest.param("/api/v1/events", {"page_size": "²"}, "page_size"),
])
def test_bad_query_parameters_get_400(client, runtime, make_token, three_events, path, query, name) -> None:
    headers = make_token("super_admin")
    error = assert_rejected(runtime, lambda: client.get(path, query_string=query, headers=headers), 400,
                            "bad_request")
    assert name in error["message"]


def test_event_detail_includes_the_decrypted_xml(client, runtime, make_token, three_events) -> None:
    r = client.get(f"/api/v1/events/{three_events[0]}", headers=make_token("admin"))
    assert r.status_code == 200
    body = r.get_json()
    with runtime.Session() as s:
        assert body["raw_xml"] == s.get(Inbox, three_events[0]).raw_xml
    assert "<ExternalUserID>wmCustomer0001</ExternalUserID>" in body["raw_xml"]
    assert (body["id"], body["routing_key"], body["status"], body["attempts"]) == (three_events[0], ADD,
                                                                                  "processed", 1)


@pytest.mark.parametrize("method,path", [
    ("GET", "/api/v1/events/999999"),
    ("POST", "/api/v1/events/999999/replay"),
    ("POST", "/api/v1/dead-letters/999999/replay"),
    ("GET", "/api/v1/customers/999999"),
    ("GET", "/api/v1/events/abc"),
    ("GET", "/api/v1/nope"),
    ("POST", "/api/v1/nope"),
])
def test_unknown_things_get_a_json_404_and_change_nothing(client, runtime, make_token, world, method,
                                                          path) -> None:
    headers = make_token("super_admin")
    assert_rejected(runtime, lambda: client.open(path, method=method, headers=headers), 404, "not_found")


def test_a_wrong_method_gets_a_json_405_and_changes_nothing(client, runtime, make_token, three_events) -> None:
    headers = make_token("super_admin")
    path = f"/api/v1/events/{three_events[0]}"
    assert_rejected(runtime, lambda: client.delete(path, headers=headers), 405, "method_not_allowed")


def test_replaying_a_processed_event_ends_the_same_and_is_audited(client, runtime, make_token, fake_wecom,
                                                                  three_events) -> None:
    gets = len(fake_wecom.calls("externalcontact/get"))
    r = client.post(f"/api/v1/events/{three_events[0]}/replay", headers=make_token("admin", name="alice"))
    assert r.status_code == 202
    assert (r.get_json()["id"], r.get_json()["status"], r.get_json()["attempts"]) == (three_events[0],
                                                                                    "processed", 2)
    with runtime.Session() as s:
        assert s.scalars(select(Customer.external_userid).order_by(Customer.id)).all() == [
            "wmCustomer0001", "wmCustomer0002"]
        assert s.scalar(select(func.count()).select_from(FollowRelation)) == 2
        assert s.scalars(select(Outbox.status)).all() == ["done", "done"]
    assert len(fake_wecom.calls("externalcontact/get")) == gets  # the outbox row is done: no second fetch
    assert audit_rows(runtime) == [("token:alice", "event.replay", f"inbox:{three_events[0]}")]


# -- dead letters --------------------------------------------------------------------------------------
LATE_CONTACT = {"external_contact": {"external_userid": "wmLate", "name": "迟到的客户😀", "type": 1},
                "follow_user": [{"userid": "zhangsan", "remark": "补录", "description": "", "createtime": 1732000200,
                                 "tags": [], "remark_mobiles": [], "add_way": 1, "state": ""}]}


def test_a_customer_wecom_does_not_know_is_listed_as_a_dead_letter(client, runtime, make_token, world) -> None:
    headers = make_token("admin")
    body = client.get("/api/v1/dead-letters", headers=headers).get_json()
    assert body["total"] == 1
    [dead] = body["items"]
    assert (dead["id"], dead["job"], dead["replayed_at"]) == (world["dead"], "deliver_outbox", None)
    assert "84061" in dead["error"]
    assert ids(client.get("/api/v1/dead-letters?job=deliver_outbox", headers=headers)) == [world["dead"]]
    assert ids(client.get("/api/v1/dead-letters?job=process_event", headers=headers)) == []
    assert ids(client.get("/api/v1/dead-letters?replayed=true", headers=headers)) == []
    with runtime.Session() as s:
        assert s.scalar(select(Outbox.status).where(Outbox.id == dead["args"][0])) == "failed"


def test_a_corp_bound_token_lists_and_replays_its_corps_dead_letters_only(client, runtime, world) -> None:
    """The dead letter carries the corp of the outbox row its job delivered; a token bound to that corp
    sees and may replay it, one bound to another corp sees none and gets a 404, and a dead letter of no
    one corp (a periodic job's) only a token for every corp sees."""
    from support import CORP_ID

    with runtime.WriteSession.begin() as s:
        s.add(DeadLetter(job="sweep_job", args=[], queue="maintenance", error="boom"))
        own = {"Authorization": "Bearer " + create_token(s, "own", "admin", corp_id=CORP_ID)}
        other = {"Authorization": "Bearer " + create_token(s, "other", "admin", corp_id="wwothercorp")}
        every = {"Authorization": "Bearer " + create_token(s, "every", "admin")}
    [dead] = client.get("/api/v1/dead-letters", headers=own).get_json()["items"]
    assert (dead["id"], dead["corp_id"]) == (world["dead"], CORP_ID)
    assert client.get("/api/v1/dead-letters", headers=other).get_json() == {
        "items": [], "page": 1, "page_size": 50, "total": 0}
    assert client.post(f"/api/v1/dead-letters/{world['dead']}/replay", headers=other).status_code == 404
    with runtime.Session() as s:
        assert s.get(DeadLetter, world["dead"]).replayed_at is None
    assert [d["corp_id"] for d in client.get("/api/v1/dead-letters", headers=every).get_json()["items"]] == [
        None, CORP_ID]
    assert client.post(f"/api/v1/dead-letters/{world['dead']}/replay", headers=own).status_code == 202


def test_replaying_a_dead_letter_once_wecom_knows_the_customer_syncs_it(client, runtime, make_token, fake_wecom,
                                                                        world) -> None:
    fake_wecom.seed({"external_contacts": [{"corpid": runtime.settings.env_app.corp_id, **LATE_CONTACT}]})
    headers = make_token("admin", name="alice")
    r = client.post(f"/api/v1/dead-letters/{world['dead']}/replay", headers=headers)
    assert r.status_code == 202
    assert r.get_json()["id"] == world["dead"] and r.get_json()["replayed_at"]
    with runtime.Session() as s:
        late = s.scalar(select(Customer).where(Customer.external_userid == "wmLate"))
        assert (late.name, [(f.userid, f.remark) for f in late.follows]) == ("迟到的客户😀", [("zhangsan", "补录")])
        assert s.scalars(select(Outbox.status)).all() == ["done", "done"]
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == 1
    assert [c["errcode"] for c in fake_wecom.calls("externalcontact/get")
            if c["query"]["external_userid"] == "wmLate"] == [84061, 0]
    assert audit_rows(runtime) == [("token:alice", "dead_letter.replay", f"dead_letter:{world['dead']}")]
    assert ids(client.get("/api/v1/dead-letters?replayed=true", headers=headers)) == [world["dead"]]
    assert ids(client.get("/api/v1/dead-letters?replayed=false", headers=headers)) == []


def test_a_replay_that_fails_again_is_dead_lettered_again(client, runtime, make_token, world) -> None:
    headers = make_token("admin")
    assert client.post(f"/api/v1/dead-letters/{world['dead']}/replay", headers=headers).status_code == 202
    with runtime.Session() as s:
        assert s.scalars(select(Outbox.status).order_by(Outbox.id)).all() == ["done", "failed"]
        assert s.scalar(select(Customer.name).where(Customer.external_userid == "wmLate")) == ""
    fresh = ids(client.get("/api/v1/dead-letters?replayed=false", headers=headers))
    assert len(fresh) == 1 and fresh[0] != world["dead"]



def test_a_dead_letter_of_a_job_this_version_lacks_is_a_409_and_stays_as_it_was(client, runtime, make_token,
                                                                                world) -> None:
    """A job renamed or removed since it failed: the replay says so (no 500), and the row is not marked."""
    with runtime.WriteSession.begin() as s:
        s.get(DeadLetter, world["dead"]).job = "a_job_since_renamed"
    r = client.post(f"/api/v1/dead-letters/{world['dead']}/replay", headers=make_token("admin"))
    assert r.status_code == 409
    assert r.get_json()["error"]["code"] == "unknown_job" and "a_job_since_renamed" in r.get_json()["error"]["message"]
    with runtime.Session() as s:
        assert s.get(DeadLetter, world["dead"]).replayed_at is None
    assert audit_rows(runtime) == []

# -- customers -----------------------------------------------------------------------------------------
@pytest.fixture
def customers(sender, runtime) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """wmCustomer0001 (王小明😀, remark 老客户) followed by zhangsan; wmCustomer0002 (赵六) by lisi."""
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan")
    sender.post(ADD, ExternalUserID="wmCustomer0002", UserID="lisi")
    with runtime.Session() as s:
        return dict(s.execute(select(Customer.external_userid, Customer.id)).all())


def external_ids(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_data(as_text=True)
    return [c["external_userid"] for c in response.get_json()["items"]]




@pytest.mark.parametrize("role,userid,query,expected", ids=lambda v: str(v), argvalues=[
    ("super_admin", None, {}, ["wmCustomer0002", "wmCustomer0001"]),
    ("member", "zhangsan", {}, ["wmCustomer0001"]),
    ("member", "lisi", {}, ["wmCustomer0002"]),
    ("member", "wangwu", {}, []),
    ("member", "zhangsan", {"staff": "lisi"}, []),  # a filter cannot widen a member's view
    ("admin", None, {"staff": "lisi"}, ["wmCustomer0002"]),
    ("admin", None, {"staff": "nobody"}, []),
    ("admin", None, {"keyword": "老客户"}, ["wmCustomer0001"]),  # the remark
    ("admin", None, {"keyword": "赵"}, ["wmCustomer0002"]),  # the name
    ("admin", None, {"keyword": "😀"}, ["wmCustomer0001"]),
    ("admin", None, {"keyword": "  王小明 "}, ["wmCustomer0001"]),
    ("admin", None, {"keyword": "不存在"}, []),
    ("admin", None, {"keyword": "老客户", "staff": "lisi"}, []),
    pytest.param("admin", None, {"keyword": "%"}, []),
    pytest.param("admin", None, {"keyword": "_"}, []),
])
def test_customer_list_by_role_staff_and_keyword(client, make_token, customers, role, userid, query,
                                                 expected) -> None:
    r = client.get("/api/v1/customers", query_string=query, headers=make_token(role, userid=userid))
    assert external_ids(r) == expected
    assert r.get_json()["total"] == len(expected)


def test_customer_detail_shows_staff_names_and_unicode_intact(client, make_token, fake_wecom, customers) -> None:
    r = client.get(f"/api/v1/customers/{customers['wmCustomer0001']}", headers=make_token("member", userid="zhangsan"))
    assert r.status_code == 200
    body = r.get_json()
    assert (body["external_userid"], body["name"], body["owner_userid"]) == ("wmCustomer0001", "王小明😀", "zhangsan")
    assert [(f["userid"], f["staff_name"], f["remark"], f["state"]) for f in body["follows"]] == [
        ("zhangsan", "张三", "老客户", "ch-1")]
    assert "王小明😀" in r.get_data(as_text=True) and "张三" in r.get_data(as_text=True)  # not \u escapes
    assert sorted(c["query"]["userid"] for c in fake_wecom.calls("user/get")) == ["lisi", "zhangsan"]


def test_a_member_cannot_open_another_members_customer(client, runtime, make_token, customers) -> None:
    headers = make_token("member", userid="zhangsan")
    path = f"/api/v1/customers/{customers['wmCustomer0002']}"
    assert_rejected(runtime, lambda: client.get(path, headers=headers), 404, "not_found")
    assert client.get(path, headers=make_token("member", userid="lisi")).status_code == 200


def test_a_corp_limited_token_sees_only_its_corps_events(client, runtime, three_events) -> None:
    with runtime.WriteSession.begin() as s:
        value = create_token(s, "other", "admin", corp_id="wwothercorp00001")
    headers = {"Authorization": f"Bearer {value}"}
    assert ids(client.get("/api/v1/events", headers=headers)) == []
    assert client.get(f"/api/v1/events/{three_events[0]}", headers=headers).status_code == 404


# -- apps ----------------------------------------------------------------------------------------------
def credentials_of(app: dict[str, Any]) -> list[str]:
    return [app["token"], app["aes_key"], app["secret"]]


def test_super_admin_adds_an_app_that_takes_callbacks_at_once(client, runtime, make_token) -> None:
    crypto = CallbackCrypto(NEW_APP["token"], NEW_APP["aes_key"], NEW_APP["corp_id"])
    assert post_sample(client, crypto, "sales", UNHANDLED).status_code == 404  # not there yet
    r = client.post("/api/v1/apps", json=NEW_APP, headers=make_token("super_admin", name="root"))
    assert r.status_code == 201
    body = r.get_json()
    assert {k: v for k, v in body.items() if k != "created_at"} == {
        "id": "sales", "corp_id": "wwsalescorp00001", "kind": "contact", "agent_id": 1000005,
        "callback_path": "/wecom/callback/sales", "credentials": "ok", "credentials_error": None,
        "credentials_broken_at": None}
    assert not [c for c in credentials_of(NEW_APP) if c in r.get_data(as_text=True)]
    assert audit_rows(runtime) == [("token:root", "app.create", "app:sales")]

    assert post_sample(client, crypto, "sales", UNHANDLED).status_code == 200
    with runtime.Session() as s:
        inbox = s.scalar(select(Inbox))
        assert (inbox.corp_id, inbox.routing_key, inbox.status) == ("wwsalescorp00001", UNHANDLED, "unhandled")
        assert s.get(App, inbox.app_pk).slug == "sales"


def test_the_app_list_never_shows_credentials(client, runtime, make_token) -> None:
    headers = make_token("super_admin")
    assert client.post("/api/v1/apps", json=NEW_APP, headers=headers).status_code == 201
    r = client.get("/api/v1/apps", headers=headers)
    assert ids(r) == ["default", "sales"]
    env = runtime.settings.env_app
    secrets = credentials_of(NEW_APP) + [env.token, env.aes_key, env.secret]
    assert not [c for c in secrets if c in r.get_data(as_text=True)]


@pytest.mark.parametrize("changes,bad_fields", ids=lambda v: ",".join(sorted(v)), argvalues=[
    ({"slug": "Sales Team"}, {"slug"}),
    ({"slug": "-sales"}, {"slug"}),
    ({"aes_key": "tooShort"}, {"aes_key"}),
    ({"aes_key": NEW_APP["aes_key"][:-1] + "="}, {"aes_key"}),
    ({"kind": "robot"}, {"kind"}),
    ({"secret": MISSING}, {"secret"}),
    ({"secret": "   "}, {"secret"}),
    ({"token": "tok-en!"}, {"token"}),
    ({"token": "T" * 33}, {"token"}),
    ({"agent_id": "12a"}, {"agent_id"}),
    ({"corp_id": ""}, {"corp_id"}),
    ({"slug": "Bad", "token": "a b", "agent_id": "x"}, {"slug", "token", "agent_id"}),
    ({k: MISSING for k in NEW_APP}, {"slug", "corp_id", "token", "aes_key", "secret", "agent_id"}),
    ({"kind": "agent", "agent_id": MISSING}, {"agent_id"}),  # a self-built app sends app messages
    pytest.param({"agent_id": "²"}, {"agent_id"}),
])
def test_invalid_app_definitions_get_422_naming_each_bad_field(client, runtime, make_token, changes,
                                                               bad_fields) -> None:
    body = {k: v for k, v in {**NEW_APP, **changes}.items() if v is not MISSING}
    headers = make_token("super_admin")
    error = assert_rejected(runtime, lambda: client.post("/api/v1/apps", json=body, headers=headers), 422,
                            "invalid")
    assert set(error["fields"]) == bad_fields and all(error["fields"].values())


@pytest.mark.parametrize("slug", ["default", "sales"])
def test_a_duplicate_slug_gets_409_and_keeps_the_old_credentials(client, runtime, make_token, slug) -> None:
    headers = make_token("super_admin")
    assert client.post("/api/v1/apps", json=NEW_APP, headers=headers).status_code == 201
    again = {**NEW_APP, "slug": slug, "token": "OtherToken1", "secret": "other-secret"}
    assert_rejected(runtime, lambda: client.post("/api/v1/apps", json=again, headers=headers), 409, "conflict")


@pytest.mark.parametrize("data,content_type", [
    ("slug=sales&corp_id=ww1", "application/x-www-form-urlencoded"),
    ('{"slug": "sales",', "application/json"),
    ('["sales"]', "application/json"),
    ('"sales"', "application/json"),
    ("", "application/json"),
])
def test_a_body_that_is_not_a_json_object_gets_400(client, runtime, make_token, data, content_type) -> None:
    headers = make_token("super_admin")
    assert_rejected(runtime, lambda: client.post("/api/v1/apps", data=data, content_type=content_type,
                                                 headers=headers), 400, "bad_request")


# -- OpenAPI -------------------------------------------------------------------------------------------
def test_openapi_document_lists_every_api_route(app, client) -> None:
    r = client.get("/api/v1/openapi.json")  # no token needed
    assert r.status_code == 200
    doc = r.get_json()
    assert doc["openapi"] == "3.1.0" and doc["info"]["title"] and doc["servers"] == [{"url": "/api/v1"}]
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    routes = {
        (method.lower(), re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule.removeprefix("/api/v1")))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert documented == routes
    for path, ops in doc["paths"].items():
        for op in ops.values():
            declared = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), path
            assert op["summary"] and "401" in op["responses"]

