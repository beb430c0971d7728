"""Group tags (群标签) and the activity rule (活跃群设置) over HTTP on group_world's groups: the tag library's
naming rules and guards, bulk tagging with member scope and exclusive groups, the tag filter, and how the
rule's window and thresholds move the `active` flag. Bad input answers 4xx naming the field, writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from customer_world import rejected
from group_world import World, build
from models import AuditLog, GroupActivityRule, GroupTagging
from support import CORP_ID

LIB = "/api/v1/group-tag-groups"


@pytest.fixture
def world(runtime) -> World:  # type: ignore[no-untyped-def]
    return build(runtime)


def library(client, admin: dict[str, str]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """行业 (exclusive: 水果, 蔬菜) and 等级 (A, B); tag name → id."""
    made = {}
    for name, tags, exclusive in (("行业", ["水果", "蔬菜"], True), ("等级", ["A", "B"], False)):
        r = client.post(LIB, json={"corp_id": CORP_ID, "name": name, "tags": [{"name": t} for t in tags],
                                   "exclusive": exclusive}, headers=admin)
        assert r.status_code == 201, r.get_data(as_text=True)
        made |= {t["name"]: t["id"] for t in r.get_json()["tags"]} | {name: r.get_json()["id"]}
    return made


def tag(client, headers: dict[str, str], chat_ids: list[str], add: list[int] = (), remove: list[int] = ()):  # type: ignore[no-untyped-def, assignment]
    return client.post("/api/v1/groups/tags", json={"corp_id": CORP_ID, "chat_ids": chat_ids, "add": list(add),
                                                    "remove": list(remove)}, headers=headers)


def tags_of(client, admin: dict[str, str], chat_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [t["name"] for t in client.get(f"/api/v1/groups/{chat_id}", headers=admin).get_json()["tags"]]


# -- the library ----------------------------------------------------------------------------------------------
def test_library_crud_and_its_guards(client, make_token, world, runtime) -> None:  # type: ignore[no-untyped-def]
    admin = make_token("admin")
    ids = library(client, admin)
    listed = client.get(LIB, headers=admin).get_json()["items"]
    assert [(g["name"], g["exclusive"], [t["name"] for t in g["tags"]]) for g in listed] == [
        ("行业", True, ["水果", "蔬菜"]), ("等级", False, ["A", "B"])]
    r = client.post(f"{LIB}/{ids['等级']}/tags", json={"name": "C", "colour": "#f00"}, headers=admin)
    assert r.status_code == 201 and r.get_json()["groups"] == 0
    r = client.patch(f"/api/v1/group-tags/{ids['A']}", json={"name": "A+", "order": 9}, headers=admin)
    assert r.status_code == 200 and r.get_json()["name"] == "A+"
    assert client.patch(f"{LIB}/{ids['等级']}", json={"name": "级别"}, headers=admin).get_json()["name"] == "级别"
    assert tag(client, admin, ["wrG1"], add=[ids["A"]]).status_code == 200
    rejected(runtime, lambda: client.delete(f"/api/v1/group-tags/{ids['A']}", headers=admin), 409, "conflict")
    rejected(runtime, lambda: client.delete(f"{LIB}/{ids['行业']}", headers=admin), 409, "conflict")
    for t in ("水果", "蔬菜"):
        assert client.delete(f"/api/v1/group-tags/{ids[t]}", headers=admin).get_json() == {"deleted": ids[t]}
    assert client.delete(f"{LIB}/{ids['行业']}", headers=admin).status_code == 200
    assert [g["name"] for g in client.get(LIB, headers=admin).get_json()["items"]] == ["级别"]
    with runtime.Session() as s:
        actions = list(s.scalars(select(AuditLog.action).order_by(AuditLog.id)))
    assert actions.count("group_tag.delete") == 2 and "group_tag_group.delete" in actions
    assert client.post(LIB, json={"corp_id": CORP_ID, "name": "x", "tags": [{"name": "y"}]},
                       headers=make_token("member", userid="zhangsan")).status_code == 403


@pytest.mark.parametrize("body,field", [
    ({"name": "", "tags": [{"name": "a"}]}, "name"),
    ({"name": "   ", "tags": [{"name": "a"}]}, "name"),
    ({"name": "x" * 31, "tags": [{"name": "a"}]}, "name"),
    ({"name": "ok", "tags": []}, "tags"),
    ({"name": "ok"}, "tags"),
    ({"name": "ok", "tags": [{"name": "a" * 31}]}, "tags[0].name"),
    ({"name": "ok", "tags": [{"name": "a"}, {"name": "a"}]}, "tags"),
    ({"name": "行业", "tags": [{"name": "a"}]}, "name"),  # taken in the corp
    ({"name": "ok", "tags": [{"name": "a"}], "exclusive": "yes"}, "exclusive"),
])
def test_tag_group_naming_rules(client, make_token, world, runtime, body, field) -> None:  # type: ignore[no-untyped-def]
    admin = make_token("admin")
    library(client, admin)
    error = rejected(runtime, lambda: client.post(LIB, json={"corp_id": CORP_ID, **body}, headers=admin), 422,
                     "invalid")
    assert field in error["fields"], error


def test_tag_naming_rules(client, make_token, world, runtime) -> None:  # type: ignore[no-untyped-def]
    admin = make_token("admin")
    ids = library(client, admin)
    for body, field in (({"name": "水果"}, "name"), ({"name": "x" * 31}, "name"), ({"name": ""}, "name"),
                        ({"name": "ok", "colour": "c" * 17}, "colour")):
        error = rejected(runtime, lambda b=body: client.post(f"{LIB}/{ids['行业']}/tags", json=b, headers=admin),
                         422, "invalid")
        assert field in error["fields"]
    error = rejected(runtime, lambda: client.patch(f"/api/v1/group-tags/{ids['水果']}", json={"name": "蔬菜"},
                                                   headers=admin), 422, "invalid")
    assert error["fields"] == {"name": "a tag of that name is in the group"}
    assert client.patch("/api/v1/group-tags/999999", json={"name": "z"}, headers=admin).status_code == 404


# -- tagging groups ---------------------------------------------------------------------------------------------
def test_bulk_tagging_adds_removes_and_filters(client, make_token, world, runtime) -> None:  # type: ignore[no-untyped-def]
    admin = make_token("admin")
    ids = library(client, admin)
    r = tag(client, admin, ["wrG1", "wrG2", "wrG4"], add=[ids["水果"], ids["A"]])
    assert r.get_json() == {"groups": 3, "added": 6, "removed": 0}
    assert tag(client, admin, ["wrG1", "wrG2"], add=[ids["A"]]).get_json() == {"groups": 2, "added": 0, "removed": 0}
    assert tag(client, admin, ["wrG4"], remove=[ids["A"]]).get_json() == {"groups": 1, "added": 0, "removed": 1}
    # 互斥: 蔬菜 takes 水果's place on wrG2
    assert tag(client, admin, ["wrG2"], add=[ids["蔬菜"]]).get_json() == {"groups": 1, "added": 1, "removed": 1}
    assert tags_of(client, admin, "wrG1") == ["水果", "A"] and tags_of(client, admin, "wrG2") == ["蔬菜", "A"]

    def having(*names: str) -> list[str]:
        query = [("tag", ids[n]) for n in names]
        return [i["chat_id"] for i in client.get("/api/v1/groups", query_string=query, headers=admin).get_json()["items"]]

    assert having("A") == ["wrG2", "wrG1"]
    assert having("水果") == ["wrG4", "wrG1"]
    assert having("水果", "A") == ["wrG1"]
    assert having("蔬菜", "水果") == []
    listed = {t["name"]: t["groups"] for g in client.get(LIB, headers=admin).get_json()["items"] for t in g["tags"]}
    assert listed == {"水果": 2, "蔬菜": 1, "A": 2, "B": 0}


def test_bad_tagging_writes_nothing(client, make_token, world, runtime) -> None:  # type: ignore[no-untyped-def]
    admin, lisi = make_token("admin"), make_token("member", userid="lisi")
    ids = library(client, admin)
    cases = [
        (admin, ["wrG1"], [999999], [], 422, "add"),
        (admin, ["wrG1"], [], [999999], 422, "remove"),
        (admin, ["wrG1"], [ids["水果"], ids["蔬菜"]], [], 422, "add"),  # two of an exclusive group
        (admin, ["wrG1"], [], [], 422, "add"),
        (admin, ["wrG1"], [ids["A"]], [ids["A"]], 422, "remove"),
        (admin, ["wrG1", "nope"], [ids["A"]], [], 404, "chat_ids"),
        (admin, ["wrG9"], [ids["A"]], [], 404, "chat_ids"),  # another corp's group
        (lisi, ["wrG2", "wrG3"], [ids["A"]], [], 404, "chat_ids"),  # lisi never saw wrG3
    ]
    for headers, chat_ids, add, remove, status, field in cases:
        error = rejected(runtime, lambda h=headers, c=chat_ids, a=add, r=remove: tag(client, h, c, a, r), status,
                         "invalid" if status == 422 else "not_found")
        assert field in error["fields"], (chat_ids, error)
    r = client.post("/api/v1/groups/tags", json={"chat_ids": [], "add": [ids["A"]], "corp_id": CORP_ID}, headers=admin)
    assert r.status_code == 422 and "chat_ids" in r.get_json()["error"]["fields"]
    assert tag(client, lisi, ["wrG1", "wrG2"], add=[ids["B"]]).status_code == 200  # a member tags their groups
    with runtime.Session() as s:
        assert len(s.scalars(select(GroupTagging)).all()) == 2
        assert s.scalar(select(AuditLog.detail).where(AuditLog.action == "group.tag"))["chat_ids"] == ["wrG1", "wrG2"]


def test_making_a_tag_group_exclusive_needs_one_tag_per_group(client, make_token, world, runtime) -> None:  # type: ignore[no-untyped-def]
    admin = make_token("admin")
    ids = library(client, admin)
    tag(client, admin, ["wrG1"], add=[ids["A"], ids["B"]])
    rejected(runtime, lambda: client.patch(f"{LIB}/{ids['等级']}", json={"exclusive": True}, headers=admin), 409,
             "conflict")
    tag(client, admin, ["wrG1"], remove=[ids["B"]])
    assert client.patch(f"{LIB}/{ids['等级']}", json={"exclusive": True}, headers=admin).get_json()["exclusive"]


# -- activity rule ----------------------------------------------------------------------------------------------
def active(client, admin: dict[str, str]) -> list[str]:  # type: ignore[no-untyped-def]
    items = client.get("/api/v1/groups", query_string={"active": "true"}, headers=admin).get_json()["items"]
    return [i["chat_id"] for i in items]


def test_activity_rule_moves_the_flag(client, make_token, world, runtime) -> None:  # type: ignore[no-untyped-def]
    """Defaults (7 days, 14%): wrG1 has 3 newcomers among 4 members (75%), wrG2 1 of 2 (50%), wrG4 none.
    Today only: wrG1 1 of 4 (25%: wmC), wrG2 none. 30%: wrG1's 25% is not enough. Any message threshold: we
    see no group messages, so nothing is active."""
    admin = make_token("admin")
    rule = client.get("/api/v1/group-activity-rule", query_string={"corp_id": CORP_ID}, headers=admin).get_json()
    assert rule | {"counts": ""} == {"corp_id": CORP_ID, "window_days": 7, "min_active_percent": 14,
                                     "min_message_percent": 0, "saved": False, "counts": ""}
    assert "no chat archive" in rule["counts"]
    assert active(client, admin) == ["wrG2", "wrG1"]

    def put(**body: Any) -> Any:
        return client.put("/api/v1/group-activity-rule", json={"corp_id": CORP_ID, **body}, headers=admin)

    assert put(window_days=1).get_json()["saved"] is True
    assert active(client, admin) == ["wrG1"]
    put(window_days=1, min_active_percent=30)
    assert active(client, admin) == []
    put(window_days=30, min_active_percent=100)
    assert active(client, admin) == []
    put(window_days=30, min_active_percent=50)
    assert active(client, admin) == ["wrG4", "wrG2", "wrG1"]  # wrG4's wmD joined 15 days ago: 1 of 2
    put(window_days=30, min_active_percent=0, min_message_percent=1)
    assert active(client, admin) == []
    with runtime.Session() as s:
        assert s.scalar(select(GroupActivityRule.min_message_percent)) == 1
        assert len(s.scalars(select(AuditLog).where(AuditLog.action == "group_activity_rule.update")).all()) == 5
    for body, field in (({"window_days": 0}, "window_days"), ({"window_days": 91}, "window_days"),
                        ({"min_active_percent": 101}, "min_active_percent"), ({"min_active_percent": "5"},
                                                                              "min_active_percent")):
        assert field in rejected(runtime, lambda b=body: put(**b), 422, "invalid")["fields"]
    assert client.put("/api/v1/group-activity-rule", json={"corp_id": CORP_ID},
                      headers=make_token("member", userid="zhangsan")).status_code == 403
