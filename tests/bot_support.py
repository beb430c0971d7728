"""Talking to the bot as a staff member would: an encrypted app text callback through the sender, and the
passive reply decrypted back with the app's CallbackCrypto."""

from __future__ import annotations

import itertools
from typing import Any

import requests

from support import Sender
from wecom.crypto import CallbackCrypto, parse_xml

ADD = "change_external_contact/add_external_contact"
_MSG_IDS = itertools.count(7300000000000100000)


def next_msg_id() -> int:
    return next(_MSG_IDS)


def passive_text(crypto: CallbackCrypto, response: Any, to_user: str) -> str | None:
    """The text of the passive reply in `response`, checked the way WeCom checks it (signature, corp id,
    addressee); None for an empty 200. `response` is Flask's test response or a `requests` one."""
    body = response.content if isinstance(response, requests.Response) else response.data
    assert response.status_code == 200, body
    if not body:
        return None
    envelope = parse_xml(body)
    plaintext = crypto.decrypt(body, envelope.findtext("MsgSignature"), envelope.findtext("TimeStamp"),
                               envelope.findtext("Nonce"))
    reply = parse_xml(plaintext)
    assert (reply.findtext("ToUserName"), reply.findtext("FromUserName"), reply.findtext("MsgType")) == (
        to_user, crypto.corp_id, "text")
    return reply.findtext("Content")


class Bot:
    """`bot.ask("/客户 王小明")` → the answer zhangsan sees."""

    def __init__(self, sender: Sender, crypto: CallbackCrypto) -> None:
        self.sender = sender
        self.crypto = crypto

    def xml(self, text: str, userid: str = "zhangsan", msg_id: int | None = None) -> str:
        return self.sender.xml("message/text", Content=text, FromUserName=userid, MsgId=msg_id or next_msg_id())

    def say(self, text: str, userid: str = "zhangsan") -> Any:
        return self.sender.post_xml(self.xml(text, userid))

    def ask(self, text: str, userid: str = "zhangsan") -> str | None:
        return passive_text(self.crypto, self.say(text, userid), userid)
