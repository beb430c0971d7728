"""Signing a member in with WeCom's web OAuth2 (snsapi_base, doc 91022 / 91023): the one flow the sidebar
(web/sidebar/oauth.py) and the dashboard (web/admin/oauth.py) both use, each as a `Door` of its own (its
callback, its state cookie, its wording).

`authorize` sends the browser to WeCom's authorize URL (SCRM setting `sidebar_authorize_url`,
WECOM_OAUTH_AUTHORIZE_URL: the fake in tests) with appid = the corp id, the app's agentid, redirect_uri = the
door's callback and a random `state`, which a short-lived signed cookie binds to this browser. `returned`
checks WeCom's redirect back: the state against the cookie, used once (a replay, even with the cookie, is
refused), the code traded for the userid with auth/getuserinfo, and anyone who is not an active member of our
directory refused (a WeChat user only has an openid). What the door then grants is the door's business.

Which app: `?app=<slug>` names it (one URL per app in WeCom's console); without it the only self-built app
with an agent id is used.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import current_app, redirect, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from models import App, Corp
from web.auth import active_member
from web.sidebar.session import STATE_SECONDS, first_use, public_url, set_cookie, settings, sign, unsign
from wecom.client import WeComError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Door:
    """Where members sign in: `callback` (its endpoint), its state cookie (name and path), where a sign-in
    goes by default, what it is called and how to try again, in the member's language."""

    callback: str
    state_cookie: str
    cookie_path: str
    home: str
    name: str
    again: str


@dataclass(frozen=True)
class Member:
    """Who came back from WeCom, through which app, and the page they set out from."""

    corp_id: str
    userid: str
    app_pk: int
    agent_id: int
    next_path: str


@dataclass(frozen=True)
class Refusal:
    title: str
    text: str
    status: int


def signin_app(slug: str | None) -> tuple[int, str, int] | None:
    """(app pk, corp id, agent id) of the app to sign in through: the one `slug` names, else the only
    self-built app with an agent id; None when there is no such app or several."""
    query = select(App.id, Corp.corp_id, App.agent_id).join(Corp).where(App.kind == "agent",
                                                                       App.agent_id.is_not(None))
    if slug:
        query = query.where(App.slug == slug)
    with current_app.extensions["scrm"].Session() as s:
        apps = s.execute(query.limit(2)).all()
    return tuple(apps[0]) if len(apps) == 1 else None  # type: ignore[return-value]


def authorize(door: Door, app: tuple[int, str, int], next_path: str) -> Response:
    """Send the browser to WeCom to sign in through `app`, to come back to `next_path` (a page of the door)."""
    app_pk, corp_id, agent_id = app
    state = secrets.token_urlsafe(24)
    query = urlencode({"appid": corp_id, "redirect_uri": public_url(url_for(door.callback)),
                       "response_type": "code", "scope": "snsapi_base", "state": state, "agentid": agent_id})
    response = redirect(f"{settings().sidebar_authorize_url}?{query}#wechat_redirect", 302)
    set_cookie(response, door.state_cookie, sign("state", {"s": state, "a": app_pk, "n": next_path}), STATE_SECONDS,
               door.cookie_path)
    return response


def returned(door: Door) -> Member | Refusal:
    """WeCom's redirect back to the door's callback: state checked and spent, code traded for the member."""
    bound = unsign("state", request.cookies.get(door.state_cookie), STATE_SECONDS)
    state = request.args.get("state", "")
    if bound is None or not hmac.compare_digest(str(bound.get("s", "")).encode(), state.encode()):
        return Refusal("登录已失效", f"登录请求与本浏览器不符或已过期，{door.again}。", 400)
    if not first_use(f"state:{state}", STATE_SECONDS):
        return Refusal("登录已失效", f"这个登录请求已经用过，{door.again}。", 400)
    code = request.args.get("code", "")
    if not code:
        return Refusal("未能登录", f"企业微信没有返回登录凭证，{door.again}。", 400)
    runtime = current_app.extensions["scrm"]
    with runtime.Session() as s:
        app = s.execute(select(App.id, Corp.corp_id, App.agent_id).join(Corp).where(App.id == int(bound["a"]))).first()
    if app is None or app.agent_id is None:
        return Refusal("未能登录", f"{door.name}所属的应用已不存在。", 400)
    app_pk, corp_id, agent_id = app
    try:
        who = runtime.client_for_app(app_pk).get("auth/getuserinfo", params={"code": code})
    except WeComError as exc:
        log.info("%s sign-in: auth/getuserinfo answered %s", door.callback, exc.errcode)
        if exc.errcode == 40029:
            return Refusal("登录已失效", f"登录凭证无效或已使用，{door.again}。", 400)
        return Refusal("暂时无法登录", "企业微信暂时无法确认你的身份，请稍后再试。", 502)
    userid = who.get("userid")
    if not userid:  # a WeChat user (openid, maybe external_userid): the door is for the corp's members
        return Refusal("无权访问", f"{door.name}仅供本企业成员使用。", 403)
    if not active_member(corp_id, userid):
        return Refusal("无权访问", "你不在本企业的通讯录中（或已离职），请联系管理员同步通讯录。", 403)
    next_path = str(bound.get("n") or door.home)
    return Member(corp_id, userid, app_pk, agent_id,
                  next_path if next_path.startswith(door.home) else door.home)


def done(response: Response, door: Door) -> Response:
    """The sign-in's state cookie, spent, off the browser."""
    response.delete_cookie(door.state_cookie, path=door.cookie_path)
    return response
