"""Customer tags: the library synced both ways with the fake WeCom over HTTP, change_external_tag events,
the admin API and tagging a customer (mark_tag), jobs inline."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from models import AuditLog, Customer, FollowRelation, FollowTag, Inbox, Outbox, Tag, TagGroup
from support import CORP_ID, SECRET
from wecom.client import WeComClient

ADD = "change_external_contact/add_external_contact"


@pytest.fixture
def wecom(fake_wecom) -> WeComClient:  # type: ignore[no-untyped-def]
    """A client on the fake, to change the tag library the way an admin in WeCom's console would."""
    return WeComClient(CORP_ID, SECRET, fake_wecom.api_base)


def seed_group(wecom: WeComClient, name: str, *tags: str) -> dict[str, Any]:
    return wecom.post("externalcontact/add_corp_tag", data={
        "group_name": name, "tag": [{"name": t, "order": i} for i, t in enumerate(tags)]})["tag_group"]


def library(runtime) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return {
            "groups": sorted(s.execute(select(TagGroup.group_id, TagGroup.name, TagGroup.deleted_at.is_(None))).all()),
            "tags": sorted(s.execute(select(Tag.tag_id, Tag.name, Tag.colour, Tag.description,
                                            Tag.deleted_at.is_(None))).all()),
            "follow_tags": sorted(s.execute(select(FollowTag.follow_id, FollowTag.tag_pk, FollowTag.tagged_by)).all()),
        }


def live_tags(runtime) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return dict(s.execute(select(Tag.name, Tag.tag_id).where(Tag.deleted_at.is_(None))).all())


def sync(client, headers) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/api/v1/tags/sync", headers=headers).status_code == 202


def test_sync_pulls_groups_and_tags_and_drops_what_wecom_deleted(client, runtime, wecom, make_token) -> None:
    level = seed_group(wecom, "客户等级", "A级", "B级")
    seed_group(wecom, "来源", "展会")
    admin = make_token("admin")
    sync(client, admin)
    assert live_tags(runtime).keys() == {"A级", "B级", "展会"}
    groups = client.get("/api/v1/tag-groups", headers=admin).get_json()["items"]
    assert {g["name"]: sorted(t["name"] for t in g["tags"]) for g in groups} == {"客户等级": ["A级", "B级"],
                                                                               "来源": ["展会"]}
    wecom.post("externalcontact/del_corp_tag", data={"tag_id": [level["tag"][0]["id"]]})
    sync(client, admin)
    assert live_tags(runtime).keys() == {"B级", "展会"}


def test_change_external_tag_events_update_our_rows(sender, runtime, wecom, fake_wecom) -> None:
    group = seed_group(wecom, "意向", "高")
    tag_id = group["tag"][0]["id"]
    sender.post("change_external_tag/create", Id=tag_id, TagType="tag")
    assert live_tags(runtime) == {"高": tag_id}
    assert fake_wecom.calls("externalcontact/get_corp_tag_list")[-1]["body"] == {"tag_id": [tag_id]}

    wecom.post("externalcontact/edit_corp_tag", data={"id": tag_id, "name": "很高"})
    sender.post("change_external_tag/update", Id=tag_id, TagType="tag")
    assert live_tags(runtime) == {"很高": tag_id}

    more = wecom.post("externalcontact/add_corp_tag", data={"group_id": group["group_id"], "tag": [{"name": "低"}]})
    sender.post("change_external_tag/update", Id=group["group_id"], TagType="tag_group")
    assert fake_wecom.calls("externalcontact/get_corp_tag_list")[-1]["body"] == {"group_id": [group["group_id"]]}
    assert live_tags(runtime) == {"很高": tag_id, "低": more["tag_group"]["tag"][0]["id"]}

    sender.post("change_external_tag/shuffle", Id=group["group_id"], StrategyId="")  # the corp library's order
    assert fake_wecom.calls("externalcontact/get_corp_tag_list")[-1]["body"] in ({}, None)

    sender.post("change_external_tag/delete", Id=tag_id, TagType="tag")
    assert live_tags(runtime) == {"低": more["tag_group"]["tag"][0]["id"]}
    sender.post("change_external_tag/delete", Id=group["group_id"], TagType="tag_group")
    assert live_tags(runtime) == {}
    assert all(not live for *_, live in library(runtime)["groups"])


