"""Signing in to the sidebar with WeCom's web OAuth2 (snsapi_base, doc 91022 / 91023).

A page without a session redirects to WeCom's authorize URL (SCRM setting `sidebar_authorize_url`: the fake
in tests) with appid = the corp id, the app's agentid, redirect_uri = `/sidebar/oauth/callback` and a random
`state`, which a short-lived signed cookie binds to this browser. WeCom sends the browser back with a
`code`; the callback checks the state against the cookie and uses it once (a replay, even with the cookie,
is refused), trades the code for the userid with auth/getuserinfo, refuses anyone who is not an active
member of our directory (a WeChat user only has an openid), and sets the session (web/sidebar/session.py).

Which app: the sidebar is a self-built app's page. `?app=<slug>` names it (one URL per app in WeCom's
console); without it the only self-built app with an agent id is used.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any
from urllib.parse import urlencode

from flask import current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response
from sqlalchemy import select

from models import App, Corp, Staff
from web.sidebar.blueprint import bp
from web.sidebar.session import (STATE_COOKIE, STATE_SECONDS, first_use, public_url, set_cookie, settings, sign,
                                 start_session, unsign)
from wecom.client import WeComError

log = logging.getLogger(__name__)


def message(title: str, text: str, status: int) -> tuple[str, int]:
    """A page that tells the member what went wrong, in their language, and what to do."""
    return render_template("sidebar/message.html", title=title, text=text), status


def _app(slug: str | None) -> tuple[int, str, int] | None:
    """(app pk, corp id, agent id) of the sidebar's app: the one `slug` names, else the only self-built
    app with an agent id; None when there is no such app or several."""
    query = select(App.id, Corp.corp_id, App.agent_id).join(Corp).where(App.kind == "agent",
                                                                       App.agent_id.is_not(None))
    if slug:
        query = query.where(App.slug == slug)
    with current_app.extensions["scrm"].Session() as s:
        apps = s.execute(query.limit(2)).all()
    return tuple(apps[0]) if len(apps) == 1 else None  # type: ignore[return-value]


def sign_in_redirect() -> Any:
    """Send the browser to WeCom to sign in, to come back to this page."""
    app = _app(request.args.get("app"))
    if app is None:
        return message("无法登录", "找不到侧边栏所属的自建应用：请在侧边栏地址中用 ?app=应用标识 指明。", 400)
    app_pk, corp_id, agent_id = app
    state = secrets.token_urlsafe(24)
    query = urlencode({"appid": corp_id, "redirect_uri": public_url(url_for("sidebar.oauth_callback")),
                       "response_type": "code", "scope": "snsapi_base", "state": state, "agentid": agent_id})
    response = redirect(f"{settings().sidebar_authorize_url}?{query}#wechat_redirect", 302)
    cookie = sign("state", {"s": state, "a": app_pk, "n": request.full_path.rstrip("?")})
    set_cookie(response, STATE_COOKIE, cookie, STATE_SECONDS, "/sidebar/oauth")
    return response


@bp.get("/oauth/callback")
def oauth_callback() -> Any:
    """WeCom's redirect back: state checked and spent, code traded for the member, session set."""
    bound = unsign("state", request.cookies.get(STATE_COOKIE), STATE_SECONDS)
    state = request.args.get("state", "")
    if bound is None or not hmac.compare_digest(str(bound.get("s", "")).encode(), state.encode()):
        return message("登录已失效", "登录请求与本浏览器不符或已过期，请从企业微信重新打开侧边栏。", 400)
    if not first_use(f"state:{state}", STATE_SECONDS):
        return message("登录已失效", "这个登录请求已经用过，请从企业微信重新打开侧边栏。", 400)
    code = request.args.get("code", "")
    if not code:
        return message("未能登录", "企业微信没有返回登录凭证，请重新打开侧边栏。", 400)
    runtime = current_app.extensions["scrm"]
    with runtime.Session() as s:
        app = s.execute(select(App.id, Corp.corp_id, App.agent_id).join(Corp).where(App.id == int(bound["a"]))).first()
    if app is None or app.agent_id is None:
        return message("未能登录", "侧边栏所属的应用已不存在。", 400)
    app_pk, corp_id, agent_id = app
    try:
        who = runtime.client_for_app(app_pk).get("auth/getuserinfo", params={"code": code})
    except WeComError as exc:
        log.info("sidebar sign-in: auth/getuserinfo answered %s", exc.errcode)
        if exc.errcode == 40029:
            return message("登录已失效", "登录凭证无效或已使用，请从企业微信重新打开侧边栏。", 400)
        return message("暂时无法登录", "企业微信暂时无法确认你的身份，请稍后再试。", 502)
    userid = who.get("userid")
    if not userid:  # a WeChat user (openid, maybe external_userid): the sidebar is for the corp's members
        return message("无权访问", "侧边栏仅供本企业成员使用。", 403)
    with runtime.Session() as s:
        status = s.scalar(select(Staff.status).where(Staff.corp_id == corp_id, Staff.userid == userid))
    if status != "active":
        return message("无权访问", "你不在本企业的通讯录中（或已离职），请联系管理员同步通讯录。", 403)
    next_path = str(bound.get("n") or "/sidebar/")
    response: Response = redirect(next_path if next_path.startswith("/sidebar/") else "/sidebar/", 302)
    start_session(response, corp_id, userid, app_pk, agent_id)
    response.delete_cookie(STATE_COOKIE, path="/sidebar/oauth")
    return response
