"""Pure rules: who owns a customer, what a valid app definition is."""

from __future__ import annotations

import datetime as dt

import pytest

from rules.apps import app_errors
from rules.customers import choose_owner

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
LATER = T0 + dt.timedelta(hours=1)


@pytest.mark.parametrize("current, adders, owner", [
    (None, [], None),
    (None, [("b", LATER, True), ("a", T0, True)], "a"),               # the first adder
    ("b", [("b", LATER, True), ("a", T0, True)], "b"),                # an owner stays while following
    ("a", [("a", T0, False), ("b", LATER, True)], "b"),               # the owner left: next earliest
    ("a", [("a", T0, False)], None),                                  # nobody follows any more
])
def test_choose_owner(current, adders, owner) -> None:  # type: ignore[no-untyped-def]
    assert choose_owner(current, adders) == owner


GOOD = {"slug": "sales-1", "corp_id": "ww1", "kind": "contact", "token": "Tok3n", "aes_key": "a" * 43,
        "secret": "s", "agent_id": 1000002}


def test_a_good_app_has_no_errors() -> None:
    assert app_errors(GOOD) == {}
    assert app_errors({**GOOD, "agent_id": None, "kind": "kf"}) == {}
    assert set(app_errors({**GOOD, "agent_id": None, "kind": "agent"})) == {"agent_id"}  # it sends app messages


@pytest.mark.parametrize("field, value", [
    ("slug", "Sales"), ("slug", ""), ("slug", "a" * 65), ("corp_id", ""), ("kind", "bot"),
    ("token", "tok-en"), ("token", "t" * 33), ("aes_key", "a" * 42), ("aes_key", "a" * 42 + "="),
    ("secret", ""), ("agent_id", "x1"),
])
def test_each_bad_field_is_named(field: str, value: object) -> None:
    assert set(app_errors({**GOOD, field: value})) == {field}