def test_replaying_a_tag_event_changes_nothing(sender, runtime, wecom, client, make_token) -> None:
    group = seed_group(wecom, "意向", "高", "低")
    sender.post("change_external_tag/create", Id=group["group_id"], TagType="tag_group")
    sender.post("change_external_tag/delete", Id=group["tag"][0]["id"], TagType="tag")
    before = library(runtime)
    assert len(before["groups"]) == 1 and len(before["tags"]) == 2
    admin = make_token("admin")
    with runtime.Session() as s:
        inbox_ids = list(s.scalars(select(Inbox.id)))
    for inbox_id in inbox_ids * 2:
        assert client.post(f"/api/v1/events/{inbox_id}/replay", headers=admin).status_code == 202
    assert library(runtime) == before


def test_create_group_calls_add_corp_tag_and_stores_wecom_ids(client, runtime, fake_wecom, make_token) -> None:
    admin = make_token("admin")
    res = client.post("/api/v1/tag-groups", headers=admin, json={
        "name": "行业", "tags": [{"name": "教育", "colour": "#ff0000", "description": "学校"}, {"name": "医疗"}]})
    assert res.status_code == 202, res.get_json()
    [call] = fake_wecom.calls("externalcontact/add_corp_tag")
    assert call["body"]["group_name"] == "行业" and [t["name"] for t in call["body"]["tag"]] == ["教育", "医疗"]
    answer = call["response"]["tag_group"] if "response" in call else None
    with runtime.Session() as s:
        group = s.scalar(select(TagGroup))
        assert group.group_id.startswith("et") and group.name == "行业"
        tags = {t.name: t for t in group.tags}
        assert tags["教育"].tag_id.startswith("et") and tags["教育"].colour == "#ff0000"
        if answer:
            assert group.group_id == answer["group_id"]
    listed = client.get("/api/v1/tag-groups", headers=admin).get_json()["items"]
    assert listed[0]["pending"] is False and {t["name"] for t in listed[0]["tags"]} == {"教育", "医疗"}
    with runtime.Session() as s:
        assert s.scalar(select(AuditLog.action).where(AuditLog.action == "tag_group.create")) == "tag_group.create"


def test_colour_and_description_are_ours_and_survive_a_sync(client, runtime, wecom, fake_wecom, make_token) -> None:
    seed_group(wecom, "客户等级", "A级")
    admin = make_token("admin")
    sync(client, admin)
    with runtime.Session() as s:
        tag_pk = s.scalar(select(Tag.id))
    fake_wecom.clear_calls()
    res = client.patch(f"/api/v1/tags/{tag_pk}", headers=admin, json={"colour": "#00ff00", "description": "大客户"})
    assert res.status_code == 200 and res.get_json()["colour"] == "#00ff00"
    assert fake_wecom.calls("externalcontact/edit_corp_tag") == []
    res = client.patch(f"/api/v1/tags/{tag_pk}", headers=admin, json={"name": "S级"})
    assert res.status_code == 202
    assert fake_wecom.calls("externalcontact/edit_corp_tag")[0]["body"]["name"] == "S级"
    sync(client, admin)
    with runtime.Session() as s:
        tag = s.get(Tag, tag_pk)
        assert (tag.name, tag.colour, tag.description, tag.deleted_at) == ("S级", "#00ff00", "大客户", None)


def test_delete_tag_and_group_through_the_api(client, runtime, wecom, fake_wecom, make_token) -> None:
    seed_group(wecom, "客户等级", "A级", "B级")
    seed_group(wecom, "来源", "展会")
    admin = make_token("admin")
    sync(client, admin)
    with runtime.Session() as s:
        a = s.scalar(select(Tag.id).where(Tag.name == "A级"))
        source = s.scalar(select(TagGroup.id).where(TagGroup.name == "来源"))
    assert client.delete(f"/api/v1/tags/{a}", headers=admin).status_code == 202
    assert client.delete(f"/api/v1/tag-groups/{source}", headers=admin).status_code == 202
    assert len(fake_wecom.calls("externalcontact/del_corp_tag")) == 2
    assert live_tags(runtime).keys() == {"B级"}
    assert client.delete(f"/api/v1/tags/{a}", headers=admin).status_code == 404


