"""The tag library's rules of manual 4.6.1/9.2.1 (issue 17): tags added to an existing group, a group renamed
and reordered, exclusive (互斥) groups on the fake WeCom's mark_tag, bulk tag/untag as one job."""

from __future__ import annotations


import pytest
from sqlalchemy import func, select

from models import AuditLog, FollowTag, Tag, TagGroup
from support import CORP_ID, SECRET
from test_tags import customer_with_tags, seed_group, sync
from wecom.client import WeComClient


@pytest.fixture(name="wecom")
def _wecom(fake_wecom) -> WeComClient:  # type: ignore[no-untyped-def]
    """A client on the fake, to read what WeCom holds."""
    return WeComClient(CORP_ID, SECRET, fake_wecom.api_base)


def wecom_tags(wecom, external_userid: str, userid: str = "zhangsan") -> set[str]:  # type: ignore[no-untyped-def]
    """The tag names WeCom (the fake, over HTTP) has on `userid`'s customer."""
    contact = wecom.get("externalcontact/get", params={"external_userid": external_userid})
    [follow] = [f for f in contact["follow_user"] if f["userid"] == userid]
    return {t["tag_name"] for t in follow.get("tags", [])}


def ids_of(runtime) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return {**dict(s.execute(select(Tag.name, Tag.id).where(Tag.deleted_at.is_(None))).all()),
                **{f"group:{n}": i for n, i in s.execute(select(TagGroup.name, TagGroup.id))}}


def test_add_tags_to_an_existing_group_calls_add_corp_tag_with_its_id(client, runtime, wecom, fake_wecom,
                                                                     make_token) -> None:
    group = seed_group(wecom, "客户等级", "A级")
    admin = make_token("admin")
    sync(client, admin)
    pk = ids_of(runtime)["group:客户等级"]
    fake_wecom.clear_calls()
    res = client.post(f"/api/v1/tag-groups/{pk}/tags", headers=admin, json={"tags": [{"name": "B级"}, {"name": "C级"}]})
    assert res.status_code == 202, res.get_json()
    assert {t["name"] for t in res.get_json()["tags"]} == {"A级", "B级", "C级"}
    assert all(not t["pending"] for t in res.get_json()["tags"])
    [call] = fake_wecom.calls("externalcontact/add_corp_tag")
    assert call["body"]["group_id"] == group["group_id"] and "group_name" not in call["body"]
    listed = wecom.post("externalcontact/get_corp_tag_list", data={"group_id": [group["group_id"]]})["tag_group"]
    assert {t["name"] for t in listed[0]["tag"]} == {"A级", "B级", "C级"}
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(TagGroup)) == 1

    # a name the group has is refused here, before WeCom's 40071; nothing changes
    fake_wecom.clear_calls()
    res = client.post(f"/api/v1/tag-groups/{pk}/tags", headers=admin, json={"tags": [{"name": "A级"}]})
    assert res.status_code == 422 and "tags" in res.get_json()["error"]["fields"]
    assert fake_wecom.calls("externalcontact/add_corp_tag") == []
    assert len(ids_of(runtime)) == 4


