"""Custom-field operators "neq" and "between" (rules/field_ops.py) in segments and smart-tag rules, and the
leap-day birthday (rules/anniversary.py).

The same conditions are evaluated three ways on the same customers and must agree: the segment preview over
HTTP (SQL), a smart-tag rule's compiled condition (SQL) and `matches` below (Python). A customer
without the field matches no operator, "neq" included. A 29 February birthday comes on 28 February in a
common year (a smart-tag birthday rule's daily run, an SOP date plan) and on the 29th in a leap year."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from customer_world import build
from handlers.smart_tag_sql import rule_condition
from handlers.smart_tags import scope_for
from jobs.smart_tags import daily_corp
from jobs.sop import scan_dates
from models import Corp, Customer, CustomerFieldValue, CustomField, Segment, SmartTagHit, SopEnrolment
from rules.field_ops import next_day
from support import CORP_ID
from web.auth import create_token
from web.schemas.smart_tags import Conditions


Wanted = str | int | float


def matches(op: str, value: Wanted, to: Wanted | None, stored: str | None, field_type: str) -> bool:
    """The operators' meaning (rules/field_ops.py) in Python, the reference the SQL must agree with: whether a
    customer whose canonical text for the field (of FieldType `field_type`) is `stored` (None: no
    value) meets the condition."""
    if stored is None:
        return False
    if op == "contains":
        return str(value) in stored
    if isinstance(value, str):
        if op == "between":
            assert isinstance(to, str)
            return value <= stored < next_day(to)
        return {"eq": stored == value, "neq": stored != value, "gte": stored >= value, "lte": stored <= value}[op]
    if field_type != "number":
        return False
    number = Decimal(stored)
    low = Decimal(str(value))
    if op == "between":
        return low <= number <= Decimal(str(to))
    return {"eq": number == low, "neq": number != low, "gte": number >= low, "lte": number <= low}[op]


SHANGHAI = ZoneInfo("Asia/Shanghai")
# customer → (budget: number, 2 places; visit: date; note: text holding a number); 孙七 has no value at all
VALUES = {"王小明": ("100", "2026-03-01", "100"), "赵六": ("99.99", "2026-03-31", "abc")}


@pytest.fixture
def world(runtime) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    ids = build(runtime)
    with runtime.WriteSession.begin() as s:
        fields = [CustomField(corp_id=CORP_ID, key="budget", label="预算", type="number", decimals=2),
                  CustomField(corp_id=CORP_ID, key="visit", label="到店日", type="date"),
                  CustomField(corp_id=CORP_ID, key="note", label="备注", type="text"),
                  CustomField(corp_id=CORP_ID, key="birthday", label="生日", type="date")]
        s.add_all(fields)
        s.flush()
        for name, texts in VALUES.items():
            s.add_all(CustomerFieldValue(customer_id=ids[name], field_id=f.id, value=t, text=t)
                      for f, t in zip(fields, texts, strict=False))
        ids.update({f.key: f.id for f in fields})
        admin = {"Authorization": f"Bearer {create_token(s, 'adm', 'admin', corp_id=CORP_ID)}"}
    return {**ids, "admin": admin}


CONDITIONS = [  # (field key, op, value, to, the customers it picks)
    ("budget", "neq", 100, None, {"赵六"}),  # 孙七 has no budget: not "≠ 100"
    ("budget", "neq", 99.99, None, {"王小明"}),
    ("budget", "eq", 100.00, None, {"王小明"}),
    ("budget", "between", 99.99, 100, {"王小明", "赵六"}),  # inclusive at both ends
    ("budget", "between", 99.5, 99.99, {"赵六"}),
    ("budget", "between", 100.01, 200, set()),
    ("visit", "between", "2026-03-01", "2026-03-31", {"王小明", "赵六"}),
    ("visit", "between", "2026-03-02", "2026-03-31", {"赵六"}),
    ("visit", "neq", "2026-03-01", None, {"赵六"}),
    ("note", "neq", "abc", None, {"王小明"}),  # text compared as text
    ("note", "neq", 5, None, set()),  # a number condition on a text field: never met (not SQL's cast to 0)
]


def python_picks(runtime: Any, world: dict[str, Any], key: str, op: str, value: Any, to: Any) -> set[str]:
    """`matches` over every live customer of the corp, with or without a value."""
    with runtime.Session() as s:
        ftype = s.scalar(select(CustomField.type).where(CustomField.id == world[key]))
        stored = dict(s.execute(select(CustomerFieldValue.customer_id, CustomerFieldValue.text).where(
            CustomerFieldValue.field_id == world[key])).all())
        customers = s.execute(select(Customer.id, Customer.name).where(Customer.corp_id == CORP_ID,
                                                                       Customer.deleted_at.is_(None))).all()
    return {name for cid, name in customers if matches(op, value, to, stored.get(cid), ftype)}


def rule_picks(runtime: Any, condition: dict[str, Any]) -> set[str]:
    """A smart-tag rule's conditions compiled as the rule runs them (handlers/smart_tag_sql.py)."""
    with runtime.Session() as s:
        where = rule_condition(scope_for(s, CORP_ID), Conditions.model_validate({"conditions": [condition]}))
        return set(s.scalars(select(Customer.name).where(Customer.corp_id == CORP_ID, Customer.deleted_at.is_(None),
                                                         where)))


