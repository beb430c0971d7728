"""Lead assignment rules (线索自动分配, 004 §9.9.2): conditions in AND/OR groups two levels deep (rules/
lead_rules.py, at their edges: an empty group, a near miss, a third level refused), rules tried in order
with the first match winning, round robin fair over 1,000 leads and under concurrent saves, random over the
rule's targets, and a lead no rule takes flagged for manual handling."""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select, update

from customer_world import build, rejected
from models import App, Lead, LeadRule, Staff
from rules.lead_rules import group_errors, matches
from support import CORP_ID
from web import lead_writes

RULES = "/api/v1/lead-rules"
LEAD = {"name": "陈一", "mobile": "13800002222", "gender": "male", "company": "鼎资科技", "position": "经理",
        "source": "官网", "tags": ["5"], "fields.city": "广州"}


def cond(field: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "op": op, **({} if value is None else {"value": value})}


# -- evaluation ---------------------------------------------------------------------------------------------
def test_and_is_the_default_and_any_is_or() -> None:
    both = {"conditions": [cond("source", "eq", "官网"), cond("company", "contains", "鼎资")]}
    assert matches(both, LEAD)
    assert not matches({"conditions": [cond("source", "eq", "官网"), cond("company", "contains", "华为")]}, LEAD)
    assert matches({"match": "any", "conditions": [cond("source", "eq", "展会"), cond("gender", "eq", "male")]},
                   LEAD)


def test_nested_groups_and_a_near_miss() -> None:
    rule = {"match": "all", "conditions": [
        cond("source", "in", ["官网", "展会"]),
        {"match": "any", "conditions": [cond("position", "eq", "总监"), cond("fields.city", "eq", "广州")]},
        {"conditions": [cond("tags", "eq", 5), cond("mobile", "not_empty")]}]}
    assert matches(rule, LEAD)
    assert not matches(rule, LEAD | {"fields.city": "广州市"})  # eq is exact: the OR group's both sides miss
    assert not matches(rule, LEAD | {"tags": ["6"]})  # the inner AND misses by one condition
    assert not matches(rule, LEAD | {"source": "官网 "} | {"mobile": ""})
    assert matches(rule, LEAD | {"source": " 官网 "})  # text is trimmed


def test_an_empty_group_restricts_nothing() -> None:
    assert matches({}, LEAD) and matches({"match": "any", "conditions": []}, LEAD)
    assert matches({"conditions": [{"match": "any", "conditions": []}, cond("source", "eq", "官网")]}, LEAD)
    assert not matches({"conditions": [{"match": "any", "conditions": []}, cond("source", "eq", "展会")]}, LEAD)


@pytest.mark.parametrize("op, value, lead, expected", [
    ("eq", "5", LEAD, True), ("neq", "5", LEAD, False), ("in", ["4", "5"], LEAD, True), ("in", ["4"], LEAD, False),
    ("contains", "VIP", LEAD, True), ("contains", "展会", LEAD, False), ("empty", None, LEAD, False),
    ("empty", None, LEAD | {"tags": []}, True), ("not_empty", None, LEAD | {"tags": []}, False)])
def test_tag_operators(op: str, value: Any, lead: dict[str, Any], expected: bool) -> None:
    assert matches({"conditions": [cond("tags", op, value)]}, lead, {"5": "重要VIP"}) is expected


def test_text_operators_at_their_edges() -> None:
    assert matches({"conditions": [cond("company", "neq", "鼎资")]}, LEAD)
    assert matches({"conditions": [cond("position", "empty")]}, LEAD | {"position": "  "})
    assert not matches({"conditions": [cond("fields.missing", "not_empty")]}, LEAD)


@pytest.mark.parametrize("conditions, problem", [
    ({"conditions": [{"conditions": [{"conditions": []}]}]}, "two levels"),
    ({"match": "xor"}, "match"), ({"conditions": [cond("salary", "eq", "1")]}, "field"),
    ({"conditions": [cond("name", "like", "x")]}, "op"), ({"conditions": [cond("name", "in", [])]}, "list"),
    ({"conditions": [cond("name", "eq")]}, "value"), ({"when": 1}, "group")])
def test_a_malformed_rule_is_named(conditions: dict[str, Any], problem: str) -> None:
    assert any(problem in p for p in group_errors(conditions)), group_errors(conditions)


