"""The address book: change_contact callbacks through the encrypted door, the full sync (API and CLI) over
the fake WeCom, and the departments/staff admin API."""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest
from sqlalchemy import func, select

from models import AuditLog, Customer, FollowRelation, Inbox, Outbox, Staff
from models.directory import Department
from tests.support import CORP_ID

ADD = "change_external_contact/add_external_contact"


def staff(runtime, userid: str) -> Staff | None:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return s.scalar(select(Staff).where(Staff.userid == userid))


def dept(runtime, dept_id: int) -> Department | None:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return s.scalar(select(Department).where(Department.dept_id == dept_id))


def snapshot(runtime) -> list[tuple]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        rows = [(st.userid, st.name, tuple(st.department), st.status, st.mobile, st.position, st.resigned_at)
                for st in s.scalars(select(Staff).order_by(Staff.userid))]
        rows += [(d.dept_id, d.name, d.parent_id, d.order, d.deleted_at)
                 for d in s.scalars(select(Department).order_by(Department.dept_id))]
        rows += [(f.userid, f.status, f.inherit_status)
                 for f in s.scalars(select(FollowRelation).order_by(FollowRelation.id))]
        return rows


def create_wangwu(sender) -> None:  # type: ignore[no-untyped-def]
    r = sender.post("change_contact/create_user", UserID="wangwu", Name="王五", Department="1,2", Status=1,
                    Mobile="13812340000", Position="销售")
    assert r.status_code == 200


# -- change_contact events --------------------------------------------------------------------------------------
def test_create_user_then_update_keeps_fields_the_event_leaves_out(sender, runtime):
    create_wangwu(sender)
    row = staff(runtime, "wangwu")
    assert (row.name, row.department, row.status, row.mobile, row.position) == ("王五", [1, 2], "active",
                                                                                 "13812340000", "销售")
    sender.post("change_contact/update_user", UserID="wangwu", NewUserID="", Name="王五五", Department="3")
    row = staff(runtime, "wangwu")
    assert (row.name, row.department, row.status, row.mobile, row.position) == ("王五五", [3], "active",
                                                                                 "13812340000", "销售")


@pytest.mark.parametrize(("status", "expected"), [(1, "active"), (2, "disabled"), (4, "inactive")])
def test_update_user_maps_wecom_status(sender, runtime, status, expected):
    create_wangwu(sender)
    sender.post("change_contact/update_user", UserID="wangwu", NewUserID="", Status=status)
    assert staff(runtime, "wangwu").status == expected


def test_update_user_status_5_resigns_like_delete(sender, runtime):
    create_wangwu(sender)
    sender.post("change_contact/update_user", UserID="wangwu", NewUserID="", Status=5)
    row = staff(runtime, "wangwu")
    assert row.status == "resigned" and row.resigned_at is not None


def test_update_user_with_new_userid_renames_staff_follows_and_owner(sender, runtime):
    sender.post(ADD, UserID="zhangsan", ExternalUserID="wmCustomer0001", WelcomeCode="")
    assert staff(runtime, "zhangsan") is not None
    sender.post("change_contact/update_user", UserID="zhangsan", NewUserID="zhangsan2", Name="张三")
    with runtime.Session() as s:
        assert s.scalars(select(Staff.userid).where(Staff.userid.like("zhangsan%"))).all() == ["zhangsan2"]
        assert s.scalars(select(FollowRelation.userid)).all() == ["zhangsan2"]
        assert s.scalar(select(Customer.owner_userid)) == "zhangsan2"


def test_delete_user_resigns_and_marks_customers_to_inherit(sender, runtime):
    sender.post(ADD, UserID="zhangsan", ExternalUserID="wmCustomer0001", WelcomeCode="")
    with runtime.Session() as s:
        assert s.scalar(select(FollowRelation.inherit_status)) == ""
    sender.post("change_contact/delete_user", UserID="zhangsan", CreateTime=1763000000)
    row = staff(runtime, "zhangsan")
    assert row.status == "resigned"
    assert int(row.resigned_at.timestamp()) == 1763000000
    with runtime.Session() as s:
        follow = s.scalar(select(FollowRelation))
        assert (follow.userid, follow.status, follow.inherit_status) == ("zhangsan", "active", "to_inherit")


def test_party_create_update_delete(sender, runtime):
    sender.post("change_contact/create_party", Id=3, Name="华东销售部", ParentId=1, Order=5)
    d = dept(runtime, 3)
    assert (d.name, d.parent_id, d.order, d.deleted_at) == ("华东销售部", 1, 5, None)
    sender.post("change_contact/update_party", Id=3, Name="华东大区")
    d = dept(runtime, 3)
    assert (d.name, d.parent_id, d.order) == ("华东大区", 1, 5)
    sender.post("change_contact/delete_party", Id=3)
    d = dept(runtime, 3)
    assert d.deleted_at is not None and d.name == "华东大区"