@pytest.mark.parametrize("key, op, value, to, expected", CONDITIONS)
def test_segments_rules_and_python_agree_on_the_same_customers(  # type: ignore[no-untyped-def]
        client, runtime, world, key, op, value, to, expected) -> None:
    cond = {"field_id": world[key], "op": op, "value": value, **({"to": to} if to is not None else {})}
    r = client.post("/api/v1/segments", headers=world["admin"], json={"name": "组", "filters": {"fields": [cond]}})
    assert r.status_code == 201, r.get_json()
    page = client.get(f"/api/v1/segments/{r.get_json()['id']}/customers?page_size=200", headers=world["admin"])
    assert {c["name"] for c in page.get_json()["items"]} == expected
    assert rule_picks(runtime, {"kind": "field", **cond}) == expected
    assert python_picks(runtime, world, key, op, value, to) == expected


@pytest.mark.parametrize("cond, error", [
    ({"op": "between", "value": 1}, "to"),
    ({"op": "neq", "value": 1, "to": 2}, "to"),
    ({"op": "between", "value": 5, "to": 1}, "above"),
    ({"op": "between", "value": "2026-03-02", "to": "2026-03-01"}, "after"),
    ({"op": "between", "value": 1, "to": "2026-03-01"}, "two numbers or two dates"),
    ({"op": "between", "value": "a", "to": "b"}, "YYYY-MM-DD"),
    ({"op": "between", "value": 1, "to": 2.345}, "2 decimal places"),
    ({"op": "between", "value": "2026-02-30", "to": "2026-03-01"}, "YYYY-MM-DD"),
])
def test_a_bad_range_is_refused_and_saves_nothing(client, runtime, world, cond, error) -> None:  # type: ignore[no-untyped-def]
    cond = {"field_id": world["budget"], **cond}
    r = client.post("/api/v1/segments", headers=world["admin"], json={"name": "坏", "filters": {"fields": [cond]}})
    assert r.status_code == 422 and error in str(r.get_json()["error"]), r.get_json()
    r = client.post("/api/v1/smart-tag-rules", headers=world["admin"], json={
        "name": "坏", "tag_pks": [world["vip"]], "conditions": {"conditions": [{"kind": "field", **cond}]}})
    assert r.status_code == 422 and error in str(r.get_json()["error"]), r.get_json()
    with runtime.Session() as s:
        assert s.scalars(select(Segment.id)).all() == []


def leap_born(runtime: Any, world: dict[str, Any]) -> None:
    """王小明 born on 29 February 2000, 赵六 on 1 March 2000; the corp in Shanghai."""
    with runtime.WriteSession.begin() as s:
        s.execute(update(Corp).where(Corp.corp_id == CORP_ID).values(timezone="Asia/Shanghai"))
        for name, day in (("王小明", "2000-02-29"), ("赵六", "2000-03-01")):
            s.add(CustomerFieldValue(customer_id=world[name], field_id=world["birthday"], value=day, text=day))


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), SHANGHAI)


@pytest.mark.parametrize("day, expected", [
    (dt.date(2027, 2, 28), {"王小明"}),  # a common year: the leap-day birthday comes on the 28th
    (dt.date(2027, 3, 1), {"赵六"}),
    (dt.date(2028, 2, 28), set()),  # a leap year: not on the 28th …
    (dt.date(2028, 2, 29), {"王小明"}),  # … but on the 29th
])
def test_a_leap_day_birthday_rule_tags_on_the_last_day_of_february(  # type: ignore[no-untyped-def]
        client, runtime, world, day, expected) -> None:
    leap_born(runtime, world)
    r = client.post("/api/v1/smart-tag-rules", headers=world["admin"], json={
        "name": "生日", "tag_pks": [world["vip"]],
        "conditions": {"conditions": [{"kind": "birthday", "field_id": world["birthday"]}]}})
    assert r.status_code == 201, r.get_json()
    daily_corp(CORP_ID, now=noon(day))
    with runtime.Session() as s:
        tagged = set(s.scalars(select(Customer.name).join(SmartTagHit, SmartTagHit.customer_id == Customer.id)))
    assert tagged == expected


@pytest.mark.parametrize("day, expected", [
    (dt.date(2027, 2, 28), {("王小明", "2027")}),
    (dt.date(2028, 2, 28), set()),
    (dt.date(2028, 2, 29), {("王小明", "2028")}),
])
def test_a_leap_day_birthday_sop_plan_enrols_on_the_last_day_of_february(  # type: ignore[no-untyped-def]
        client, runtime, world, day, expected) -> None:
    leap_born(runtime, world)
    r = client.post("/api/v1/sop-plans", headers=world["admin"], json={
        "name": "生日SOP", "trigger": "date", "date_field": "birthday", "days_before": 0,
        "steps": [{"name": "祝福", "day": 0, "at": "10:00", "messages": [{"type": "text", "text": "生日快乐"}]}]})
    assert r.status_code == 201, r.get_json()
    scan_dates(noon(day))
    with runtime.Session() as s:
        enrolled = set(s.execute(select(Customer.name, SopEnrolment.cycle)
                                 .join(SopEnrolment, SopEnrolment.customer_id == Customer.id)).all())
    assert enrolled == expected
