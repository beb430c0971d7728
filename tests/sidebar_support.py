"""Sidebar test support: a corp with two members and their customers, and signing in to the sidebar the way
a browser does (the app's redirect, the fake WeCom's authorize page over HTTP, the app's callback)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import select

from models import Customer, Staff, Tag
from support import CORP_ID, SECRET
from wecom.client import WeComClient

ADD = "change_external_contact/add_external_contact"


def build_world(sender: Any, client: Any, runtime: Any, fake_url: str, admin: dict[str, str]) -> dict[str, int]:
    """客户等级 (A级, B级) in WeCom and here; zhangsan follows wmCustomer0001, lisi wmCustomer0002; both are
    active members of our directory."""
    wecom = WeComClient(CORP_ID, SECRET, f"{fake_url}/cgi-bin/")
    wecom.post("externalcontact/add_corp_tag", data={"group_name": "客户等级",
                                                     "tag": [{"name": "A级", "order": 2}, {"name": "B级", "order": 1}]})
    assert client.post("/api/v1/tags/sync", headers=admin).status_code == 202
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan")
    sender.post(ADD, ExternalUserID="wmCustomer0002", UserID="lisi")
    with runtime.Session() as s:  # the callbacks brought the two members into our directory
        assert set(s.scalars(select(Staff.userid).where(Staff.status == "active"))) == {"zhangsan", "lisi"}
        ids = dict(s.execute(select(Tag.name, Tag.id)).all())
        ids.update(s.execute(select(Customer.external_userid, Customer.id)).all())
        return ids


def choose(fake_url: str, **who: str) -> None:
    """Who WeCom's client says is looking (userid: a member; openid: a WeChat user)."""
    requests.post(f"{fake_url}/fake/oauth/user", json={"corpid": CORP_ID, **who}, timeout=5).raise_for_status()


def authorize(client: Any, path: str = "/sidebar/") -> str:
    """Open `path` without a session and follow the app's redirect to the fake's authorize page: the
    callback URL (path and query) WeCom sends the browser back to."""
    r = client.get(path)
    assert r.status_code == 302, r.get_data(as_text=True)
    back = requests.get(r.headers["Location"], allow_redirects=False, timeout=5)
    assert back.status_code == 302, back.text
    parts = urlsplit(back.headers["Location"])
    return f"{parts.path}?{parts.query}"


def sign_in(client: Any, fake_url: str, userid: str = "zhangsan", path: str = "/sidebar/") -> str:
    """Sign `userid` in; the CSRF token of their session (read from the page, as its script does)."""
    choose(fake_url, userid=userid)
    r = client.get(authorize(client, path))
    assert r.status_code == 302, r.get_data(as_text=True)
    page = client.get("/sidebar/").get_data(as_text=True)
    return page.split('name="csrf-token" content="')[1].split('"')[0]