def test_rename_and_reorder_group_and_tag_go_through_edit_corp_tag(client, runtime, wecom, fake_wecom,
                                                                   make_token) -> None:
    group = seed_group(wecom, "客户等级", "A级", "B级")
    seed_group(wecom, "来源", "展会")
    admin = make_token("admin")
    sync(client, admin)
    ids = ids_of(runtime)
    fake_wecom.clear_calls()
    res = client.patch(f"/api/v1/tag-groups/{ids['group:客户等级']}", headers=admin, json={"name": "等级", "order": 9})
    assert res.status_code == 202 and (res.get_json()["name"], res.get_json()["order"]) == ("等级", 9)
    assert fake_wecom.calls("externalcontact/edit_corp_tag")[0]["body"] == {"id": group["group_id"], "name": "等级",
                                                                             "order": 9}
    res = client.patch(f"/api/v1/tags/{ids['B级']}", headers=admin, json={"order": 50})
    assert res.status_code == 202 and res.get_json()["order"] == 50
    assert fake_wecom.calls("externalcontact/edit_corp_tag")[1]["body"] == {"id": group["tag"][1]["id"], "order": 50}
    listed = wecom.post("externalcontact/get_corp_tag_list", data={})["tag_group"]
    shown = {grp["group_name"]: (grp["order"], {t["name"]: t["order"] for t in grp["tag"]}) for grp in listed}
    assert shown["等级"] == (9, {"A级": 0, "B级": 50})
    groups = client.get("/api/v1/tag-groups", headers=admin).get_json()["items"]
    assert [grp["name"] for grp in groups] == ["等级", "来源"]  # a larger order comes first
    assert [t["name"] for t in groups[0]["tags"]] == ["B级", "A级"]

    # another group's name is refused locally; nothing is sent or changed
    fake_wecom.clear_calls()
    res = client.patch(f"/api/v1/tag-groups/{ids['group:客户等级']}", headers=admin, json={"name": "来源"})
    assert res.status_code == 422
    assert client.patch(f"/api/v1/tag-groups/{ids['group:客户等级']}", headers=admin, json={}).status_code == 422
    assert fake_wecom.calls("externalcontact/edit_corp_tag") == []
    with runtime.Session() as s:
        assert s.get(TagGroup, ids["group:客户等级"]).name == "等级"
        assert s.scalar(select(AuditLog.id).where(AuditLog.action == "tag_group.update")) is not None


def test_an_exclusive_tag_replaces_its_sibling_on_the_fakes_mark_tag(sender, client, runtime, wecom, fake_wecom,
                                                                     make_token) -> None:
    ids = customer_with_tags(sender, client, wecom, make_token, runtime)
    admin = make_token("admin", name="ops")
    member = make_token("member", userid="zhangsan")
    url = f"/api/v1/customers/{ids['customer']}/tags"
    with runtime.Session() as s:
        group_pk = s.scalar(select(TagGroup.id))
        a_id, b_id = s.get_one(Tag, ids["A级"]).tag_id, s.get_one(Tag, ids["B级"]).tag_id
    res = client.patch(f"/api/v1/tag-groups/{group_pk}", headers=admin, json={"exclusive": True})
    assert res.status_code == 200 and res.get_json()["exclusive"] is True
    assert client.post(url, headers=member, json={"add": [ids["A级"]]}).status_code == 202
    assert wecom_tags(wecom, "wmCustomer0001") == {"A级"}
    fake_wecom.clear_calls()

    res = client.post(url, headers=member, json={"add": [ids["B级"]]})
    assert res.status_code == 202 and [t["name"] for t in res.get_json()["tags"]] == ["B级"]
    [call] = fake_wecom.calls("externalcontact/mark_tag")
    assert (call["body"]["add_tag"], call["body"]["remove_tag"]) == ([b_id], [a_id])
    assert wecom_tags(wecom, "wmCustomer0001") == {"B级"}
    with runtime.Session() as s:
        assert s.scalars(select(FollowTag.tag_pk)).all() == [ids["B级"]]

    # both tags of an exclusive group at once: refused, nothing sent
    fake_wecom.clear_calls()
    res = client.post(url, headers=member, json={"add": [ids["A级"], ids["B级"]]})
    assert res.status_code == 422 and "exclusive" in res.get_json()["error"]["fields"]["add"]
    assert fake_wecom.calls("externalcontact/mark_tag") == []
    assert wecom_tags(wecom, "wmCustomer0001") == {"B级"}


def test_a_plain_group_keeps_siblings(sender, client, runtime, wecom, fake_wecom, make_token) -> None:
    ids = customer_with_tags(sender, client, wecom, make_token, runtime)
    member = make_token("member", userid="zhangsan")
    url = f"/api/v1/customers/{ids['customer']}/tags"
    client.post(url, headers=member, json={"add": [ids["A级"]]})
    client.post(url, headers=member, json={"add": [ids["B级"]]})
    assert fake_wecom.calls("externalcontact/mark_tag")[-1]["body"]["remove_tag"] == []
    assert wecom_tags(wecom, "wmCustomer0001") == {"A级", "B级"}


