"""Signed callbacks whose decrypted XML is odd: each is stored once and answered 200, as `invalid` with the
reason when it makes no event; never a 5xx, never a 200 without its row (issue 19, item 1). One test per
root cause the fuzzing found; each failed on the code before the fix."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from models import Inbox
from wecom import events

ADD = "change_external_contact/add_external_contact"


def with_inner(xml: str, tag: str, inner: str) -> str:
    """`xml` with element `tag` holding `inner` (markup) instead of its text; added when absent."""
    replaced, n = re.subn(rf"<{tag}>.*?</{tag}>", f"<{tag}>{inner}</{tag}>", xml, count=1, flags=re.S)
    return replaced if n else xml.replace("</xml>", f"<{tag}>{inner}</{tag}></xml>")


def rows(runtime) -> list[tuple[str, str, str | None]]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return [tuple(r) for r in s.execute(select(Inbox.routing_key, Inbox.status, Inbox.error).order_by(Inbox.id))]


@pytest.mark.parametrize("inner, reason", [
    ("<a/>", "content holds elements where text is expected"),
    ("<Item>/help</Item><Item>x</Item>", "content holds elements where text is expected"),
])
def test_a_staff_text_whose_content_holds_elements_is_stored_invalid_not_a_500_after_commit(
        sender, runtime, inner, reason) -> None:  # type: ignore[no-untyped-def]
    """Was: parsed into a dict/list, then the bot-command check called .strip() on it after the commit (500)."""
    r = sender.post_xml(with_inner(sender.xml("message/text", MsgId="501"), "Content", inner))
    assert (r.status_code, r.data) == (200, b"")
    assert rows(runtime) == [("invalid", "invalid", reason)]


def test_an_element_with_children_where_a_userid_is_expected_is_invalid(sender, runtime) -> None:
    r = sender.post_xml(with_inner(sender.xml(ADD, UserID="zhangsan"), "ExternalUserID", "<a/>"))
    assert (r.status_code, r.data) == (200, b"")
    assert rows(runtime) == [("invalid", "invalid", "external_user_id holds elements where text is expected")]


def test_two_callbacks_whose_msgid_holds_the_same_elements_are_two_rows(sender, runtime) -> None:
    """Was: both MsgIds read as the text "{'a': ''}", so the second was answered 200 as a retry of the first
    and never stored."""
    for content in ("one", "two"):
        xml = with_inner(sender.xml("message/text", Content=content), "MsgId", "<a/>")
        assert sender.post_xml(xml).status_code == 200
        assert sender.post_xml(xml).status_code == 200  # WeCom's retry of it: still its one row
    assert rows(runtime) == [("invalid", "invalid", "MsgId holds elements where text is expected")] * 2


def test_deep_nesting_is_stored_invalid_not_a_recursion_error(sender, runtime) -> None:
    deep = "<a>" * 5000 + "x" + "</a>" * 5000
    r = sender.post_xml(with_inner(sender.xml(ADD, ExternalUserID="wmCustomer0001"), "Extra", deep))
    assert (r.status_code, r.data) == (200, b"")
    assert rows(runtime) == [("invalid", "invalid", f"elements nested deeper than {events.MAX_DEPTH}")]


@pytest.mark.parametrize("create_time, reason", [
    ("100000000000000000000", "CreateTime is not a whole number"),  # OverflowError in fromtimestamp
    ("999999999999", "CreateTime out of range"),  # ValueError: year out of range
    ("-99999999999", "CreateTime out of range"),
    ("-1", "CreateTime out of range"),
    ("1e9", "CreateTime is not a whole number"),
    ("١٧٣٢٠٠٠٠٠٠", "CreateTime is not a whole number"),  # digits int() would take, but not WeCom's
])
def test_a_createtime_that_is_no_time_is_stored_invalid(sender, runtime, create_time, reason) -> None:
    r = sender.post(ADD, ExternalUserID="wmCustomer0001", CreateTime=create_time)
    assert (r.status_code, r.data) == (200, b"")
    assert rows(runtime) == [("invalid", "invalid", reason)]


def test_a_list_field_holding_elements_is_invalid(sender, runtime) -> None:
    xml = with_inner(sender.xml("change_external_chat/update"), "MemChangeList", "<Item>wm1</Item><Item><b/></Item>")
    assert sender.post_xml(xml).status_code == 200
    assert rows(runtime) == [("invalid", "invalid", "a list field holds elements where texts are expected")]


def test_a_msgid_longer_than_the_dedup_column_is_stored_invalid_once(sender, runtime) -> None:
    """Was: the key went into the 96-character column as it was: a DataError (500) on MariaDB."""
    xml = sender.xml("message/text", MsgId="9" * 200, Content="hello")
    assert sender.post_xml(xml).status_code == 200
    assert sender.post_xml(xml).status_code == 200  # a retry
    assert rows(runtime) == [("invalid", "invalid", f"MsgId longer than {events.MAX_MSG_ID} characters")]


def test_msgids_differing_only_in_case_are_two_callbacks(sender, runtime) -> None:
    """MariaDB's collation is case-insensitive: kept as they were, these two keys were one (the second
    callback answered 200 as a retry, with no row of its own)."""
    for msg_id in ("X" * 64, "x" * 64, "x" * 64):
        assert sender.post_xml(sender.xml("message/text", MsgId=msg_id, Content="hello")).status_code == 200
    with runtime.Session() as s:
        keys = s.scalars(select(Inbox.dedup_key).order_by(Inbox.id)).all()
    assert len(keys) == 2 and all(len(k) <= 96 for k in keys)
    assert rows(runtime) == [("message/text", "processed", None)] * 2


def test_malformed_decrypted_xml_is_stored_invalid(sender, runtime) -> None:
    """Signed and decrypted, so it came from whoever holds the key: kept for the operator, not refused
    (WeCom would retry a 400 for days)."""
    assert sender.post_xml("<xml><MsgType>event</MsgType>").status_code == 200
    assert sender.post_xml("<xml><MsgType>event</MsgType>").status_code == 200
    assert rows(runtime) == [("invalid", "invalid", "malformed XML")]


def test_invalid_events_are_listed_filtered_and_replayed_through_the_api(client, sender, runtime, make_token) -> None:
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan")
    sender.post(ADD, ExternalUserID="wmCustomer0001", CreateTime="soon")
    headers = make_token()
    items = client.get("/api/v1/events?status=invalid", headers=headers).get_json()["items"]
    assert [(i["routing_key"], i["status"], i["error"]) for i in items] == [
        ("invalid", "invalid", "CreateTime is not a whole number")]
    r = client.post(f"/api/v1/events/{items[0]['id']}/replay", headers=headers)
    assert r.status_code == 202
    assert (r.get_json()["status"], r.get_json()["error"], r.get_json()["attempts"]) == (
        "invalid", "CreateTime is not a whole number", 1)
    document = client.get("/api/v1/openapi.json").get_json()
    status = next(p for p in document["paths"]["/events"]["get"]["parameters"] if p["name"] == "status")["schema"]
    while "$ref" in status:  # the enum is a component schema (InboxStatus)
        status = document["components"]["schemas"][status["$ref"].rsplit("/", 1)[1]]
    assert "invalid" in status["enum"]


def test_a_row_stored_before_the_parser_knew_better_is_marked_invalid_by_process_event(runtime, sender) -> None:
    from jobs.events import process_event

    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan")
    bad = with_inner(sender.xml(ADD), "ExternalUserID", "<a/>")
    with runtime.WriteSession.begin() as s:
        app_pk = s.scalar(select(Inbox.app_pk))
        row = Inbox(app_pk=app_pk, corp_id="wwtestcorp000001", dedup_key="old", routing_key=ADD, raw_xml=bad,
                    status="received", attempts=0)
        s.add(row)
        s.flush()
        row_id = row.id
    assert process_event(row_id) == "invalid"
    assert process_event(row_id) == "invalid"  # again (a replay): still no error raised
    assert rows(runtime)[1] == (ADD, "invalid", "external_user_id holds elements where text is expected")
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Inbox).where(Inbox.status == "processed")) == 1


def test_a_non_ascii_signature_is_a_403_not_a_500(client, crypto, sender, runtime) -> None:
    from wecom.fake.sender import build_callback

    params, body = build_callback(crypto, sender.xml(ADD), 1000002)
    params["msg_signature"] = "é" * 40
    r = client.post("/wecom/callback/default", query_string=params, data=body)
    assert (r.status_code, r.get_data(as_text=True)) == (403, "bad signature")
    assert rows(runtime) == []


def test_the_command_splitter_takes_content_that_is_not_text_as_no_command() -> None:
    from bot.commands import parse
    from bot.parse import split_command

    assert split_command({"a": ""}) is None  # type: ignore[arg-type]
    assert parse(["/help"]) is None  # type: ignore[arg-type]
    assert split_command(" /Help me ") == ("help", "me", True)
