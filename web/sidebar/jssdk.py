"""`GET /sidebar/api/js-config?url=<page url>`: what a page needs for wx.config (the corp's jsapi_ticket,
get_jsapi_ticket) and wx.agentConfig (the app's ticket, ticket/get?type=agent_config), signed as WeCom's
JS-SDK 签名算法 says (developer.work.weixin.qq.com/document/path/96909):

    sha1("jsapi_ticket=" + ticket + "&noncestr=" + nonce + "&timestamp=" + seconds + "&url=" + url)

with the url as the page has it, without its #fragment, not URL-encoded. Tickets live 7200 s and WeCom allows
an app 100 fetches an hour: they are kept in the cache the access token uses (wecom/client.py `shared`:
Redis for every process, refreshed by one at a time; a process-local store without Redis)."""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, g, jsonify
from pydantic import Field

from web.endpoint import endpoint
from web.errors import ApiError
from web.schemas.common import Out, Query
from web.sidebar import session
from web.sidebar.blueprint import bp
from wecom.client import WeComError


class JsConfigQuery(Query):
    url: str = Field(min_length=8, max_length=2048, description="the page's location.href (a #fragment is dropped)")


class Signature(Out):
    timestamp: int
    nonceStr: str  # noqa: N815  (the JS-SDK's own spelling)
    signature: str


class JsConfig(Out):
    url: str = Field(description="the url signed: the page's, without its #fragment")
    appId: str = Field(description="wx.config's appId: the corp id")  # noqa: N815
    agentid: int = Field(description="wx.agentConfig's agentid")
    config: Signature = Field(description="for wx.config / ww.register getConfigSignature (corp jsapi_ticket)")
    agentConfig: Signature = Field(description="for wx.agentConfig / getAgentConfigSignature (agent ticket)")  # noqa: N815


def signature(ticket: str, nonce: str, timestamp: int, url: str) -> str:
    """The JS-SDK signature of `url` (its #fragment already removed)."""
    plain = f"jsapi_ticket={ticket}&noncestr={nonce}&timestamp={timestamp}&url={url}"
    return hashlib.sha1(plain.encode()).hexdigest()  # noqa: S324  (WeCom's algorithm, not our choice)


def _signed(ticket: str, url: str) -> dict[str, Any]:
    timestamp, nonce = int(time.time()), secrets.token_hex(8)
    return {"timestamp": timestamp, "nonceStr": nonce, "signature": signature(ticket, nonce, timestamp, url)}


@bp.get("/api/js-config")
@session.api
@endpoint("JS-SDK signatures for one sidebar page (wx.config and wx.agentConfig)", query=JsConfigQuery,
          response=JsConfig)
def js_config(query: JsConfigQuery) -> Any:
    url = query.url.split("#", 1)[0]
    parts, ours = urlsplit(url), urlsplit(session.public_url("/"))
    if (parts.scheme, parts.netloc) != (ours.scheme, ours.netloc):
        raise ApiError(400, "bad_request", "url: a page of this service (its location.href)")
    me = g.sidebar
    client = current_app.extensions["scrm"].client_for_app(me.app_pk)
    try:
        corp_ticket, agent_ticket = client.jsapi_ticket(), client.agent_ticket()
    except WeComError as exc:
        raise ApiError(502, "wecom_unavailable", f"WeCom did not give a JS-SDK ticket ({exc.errcode})") from None
    return jsonify({"url": url, "appId": me.corp_id, "agentid": me.agent_id, "config": _signed(corp_ticket, url),
                    "agentConfig": _signed(agent_ticket, url)})
