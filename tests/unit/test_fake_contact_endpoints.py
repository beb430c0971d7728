"""The fake WeCom's address-book, customer-tag, welcome-message and contact-way endpoints, over real HTTP.

The HTTP helpers (``api``, ``token_for``) come from test_fake_server.py, which covers tokens, limits, faults
and the call log for every endpoint alike.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from test_fake_server import api, token_for

from wecom.fake import FakeState, FakeWeComServer

CORPID = "wwcorp"
SECRET = "SECRET_A"

SEED: dict[str, Any] = {
    "corps": [{"corpid": CORPID, "secrets": {SECRET: 1000002}}],
    "departments": [
        {"corpid": CORPID, "id": 1, "name": "总部", "parentid": 0, "order": 100, "department_leader": ["boss"]},
        {"corpid": CORPID, "id": 2, "name": "销售部", "parentid": 1, "order": 90},
        {"corpid": CORPID, "id": 3, "name": "华东区", "parentid": 2, "order": 80},
        {"corpid": CORPID, "id": 4, "name": "研发部", "parentid": 1, "order": 70, "name_en": "R&D"},
    ],
    "users": [
        {"corpid": CORPID, "userid": "boss", "name": "老板", "department": [1], "status": 1},
        {"corpid": CORPID, "userid": "zhangsan", "name": "张三", "department": [2], "status": 1,
         "mobile": "13800000000", "position": "销售", "gender": "1", "email": "zs@example.invalid",
         "open_userid": "woZS"},
        {"corpid": CORPID, "userid": "lisi", "name": "李四", "department": [3], "status": 1},
        {"corpid": CORPID, "userid": "wangwu", "name": "王五", "department": [4], "status": 1},
    ],
    "external_contacts": [{
        "corpid": CORPID,
        "external_contact": {"external_userid": "wmABC", "name": "客户甲", "type": 1, "gender": 1},
        "follow_user": [{"userid": "zhangsan", "remark": "", "description": "", "createtime": 1700000000,
                         "tags": [], "remark_mobiles": [], "add_way": 1, "state": "ch-1"}],
    }],
}


@pytest.fixture
def fake() -> Iterator[FakeWeComServer]:
    """This module's own seed (the conftest's `token` is issued by it)."""
    with FakeWeComServer(state=FakeState(SEED)) as server:
        yield server


def errcode(result: dict[str, Any]) -> int:
    return int(result["errcode"])


def control(server: FakeWeComServer, path: str, body: Any = None) -> requests.Response:
    """POST (with a body) or GET a /fake/ control route."""
    url = f"{server.url}/fake/{path}"
    return requests.get(url, timeout=5) if body is None else requests.post(url, json=body, timeout=5)


def customer_tags(server: FakeWeComServer, token: str, userid: str = "zhangsan",
                  external_userid: str = "wmABC") -> list[dict[str, Any]]:
    """The follow_user tags ``userid`` has on the customer, as externalcontact/get shows them."""
    result = api(server, "externalcontact/get", token, external_userid=external_userid)
    return next(follow["tags"] for follow in result["follow_user"] if follow["userid"] == userid)


def add_tags(server: FakeWeComServer, token: str, *names: str, **group: Any) -> dict[str, Any]:
    """add_corp_tag (by default into group "客户等级"); returns the answered tag_group."""
    body = {"group_name": "客户等级", **group, "tag": [{"name": name} for name in names]}
    result = api(server, "externalcontact/add_corp_tag", token, json=body)
    assert errcode(result) == 0, result
    return dict(result["tag_group"])


def welcome_code(server: FakeWeComServer, **spec: Any) -> str:
    body = {"corpid": CORPID, "userid": "zhangsan", "external_userid": "wmABC", **spec}
    response = control(server, "welcome_codes", body)
    assert response.status_code == 200, response.text
    return str(response.json()["code"])


def send_welcome(server: FakeWeComServer, token: str, code: str, **message: Any) -> dict[str, Any]:
    body = {"welcome_code": code, **({"text": {"content": "欢迎!"}} if not message else message)}
    return api(server, "externalcontact/send_welcome_msg", token, json=body)


def add_way(server: FakeWeComServer, token: str, **way: Any) -> dict[str, Any]:
    body = {"type": 2, "scene": 2, "state": "ch-42", "user": ["lisi", "zhangsan"], **way}
    return api(server, "externalcontact/add_contact_way", token, json=body)


def scan(server: FakeWeComServer, config_id: str, external_userid: str, **extra: Any) -> requests.Response:
    return control(server, f"contact_ways/{config_id}/scan", {"external_userid": external_userid, **extra})


NEW_PATHS = ["department/list", "user/list", "user/simplelist", "externalcontact/get_corp_tag_list",
             "externalcontact/add_corp_tag", "externalcontact/edit_corp_tag", "externalcontact/del_corp_tag",
             "externalcontact/mark_tag", "externalcontact/send_welcome_msg", "externalcontact/add_contact_way",
             "externalcontact/get_contact_way", "externalcontact/update_contact_way",
             "externalcontact/del_contact_way"]


@pytest.mark.parametrize("path", NEW_PATHS)
def test_new_endpoints_need_a_token(fake: FakeWeComServer, path: str) -> None:
    body = None if path.startswith(("department", "user")) else {}
    assert errcode(api(fake, path, json=body)) == 41001


# -- department/list, user/list, user/simplelist -------------------------------------------------------------

def test_department_list_all_or_subtree(fake: FakeWeComServer, token: str) -> None:
    result = api(fake, "department/list", token)
    assert errcode(result) == 0
    assert [dept["id"] for dept in result["department"]] == [1, 2, 3, 4]
    assert result["department"][0] == {"id": 1, "name": "总部", "name_en": "", "department_leader": ["boss"],
                                       "parentid": 0, "order": 100}
    assert result["department"][3]["name_en"] == "R&D"
    assert [dept["id"] for dept in api(fake, "department/list", token, id=2)["department"]] == [2, 3]
    assert [dept["id"] for dept in api(fake, "department/list", token, id=3)["department"]] == [3]
    missing = api(fake, "department/list", token, id=99)
    assert (errcode(missing), missing["errmsg"]) == (60123, "invalid department")


def test_user_list_of_one_department_fetch_child_ignored(fake: FakeWeComServer, token: str) -> None:
    result = api(fake, "user/list", token, department_id=2)
    assert errcode(result) == 0
    assert result["userlist"] == [{
        "userid": "zhangsan", "name": "张三", "department": [2], "position": "销售", "mobile": "13800000000",
        "gender": "1", "email": "zs@example.invalid", "avatar": "", "status": 1, "direct_leader": [],
        "main_department": 2, "open_userid": "woZS"}]
    # doc 96260 has no fetch_child: a caller walks the subdepartments itself
    assert api(fake, "user/list", token, department_id=2, fetch_child=1)["userlist"] == result["userlist"]
    below = api(fake, "user/list", token, department_id=3)["userlist"]
    assert [user["userid"] for user in below] == ["lisi"]
    assert below[0]["mobile"] == "" and below[0]["main_department"] == 3
    assert [user["userid"] for user in api(fake, "user/list", token, department_id=1, fetch_child=1)["userlist"]] \
        == ["boss"]
    assert errcode(api(fake, "user/list", token, department_id=99)) == 60123
    assert errcode(api(fake, "user/list", token)) == 40058


def test_user_simplelist(fake: FakeWeComServer, token: str) -> None:
    result = api(fake, "user/simplelist", token, department_id=2, fetch_child=1)
    assert result["userlist"] == [{"userid": "zhangsan", "name": "张三", "department": [2], "open_userid": "woZS"}]


def test_message_to_a_party_reaches_its_subdepartments(fake: FakeWeComServer, token: str) -> None:
    message = {"toparty": "1|77", "msgtype": "text", "agentid": 1000002, "text": {"content": "hi"}}
    result = api(fake, "message/send", token, json=message)
    assert errcode(result) == 0 and result["invalidparty"] == "77"


def test_seed_checks_departments(fake: FakeWeComServer) -> None:
    bad = control(fake, "seed", {"departments": [{"corpid": CORPID, "id": "x", "name": "坏"}]})
    assert bad.status_code == 400 and "integers" in bad.json()["error"]
    ghost = control(fake, "seed", {"departments": [{"corpid": "wwghost", "id": 9, "name": "幽灵"}]})
    assert ghost.status_code == 400


# -- customer tags ---------------------------------------------------------------------------------------------

def test_add_corp_tag_creates_a_group_and_lists_it(fake: FakeWeComServer, token: str) -> None:
    group = add_tags(fake, token, "VIP", "普通", "VIP", order=5)
    assert group["group_name"] == "客户等级" and group["order"] == 5 and group["deleted"] is False
    assert group["group_id"].startswith("et") and isinstance(group["create_time"], int)
    assert [tag["name"] for tag in group["tag"]] == ["VIP", "普通"]  # same names in one request: one tag
    ids = [tag["id"] for tag in group["tag"]]
    assert all(tag_id.startswith("et") for tag_id in ids) and group["group_id"] not in ids
    assert set(group["tag"][0]) == {"id", "name", "create_time", "order", "deleted"}

    listed = api(fake, "externalcontact/get_corp_tag_list", token, json={})
    assert errcode(listed) == 0 and listed["tag_group"] == [group]


def test_add_corp_tag_to_an_existing_group(fake: FakeWeComServer, token: str) -> None:
    group = add_tags(fake, token, "VIP")
    by_id = add_tags(fake, token, "黑名单", group_id=group["group_id"], group_name="ignored")
    assert by_id["group_id"] == group["group_id"] and [tag["name"] for tag in by_id["tag"]] == ["黑名单"]
    by_name = add_tags(fake, token, "潜在")
    assert by_name["group_id"] == group["group_id"] and [tag["name"] for tag in by_name["tag"]] == ["潜在"]
    other = add_tags(fake, token, "VIP", group_name="来源")  # the same name in another group is fine
    assert other["group_id"] != group["group_id"]
    listed = api(fake, "externalcontact/get_corp_tag_list", token, json={})["tag_group"]
    assert [[tag["name"] for tag in g["tag"]] for g in listed] == [["VIP", "黑名单", "潜在"], ["VIP"]]


def test_get_corp_tag_list_filters(fake: FakeWeComServer, token: str) -> None:
    level = add_tags(fake, token, "VIP", "普通")
    source = add_tags(fake, token, "展会", group_name="来源")
    vip_id = level["tag"][0]["id"]
    by_tag = api(fake, "externalcontact/get_corp_tag_list", token, json={"tag_id": [vip_id]})["tag_group"]
    assert [(g["group_id"], [t["id"] for t in g["tag"]]) for g in by_tag] == [(level["group_id"], [vip_id])]
    by_group = api(fake, "externalcontact/get_corp_tag_list", token,
                   json={"tag_id": [vip_id], "group_id": [source["group_id"]]})["tag_group"]  # tag_id ignored
    assert by_group == [source]
    assert api(fake, "externalcontact/get_corp_tag_list", token, json={"tag_id": ["etNOPE"]})["tag_group"] == []


@pytest.mark.parametrize(("body", "expected"), [
    ({"group_name": "客户等级", "tag": [{"name": "VIP"}]}, 40071),
    ({"group_name": "客户等级", "tag": [{"name": "x" * 31}]}, 40058),
    ({"group_name": "g" * 31, "tag": [{"name": "ok"}]}, 40058),
    ({"group_id": "etNOSUCHGROUP", "tag": [{"name": "ok"}]}, 40068),
    ({"group_name": "客户等级", "tag": []}, 40058),
    ({"tag": [{"name": "ok"}]}, 40058),
    ({"group_name": "客户等级", "tag": [{"name": ""}]}, 40058),
    ({"group_name": "客户等级", "tag": "VIP"}, 40058),
])
def test_add_corp_tag_errors(fake: FakeWeComServer, token: str, body: dict[str, Any], expected: int) -> None:
    add_tags(fake, token, "VIP")
    assert errcode(api(fake, "externalcontact/add_corp_tag", token, json=body)) == expected
    listed = api(fake, "externalcontact/get_corp_tag_list", token, json={})["tag_group"]
    assert [[tag["name"] for tag in g["tag"]] for g in listed] == [["VIP"]]  # nothing half-created


def test_name_of_30_characters_is_accepted(fake: FakeWeComServer, token: str) -> None:
    assert add_tags(fake, token, "x" * 30, group_name="g" * 30)["tag"][0]["name"] == "x" * 30


def test_a_corp_has_at_most_3000_tags(fake: FakeWeComServer, token: str) -> None:
    add_tags(fake, token, *(f"t{i}" for i in range(2999)))
    add_tags(fake, token, "last", group_name="另一组")
    result = api(fake, "externalcontact/add_corp_tag", token,
                 json={"group_name": "另一组", "tag": [{"name": "one too many"}]})
    assert errcode(result) == 40126


def test_edit_corp_tag_renames_tags_and_groups(fake: FakeWeComServer, token: str) -> None:
    group = add_tags(fake, token, "VIP", "普通")
    vip_id = group["tag"][0]["id"]
    assert errcode(api(fake, "externalcontact/edit_corp_tag", token,
                       json={"id": vip_id, "name": "钻石", "order": 7})) == 0
    assert errcode(api(fake, "externalcontact/edit_corp_tag", token,
                       json={"id": group["group_id"], "name": "等级"})) == 0
    listed = api(fake, "externalcontact/get_corp_tag_list", token, json={})["tag_group"][0]
    assert listed["group_name"] == "等级"
    assert (listed["tag"][0]["name"], listed["tag"][0]["order"]) == ("钻石", 7)


@pytest.mark.parametrize(("body", "expected"), [
    ({"id": "etNOPE", "name": "x"}, 40068),
    ({"name": "x"}, 40068),
    ({"id": "VIP_ID", "name": "普通"}, 40071),
    ({"id": "GROUP_ID", "name": "来源"}, 40071),
    ({"id": "VIP_ID", "name": "x" * 31}, 40058),
])
def test_edit_corp_tag_errors(fake: FakeWeComServer, token: str, body: dict[str, Any], expected: int) -> None:
    group = add_tags(fake, token, "VIP", "普通")
    add_tags(fake, token, "展会", group_name="来源")
    ids = {"VIP_ID": group["tag"][0]["id"], "GROUP_ID": group["group_id"]}
    body = {key: ids.get(value, value) for key, value in body.items()}
    assert errcode(api(fake, "externalcontact/edit_corp_tag", token, json=body)) == expected


def test_del_corp_tag_cascades(fake: FakeWeComServer, token: str) -> None:
    level = add_tags(fake, token, "VIP", "普通")
    source = add_tags(fake, token, "展会", group_name="来源")
    vip_id, normal_id = (tag["id"] for tag in level["tag"])

    def groups() -> dict[str, list[str]]:
        listed = api(fake, "externalcontact/get_corp_tag_list", token, json={})["tag_group"]
        return {g["group_name"]: [tag["name"] for tag in g["tag"]] for g in listed}

    assert errcode(api(fake, "externalcontact/del_corp_tag", token, json={"tag_id": [vip_id]})) == 0
    assert groups() == {"客户等级": ["普通"], "来源": ["展会"]}
    assert errcode(api(fake, "externalcontact/del_corp_tag", token, json={"tag_id": [normal_id]})) == 0
    assert groups() == {"来源": ["展会"]}  # the group went with its last tag
    assert errcode(api(fake, "externalcontact/add_corp_tag", token,
                       json={"group_id": level["group_id"], "tag": [{"name": "x"}]})) == 40068
    assert errcode(api(fake, "externalcontact/del_corp_tag", token,
                       json={"group_id": [source["group_id"]]})) == 0
    assert groups() == {}


def test_del_corp_tag_errors_change_nothing(fake: FakeWeComServer, token: str) -> None:
    group = add_tags(fake, token, "VIP")
    vip_id = group["tag"][0]["id"]
    result = api(fake, "externalcontact/del_corp_tag", token, json={"tag_id": [vip_id, "etNOPE"]})
    assert (errcode(result), result["errmsg"]) == (40068, "invalid tagid")
    assert errcode(api(fake, "externalcontact/del_corp_tag", token, json={"group_id": ["etNOPE"]})) == 40068
    assert errcode(api(fake, "externalcontact/del_corp_tag", token, json={})) == 40058
    assert api(fake, "externalcontact/get_corp_tag_list", token, json={})["tag_group"] == [group]


# -- mark_tag ------------------------------------------------------------------------------------------------

def test_mark_tag_shows_in_externalcontact_get(fake: FakeWeComServer, token: str) -> None:
    group = add_tags(fake, token, "VIP", "普通")
    vip_id, normal_id = (tag["id"] for tag in group["tag"])
    body = {"userid": "zhangsan", "external_userid": "wmABC", "add_tag": [vip_id, normal_id, vip_id]}
    assert errcode(api(fake, "externalcontact/mark_tag", token, json=body)) == 0
    assert errcode(api(fake, "externalcontact/mark_tag", token, json={**body, "add_tag": [vip_id]})) == 0
    assert customer_tags(fake, token) == [
        {"group_name": "客户等级", "tag_name": "VIP", "tag_id": vip_id, "type": 1},
        {"group_name": "客户等级", "tag_name": "普通", "tag_id": normal_id, "type": 1}]
    removal = {"userid": "zhangsan", "external_userid": "wmABC", "remove_tag": [vip_id]}
    assert errcode(api(fake, "externalcontact/mark_tag", token, json=removal)) == 0
    assert [tag["tag_id"] for tag in customer_tags(fake, token)] == [normal_id]


@pytest.mark.parametrize(("body", "expected"), [
    ({"userid": "zhangsan", "external_userid": "wmABC"}, 40058),
    ({"userid": "zhangsan", "external_userid": "wmABC", "add_tag": [], "remove_tag": []}, 40058),
    ({"userid": "lisi", "external_userid": "wmABC", "add_tag": ["VIP_ID"]}, 84061),
    ({"userid": "zhangsan", "external_userid": "wmNOPE", "add_tag": ["VIP_ID"]}, 84061),
    ({"userid": "zhangsan", "external_userid": "wmABC", "add_tag": ["VIP_ID", "etNOPE"]}, 40068),
    ({"userid": "zhangsan", "external_userid": "wmABC", "remove_tag": ["etNOPE"]}, 40068),
    ({"external_userid": "wmABC", "add_tag": ["VIP_ID"]}, 41009),
    ({"userid": "zhangsan", "add_tag": ["VIP_ID"]}, 41035),
])
def test_mark_tag_errors(fake: FakeWeComServer, token: str, body: dict[str, Any], expected: int) -> None:
    vip_id = add_tags(fake, token, "VIP")["tag"][0]["id"]
    body = {key: [vip_id if item == "VIP_ID" else item for item in value] if isinstance(value, list) else value
            for key, value in body.items()}
    assert errcode(api(fake, "externalcontact/mark_tag", token, json=body)) == expected
    assert customer_tags(fake, token) == []


def test_tag_edits_and_deletions_reach_customers(fake: FakeWeComServer, token: str) -> None:
    level = add_tags(fake, token, "VIP")
    source = add_tags(fake, token, "展会", "官网", group_name="来源")
    tag_ids = [level["tag"][0]["id"], *(tag["id"] for tag in source["tag"])]
    mark = {"userid": "zhangsan", "external_userid": "wmABC", "add_tag": tag_ids}
    assert errcode(api(fake, "externalcontact/mark_tag", token, json=mark)) == 0
    api(fake, "externalcontact/edit_corp_tag", token, json={"id": source["group_id"], "name": "渠道"})
    assert [(t["group_name"], t["tag_name"]) for t in customer_tags(fake, token)] == [
        ("客户等级", "VIP"), ("渠道", "展会"), ("渠道", "官网")]
    api(fake, "externalcontact/del_corp_tag", token, json={"group_id": [source["group_id"]]})
    assert [tag["tag_name"] for tag in customer_tags(fake, token)] == ["VIP"]
    api(fake, "externalcontact/del_corp_tag", token, json={"tag_id": [tag_ids[0]]})
    assert customer_tags(fake, token) == []


# -- welcome codes and send_welcome_msg --------------------------------------------------------------------------

def test_welcome_code_is_single_use(fake: FakeWeComServer, token: str) -> None:
    code = welcome_code(fake)
    attachments = [{"msgtype": "link", "link": {"title": "官网", "url": "https://example.invalid"}}]
    assert errcode(send_welcome(fake, token, code, text={"content": "您好"}, attachments=attachments)) == 0
    again = send_welcome(fake, token, code)
    assert (errcode(again), again["errmsg"]) == (41051, "externaluser has started chatting")
    welcomes = control(fake, "welcomes").json()["welcomes"]
    assert len(welcomes) == 1
    assert {key: welcomes[0][key] for key in ("code", "userid", "external_userid", "text", "attachments")} == {
        "code": code, "userid": "zhangsan", "external_userid": "wmABC", "text": {"content": "您好"},
        "attachments": attachments}
    assert isinstance(welcomes[0]["at"], float)


def test_welcome_code_expires() -> None:
    with FakeWeComServer(state=FakeState(SEED), welcome_code_ttl=0.5) as server:
        token = token_for(server)
        fresh, stale = welcome_code(server), welcome_code(server)
        assert errcode(send_welcome(server, token, fresh)) == 0
        time.sleep(0.6)
        expired = send_welcome(server, token, stale)
        assert errcode(expired) == 41050 and "expired" in expired["errmsg"]
        assert control(server, "welcomes").json()["welcomes"][0]["code"] == fresh


def test_welcome_code_lives_20_seconds_by_default(fake: FakeWeComServer, token: str) -> None:
    code = welcome_code(fake)
    time.sleep(0.6)
    assert errcode(send_welcome(fake, token, code)) == 0


def test_fault_41096_does_not_use_up_the_code(fake: FakeWeComServer, token: str) -> None:
    code = welcome_code(fake)
    control(fake, "faults", {"path": "externalcontact/send_welcome_msg", "errcode": 41096})
    busy = send_welcome(fake, token, code)
    assert (errcode(busy), busy["errmsg"]) == (41096, "welcome msg is being distributed")
    assert control(fake, "welcomes").json()["welcomes"] == []
    assert errcode(send_welcome(fake, token, code)) == 0


ATTACHMENT = {"msgtype": "image", "image": {"media_id": "MEDIA"}}


@pytest.mark.parametrize(("message", "expected"), [
    ({"text": {"content": "中" * 1334}}, 40058),  # 4002 bytes of UTF-8
    ({"attachments": [ATTACHMENT] * 10}, 40058),
    ({"text": {"content": ""}}, 40058),
    ({"attachments": []}, 40058),
    ({"attachments": [{"msgtype": "voice", "voice": {"media_id": "M"}}]}, 41065),
    ({"attachments": [{"msgtype": "image"}]}, 40058),
    ({"text": "hello"}, 40058),
])
def test_send_welcome_msg_checks_the_message_and_keeps_the_code(fake: FakeWeComServer, token: str,
                                                                 message: dict[str, Any], expected: int) -> None:
    code = welcome_code(fake)
    body = {"welcome_code": code, **message}
    assert errcode(api(fake, "externalcontact/send_welcome_msg", token, json=body)) == expected
    assert errcode(send_welcome(fake, token, code)) == 0


def test_send_welcome_msg_limits_are_inclusive(fake: FakeWeComServer, token: str) -> None:
    assert errcode(send_welcome(fake, token, welcome_code(fake), text={"content": "a" * 4000})) == 0
    assert errcode(send_welcome(fake, token, welcome_code(fake), attachments=[ATTACHMENT] * 9)) == 0


def test_send_welcome_msg_code_errors(fake: FakeWeComServer, token: str) -> None:
    unknown = send_welcome(fake, token, "NO-SUCH-CODE")
    assert (errcode(unknown), unknown["errmsg"]) == (41050, "invalid welcome_code")
    assert errcode(api(fake, "externalcontact/send_welcome_msg", token, json={"text": {"content": "x"}})) == 41049
    assert errcode(api(fake, "externalcontact/send_welcome_msg", token, data="{oops")) == 47001


def test_welcome_code_control_route(fake: FakeWeComServer) -> None:
    assert welcome_code(fake, code="MY-CODE") == "MY-CODE"
    assert control(fake, "welcome_codes", {"corpid": CORPID, "userid": "u", "external_userid": "wm",
                                           "code": "MY-CODE"}).status_code == 400
    assert control(fake, "welcome_codes", {"corpid": "wwghost", "userid": "u",
                                           "external_userid": "wm"}).status_code == 400
    assert control(fake, "welcome_codes", {"corpid": CORPID}).status_code == 400


# -- contact ways -----------------------------------------------------------------------------------------------

def test_add_and_get_contact_way(fake: FakeWeComServer, token: str) -> None:
    created = add_way(fake, token, remark="门店海报", skip_verify=False, party=[4])
    assert errcode(created) == 0
    config_id = created["config_id"]
    assert created["qr_code"] == f"{fake.url}/fake/qr/{config_id}.png"
    image = requests.get(created["qr_code"], timeout=5)  # a real PNG, served by the fake as WeCom's CDN does
    assert image.headers["Content-Type"] == "image/png" and image.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert requests.get(f"{fake.url}/fake/qr/nosuchway.png", timeout=5).status_code == 404
    way = api(fake, "externalcontact/get_contact_way", token, json={"config_id": config_id})
    assert errcode(way) == 0
    assert way["contact_way"] == {"config_id": config_id, "type": 2, "scene": 2, "remark": "门店海报",
                                  "skip_verify": False, "state": "ch-42", "user": ["lisi", "zhangsan"],
                                  "party": [4], "is_temp": False, "qr_code": created["qr_code"]}
    listed = control(fake, "contact_ways").json()["contact_ways"]
    assert [(w["corpid"], w["config_id"]) for w in listed] == [(CORPID, config_id)]


def test_mini_program_way_has_no_qr_code(fake: FakeWeComServer, token: str) -> None:
    created = add_way(fake, token, type=1, scene=1, style=1, user=["lisi"])
    assert errcode(created) == 0 and "qr_code" not in created
    way = api(fake, "externalcontact/get_contact_way", token, json={"config_id": created["config_id"]})
    assert way["contact_way"]["style"] == 1 and way["contact_way"]["skip_verify"] is True


@pytest.mark.parametrize(("way", "expected"), [
    ({"state": "s" * 31}, 40058),
    ({"remark": "r" * 31}, 40058),
    ({"type": 1, "user": ["lisi", "zhangsan"]}, 40058),
    ({"type": 1, "user": []}, 40058),
    ({"type": 1, "user": ["lisi"], "party": [2]}, 40058),
    ({"user": [], "party": []}, 40058),
    ({"is_temp": True}, 40058),
    ({"type": 3}, 41039),
    ({"scene": 3}, 41040),
    ({"style": "big"}, 41042),
    ({"user": ["lisi", "nobody"]}, 60111),
    ({"party": [99]}, 60123),
    ({"skip_verify": "yes"}, 40058),
])
def test_add_contact_way_errors(fake: FakeWeComServer, token: str, way: dict[str, Any], expected: int) -> None:
    assert errcode(add_way(fake, token, **way)) == expected
    assert control(fake, "contact_ways").json()["contact_ways"] == []


def test_add_contact_way_needs_type_and_scene(fake: FakeWeComServer, token: str) -> None:
    no_type = api(fake, "externalcontact/add_contact_way", token, json={"scene": 2, "user": ["lisi"]})
    no_scene = api(fake, "externalcontact/add_contact_way", token, json={"type": 2, "user": ["lisi"]})
    assert (errcode(no_type), errcode(no_scene)) == (41037, 41038)


def test_state_of_30_characters_is_accepted(fake: FakeWeComServer, token: str) -> None:
    assert errcode(add_way(fake, token, state="s" * 30, remark="r" * 30)) == 0


def test_contact_way_reaches_at_most_100_people(fake: FakeWeComServer, token: str) -> None:
    crowd = [{"corpid": CORPID, "userid": f"u{i:03}", "name": f"员工{i}", "department": [9]} for i in range(100)]
    control(fake, "seed", {"users": crowd})
    assert errcode(add_way(fake, token, user=[], party=[9])) == 0
    assert errcode(add_way(fake, token, user=["lisi"], party=[9])) == 41041
    assert errcode(add_way(fake, token, user=["lisi", *(user["userid"] for user in crowd)])) == 41041


def test_update_contact_way(fake: FakeWeComServer, token: str) -> None:
    config_id = add_way(fake, token)["config_id"]
    update = {"config_id": config_id, "state": "ch-43", "user": ["zhangsan"], "remark": "新海报", "type": 1}
    assert errcode(api(fake, "externalcontact/update_contact_way", token, json=update)) == 0
    way = api(fake, "externalcontact/get_contact_way", token, json={"config_id": config_id})["contact_way"]
    assert (way["type"], way["state"], way["user"], way["remark"]) == (2, "ch-43", ["zhangsan"], "新海报")
    too_long = {"config_id": config_id, "state": "s" * 31}
    assert errcode(api(fake, "externalcontact/update_contact_way", token, json=too_long)) == 40058
    stranger = {"config_id": config_id, "user": ["nobody"]}
    assert errcode(api(fake, "externalcontact/update_contact_way", token, json=stranger)) == 60111
    way = api(fake, "externalcontact/get_contact_way", token, json={"config_id": config_id})["contact_way"]
    assert (way["state"], way["user"]) == ("ch-43", ["zhangsan"])


@pytest.mark.parametrize("path", ["externalcontact/get_contact_way", "externalcontact/update_contact_way",
                                  "externalcontact/del_contact_way"])
def test_unknown_or_missing_config_id(fake: FakeWeComServer, token: str, path: str) -> None:
    unknown = api(fake, path, token, json={"config_id": "0" * 32, "state": "x"})
    assert (errcode(unknown), unknown["errmsg"]) == (41044, "invalid config_id")
    assert errcode(api(fake, path, token, json={"state": "x"})) == 41043


def test_del_contact_way(fake: FakeWeComServer, token: str) -> None:
    config_id = add_way(fake, token)["config_id"]
    assert errcode(api(fake, "externalcontact/del_contact_way", token, json={"config_id": config_id})) == 0
    assert errcode(api(fake, "externalcontact/get_contact_way", token, json={"config_id": config_id})) == 41044
    assert errcode(api(fake, "externalcontact/del_contact_way", token, json={"config_id": config_id})) == 41044
    assert control(fake, "contact_ways").json()["contact_ways"] == []


# -- scanning a contact way ------------------------------------------------------------------------------------

def test_scan_routes_to_the_first_user_and_issues_a_welcome_code(fake: FakeWeComServer, token: str) -> None:
    config_id = add_way(fake, token)["config_id"]
    response = scan(fake, config_id, "wmNEW", name="新客户")
    assert response.status_code == 200, response.text
    added = response.json()
    assert {key: added[key] for key in ("userid", "external_userid", "state")} == {
        "userid": "lisi", "external_userid": "wmNEW", "state": "ch-42"}
    customer = api(fake, "externalcontact/get", token, external_userid="wmNEW")
    assert customer["external_contact"]["name"] == "新客户"
    [follow] = customer["follow_user"]
    assert (follow["userid"], follow["state"], follow["add_way"]) == ("lisi", "ch-42", 1)
    assert abs(follow["createtime"] - time.time()) < 5
    assert errcode(send_welcome(fake, token, added["welcome_code"])) == 0
    [welcome] = control(fake, "welcomes").json()["welcomes"]
    assert (welcome["userid"], welcome["external_userid"]) == ("lisi", "wmNEW")


def test_rotation_is_done_by_rewriting_the_user_list(fake: FakeWeComServer, token: str) -> None:
    config_id = add_way(fake, token)["config_id"]
    assert scan(fake, config_id, "wm1").json()["userid"] == "lisi"
    api(fake, "externalcontact/update_contact_way", token, json={"config_id": config_id,
                                                                 "user": ["zhangsan", "lisi"]})
    assert scan(fake, config_id, "wm2").json()["userid"] == "zhangsan"


def test_scan_by_an_existing_customer_adds_a_follower(fake: FakeWeComServer, token: str) -> None:
    config_id = add_way(fake, token, type=1, user=["lisi"], state="")["config_id"]
    added = scan(fake, config_id, "wmABC").json()
    assert (added["userid"], added["state"]) == ("lisi", "")
    followers = api(fake, "externalcontact/get", token, external_userid="wmABC")["follow_user"]
    assert [follow["userid"] for follow in followers] == ["zhangsan", "lisi"]
    assert "state" not in followers[1]  # WeCom omits state when the way has none
    again = scan(fake, config_id, "wmABC")
    assert again.status_code == 400 and "already" in again.json()["error"]


def test_scan_of_a_department_only_way_and_bad_scans(fake: FakeWeComServer, token: str) -> None:
    config_id = add_way(fake, token, user=[], party=[2])["config_id"]
    assert scan(fake, config_id, "wmP").json()["userid"] == "lisi"  # first member of 2 and 3 by userid
    assert scan(fake, "0" * 32, "wmX").status_code == 400
    assert control(fake, f"contact_ways/{config_id}/scan", {"name": "no id"}).status_code == 400


def test_reset_forgets_tags_codes_and_ways(fake: FakeWeComServer, token: str) -> None:
    add_tags(fake, token, "VIP")
    config_id = add_way(fake, token)["config_id"]
    code = scan(fake, config_id, "wmNEW").json()["welcome_code"]
    assert requests.delete(f"{fake.url}/fake/state", timeout=5).json() == {"ok": True}
    control(fake, "seed", SEED)
    assert api(fake, "externalcontact/get_corp_tag_list", token, json={})["tag_group"] == []
    assert control(fake, "contact_ways").json()["contact_ways"] == []
    assert errcode(send_welcome(fake, token, code)) == 41050
    assert errcode(api(fake, "externalcontact/get", token, external_userid="wmNEW")) == 84061
