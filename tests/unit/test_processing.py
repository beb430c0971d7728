"""From callback to CRM rows and WeCom calls, jobs inline, against the fake WeCom over HTTP."""

from __future__ import annotations

from sqlalchemy import func, select

from models import Customer, DeadLetter, FollowRelation, Inbox, Outbox, Staff

ADD = "change_external_contact/add_external_contact"


def snapshot(runtime) -> dict:  # type: ignore[no-untyped-def]
    """What a user of the CRM would see: customers, follow relations, staff, outbox states."""
    with runtime.Session() as s:
        return {
            "customers": sorted(s.execute(select(Customer.external_userid, Customer.name, Customer.owner_userid)).all()),
            "follows": sorted(s.execute(select(FollowRelation.userid, FollowRelation.state, FollowRelation.remark,
                                               FollowRelation.status)).all()),
            "staff": sorted(s.execute(select(Staff.userid, Staff.name)).all()),
            "outbox": sorted(s.execute(select(Outbox.job, Outbox.status)).all()),
        }


def test_add_external_contact_creates_customer_relation_and_staff(sender, runtime, fake_wecom) -> None:
    assert sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", State="ch-1").status_code == 200
    with runtime.Session() as s:
        customer = s.scalar(select(Customer))
        assert (customer.name, customer.type, customer.gender, customer.unionid, customer.owner_userid) == (
            "王小明😀", 1, 1, "ou_union_0001", "zhangsan")
        follow = customer.follows[0]
        assert (follow.userid, follow.state, follow.remark, follow.remark_mobiles, follow.add_way, follow.status) == (
            "zhangsan", "ch-1", "老客户", ["13800000000"], 1, "active")
        assert follow.added_at.tzinfo is not None and customer.synced_at is not None
        assert s.scalar(select(Staff.name).where(Staff.userid == "zhangsan")) == "张三"
    [get] = fake_wecom.calls("externalcontact/get")
    assert get["query"]["external_userid"] == "wmCustomer0001" and get["errcode"] == 0
    assert [c["query"]["userid"] for c in fake_wecom.calls("user/get")] == ["zhangsan"]


def test_second_adder_gets_a_relation_and_the_first_stays_owner(sender, runtime, fake_wecom) -> None:
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", CreateTime=1732000000)
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="lisi", CreateTime=1732000500)
    with runtime.Session() as s:
        customer = s.scalar(select(Customer))
        assert sorted(f.userid for f in customer.follows) == ["lisi", "zhangsan"]
        assert customer.owner_userid == "zhangsan"


def test_replaying_the_whole_stream_twice_changes_nothing(sender, runtime, fake_wecom, client, make_token) -> None:
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan")
    sender.post(ADD, ExternalUserID="wmCustomer0002", UserID="lisi")
    sender.post("change_external_chat/create")
    before, calls_before = snapshot(runtime), len(fake_wecom.calls())
    headers = make_token("admin")
    with runtime.Session() as s:
        ids = s.scalars(select(Inbox.id)).all()
    for _ in range(2):
        for inbox_id in ids:
            assert client.post(f"/api/v1/events/{inbox_id}/replay", headers=headers).status_code == 202
    assert snapshot(runtime) == before
    assert len(fake_wecom.calls()) == calls_before  # outbox rows already done: no second fetch


def test_unknown_customer_is_dead_lettered_then_replayed_after_wecom_knows_it(sender, runtime, fake_wecom,
                                                                               client, make_token) -> None:
    sender.post(ADD, ExternalUserID="wmLate", UserID="zhangsan")
    with runtime.Session() as s:
        assert s.scalar(select(Inbox.status)) == "processed"  # the event itself was handled
        dead = s.scalar(select(DeadLetter))
        assert dead.job == "deliver_outbox" and "84061" in dead.error
        assert s.scalar(select(Outbox.status)) == "failed"
        stub = s.scalar(select(Customer))
        assert (stub.external_userid, stub.name, stub.synced_at) == ("wmLate", "", None)
    fake_wecom.seed({"external_contacts": [{"corpid": sender.crypto.corp_id, "external_contact": {
        "external_userid": "wmLate", "name": "迟到的客户", "type": 1}, "follow_user": []}]})
    r = client.post(f"/api/v1/dead-letters/{dead.id}/replay", headers=make_token("admin"))
    assert r.status_code == 202 and r.get_json()["replayed_at"]
    with runtime.Session() as s:
        assert s.scalar(select(Outbox.status)) == "done"
        assert s.scalar(select(Customer.name)) == "迟到的客户"


def test_wecom_busy_beyond_the_client_back_off_is_dead_lettered_inline(sender, runtime, fake_wecom) -> None:
    fake_wecom.fault("externalcontact/get", -1, count=10)
    assert sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan").status_code == 200
    with runtime.Session() as s:
        assert s.scalar(select(Outbox.status)) == "failed"
        assert "errcode -1" in s.scalar(select(DeadLetter.error))
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == 1
