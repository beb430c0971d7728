"""The pure rules behind conversation oversight: the sensitive-word matcher, the working-hours clock and
template checks and rendering."""

from __future__ import annotations

import datetime as dt
import random
import time
from zoneinfo import ZoneInfo

import pytest

from rules import templates, working_hours
from rules.sensitive import Hit, Matcher, Word, split_words

SHANGHAI = ZoneInfo("Asia/Shanghai")


# -- sensitive words -----------------------------------------------------------------------------------------

MATCHER = Matcher([Word("微信", 1, "negative"), Word("微信号", 2, "neutral"), Word("QQ", 1, "negative"),
                   Word("返现", 3, "negative"), Word("微信", 3, "negative")])


@pytest.mark.parametrize(("text", "expected"), [
    ("你好，请问有什么可以帮您", []),
    ("加我微信聊", [("微信", 1), ("微信", 3)]),
    ("我的微信号是abc", [("微信", 1), ("微信号", 2), ("微信", 3)]),  # overlapping words both hit
    ("加我qq吧", [("QQ", 1)]),  # case-insensitive
    ("加我ＱＱ吧", [("QQ", 1)]),  # full-width folds to half-width
    ("QQ:12345", [("QQ", 1)]),
    ("我在听qqmusic", []),  # a Latin word needs a boundary; "qq" inside a word is not the word
    ("下单返现十元", [("返现", 3)]),  # CJK words hit anywhere
    ("微 信", []),  # exact match only
])
def test_matcher_finds_every_word_of_every_rule(text: str, expected: list[tuple[str, int]]) -> None:
    assert [(h.word, h.rule_id) for h in MATCHER.hits(text)] == expected


def test_a_hit_carries_its_rules_category() -> None:
    assert MATCHER.hits("微信号")[1] == Hit("微信号", 2, "neutral")


def test_an_empty_word_list_matches_nothing() -> None:
    assert not Matcher([]) and Matcher([]).hits("微信") == []
    assert not Matcher([Word("  ", 1, "negative")])


def test_words_are_split_on_the_chinese_comma() -> None:
    assert split_words("微信， QQ ，，返现，微信") == ["微信", "QQ", "返现"]
    assert split_words("a,b") == ["a,b"]  # only "，" separates (§7.3.2)


def test_scanning_10k_messages_against_500_words_is_fast() -> None:
    """The matcher is on the write path of every stored message."""
    rng = random.Random(7)
    cjk = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    words = ["".join(rng.choice(cjk) for _ in range(rng.randint(2, 4))) for _ in range(400)]
    words += ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 6))) for _ in range(100)]
    matcher = Matcher([Word(w, i % 7, "negative") for i, w in enumerate(words)])
    alphabet = cjk + list(" ,。")
    messages = ["".join(rng.choices(alphabet, k=rng.randint(10, 120))) for _ in range(10_000)]
    for i in range(0, 10_000, 100):
        messages[i] += words[i % 400]
    started = time.perf_counter()
    hit = sum(1 for m in messages if matcher.hits(m))
    elapsed = time.perf_counter() - started
    assert hit >= 100
    assert elapsed < 3.0, f"10k messages took {elapsed:.2f} s"  # about 0.2-0.3 s measured on a shared 2-core box


# -- working hours -------------------------------------------------------------------------------------------

def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


LUNCH = working_hours.parse({"week": {d: [["09:00", "12:00"], ["13:30", "18:00"]] for d in ("mon", "tue", "wed",
                                                                                          "thu", "fri")},
                             "holidays": ["2026-10-01", "2026-10-02"]})[0]


@pytest.mark.parametrize(("calendar", "start", "minutes", "due"), [
    (working_hours.DEFAULT, "2026-11-20 17:55", 10, "2026-11-23 09:05"),  # Friday → Monday
    (working_hours.DEFAULT, "2026-11-18 10:00", 10, "2026-11-18 10:10"),  # inside working hours
    (working_hours.DEFAULT, "2026-11-18 07:30", 10, "2026-11-18 09:10"),  # before the day starts
    (working_hours.DEFAULT, "2026-11-21 11:00", 10, "2026-11-23 09:10"),  # Saturday
    (working_hours.DEFAULT, "2026-11-18 17:50", 10, "2026-11-18 18:00"),  # ends exactly at the end
    (working_hours.DEFAULT, "2026-11-18 10:00", 600, "2026-11-19 11:00"),  # more than a working day
    (LUNCH, "2026-11-18 11:55", 10, "2026-11-18 13:35"),  # the lunch break does not count
    (LUNCH, "2026-09-30 17:55", 10, "2026-10-05 09:05"),  # Wed → two holidays, the weekend → Monday
])
def test_working_minutes_run_only_in_working_hours(calendar, start: str, minutes: int, due: str) -> None:  # type: ignore[no-untyped-def]
    assert calendar.add(at(start), minutes, SHANGHAI) == at(due).astimezone(dt.UTC)


