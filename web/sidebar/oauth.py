"""Signing in to the sidebar with WeCom's web OAuth2 (the flow is web/sidebar/signin.py's, shared with the
dashboard): a page without a session redirects to WeCom's authorize URL with redirect_uri =
`/sidebar/oauth/callback`; the callback sets the session (web/sidebar/session.py) for an active member of our
directory and sends the browser back to the page it set out from.

Which app: the sidebar is a self-built app's page. `?app=<slug>` names it (one URL per app in WeCom's
console); without it the only self-built app with an agent id is used.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request
from werkzeug.wrappers import Response

from web.sidebar.blueprint import bp
from web.sidebar.session import STATE_COOKIE, start_session
from web.sidebar.signin import Door, Refusal, authorize, done, returned, signin_app

SIDEBAR = Door(callback="sidebar.oauth_callback", state_cookie=STATE_COOKIE, cookie_path="/sidebar/oauth",
               home="/sidebar/", name="侧边栏", again="请从企业微信重新打开侧边栏")


def message(title: str, text: str, status: int) -> tuple[str, int]:
    """A page that tells the member what went wrong, in their language, and what to do."""
    return render_template("sidebar/message.html", title=title, text=text), status


def sign_in_redirect() -> Any:
    """Send the browser to WeCom to sign in, to come back to this page."""
    app = signin_app(request.args.get("app"))
    if app is None:
        return message("无法登录", "找不到侧边栏所属的自建应用：请在侧边栏地址中用 ?app=应用标识 指明。", 400)
    return authorize(SIDEBAR, app, request.full_path.rstrip("?"))


@bp.get("/oauth/callback")
def oauth_callback() -> Any:
    """WeCom's redirect back: state checked and spent, code traded for the member, session set."""
    member = returned(SIDEBAR)
    if isinstance(member, Refusal):
        return message(member.title, member.text, member.status)
    response: Response = redirect(member.next_path, 302)
    start_session(response, member.corp_id, member.userid, member.app_pk, member.agent_id)
    return done(response, SIDEBAR)
