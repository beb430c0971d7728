"""Test support for WeChat customer service: drive the fake WeCom's customers (messages, events, paging) and
build the kf_msg_or_event callback WeCom sends when they write."""

from __future__ import annotations

from typing import Any

import requests

from support import CORP_ID
from wecom.fake.sender import render_sample


class FakeKf:
    """The customers' side of the fake WeCom's customer service, over HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url

    def write(self, open_kfid: str, *items: dict[str, Any]) -> dict[str, Any]:
        """Customers write (or WeCom files events); returns the callback Token, msgids and welcome codes."""
        r = requests.post(f"{self.url}/fake/kf/messages", json={"corpid": CORP_ID, "open_kfid": open_kfid,
                                                                 "messages": list(items)}, timeout=5)
        r.raise_for_status()
        return r.json()

    def paging(self, page_size: int, slow_page: int | None = None, delay: float = 0.0, times: int = 1) -> None:
        r = requests.post(f"{self.url}/fake/kf/paging", json={"page_size": page_size, "slow_page": slow_page,
                                                               "delay": delay, "times": times}, timeout=5)
        r.raise_for_status()

    def state(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/fake/kf/state", timeout=5).json()

    def conversation(self, open_kfid: str, external_userid: str) -> dict[str, Any]:
        return next(c for c in self.state()["conversations"]
                    if c["open_kfid"] == open_kfid and c["external_userid"] == external_userid)


def text(external_userid: str, content: str) -> dict[str, Any]:
    return {"external_userid": external_userid, "text": content}


def enter(external_userid: str, scene: str = "") -> dict[str, Any]:
    return {"external_userid": external_userid, "event": {"event_type": "enter_session", "scene": scene}}


def kf_callback(token: str, open_kfid: str, **fields: Any) -> str:
    """The decrypted kf_msg_or_event callback XML, as WeCom sends it after customers write."""
    return render_sample("kf_msg_or_event", corp_id=CORP_ID, Token=token, OpenKfId=open_kfid, **fields)