# -- over the API and on save ---------------------------------------------------------------------------------
@pytest.fixture
def world(runtime, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    ids = build(runtime)
    with runtime.WriteSession.begin() as s:
        s.add_all([Staff(corp_id=CORP_ID, userid=u, name=u) for u in ("a1", "a2", "a3")])
        s.execute(update(App).values(agent_id=None))  # no app messages: these tests count owners
    return {**ids, "admin": make_token("admin", name="adm"), "zhangsan": make_token("member", userid="zhangsan")}


def rule(client, headers, **body: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post(RULES, headers=headers, json={"corp_id": CORP_ID, **body})
    assert r.status_code == 201, r.get_json()
    return dict(r.get_json())


def save(runtime, **values: Any) -> Lead:  # type: ignore[no-untyped-def]
    """A lead saved as the API, the import and the webhook save one."""
    with runtime.WriteSession.begin() as s:
        lead, _ = lead_writes.create(s, CORP_ID, lead_writes.clean({"name": "x", **values}), [], {}, "test", "test")
        s.flush()
        s.expunge(lead)
    return lead


def test_rules_are_tried_in_order_and_the_first_match_wins(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    fair = rule(client, world["admin"], name="展会", targets=["a1"],
                conditions={"conditions": [cond("source", "eq", "展会")]})
    rule(client, world["admin"], name="其余", targets=["a2"])
    rule(client, world["admin"], name="VIP 优先", targets=["a3"], position=0,
         conditions={"conditions": [cond("tags", "eq", world["vip"])]})
    assert [r["name"] for r in client.get(RULES, headers=world["admin"], query_string={"corp_id": CORP_ID}).get_json()["items"]] == [
        "VIP 优先", "展会", "其余"]
    assert (save(runtime, source="展会").owner_userid, save(runtime, source="官网").owner_userid) == ("a1", "a2")
    with runtime.WriteSession.begin() as s:
        lead, _ = lead_writes.create(s, CORP_ID, {"name": "y", "source": "展会"}, [world["vip"]], {}, "t", "t")
        assert lead.owner_userid == "a3"
    client.delete(f"{RULES}/{fair['id']}", headers=world["admin"])
    assert save(runtime, source="展会").owner_userid == "a2"


def test_a_lead_no_rule_takes_is_flagged_for_manual_handling(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    rule(client, world["admin"], name="展会", targets=["a1"], conditions={"conditions": [cond("source", "eq", "展会")]})
    lead = save(runtime, source="官网")
    assert (lead.owner_userid, lead.needs_manual, lead.status) == (None, True, "new")


def test_round_robin_over_1000_leads_differs_by_at_most_one(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    made = rule(client, world["admin"], name="全部", targets=["a1", "a2", "a3"])
    with runtime.WriteSession.begin() as s:  # one transaction: the turn is the same UPDATE as in a thousand
        owners = [lead_writes.create(s, CORP_ID, {"name": f"x{n}"}, [], {}, "t", "t")[0].owner_userid
                  for n in range(1000)]
    counts = Counter(owners)
    assert sorted(counts.values()) == [333, 333, 334] and owners[:4] == ["a1", "a2", "a3", "a1"]
    assert client.get(RULES, headers=world["admin"], query_string={"corp_id": CORP_ID}).get_json()["items"][0]["turn"] == 1000
    assert made["turn"] == 0


def test_round_robin_takes_distinct_turns_under_concurrent_saves(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    rule(client, world["admin"], name="全部", targets=["a1", "a2", "a3", "zhangsan"])
    owners: list[str | None] = []

    def worker() -> None:
        for _ in range(25):
            owners.append(save(runtime).owner_userid)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(Counter(owners).values()) == [50, 50, 50, 50]
    with runtime.Session() as s:
        assert s.scalar(select(LeadRule.turn)) == 200


def test_random_spreads_over_the_rules_targets_only(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    random.seed(14)
    rule(client, world["admin"], name="随机", targets=["a1", "a2"], spread="random")
    counts = Counter(save(runtime).owner_userid for _ in range(200))
    assert set(counts) == {"a1", "a2"} and min(counts.values()) > 60


def test_a_bad_rule_is_a_422_naming_it_and_stores_nothing(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    for body, field in (({"name": "x", "targets": ["a1"], "conditions": {"conditions": [cond("x", "eq", "1")]}},
                         "conditions"),
                        ({"name": "x", "targets": ["nobody"]}, "targets"), ({"name": "x"}, "targets"),
                        ({"targets": ["a1"]}, "name")):
        error = rejected(runtime, lambda b=body: client.post(RULES, headers=world["admin"],
                                                             json={"corp_id": CORP_ID, **b}), 422, "invalid")
        assert field in error["fields"]
    rejected(runtime, lambda: client.post(RULES, headers=world["zhangsan"], json={
        "corp_id": CORP_ID, "name": "x", "targets": ["a1"]}), 403, "forbidden")


def test_a_rule_is_edited_and_moved(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    first = rule(client, world["admin"], name="一", targets=["a1"])
    rule(client, world["admin"], name="二", targets=["a2"])
    r = client.patch(f"{RULES}/{first['id']}", headers=world["admin"], json={"position": 5, "targets": ["a3"],
                                                                             "enabled": False})
    assert (r.get_json()["position"], r.get_json()["targets"], r.get_json()["enabled"]) == (1, ["a3"], False)
    assert save(runtime).owner_userid == "a2"