@pytest.mark.parametrize(("name", "fields"), [
    ("change_contact/create_user", {"UserID": "wangwu", "Name": "王五", "Department": "1,2", "Status": 1}),
    ("change_contact/update_user", {"UserID": "wangwu", "NewUserID": "wangwu2", "Name": "王五"}),
    ("change_contact/delete_user", {"UserID": "zhangsan"}),
    ("change_contact/create_party", {"Id": 3, "Name": "华东销售部", "ParentId": 1}),
    ("change_contact/delete_party", {"Id": 3}),
])
def test_replaying_a_change_contact_event_leaves_the_same_rows(sender, runtime, client, make_token, name, fields):
    create_wangwu(sender)
    sender.post(ADD, UserID="zhangsan", ExternalUserID="wmCustomer0001", WelcomeCode="")
    sender.post(name, **fields)
    before = snapshot(runtime)
    with runtime.Session() as s:
        inbox_id = s.scalar(select(func.max(Inbox.id)))
        assert s.get(Inbox, inbox_id).status == "processed"
    r = client.post(f"/api/v1/events/{inbox_id}/replay", headers=make_token("admin"))
    assert r.status_code == 202
    assert snapshot(runtime) == before


# -- full sync ---------------------------------------------------------------------------------------------------
DEPARTMENTS = [
    {"corpid": CORP_ID, "id": 1, "name": "总公司", "parentid": 0, "order": 100},
    {"corpid": CORP_ID, "id": 2, "name": "销售部", "parentid": 1, "order": 50, "department_leader": ["zhangsan"]},
    {"corpid": CORP_ID, "id": 3, "name": "华东组", "parentid": 2, "order": 10},
    {"corpid": CORP_ID, "id": 4, "name": "客服部", "parentid": 1, "order": 80},
]


@pytest.fixture
def directory(fake_wecom, sender, runtime):  # type: ignore[no-untyped-def]
    """WeCom has 4 departments and zhangsan, lisi, zhaoliu; the service also knows wangwu (gone from WeCom)
    and a department 9 WeCom no longer has."""
    fake_wecom.seed({"departments": DEPARTMENTS, "users": [
        {"corpid": CORP_ID, "userid": "zhaoliu", "name": "赵六", "department": [3], "status": 2,
         "mobile": "13900001111", "position": "组长"},
    ]})
    create_wangwu(sender)
    sender.post("change_contact/create_party", Id=9, Name="已撤销", ParentId=1)
    sender.post(ADD, UserID="wangwu", ExternalUserID="wmCustomer0001", WelcomeCode="")
    return fake_wecom


def assert_synced(runtime) -> None:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        alive = s.scalars(select(Department.dept_id).where(Department.deleted_at.is_(None))
                          .order_by(Department.dept_id)).all()
        assert alive == [1, 2, 3, 4]
        assert s.scalar(select(Department.leaders).where(Department.dept_id == 2)) == ["zhangsan"]
        statuses = dict(s.execute(select(Staff.userid, Staff.status)).all())
        assert statuses == {"zhangsan": "active", "lisi": "active", "zhaoliu": "disabled", "wangwu": "resigned"}
        assert s.scalar(select(Staff.mobile).where(Staff.userid == "zhaoliu")) == "13900001111"
        follows = dict(s.execute(select(FollowRelation.userid, FollowRelation.inherit_status)).all())
        assert follows["wangwu"] == "to_inherit"


def _clear_of_a_minute_boundary(margin: float = 15.0) -> None:
    """Requests share a sync row within one UTC minute: start early enough in a minute that the test's two
    clicks (a second or two apart on a loaded machine) fall in the same one."""
    second = dt.datetime.now(dt.UTC)
    if (left := 60 - second.second - second.microsecond / 1e6) < margin:
        time.sleep(left + 0.1)


def test_sync_through_api(client, make_token, runtime, directory):
    _clear_of_a_minute_boundary()
    r = client.post("/api/v1/directory/sync", headers=make_token("admin"))
    assert r.status_code == 202, r.get_json()
    outbox_id = r.get_json()["outbox_id"]
    assert_synced(runtime)
    with runtime.Session() as s:
        row = s.get(Outbox, outbox_id)
        assert (row.job, row.status) == ("sync_directory", "done")
        assert row.key.startswith(f"sync_directory:{CORP_ID}:")
        assert row.result["resigned"] == 1 and row.result["departments_deleted"] == 1
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "directory.sync")) == 1
    assert len(directory.calls("department/list")) == 1
    calls = directory.calls("user/list")  # one per department: user/list has no fetch_child (doc 96260)
    assert sorted(c["query"]["department_id"] for c in calls) == ["1", "2", "3", "4"]
    assert all(set(c["query"]) == {"department_id"} for c in calls)
    # a second click in the same minute finds the same (done) row and calls WeCom no more
    r = client.post("/api/v1/directory/sync", headers=make_token("admin"))
    assert r.status_code == 202 and r.get_json()["outbox_id"] == outbox_id
    assert len(directory.calls("department/list")) == 1


