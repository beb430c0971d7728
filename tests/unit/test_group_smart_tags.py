"""Smart tags on customer groups (客户群标签, 004 §4.6.3 and 9.2.3): a group rule tags the group a
change_external_chat event makes match (the fake WeCom plays the group's life over HTTP, jobs inline) and not a
near miss; the retroactive run tags exactly the matching groups, with progress, through two levels of AND/OR;
tags are only added (an exclusive tag group's other tag stays, no second tag of it is put on); a bad rule is a
422 that writes nothing; a corp's rule never reaches another corp's groups or tags."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from customer_world import all_rows
from group_support import T0
from group_world import OTHER_CORP, World, build
from models import CustomerGroup, GroupTag, GroupTagging, GroupTagGroup, SmartTagGroupHit
from support import CORP_ID
from test_group_events import post  # noqa: F401  (the fixture: a group's life in the fake, its events posted)
from web.auth import create_token

RULES = "/api/v1/smart-tag-rules"
LIB = "/api/v1/group-tag-groups"


def library(client: Any, admin: dict[str, str]) -> dict[str, int]:
    """等级 (A, B) and 行业 (exclusive: 水果, 蔬菜); tag name → id."""
    made: dict[str, int] = {}
    for name, tags, exclusive in (("等级", ["A", "B"], False), ("行业", ["水果", "蔬菜"], True)):
        r = client.post(LIB, headers=admin, json={"corp_id": CORP_ID, "name": name, "exclusive": exclusive,
                                                  "tags": [{"name": t} for t in tags]})
        assert r.status_code == 201, r.get_data(as_text=True)
        made |= {t["name"]: t["id"] for t in r.get_json()["tags"]}
    return made


def group_rule(client: Any, admin: dict[str, str], tags: list[int], conditions: dict[str, Any],
               name: str = "大群") -> Any:
    return client.post(RULES, headers=admin, json={"corp_id": CORP_ID, "name": name, "subject": "group",
                                                   "tag_pks": tags, "conditions": conditions})


def tagged(runtime: Any) -> set[tuple[str, int, str]]:  # type: ignore[no-untyped-def]
    """(chat id, group tag id, tagged_by) of every group tagging."""
    with runtime.Session() as s:
        return {tuple(r) for r in s.execute(select(CustomerGroup.chat_id, GroupTagging.tag_id, GroupTagging.tagged_by)
                                            .join(CustomerGroup, CustomerGroup.id == GroupTagging.group_id))}


def hits(runtime: Any) -> set[tuple[int, str]]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return {tuple(r) for r in s.execute(select(SmartTagGroupHit.rule_id, CustomerGroup.chat_id)
                                            .join(CustomerGroup, CustomerGroup.id == SmartTagGroupHit.group_id))}


# -- on the group events --------------------------------------------------------------------------------------
def test_a_rule_tags_the_group_an_event_makes_match_and_not_a_near_miss(  # type: ignore[no-untyped-def]
        client, runtime, make_token, post) -> None:  # noqa: F811
    admin = make_token("admin")
    tags = library(client, admin)
    r = group_rule(client, admin, [tags["A"]], {"conditions": [
        {"kind": "group_name", "words": ["VIP"]}, {"kind": "member_count", "who": "customers", "min": 2}]})
    assert r.status_code == 201, r.get_json()
    rule = r.get_json()
    assert (rule["subject"], rule["triggers"], rule["hits"]) == ("group", ["group", "group_member"], 0)
    vip = post("", owner="zhangsan", name="VIP 客户群", at=T0, members=[{"userid": "lisi", "type": 1}])["chat_id"]
    plain = post("", owner="zhangsan", name="普通客户群", at=T0, members=[{"userid": "lisi", "type": 1}])["chat_id"]
    post(f"/{vip}/members", at=T0 + 60, members=[{"userid": "wmA1"}])
    post(f"/{plain}/members", at=T0 + 60, members=[{"userid": "wmP1"}, {"userid": "wmP2"}])
    assert tagged(runtime) == set()  # VIP with one customer; two customers without VIP in the name
    post(f"/{vip}/members", at=T0 + 120, members=[{"userid": "wmA2"}])
    assert tagged(runtime) == {(vip, tags["A"], "rule:大群")}
    assert hits(runtime) == {(rule["id"], vip)}
    post(f"/{vip}/quit", at=T0 + 180, userids=["wmA2"], quit_scene=0)  # no longer matches: the tag stays
    post(f"/{vip}/members", at=T0 + 240, members=[{"userid": "wmA3"}])
    assert tagged(runtime) == {(vip, tags["A"], "rule:大群")}
    assert client.get(f"{RULES}/{rule['id']}", headers=admin).get_json()["hits"] == 1
    listed = client.get(f"{RULES}/{rule['id']}/hits", headers=admin).get_json()["items"]
    assert [(h["chat_id"], h["customer_id"]) for h in listed] == [(vip, None)]


def test_a_rename_read_from_groupchat_get_is_an_event_too(  # type: ignore[no-untyped-def]
        client, runtime, make_token, post) -> None:  # noqa: F811
    admin = make_token("admin")
    tags = library(client, admin)
    assert group_rule(client, admin, [tags["B"]], {"conditions": [{"kind": "group_name", "words": ["售后"]}]},
                      name="售后群").status_code == 201
    chat_id = post("", owner="zhangsan", name="客户群", at=T0, members=[])["chat_id"]
    assert tagged(runtime) == set()
    post(f"/{chat_id}/change", name="售后服务群")
    assert tagged(runtime) == {(chat_id, tags["B"], "rule:售后群")}


# -- the retroactive run --------------------------------------------------------------------------------------
@pytest.fixture
def world(runtime) -> World:  # type: ignore[no-untyped-def]
    return build(runtime)


def test_the_retroactive_run_tags_exactly_the_matching_groups_with_progress(  # type: ignore[no-untyped-def]
        client, runtime, make_token, world) -> None:
    admin = make_token("admin")
    tags = library(client, admin)
    # wrG1: owner zhangsan, 4 members now; wrG4: zhangsan, 2; wrG2: lisi, 2; wrG3 (zhangsan) dismissed;
    # wrG9: zhangsan's in another corp
    r = group_rule(client, admin, [tags["A"]], {"conditions": [
        {"kind": "group_owner", "userids": ["zhangsan"]}, {"kind": "member_count", "min": 2}]})
    assert r.status_code == 201, r.get_json()
    rule = r.get_json()
    job = client.get(f"/api/v1/jobs/{rule['job']}", headers=admin).get_json()
    assert job["state"] == "done" and job["done"] == job["total"] == 2, job
    assert job["result"] == {"rule_id": rule["id"], "tagged": 2, "retagged": 0}
    assert tagged(runtime) == {("wrG1", tags["A"], "rule:大群"), ("wrG4", tags["A"], "rule:大群")}
    again = client.post(f"{RULES}/{rule['id']}/run", headers=admin)
    assert again.status_code == 202
    assert client.get(f"/api/v1/jobs/{again.get_json()['job']['id']}", headers=admin).get_json()["result"][
        "tagged"] == 0
    # new tags re-tag the hits; the old tag stays
    r = client.patch(f"{RULES}/{rule['id']}", headers=admin, json={"tag_pks": [tags["B"]]})
    assert r.status_code == 200 and r.get_json()["job"] is not None
    assert {(c, t) for c, t, _ in tagged(runtime)} == {("wrG1", tags["A"]), ("wrG4", tags["A"]),
                                                       ("wrG1", tags["B"]), ("wrG4", tags["B"])}


def test_two_levels_of_and_or_and_an_exclusive_tag_is_never_swapped(  # type: ignore[no-untyped-def]
        client, runtime, make_token, world) -> None:
    admin = make_token("admin")
    tags = library(client, admin)
    assert client.post("/api/v1/groups/tags", headers=admin, json={
        "corp_id": CORP_ID, "chat_ids": ["wrG2"], "add": [tags["蔬菜"]]}).status_code == 200
    # wrG1: a customer joined a minute ago; wrG2: owner lisi, created on D2
    r = group_rule(client, admin, [tags["水果"]], {"match": "any", "conditions": [
        {"kind": "group_joins", "days": 1, "who": "customers", "min": 1},
        {"match": "all", "conditions": [{"kind": "group_owner", "userids": ["lisi"]},
                                        {"kind": "group_created", "since": world.day(1).isoformat()}]},
    ]}, name="活跃")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["triggers"] == ["daily", "group", "group_member"]
    assert hits(runtime) == {(r.get_json()["id"], "wrG1"), (r.get_json()["id"], "wrG2")}
    assert tagged(runtime) == {("wrG1", tags["水果"], "rule:活跃"), ("wrG2", tags["蔬菜"], "token:t")}


@pytest.mark.parametrize("body, field", [
    ({"conditions": {"conditions": [{"kind": "gender", "genders": [1]}]}}, "conditions"),
    ({"conditions": {"conditions": [{"kind": "member_count"}]}}, "conditions"),
    ({"conditions": {"conditions": [{"kind": "group_created", "since": "2026-05-02", "until": "2026-05-01"}]}},
     "conditions"),
    ({"conditions": {"conditions": [{"kind": "group_owner", "userids": ["nobody"]}]}}, "conditions"),
    ({"conditions": {"conditions": [{"kind": "group_joins", "days": 0, "min": 1}]}}, "conditions"),
    ({"conditions": {"conditions": [{"match": "any", "conditions": [
        {"match": "all", "conditions": [{"kind": "group_name", "words": ["x"]}]}]}]}}, "conditions"),
    ({"tag_pks": [99999]}, "tag_pks"),
    ({"tag_pks": "exclusive pair"}, "tag_pks"),
    ({"subject": "company"}, "subject"),
])
def test_a_bad_group_rule_is_refused_and_changes_nothing(client, runtime, make_token, world, body, field) -> None:  # type: ignore[no-untyped-def]
    admin = make_token("admin")
    tags = library(client, admin)
    if body.get("tag_pks") == "exclusive pair":
        body = {"tag_pks": [tags["水果"], tags["蔬菜"]]}
    before = all_rows(runtime)
    r = client.post(RULES, headers=admin, json={
        "corp_id": CORP_ID, "name": "坏规则", "subject": "group", "tag_pks": [tags["A"]],
        "conditions": {"conditions": [{"kind": "group_name", "words": ["群"]}]}, **body})
    assert r.status_code in (400, 422), r.get_json()
    assert field in str(r.get_json()["error"])
    assert all_rows(runtime) == before


def test_a_customer_rule_takes_no_group_condition_nor_a_group_rule_a_customer_one(  # type: ignore[no-untyped-def]
        client, runtime, make_token, world) -> None:
    admin = make_token("admin")
    tags = library(client, admin)
    before = all_rows(runtime)
    r = client.post(RULES, headers=admin, json={"corp_id": CORP_ID, "name": "x", "tag_pks": [world.tags["vip"]],
                                                "conditions": {"conditions": [{"kind": "member_count", "min": 1}]}})
    assert r.status_code == 422 and "member_count" in r.get_json()["error"]["message"]
    rule = group_rule(client, admin, [tags["A"]], {"conditions": [{"kind": "member_count", "min": 100}]}).get_json()
    after = all_rows(runtime)
    r = client.patch(f"{RULES}/{rule['id']}", headers=admin, json={
        "conditions": {"conditions": [{"kind": "gender", "genders": [1]}]}})
    assert r.status_code == 422 and all_rows(runtime) == after
    assert before != after


def test_a_rule_stays_in_its_corp(client, runtime, make_token, world) -> None:  # type: ignore[no-untyped-def]
    admin = make_token("admin")
    tags = library(client, admin)
    with runtime.WriteSession.begin() as s:
        other = {"Authorization": "Bearer " + create_token(s, "other", "admin", corp_id=OTHER_CORP)}
        library_b = GroupTagGroup(corp_id=OTHER_CORP, name="等级")
        s.add(library_b)
        s.flush()
        theirs = GroupTag(corp_id=OTHER_CORP, tag_group_id=library_b.id, name="A")
        s.add(theirs)
        s.flush()
        their_tag = theirs.id
    r = group_rule(client, admin, [tags["A"]], {"conditions": [{"kind": "group_owner", "userids": ["zhangsan"]}]})
    assert r.status_code == 201
    rule = r.get_json()
    assert {c for c, _, _ in tagged(runtime)} == {"wrG1", "wrG4"}  # not wrG9, zhangsan's group in the other corp
    assert client.get(f"{RULES}/{rule['id']}", headers=other).status_code == 404
    assert client.post(f"{RULES}/{rule['id']}/run", headers=other).status_code == 404
    assert client.get(f"{RULES}/{rule['id']}/hits", headers=other).status_code == 404
    assert client.get(RULES, headers=other).get_json()["items"] == []
    before = all_rows(runtime)
    assert client.patch(f"{RULES}/{rule['id']}", headers=other, json={"name": "x"}).status_code == 404
    assert client.delete(f"{RULES}/{rule['id']}", headers=other).status_code == 404
    r = group_rule(client, admin, [their_tag], {"conditions": [{"kind": "member_count", "min": 1}]})
    assert r.status_code == 422 and all_rows(runtime) == before  # the other corp's group tag
