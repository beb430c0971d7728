"""Smart tags (智能标签, 004 §4.6.3): a rule tags on the customer's matching message (kf callback → sync_msg →
the fake WeCom's mark_tag over HTTP) and not on a near miss; the retroactive run tags exactly the matches; a
third nesting level is refused; changing a rule's tags re-tags its matches (old tags stay); the daily run of
time-based rules is claimed once per corp-local day."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from kf_support import FakeKf, kf_callback, text
from sqlalchemy import select, update

from customer_world import all_rows
from jobs.smart_tags import daily_corp
from models import FollowRelation, FollowTag, SmartTagHit, SmartTagRule, SmartTagScan, Tag
from models.db import utcnow
from sidebar_support import build_world
from support import CORP_ID

RULES = "/api/v1/smart-tag-rules"


@pytest.fixture
def world(sender, client, runtime, fake_wecom, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    admin = make_token("admin", name="setup")
    ids = build_world(sender, client, runtime, fake_wecom.url, admin)
    with runtime.Session() as s:
        ids["wecom"] = dict(s.execute(select(Tag.id, Tag.tag_id)).all())
    fake_wecom.clear_calls()
    return {**ids, "admin": admin}


def marked(fake_wecom) -> list[tuple[str, str, list[str]]]:  # type: ignore[no-untyped-def]
    return sorted((c["body"]["userid"], c["body"]["external_userid"], c["body"]["add_tag"])
                  for c in fake_wecom.calls("externalcontact/mark_tag") if c["errcode"] == 0)


def make_rule(client: Any, world: dict[str, Any], conditions: dict[str, Any], tag: str = "A级",
              name: str = "问价格") -> Any:
    return client.post(RULES, headers=world["admin"], json={"name": name, "tag_pks": [world[tag]],
                                                            "conditions": conditions})


def hits(runtime) -> set[tuple[int, int]]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return {tuple(row) for row in s.execute(select(SmartTagHit.rule_id, SmartTagHit.customer_id))}


def test_a_rule_tags_on_the_matching_message_and_not_on_a_near_miss(  # type: ignore[no-untyped-def]
        client, sender, runtime, fake_wecom, world) -> None:
    r = client.post("/api/v1/kf/accounts", headers=world["admin"], json={"name": "售前", "media_id": "M1"})
    assert r.status_code == 202, r.get_json()
    open_kfid = r.get_json()["open_kfid"]
    r = make_rule(client, world, {"conditions": [{"kind": "keyword", "words": ["价格", "报价"]}]})
    assert r.status_code == 201, r.get_json()
    rule = r.get_json()
    assert rule["triggers"] == ["message"] and rule["hits"] == 0
    fake_wecom.clear_calls()
    written = FakeKf(fake_wecom.url).write(open_kfid, text("wmCustomer0001", "请问这款的价格是多少？"),
                                           text("wmCustomer0002", "请问这款的价钱是多少？"))
    assert sender.post_xml(kf_callback(written["token"], open_kfid)).status_code == 200
    a_tag = world["wecom"][world["A级"]]
    assert marked(fake_wecom) == [("zhangsan", "wmCustomer0001", [a_tag])]
    assert hits(runtime) == {(rule["id"], world["wmCustomer0001"])}
    with runtime.Session() as s:  # the tag's row says which rule put it there
        [(userid, by)] = s.execute(select(FollowRelation.userid, FollowTag.tagged_by).join(
            FollowTag, FollowTag.follow_id == FollowRelation.id).where(FollowTag.tag_pk == world["A级"])).all()
    assert (userid, by) == ("zhangsan", "rule:问价格")
    fake_wecom.clear_calls()  # a second matching message tags nobody twice
    written = FakeKf(fake_wecom.url).write(open_kfid, text("wmCustomer0001", "报价单发我一下"))
    assert sender.post_xml(kf_callback(written["token"], open_kfid)).status_code == 200
    assert marked(fake_wecom) == []
    assert client.get(f"{RULES}/{rule['id']}", headers=world["admin"]).get_json()["hits"] == 1


def follow_up(client: Any, world: dict[str, Any], customer: str, userid: str) -> None:
    r = client.post("/api/v1/follow-ups", headers=world["admin"], json={
        "customer_id": world[customer], "text": "电话沟通", "userid": userid})
    assert r.status_code == 201, r.get_json()


def test_the_retroactive_run_tags_exactly_the_matches_with_progress(  # type: ignore[no-untyped-def]
        client, runtime, fake_wecom, world) -> None:
    follow_up(client, world, "wmCustomer0001", "zhangsan")
    follow_up(client, world, "wmCustomer0001", "zhangsan")
    follow_up(client, world, "wmCustomer0002", "lisi")
    fake_wecom.clear_calls()
    r = make_rule(client, world, {"conditions": [{"kind": "follow_ups", "min": 2}]}, name="跟进两次")
    assert r.status_code == 201, r.get_json()
    rule = r.get_json()
    job = client.get(f"/api/v1/jobs/{rule['job']}", headers=world["admin"]).get_json()
    assert job["state"] == "done" and job["done"] == job["total"] == 1, job
    assert job["result"] == {"rule_id": rule["id"], "tagged": 1, "retagged": 0}
    assert marked(fake_wecom) == [("zhangsan", "wmCustomer0001", [world["wecom"][world["A级"]]])]
    assert hits(runtime) == {(rule["id"], world["wmCustomer0001"])}
    fake_wecom.clear_calls()  # a run again finds nobody new; the second follow-up makes lisi's customer match
    r = client.post(f"{RULES}/{rule['id']}/run", headers=world["admin"])
    assert r.status_code == 202 and r.headers["Location"].endswith(f"/jobs/{r.get_json()['job']['id']}")
    assert marked(fake_wecom) == []
    follow_up(client, world, "wmCustomer0002", "lisi")
    assert marked(fake_wecom) == [("lisi", "wmCustomer0002", [world["wecom"][world["A级"]]])]


def test_a_hit_recorded_meanwhile_is_no_error_and_no_second_tagging(  # type: ignore[no-untyped-def]
        client, runtime, fake_wecom, world) -> None:
    """Two transactions can both find a customer unmatched (`matching`) before either records the hit: the
    second one's insert then meets the first one's row. That customer is skipped, the others tagged."""
    from handlers.smart_tags import tag_matches

    follow_up(client, world, "wmCustomer0001", "zhangsan")
    rule = make_rule(client, world, {"conditions": [{"kind": "follow_ups", "min": 1}]}).get_json()
    assert hits(runtime) == {(rule["id"], world["wmCustomer0001"])}
    with runtime.WriteSession.begin() as s:
        pending = tag_matches(s, s.get(SmartTagRule, rule["id"]),
                              [world["wmCustomer0001"], world["wmCustomer0002"]], utcnow())
        assert [p.args["external_userid"] for p in pending] == ["wmCustomer0002"]
    assert hits(runtime) == {(rule["id"], world["wmCustomer0001"]), (rule["id"], world["wmCustomer0002"])}


def test_changing_the_tags_re_tags_the_matches_and_keeps_the_old_tags(  # type: ignore[no-untyped-def]
        client, runtime, fake_wecom, world) -> None:
    follow_up(client, world, "wmCustomer0001", "zhangsan")
    rule = make_rule(client, world, {"conditions": [{"kind": "follow_ups", "min": 1}]}).get_json()
    fake_wecom.clear_calls()
    r = client.patch(f"{RULES}/{rule['id']}", headers=world["admin"], json={"tag_pks": [world["B级"]]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["tag_pks"] == [world["B级"]] and r.get_json()["job"] is not None
    assert marked(fake_wecom) == [("zhangsan", "wmCustomer0001", [world["wecom"][world["B级"]]])]
    with runtime.Session() as s:
        assert set(s.scalars(select(FollowTag.tag_pk))) == {world["A级"], world["B级"]}
    fake_wecom.clear_calls()  # new conditions: new matches only, the old hit stays
    r = client.patch(f"{RULES}/{rule['id']}", headers=world["admin"], json={
        "conditions": {"conditions": [{"kind": "follow_ups", "min": 5}]}})
    assert r.status_code == 200 and marked(fake_wecom) == []
    assert hits(runtime) == {(rule["id"], world["wmCustomer0001"])}


@pytest.mark.parametrize("body, field", [
    ({"conditions": {"conditions": [{"match": "any", "conditions": [
        {"match": "all", "conditions": [{"kind": "gender", "genders": [1]}]}]}]}}, "conditions"),
    ({"conditions": {"conditions": []}}, "conditions"),
    ({"conditions": {"conditions": [{"kind": "keyword", "words": ["x" * 41]}]}}, "conditions"),
    ({"conditions": {"conditions": [{"kind": "field", "field_id": 1, "value": 1.005}]}}, "conditions"),
    ({"conditions": {"conditions": [{"kind": "silence", "days": 0}]}}, "conditions"),
    ({"conditions": {"conditions": [{"kind": "last_contact", "within_days": 3, "since": "2026-01-01"}]}},
     "conditions"),
    ({"tag_pks": [99999]}, "tag_pks"),
    ({"conditions": {"conditions": [{"kind": "age", "field_id": 99999, "min": 20}]}}, "conditions"),
])
def test_a_bad_rule_is_refused_and_changes_nothing(client, runtime, world, body, field) -> None:  # type: ignore[no-untyped-def]
    before = all_rows(runtime)
    r = client.post(RULES, headers=world["admin"], json={
        "name": "坏规则", "tag_pks": [world["A级"]], "conditions": {"conditions": [{"kind": "gender", "genders": [1]}]},
        **body})
    assert r.status_code in (400, 422), r.get_json()
    assert field in str(r.get_json()["error"])
    assert all_rows(runtime) == before


def test_two_levels_are_taken_and_or_groups_evaluate(client, runtime, fake_wecom, world) -> None:  # type: ignore[no-untyped-def]
    follow_up(client, world, "wmCustomer0002", "lisi")
    r = make_rule(client, world, {"match": "any", "conditions": [
        {"kind": "keyword", "words": ["退款"]},
        {"match": "all", "conditions": [{"kind": "follow_ups", "min": 1}, {"kind": "silence", "days": 30}]},
        {"match": "all", "conditions": [{"kind": "follow_ups", "min": 1}, {"kind": "last_contact", "within_days": 1}]},
    ]})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["triggers"] == ["daily", "follow_up", "message"]
    assert marked(fake_wecom) == [("lisi", "wmCustomer0002", [world["wecom"][world["A级"]]])]


def test_the_daily_run_is_claimed_once_per_corp_local_day(client, runtime, fake_wecom, world) -> None:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:  # the samples' add time is long ago: both were added just now
        s.execute(update(FollowRelation).values(added_at=utcnow()))
    r = make_rule(client, world, {"conditions": [{"kind": "silence", "days": 7}]}, name="沉默七天")
    assert r.status_code == 201 and marked(fake_wecom) == []  # both were added just now: nobody silent yet
    later = utcnow() + dt.timedelta(days=8)
    assert daily_corp(CORP_ID, now=later) == 2
    assert daily_corp(CORP_ID, now=later) is None  # the day is taken
    assert len(marked(fake_wecom)) == 2
    with runtime.Session() as s:
        [scan] = s.scalars(select(SmartTagScan)).all()
        assert scan.tagged == 2 and scan.finished_at is not None
        assert s.scalar(select(SmartTagRule.triggers)) == ",daily,"
