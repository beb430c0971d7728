"""What a member sees of a customer they share with another follower (issue 19, item 6).

The rule, from the manuals: a custom field whose 是否可见 is off (001 字段设置) is hidden from members
whole: its value, and its key in the timeline's "fields changed" entries (an entry that changed only
hidden fields is left out). A follow relation's 备注 is part of the customer's record (004 §4.1.1 L, §4.1.2
D and F.c: the 系统信息 table lists every add with its 备注), so a member sees the other followers'
remarks too; the phone numbers in them (remark_mobiles) are masked while the corp's 电话号码隐藏 setting
(mask_mobile_for_members) is on, as every mobile a member sees is.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import CorpSettings, Customer, CustomField, FollowRelation
from models.db import utcnow
from support import CORP_ID


@pytest.fixture
def shared(runtime) -> int:  # type: ignore[no-untyped-def]
    """A customer followed by zhangsan and lisi; fields city (visible) and budget (hidden from members)."""
    with runtime.WriteSession.begin() as s:
        c = Customer(corp_id=CORP_ID, external_userid="wmShared", name="共享客户")
        s.add(c)
        s.flush()
        s.add_all([
            FollowRelation(customer_id=c.id, corp_id=CORP_ID, userid="zhangsan", remark="张三的备注",
                           remark_mobiles=["13800001111"], added_at=utcnow()),
            FollowRelation(customer_id=c.id, corp_id=CORP_ID, userid="lisi", remark="李四的备注",
                           remark_mobiles=["13912345678"], added_at=utcnow()),
            CustomField(corp_id=CORP_ID, key="city", label="城市", type="text"),
            CustomField(corp_id=CORP_ID, key="budget", label="预算", type="text", visible=False),
        ])
        return c.id


def timeline_fields(client, headers, customer_id: int) -> list[list[str]]:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/v1/customers/{customer_id}", headers=headers)
    assert r.status_code == 200
    return [e["detail"]["fields"] for e in r.get_json()["timeline"] if e["kind"] == "fields_changed"]


def test_a_member_sees_no_key_of_a_hidden_field_in_the_timeline(client, make_token, shared) -> None:
    admin, member = make_token("admin"), make_token("member", userid="zhangsan")
    url = f"/api/v1/customers/{shared}/fields"
    assert client.put(url, headers=admin, json={"city": "上海", "budget": "50万"}).status_code == 200
    assert client.put(url, headers=admin, json={"budget": "80万"}).status_code == 200
    assert timeline_fields(client, admin, shared) == [["budget"], ["budget", "city"]]
    assert timeline_fields(client, member, shared) == [["city"]]
    detail = client.get(f"/api/v1/customers/{shared}", headers=member).get_json()
    assert detail["fields"] == {"city": "上海"} and "budget" not in str(detail)


@pytest.mark.parametrize("masked,lisi_mobile", [(True, "139****5678"), (False, "13912345678")])
def test_a_member_sees_the_other_followers_remark_with_its_mobiles_masked_per_setting(
        client, runtime, make_token, shared, masked: bool, lisi_mobile: str) -> None:
    with runtime.WriteSession.begin() as s:
        s.add(CorpSettings(corp_id=CORP_ID, mask_mobile_for_members=masked))
    member = make_token("member", userid="zhangsan")
    follows = {f["userid"]: f for f in client.get(f"/api/v1/customers/{shared}", headers=member).get_json()["follows"]}
    assert follows["lisi"]["remark"] == "李四的备注"
    assert follows["lisi"]["remark_mobiles"] == [lisi_mobile]
    with runtime.Session() as s:  # the stored number is whole; only the member's view is masked
        assert s.scalar(select(FollowRelation.remark_mobiles).where(FollowRelation.userid == "lisi")) == ["13912345678"]
