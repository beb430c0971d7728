"""rules.fields: custom field definitions and values, as tables of plain values (no DB)."""

from __future__ import annotations

from typing import Any

import pytest

from rules.fields import FieldSpec, canonical, check_values, clean_definition, definition_errors

LEVEL = FieldSpec("level", "等级", "select", ("A", "B", "C"))
HOBBIES = FieldSpec("hobbies", "爱好", "multi_select", ("读书", "跑步", "游泳"))


@pytest.mark.parametrize("spec,raw,expected", [
    (FieldSpec("t", "t", "text"), "  你好 ", ("你好", "你好")),
    (FieldSpec("t", "t", "text"), "x" * 191, ("x" * 191, "x" * 191)),
    (FieldSpec("t", "t", "text"), "   ", None),
    (FieldSpec("n", "n", "number"), 12, (12, "12")),
    (FieldSpec("n", "n", "number"), 12.0, (12, "12")),  # 12 and 12.0 are one value (unique sees them equal)
    (FieldSpec("n", "n", "number"), -0.5, (-0.5, "-0.5")),
    (FieldSpec("n", "n", "number"), " 42 ", (42, "42")),
    (FieldSpec("n", "n", "number"), "1e3", (1000, "1000")),
    (FieldSpec("d", "d", "date"), "2026-02-28", ("2026-02-28", "2026-02-28")),
    (LEVEL, "B", ("B", "B")),
    (HOBBIES, ["游泳", "读书"], (["读书", "游泳"], "读书、游泳")),  # the options' order
    (HOBBIES, [], None),
    (FieldSpec("p", "p", "phone"), "13800138000", ("13800138000", "13800138000")),
    (FieldSpec("p", "p", "phone"), "+86 138-0013-8000", ("13800138000", "13800138000")),
    (FieldSpec("p", "p", "phone"), "0086 13800138000", ("13800138000", "13800138000")),
    (FieldSpec("p", "p", "phone"), "010-12345678", ("01012345678", "01012345678")),
    (FieldSpec("p", "p", "phone"), "(0755) 1234 5678", ("075512345678", "075512345678")),
    (FieldSpec("p", "p", "phone"), None, None),
])
def test_canonical_values(spec: FieldSpec, raw: Any, expected: Any) -> None:
    assert canonical(spec, raw) == expected


@pytest.mark.parametrize("spec,raw,says", [
    (FieldSpec("t", "t", "text"), 5, "text"),
    (FieldSpec("t", "t", "text"), "x" * 192, "191"),
    (FieldSpec("n", "n", "number"), "12abc", "number"),
    (FieldSpec("n", "n", "number"), True, "number"),
    (FieldSpec("n", "n", "number"), float("nan"), "number"),
    (FieldSpec("n", "n", "number"), 10**16, "below"),
    (FieldSpec("n", "n", "number"), [1], "number"),
    (FieldSpec("d", "d", "date"), "2026-02-30", "YYYY-MM-DD"),
    (FieldSpec("d", "d", "date"), "2026/02/01", "YYYY-MM-DD"),
    (FieldSpec("d", "d", "date"), "20260201", "YYYY-MM-DD"),
    (FieldSpec("d", "d", "date"), 20260201, "YYYY-MM-DD"),
    (LEVEL, "D", "A, B, C"),
    (LEVEL, ["A"], "A, B, C"),
    (HOBBIES, "读书", "list"),
    (HOBBIES, ["读书", "打牌"], "打牌"),
    (HOBBIES, ["读书", "读书"], "once"),
    (FieldSpec("p", "p", "phone"), "12345", "mobile"),
    (FieldSpec("p", "p", "phone"), "1380013800", "mobile"),  # 10 digits
    (FieldSpec("p", "p", "phone"), "12800138000", "mobile"),  # no 12x mobiles
    (FieldSpec("p", "p", "phone"), 13800138000, "string"),
])
def test_bad_values_say_what_was_expected(spec: FieldSpec, raw: Any, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        canonical(spec, raw)


BUDGET = FieldSpec("budget", "预算", "number", required=True)
NOTE = FieldSpec("note", "备注", "text")


@pytest.mark.parametrize("changes,current,cleaned,errors", [
    ({"note": "hi"}, {"budget": 5}, {"note": ("hi", "hi")}, {}),
    ({"note": "hi"}, {}, {"note": ("hi", "hi")}, {"budget": "required"}),  # untouched but still required
    ({"budget": None}, {"budget": 5}, {"budget": None}, {"budget": "required"}),
    ({"budget": "x"}, {"budget": 5}, {}, {"budget": "must be a number"}),
    ({"budget": 7, "ghost": 1}, {}, {"budget": (7, "7")}, {"ghost": "unknown field"}),
    ({"note": None, "budget": 1}, {"note": "a"}, {"note": None, "budget": (1, "1")}, {}),
])
def test_check_values(changes: dict[str, Any], current: dict[str, Any], cleaned: dict[str, Any],
                      errors: dict[str, str]) -> None:
    assert check_values([BUDGET, NOTE], changes, current) == (cleaned, errors)


@pytest.mark.parametrize("body,bad", [
    ({"key": "level", "label": "等级", "type": "select", "options": ["A", "B"]}, set()),
    ({"key": "budget", "label": " 预算 ", "type": "number", "required": True, "unique": False, "order": 3}, set()),
    ({"key": "Level", "label": "x", "type": "text"}, {"key"}),
    ({"key": "1a", "label": "x", "type": "text"}, {"key"}),
    ({"label": "x", "type": "text"}, {"key"}),
    ({"key": "a", "label": "", "type": "text"}, {"label"}),
    ({"key": "a", "label": "x" * 65, "type": "text"}, {"label"}),
    ({"key": "a", "label": "x", "type": "money"}, {"type"}),
    ({"key": "a", "label": "x", "type": "select"}, {"options"}),
    ({"key": "a", "label": "x", "type": "select", "options": []}, {"options"}),
    ({"key": "a", "label": "x", "type": "select", "options": ["A", "A"]}, {"options"}),
    ({"key": "a", "label": "x", "type": "select", "options": ["A", 1]}, {"options"}),
    ({"key": "a", "label": "x", "type": "select", "options": [str(i) for i in range(101)]}, {"options"}),
    ({"key": "a", "label": "x", "type": "text", "options": ["A"]}, {"options"}),
    ({"key": "a", "label": "x", "type": "multi_select", "options": ["A"], "unique": True}, {"unique"}),
    ({"key": "a", "label": "x", "type": "text", "required": "yes"}, {"required"}),
    ({"key": "a", "label": "x", "type": "text", "order": 1.5}, {"order"}),
    ({"key": "a", "label": "x", "type": "text", "colour": "red"}, {"colour"}),
])
def test_new_definitions(body: dict[str, Any], bad: set[str]) -> None:
    assert set(definition_errors(body)) == bad


@pytest.mark.parametrize("body,bad", [
    ({"label": "新名字", "visible": False}, set()),
    ({"options": ["A", "B"]}, set()),
    ({"key": "level"}, set()),  # the same key again is no change
    ({"key": "grade"}, {"key"}),
    ({"type": "text"}, {"type"}),
    ({"options": []}, {"options"}),
    ({"corp_id": "ww"}, {"corp_id"}),
])
def test_changes_to_a_definition(body: dict[str, Any], bad: set[str]) -> None:
    assert set(definition_errors(body, LEVEL)) == bad


def test_clean_definition_strips_text() -> None:
    assert clean_definition({"key": "k", "label": " 名 ", "type": "select", "options": [" A ", "B"]}) == {
        "key": "k", "label": "名", "type": "select", "options": ["A", "B"]}
