"""Signing in to the dashboard through WeCom (扫码/网页登录, 004 §1.2.1) instead of an API token: the sidebar's
OAuth flow (web/sidebar/signin.py) with the dashboard's own callback and state cookie. On the way back the
member must be an active member of our directory whose system is on (系统状态, §1.2.3: 【关闭系统】的员工无法登录)
and whose roles may read the dashboard's figures (web/access.py `can`: read on `stats`); anyone else gets the
sign-in page again with a 403 that says why. The session is the token login's cookie (web/admin/session.py),
holding the member instead of a token, so the page's API reads are the member's: their roles and data scope.

The callback answers a page that moves on to /admin/ rather than a redirect: the session cookie is
SameSite=Strict, and a browser does not send it on a redirect chain that started at WeCom's site.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, g, render_template, request

from models import Role
from models.access import SYSTEM_OFF, system_on
from web.access import can
from web.admin import session
from web.admin.views import bp
from web.auth import Principal
from web.sidebar.signin import Door, Refusal, authorize, done, returned, signin_app

log = logging.getLogger(__name__)
ADMIN = Door(callback="admin.oauth_callback", state_cookie="scrm_admin_state", cookie_path="/admin/oauth",
             home="/admin/", name="仪表盘", again="请重新登录仪表盘")
DASHBOARD_AREA = "stats"
"""The admin API area whose read permission lets a member into the dashboard (its figures are /stats/*)."""


def refused(text: str, status: int) -> tuple[str, int]:
    return render_template("admin/login.html", error=text), status


@bp.get("/login/wecom")
def wecom_sign_in() -> Any:
    """Send the browser to WeCom to sign in (`?app=<slug>` names the self-built app when there are several)."""
    app = signin_app(request.args.get("app"))
    if app is None:
        return refused("找不到用于登录的自建应用：请在地址中用 ?app=应用标识 指明。", 400)
    return authorize(ADMIN, app, ADMIN.home)


@bp.get("/oauth/callback")
def oauth_callback() -> Any:
    """WeCom's redirect back: the member checked (directory, system status, roles), the session set."""
    member = returned(ADMIN)
    if isinstance(member, Refusal):
        return refused(f"{member.title}：{member.text}", member.status)
    with current_app.extensions["scrm"].Session() as s:
        on = system_on(s, member.corp_id, member.userid)
    if not on:
        return refused(SYSTEM_OFF, 403)
    g.principal = Principal(member.userid, Role.member.value, member.userid, member.corp_id, via="wecom")
    if not can(DASHBOARD_AREA, "read"):
        return refused("无权访问：你的角色没有查看数据统计的权限，请联系管理员。", 403)
    log.info("dashboard sign-in through WeCom: %s of %s", member.userid, member.corp_id)
    response = current_app.make_response(render_template("admin/signed_in.html", next_path=member.next_path))
    session.start_member(response, member.corp_id, member.userid)
    return done(response, ADMIN)
