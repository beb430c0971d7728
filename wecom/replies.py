"""Passive replies: the XML a self-built app's callback may answer with instead of an empty 200 (doc 90241
被动回复消息格式), before `CallbackCrypto.encrypt_reply` wraps it in the encrypted envelope.

Text goes in CDATA as in WeCom's samples; a `]]>` inside the text is split across two CDATA sections so
no content can close the element early.
"""

from __future__ import annotations


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(to_user: str, corp_id: str, content: str, create_time: int) -> str:
    """A text reply to member `to_user` from the corp's app."""
    return (f"<xml><ToUserName>{_cdata(to_user)}</ToUserName><FromUserName>{_cdata(corp_id)}</FromUserName>"
            f"<CreateTime>{int(create_time)}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content>{_cdata(content)}</Content></xml>")