def test_a_calendar_without_working_time_has_no_deadline() -> None:
    never = working_hours.parse({"week": {}})[0]
    assert never is not None and never.add(at("2026-11-18 10:00"), 10, SHANGHAI) is None


def test_contains_is_the_acceptance_window() -> None:
    assert working_hours.DEFAULT.contains(at("2026-11-20 17:59"), SHANGHAI)
    assert not working_hours.DEFAULT.contains(at("2026-11-20 18:00"), SHANGHAI)
    assert not working_hours.DEFAULT.contains(at("2026-11-21 10:00"), SHANGHAI)  # Saturday
    assert not LUNCH.contains(at("2026-10-01 10:00"), SHANGHAI)  # a holiday


def test_ranges_to_midnight_and_the_round_trip() -> None:
    always = working_hours.parse({"week": {d: [["00:00", "24:00"]] for d in working_hours.DAYS}})[0]
    assert always.add(at("2026-11-21 23:55"), 10, SHANGHAI) == at("2026-11-22 00:05").astimezone(dt.UTC)
    assert working_hours.parse(LUNCH.public())[0] == LUNCH


@pytest.mark.parametrize(("raw", "field"), [
    ([], "body"),
    ({"week": []}, "week"),
    ({"week": {"monday": []}}, "week"),
    ({"week": {"mon": [["18:00", "09:00"]]}}, "week.mon"),
    ({"week": {"mon": [["9:00", "18:00"]]}}, "week.mon"),
    ({"week": {"mon": [["09:00", "24:30"]]}}, "week.mon"),
    ({"week": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}, "week.mon"),
    ({"week": {"mon": ["09:00-18:00"]}}, "week.mon"),
    ({"week": {}, "holidays": ["2026-13-01"]}, "holidays"),
    ({"week": {}, "holidays": "2026-10-01"}, "holidays"),
    ({"week": {}, "timezone": "UTC"}, "timezone"),
])
def test_bad_calendars_name_the_problem(raw, field: str) -> None:  # type: ignore[no-untyped-def]
    calendar, problems = working_hours.parse(raw)
    assert calendar is None and field in problems


# -- templates -----------------------------------------------------------------------------------------------

def test_render_fills_every_field_of_every_article() -> None:
    body = {"articles": [{"title": "{{ title }}", "url": "https://x.invalid/{{id}}"}, {"title": "{{title}}!"}]}
    assert templates.render("news", body, {"title": "双11", "id": "7"}) == {
        "articles": [{"title": "双11", "url": "https://x.invalid/7"}, {"title": "双11!"}]}


@pytest.mark.parametrize(("category", "msgtype", "body", "variables", "field"), [
    ("broadcast", "text", {"content": "你好 {{name}}"}, [], "body"),  # undeclared variable
    ("broadcast", "text", {"content": "你好 {{name}"}, ["name"], "body"),  # broken placeholder
    ("broadcast", "text", {"content": ""}, [], "body.content"),
    ("broadcast", "text", {"content": "x", "title": "y"}, [], "body.title"),
    ("broadcast", "image", {"content": "x"}, [], "msgtype"),
    ("broadcast", "textcard", {"title": "t", "description": "d"}, [], "body.url"),
    ("broadcast", "news", {"articles": []}, [], "body.articles"),
    ("broadcast", "text", {"content": "x"}, ["1abc"], "variables"),
    ("broadcast", "text", {"content": "x"}, ["a", "a"], "variables"),
    ("sensitive_word", "text", {"content": "{{staff}} {{amount}}"}, None, "body"),  # not a variable of the category
    ("sensitive_word", "text", {"content": "x"}, ["staff"], "variables"),  # fixed per category
    ("nonsense", "text", {"content": "x"}, [], "category"),
])
def test_template_errors(category, msgtype, body, variables, field: str) -> None:  # type: ignore[no-untyped-def]
    assert field in templates.template_errors(category, msgtype, body, variables)


def test_good_templates_pass() -> None:
    assert templates.template_errors("broadcast", "markdown", {"content": "**{{name}}** 请于 {{date}} 前完成"},
                                     ["name", "date"]) == {}
    assert templates.template_errors("sensitive_word", "textcard", {
        "title": "敏感词 {{words}}", "description": "{{staff}}: {{content}}", "url": "https://x.invalid"}, None) == {}


@pytest.mark.parametrize(("values", "field"), [
    ({"name": "张三"}, "values"),  # date missing
    ({"name": "张三", "date": "周五", "extra": "x"}, "values"),  # unknown variable
    ({"name": "张三", "date": 5}, "values.date"),
    ("张三", "values"),
])
def test_broadcast_values_must_match_the_variables(values, field: str) -> None:  # type: ignore[no-untyped-def]
    assert field in templates.value_errors(["name", "date"], values)


def test_rendered_text_is_held_to_wecoms_byte_limits() -> None:
    assert templates.body_errors("text", {"content": "汉" * 683}, rendered=True) == {
        "body.content": "at most 2048 bytes once rendered"}
    assert templates.body_errors("text", {"content": "汉" * 682}, rendered=True) == {}
