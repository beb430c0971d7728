"""Shared by the unit and integration tests of the customer-contact path: a sales team in the fake WeCom, and
WeCom's side of a customer adding a member (scanning a 联系我 code, WelcomeCodes, delivered welcomes)."""

from __future__ import annotations

from typing import Any

import requests

from support import CORP_ID, FakeWeCom

ADD = "change_external_contact/add_external_contact"
ADD_HALF = "change_external_contact/add_half_external_contact"
DEL_BY_STAFF = "change_external_contact/del_external_contact"
LOST = "change_external_contact/del_follow_user"
TRANSFER_FAIL = "change_external_contact/transfer_fail"
LEFT = "change_contact/delete_user"

# zhangsan's manager is boss (WeCom's direct_leader); wangwu is the usual backup member.
TEAM = {"users": [
    {"corpid": CORP_ID, "userid": "zhangsan", "name": "张三", "department": [1], "status": 1,
     "direct_leader": ["boss"]},
    {"corpid": CORP_ID, "userid": "zhaoliu", "name": "赵六", "department": [1], "status": 1},
    {"corpid": CORP_ID, "userid": "wangwu", "name": "王五", "department": [1], "status": 1},
    {"corpid": CORP_ID, "userid": "boss", "name": "老板", "department": [1], "status": 1},
]}


def scan(fake: FakeWeCom, config_id: str, external_userid: str, name: str) -> dict[str, Any]:
    """A WeChat user scans the code: the fake adds them to the member it routes to and issues the
    WelcomeCode the add_external_contact event carries. Returns userid, external_userid, state, welcome_code."""
    r = requests.post(f"{fake.url}/fake/contact_ways/{config_id}/scan",
                      json={"external_userid": external_userid, "name": name}, timeout=5)
    r.raise_for_status()
    return r.json()


def issue_welcome_code(fake: FakeWeCom, userid: str, external_userid: str) -> str:
    """A WelcomeCode for an add that came by no code (the customer already exists in the fake)."""
    r = requests.post(f"{fake.url}/fake/welcome_codes",
                      json={"corpid": CORP_ID, "userid": userid, "external_userid": external_userid}, timeout=5)
    r.raise_for_status()
    return r.json()["code"]


def welcomes(fake: FakeWeCom) -> list[dict[str, Any]]:
    """The welcome messages the fake delivered (code, userid, external_userid, text, attachments)."""
    return requests.get(f"{fake.url}/fake/welcomes", timeout=5).json()["welcomes"]


def contact_way(fake: FakeWeCom, config_id: str) -> dict[str, Any]:
    """The 联系我 way as the fake holds it now (its `user` list is what a scan routes by)."""
    ways = requests.get(f"{fake.url}/fake/contact_ways", timeout=5).json()["contact_ways"]
    return next(w for w in ways if w["config_id"] == config_id)


def add_fields(hit: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The add_external_contact fields WeCom sends after the scan `hit`."""
    return {"UserID": hit["userid"], "ExternalUserID": hit["external_userid"], "State": hit["state"],
            "WelcomeCode": hit["welcome_code"], **extra}


def code_body(tag_ids: list[int], **overrides: Any) -> dict[str, Any]:
    """POST /api/v1/channel-codes: a round-robin multi-staff code with a backup, tags and a welcome."""
    return {"kind": "multi", "name": "展会活码", "channel": "展会", "scene": "展台", "members": ["zhangsan", "lisi"],
            "backups": ["wangwu"], "assign_mode": "round_robin", "tag_ids": tag_ids,
            "welcome": {"text": "你好 #nickname#，我是你的专属顾问"}, **overrides}