def customer_with_tags(sender, client, wecom, make_token, runtime) -> dict[str, int]:  # type: ignore[no-untyped-def]
    seed_group(wecom, "客户等级", "A级", "B级")
    sync(client, make_token("admin", name="setup"))
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan")
    with runtime.Session() as s:
        ids = dict(s.execute(select(Tag.name, Tag.id)).all())
        ids["customer"] = s.scalar(select(Customer.id).where(Customer.external_userid == "wmCustomer0001"))
        return ids


def test_member_tags_their_customer_through_mark_tag(sender, client, runtime, wecom, fake_wecom, make_token) -> None:
    ids = customer_with_tags(sender, client, wecom, make_token, runtime)
    member = make_token("member", userid="zhangsan", name="zs-token")
    res = client.post(f"/api/v1/customers/{ids['customer']}/tags", headers=member, json={"add": [ids["A级"]]})
    assert res.status_code == 202, res.get_json()
    assert res.get_json()["status"] == "done" and [t["name"] for t in res.get_json()["tags"]] == ["A级"]
    [call] = fake_wecom.calls("externalcontact/mark_tag")
    with runtime.Session() as s:
        a_id = s.get(Tag, ids["A级"]).tag_id
        assert (call["body"]["userid"], call["body"]["external_userid"], call["body"]["add_tag"]) == (
            "zhangsan", "wmCustomer0001", [a_id])
        [row] = s.scalars(select(FollowTag)).all()
        assert (row.tag_pk, row.tagged_by) == (ids["A级"], "zhangsan")

    # the next profile sync sees the tag in follow_user[].tags and keeps who put it there
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", CreateTime=1732000001)
    with runtime.Session() as s:
        assert s.execute(select(FollowTag.tag_pk, FollowTag.tagged_by)).all() == [(ids["A级"], "zhangsan")]

    res = client.post(f"/api/v1/customers/{ids['customer']}/tags", headers=member, json={"remove": [ids["A级"]]})
    assert res.status_code == 202
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(FollowTag)) == 0


def test_admin_tags_for_a_named_follower(sender, client, runtime, wecom, fake_wecom, make_token) -> None:
    ids = customer_with_tags(sender, client, wecom, make_token, runtime)
    admin = make_token("admin", name="ops")
    url = f"/api/v1/customers/{ids['customer']}/tags"
    assert client.post(url, headers=admin, json={"add": [ids["B级"]]}).status_code == 422  # no userid
    assert client.post(url, headers=admin, json={"add": [ids["B级"]], "userid": "lisi"}).status_code == 422
    assert client.post(url, headers=admin, json={"add": [ids["B级"]], "userid": "zhangsan"}).status_code == 202
    with runtime.Session() as s:
        assert s.execute(select(FollowTag.tag_pk, FollowTag.tagged_by)).all() == [(ids["B级"], "token:ops")]


def test_tags_from_wecom_come_in_with_the_profile(sender, client, runtime, wecom, make_token) -> None:
    ids = customer_with_tags(sender, client, wecom, make_token, runtime)
    with runtime.Session() as s:
        b_id = s.get(Tag, ids["B级"]).tag_id
    wecom.post("externalcontact/mark_tag", data={"userid": "zhangsan", "external_userid": "wmCustomer0001",
                                                 "add_tag": [b_id]})
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", CreateTime=1732000002)
    with runtime.Session() as s:
        assert s.execute(select(FollowTag.tag_pk, FollowTag.tagged_by)).all() == [(ids["B级"], "wecom")]


def test_tag_deleted_on_wecom_side_fails_the_outbox_and_writes_nothing(sender, client, runtime, wecom, fake_wecom,
                                                                       make_token) -> None:
    ids = customer_with_tags(sender, client, wecom, make_token, runtime)
    with runtime.Session() as s:
        a_id = s.get(Tag, ids["A级"]).tag_id
    wecom.post("externalcontact/del_corp_tag", data={"tag_id": [a_id]})  # no event reached us
    member = make_token("member", userid="zhangsan")
    res = client.post(f"/api/v1/customers/{ids['customer']}/tags", headers=member, json={"add": [ids["A级"]]})
    assert res.status_code == 202 and res.get_json()["status"] == "failed"
    with runtime.Session() as s:
        assert s.scalar(select(Outbox.status).where(Outbox.job == "mark_tag")) == "failed"
        assert s.scalar(select(func.count()).select_from(FollowTag)) == 0

    fake_wecom.fault("externalcontact/mark_tag", 40068)
    res = client.post(f"/api/v1/customers/{ids['customer']}/tags", headers=member, json={"add": [ids["B级"]]})
    assert res.get_json()["status"] == "failed"
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(FollowTag)) == 0


