"""Callbacks the service now acts on or records (issue 10, item 9): member tags (change_contact/update_tag,
doc 96304), rule-group tags (change_external_tag with StrategyId, doc 99544) and 获客助手 events
(customer_acquisition, doc 97299)."""

from __future__ import annotations

import requests
from sqlalchemy import select

from models import Customer, CustomerEvent, MemberTag, Outbox, Tag, TagGroup
from tests.support import CORP_ID, SECRET
from wecom.client import WeComClient


def member_tags(runtime) -> set[tuple[int, str, int]]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return set(s.execute(select(MemberTag.tag_id, MemberTag.userid, MemberTag.party_id)).all())


def test_update_tag_keeps_who_is_in_a_member_tag(sender, runtime):
    sender.post("change_contact/update_tag", TagId=7, AddUserItems="zhangsan,lisi", DelUserItems="",
                AddPartyItems="2", DelPartyItems="")
    assert member_tags(runtime) == {(7, "zhangsan", 0), (7, "lisi", 0), (7, "", 2)}
    sender.post("change_contact/update_tag", TagId=7, AddUserItems="", DelUserItems="lisi", AddPartyItems="",
                DelPartyItems="2")
    assert member_tags(runtime) == {(7, "zhangsan", 0)}
    sender.post("change_contact/update_tag", TagId="", AddUserItems="wangwu")  # no tag: nothing recorded
    assert member_tags(runtime) == {(7, "zhangsan", 0)}


def test_a_rule_group_tag_is_synced_from_its_rule_group_and_kept_by_a_full_corp_sync(
        sender, runtime, fake_wecom, client, make_token):
    wecom = WeComClient(CORP_ID, SECRET, fake_wecom.api_base)
    group = wecom.post("externalcontact/add_strategy_tag",
                       data={"strategy_id": 3, "group_name": "规则组标签", "tag": [{"name": "VIP"}]})["tag_group"]
    tag_id = group["tag"][0]["id"]
    sender.post("change_external_tag/create", Id=tag_id, TagType="tag", StrategyId=3)
    assert fake_wecom.calls("externalcontact/get_strategy_tag_list")[-1]["body"] == {"tag_id": [tag_id],
                                                                                   "strategy_id": 3}
    with runtime.Session() as s:
        row = s.execute(select(Tag.name, TagGroup.strategy_id).join(TagGroup).where(Tag.tag_id == tag_id)).one()
    assert tuple(row) == ("VIP", 3)

    assert client.post("/api/v1/tags/sync", headers=make_token("admin")).status_code == 202  # corp library
    listed = client.get("/api/v1/tag-groups", headers=make_token("admin")).get_json()["items"]
    assert [(g["name"], g["strategy_id"], [t["name"] for t in g["tags"]]) for g in listed] == [
        ("规则组标签", 3, ["VIP"])]


def test_acquisition_quota_and_link_events_tell_the_admins(sender, runtime, fake_wecom, make_token):
    make_token("admin", userid="lisi")
    make_token("member", userid="zhangsan")  # not an admin: not told
    sender.post("customer_acquisition/balance_low")
    sender.post("customer_acquisition/link_unavailable", LinkId="cawcdeLink0001")
    sent = [(c["body"]["touser"], c["body"]["text"]["content"]) for c in fake_wecom.calls("message/send")]
    assert [to for to, _ in sent] == ["lisi", "lisi"]
    assert "不足 20 次" in sent[0][1] and "cawcdeLink0001" in sent[1][1]
    log = requests.get(f"{fake_wecom.url}/fake/app_messages", timeout=5).json()
    assert len(log["delivered"]) == 2


def test_acquisition_without_admins_sends_nothing(sender, runtime, fake_wecom):
    sender.post("customer_acquisition/balance_exhausted")
    assert fake_wecom.calls("message/send") == []
    with runtime.Session() as s:
        assert s.scalars(select(Outbox)).all() == []


def test_acquisition_messages_go_on_the_customers_timeline(sender, runtime):
    sender.post("customer_acquisition/customer_start_chat", UserID="zhangsan", ExternalUserID="wmCustomer0001",
                LinkId="cawcdeLink0001")
    sender.post("customer_acquisition/message_from_customer", UserID="zhangsan", ExternalUserID="wmCustomer0001",
                LinkId="cawcdeLink0001")
    with runtime.Session() as s:
        rows = s.execute(select(CustomerEvent.kind, CustomerEvent.userid, CustomerEvent.detail)
                         .join(Customer).where(Customer.external_userid == "wmCustomer0001")
                         .order_by(CustomerEvent.id)).all()
    assert [(kind, userid, detail["link_id"]) for kind, userid, detail in rows] == [
        ("acquisition_first_message", "zhangsan", "cawcdeLink0001"),
        ("acquisition_message", "zhangsan", "cawcdeLink0001")]