def test_sync_through_cli(app, runtime, directory):
    result = app.test_cli_runner().invoke(args=["directory", "sync", "--app", "default"])
    assert result.exit_code == 0, result.output
    assert "done" in result.output
    assert "departments upserted: 4, deleted: 1; staff upserted: 3, resigned: 1" in result.output
    assert_synced(runtime)
    assert directory.calls("user/list")


def test_sync_cli_unknown_app(app, runtime):
    result = app.test_cli_runner().invoke(args=["directory", "sync", "--app", "nope"])
    assert result.exit_code != 0 and "no app" in result.output
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Outbox)) == 0


def test_sync_unknown_app_is_404_and_member_is_403(client, make_token, runtime):
    r = client.post("/api/v1/directory/sync", json={"app": "nope"}, headers=make_token("admin"))
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    r = client.post("/api/v1/directory/sync", headers=make_token("member", userid="zhangsan"))
    assert r.status_code == 403
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Outbox).where(Outbox.job == "sync_directory")) == 0


# -- admin API -----------------------------------------------------------------------------------------------------
def test_departments_in_tree_order(client, make_token, directory):
    client.post("/api/v1/directory/sync", headers=make_token("admin"))
    r = client.get("/api/v1/departments", headers=make_token("admin"))
    assert r.status_code == 200
    assert [(d["id"], d["depth"]) for d in r.get_json()["items"]] == [(1, 0), (4, 1), (2, 1), (3, 2)]
    assert client.get("/api/v1/departments", headers=make_token("member", userid="lisi")).status_code == 403


def test_staff_filters_and_masking(client, make_token, directory):
    client.post("/api/v1/directory/sync", headers=make_token("admin"))
    admin = make_token("admin")

    def userids(query: str, headers=admin) -> list[str]:  # type: ignore[no-untyped-def]
        r = client.get(f"/api/v1/staff{query}", headers=headers)
        assert r.status_code == 200, r.get_json()
        return [item["userid"] for item in r.get_json()["items"]]

    assert userids("") == ["lisi", "wangwu", "zhangsan", "zhaoliu"]
    assert userids("?status=resigned") == ["wangwu"]
    assert userids("?status=disabled") == ["zhaoliu"]
    assert userids("?department=2") == ["wangwu", "zhaoliu"]  # department 3 is below 2
    assert userids("?department=4") == []
    assert userids("?keyword=赵") == ["zhaoliu"]
    assert userids("?keyword=%25") == [] and userids("?keyword=_") == []
    r = client.get("/api/v1/staff?page_size=1&page=2", headers=admin).get_json()
    assert r["total"] == 4 and [i["userid"] for i in r["items"]] == ["wangwu"]
    masked = client.get("/api/v1/staff?keyword=zhaoliu", headers=admin).get_json()["items"][0]["mobile"]
    assert masked == "139****1111"
    full = client.get("/api/v1/staff?keyword=zhaoliu", headers=make_token("super_admin", name="root"))
    assert full.get_json()["items"][0]["mobile"] == "13900001111"
    assert client.get("/api/v1/staff", headers=make_token("member", userid="lisi")).status_code == 403


@pytest.mark.parametrize("query", ["?status=gone", "?page_size=500", "?page_size=0", "?page=x", "?department=x", "?department=\u00b2"])
def test_staff_bad_params_are_400(client, make_token, runtime, query):
    before = snapshot(runtime)
    r = client.get(f"/api/v1/staff{query}", headers=make_token("admin"))
    assert r.status_code == 400
    assert r.get_json()["error"]["code"] == "bad_request"
    assert snapshot(runtime) == before


def test_openapi_lists_directory_operations(client, make_token):
    paths = client.get("/api/v1/openapi.json", headers=make_token("admin")).get_json()["paths"]
    assert {"/departments", "/staff", "/directory/sync"} <= set(paths)


def test_mobile_is_never_logged(sender):
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    root, keep = logging.getLogger(), Keep(logging.DEBUG)
    level = root.level
    root.addHandler(keep)
    root.setLevel(logging.DEBUG)
    try:
        create_wangwu(sender)
        sender.post("change_contact/update_user", UserID="wangwu", NewUserID="", Mobile="13812349999")
    finally:
        root.removeHandler(keep)
        root.setLevel(level)
    assert not any("1381234" in line for line in records)
