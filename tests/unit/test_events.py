"""Parsing every callback kind into a typed event, and the dedup key."""

from __future__ import annotations

import pytest

from handlers import handled_keys
from wecom import events
from wecom.fake.sender import render_sample, sample_names


@pytest.mark.parametrize("name", sample_names())
def test_every_sample_parses_to_a_known_kind_named_after_its_file(name: str) -> None:
    event = events.parse(render_sample(name, corp_id="wwc"))
    assert event.known, event.routing_key
    assert event.routing_key == name.replace("__", "/")
    assert event.corp_id == "wwc"


def test_add_external_contact_fields() -> None:
    e = events.parse(render_sample("change_external_contact__add_external_contact", UserID="zhangsan",
                                   ExternalUserID="wm1", State="ch-9", WelcomeCode="WC", CreateTime=1732000000))
    assert isinstance(e, events.ExternalContactEvent)
    assert (e.user_id, e.external_user_id, e.state, e.welcome_code) == ("zhangsan", "wm1", "ch-9", "WC")
    assert e.create_time.isoformat() == "2024-11-19T07:06:40+00:00"
    assert e.msg_id is None


def test_del_external_contact_by_transfer_and_transfer_fail() -> None:
    e = events.parse(render_sample("change_external_contact__del_external_contact"))
    assert e.source == "DELETE_BY_TRANSFER"
    e = events.parse(render_sample("change_external_contact__transfer_fail"))
    assert e.fail_reason == "customer_refused"


def test_external_chat_update_keeps_the_fields_wechatpy_drops() -> None:
    e = events.parse(render_sample("change_external_chat__update"))
    assert isinstance(e, events.ExternalChatEvent)
    assert e.update_detail == "add_member" and e.join_scene == 1 and e.mem_change_cnt == 2
    assert e.mem_change_list == ("wmDemoCustomer0001", "wmDemoCustomer0002")
    assert e.last_mem_ver and e.cur_mem_ver


def test_tag_contact_kf_and_app_events() -> None:
    tag = events.parse(render_sample("change_external_tag__shuffle"))
    assert (tag.tag_id, tag.strategy_id) == ("etDemoGroup0001", "1")
    user = events.parse(render_sample("change_contact__update_user"))
    assert (user.user_id, user.new_user_id, user.department) == ("wangwu", "wangwu2", ("2",))
    party = events.parse(render_sample("change_contact__create_party"))
    assert (party.party_id, party.party_name, party.parent_id) == ("3", "华东销售部", "1")
    kf = events.parse(render_sample("kf_msg_or_event"))
    assert kf.open_kf_id == "wkDemoKf0001" and kf.token.startswith("ENC")
    click = events.parse(render_sample("event__click"))
    assert (click.event_key, click.from_user, click.agent_id) == ("menu_today", "zhangsan", 1000002)


def test_app_messages() -> None:
    text = events.parse(render_sample("message__text", Content="/客户 张三"))
    assert isinstance(text, events.AppMessage) and text.content == "/客户 张三" and text.msg_id
    loc = events.parse(render_sample("message__location"))
    assert (loc.location_x, loc.label) == ("31.2304", "上海市黄浦区")


@pytest.mark.parametrize("xml, key", [
    ("<xml><MsgType>event</MsgType><Event>brand_new</Event></xml>", "event/brand_new"),
    ("<xml><MsgType>event</MsgType><Event>change_external_contact</Event><ChangeType>future</ChangeType></xml>",
     "change_external_contact/future"),
    ("<xml><MsgType>miniprogram</MsgType></xml>", "message/miniprogram"),
    ("<xml><InfoType>suite_ticket</InfoType></xml>", "info/suite_ticket"),
    ("<xml><Foo>1</Foo></xml>", "unknown"),
])
def test_unknown_kinds_are_values_not_errors(xml: str, key: str) -> None:
    event = events.parse(xml)
    assert (event.routing_key, event.known) == (key, False)


def test_dedup_key_uses_msgid_when_present_else_the_whole_payload() -> None:
    a = render_sample("message__text", MsgId="99", CreateTime=1)
    assert events.dedup_key(events.parse(a), a) == "msg:1000002:99"
    one = render_sample("change_external_contact__add_external_contact", ExternalUserID="wm1", CreateTime=5)
    two = render_sample("change_external_contact__add_external_contact", ExternalUserID="wm2", CreateTime=5)
    k1, k2 = (events.dedup_key(events.parse(x), x) for x in (one, two))
    assert k1 != k2 and k1.startswith("sha1:")
    assert events.dedup_key(events.parse(one), one) == k1


def test_handlers_are_registered_only_for_known_kinds() -> None:
    known = {n.replace("__", "/") for n in sample_names()}
    assert handled_keys() <= known