def test_member_permissions(sender, client, runtime, wecom, fake_wecom, make_token) -> None:
    ids = customer_with_tags(sender, client, wecom, make_token, runtime)
    lisi = make_token("member", userid="lisi")
    zhangsan = make_token("member", userid="zhangsan")
    url = f"/api/v1/customers/{ids['customer']}/tags"
    assert client.get("/api/v1/tag-groups", headers=lisi).status_code == 200
    assert client.post(url, headers=lisi, json={"add": [ids["A级"]]}).status_code == 404  # not their customer
    assert client.post(url, headers=zhangsan, json={"add": [ids["A级"]], "userid": "lisi"}).status_code == 403
    assert client.post("/api/v1/tag-groups", headers=zhangsan, json={"name": "x", "tags": [{"name": "y"}]}
                       ).status_code == 403
    assert client.patch(f"/api/v1/tags/{ids['A级']}", headers=zhangsan, json={"colour": "red"}).status_code == 403
    assert client.delete(f"/api/v1/tags/{ids['A级']}", headers=zhangsan).status_code == 403
    assert client.post("/api/v1/tags/sync", headers=zhangsan).status_code == 403
    assert fake_wecom.calls("externalcontact/mark_tag") == []


@pytest.mark.parametrize("body", [
    {"name": "", "tags": [{"name": "a"}]},
    {"name": "x" * 31, "tags": [{"name": "a"}]},
    {"name": "组", "tags": []},
    {"name": "组", "tags": [{"name": "a" * 31}]},
    {"name": "组", "tags": [{"name": "a"}, {"name": "a"}]},
    {"name": "组", "tags": [{"name": "a", "colour": "x" * 17}]},
])
def test_bad_group_is_422_and_changes_nothing(client, runtime, fake_wecom, make_token, body) -> None:
    res = client.post("/api/v1/tag-groups", headers=make_token("admin"), json=body)
    assert res.status_code == 422 and res.get_json()["error"]["code"] == "invalid"
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(TagGroup)) == 0
        assert s.scalar(select(func.count()).select_from(Outbox)) == 0
    assert fake_wecom.calls("externalcontact/add_corp_tag") == []


def test_bad_tagging_is_4xx_and_changes_nothing(sender, client, runtime, wecom, fake_wecom, make_token) -> None:
    ids = customer_with_tags(sender, client, wecom, make_token, runtime)
    member = make_token("member", userid="zhangsan")
    url = f"/api/v1/customers/{ids['customer']}/tags"
    with runtime.Session() as s:
        outbox = s.scalar(select(func.count()).select_from(Outbox))
    assert client.post(url, headers=member, json={"add": [], "remove": []}).status_code == 422
    assert client.post(url, headers=member, json={"add": [99999]}).status_code == 422
    assert client.post(url, headers=member, json={"add": ["x"]}).status_code == 422
    assert client.post(url, headers=member, data="nope").status_code == 400
    assert client.post("/api/v1/customers/99999/tags", headers=member, json={"add": [ids["A级"]]}).status_code == 404
    existing = client.post("/api/v1/tag-groups", headers=make_token("admin"), json={"name": "客户等级",
                                                                                   "tags": [{"name": "C"}]})
    assert existing.status_code == 422
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Outbox)) == outbox
        assert s.scalar(select(func.count()).select_from(FollowTag)) == 0
    assert fake_wecom.calls("externalcontact/mark_tag") == []


def test_openapi_lists_the_tag_operations(client) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/tag-groups", "/tags/{tag_pk}", "/tag-groups/{group_pk}", "/tags/sync",
            "/customers/{customer_id}/tags"} <= paths.keys()
    assert FollowRelation  # imported for readers: tags sit on follow relations
