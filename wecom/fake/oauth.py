"""The fake's web sign-in (OAuth2, snsapi_base) and JS-SDK tickets, as a sidebar page meets them.

- ``GET /connect/oauth2/authorize`` plays open.weixin.qq.com: WeCom's client knows who is looking, so the
  fake is told (``POST /fake/oauth/user``: a member's userid, or a WeChat user's openid) and redirects back
  to ``redirect_uri`` with a fresh ``code`` and the ``state`` it was given.
- ``auth/getuserinfo`` trades a code for ``{"userid"}`` (a member) or ``{"openid"}`` (anyone else). A code is
  single-use and dies 5 minutes after it was issued (40029 either way), and only the corp it was issued for
  may trade it (doc 91023 / 98177).
- ``get_jsapi_ticket`` and ``ticket/get?type=agent_config`` issue tickets that live 7200 s; WeCom allows an
  app 100 of each an hour (45009 past that, doc 90506 / 96909).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

from flask import Flask, Response, redirect, request
from werkzeug.wrappers import Response as WerkzeugResponse

from wecom.fake.call import Call, bad_request, corpid_of
from wecom.fake.errors import WeComError

CODE_TTL = 300.0
"""Doc 91023: 'code只能使用一次，5分钟未被使用自动过期'."""
TICKET_TTL = 7200
TICKETS_PER_APP_HOUR = 100
"""Doc 96909: 一小时内，一个企业最多可获取400次，且单个应用不能超过100次."""
INVALID_CODE = 40029
MISSING_CODE = 41008


class _Server(Protocol):
    state: Any


@dataclass
class _Code:
    corpid: str
    userid: str
    openid: str
    issued: float
    used: bool = False


class OAuthState:
    """Who signs in next per corp, the codes issued, and the tickets handed out; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[str, dict[str, str]] = {}  # corpid -> {"userid"} or {"openid"}
        self._codes: dict[str, _Code] = {}
        self._tickets: list[dict[str, Any]] = []

    def reset(self) -> None:
        with self._lock:
            self._users.clear()
            self._codes.clear()
            self._tickets.clear()

    def choose(self, corpid: str, who: dict[str, str]) -> None:
        with self._lock:
            self._users[corpid] = who

    def issue_code(self, corpid: str, who: dict[str, str] | None = None) -> str | None:
        """A code for `who` (else the corp's chosen user); None when nobody was chosen."""
        with self._lock:
            who = who or self._users.get(corpid)
            if not who:
                return None
            code = secrets.token_urlsafe(32)
            self._codes[code] = _Code(corpid, who.get("userid", ""), who.get("openid", ""), time.time())
            return code

    def age(self, seconds: float) -> None:
        """Make every issued code `seconds` older (tests reach the 5-minute expiry without waiting)."""
        with self._lock:
            for code in self._codes.values():
                code.issued -= seconds

    def redeem(self, corpid: str, code: str) -> dict[str, str]:
        with self._lock:
            found = self._codes.get(code)
            if found is None or found.used or found.corpid != corpid or time.time() - found.issued > CODE_TTL:
                raise WeComError(INVALID_CODE, "invalid code")
            found.used = True
        return {"userid": found.userid} if found.userid else {"openid": found.openid}

    def issue_ticket(self, kind: str, corpid: str, agentid: int | None) -> str:
        now = time.time()
        with self._lock:
            recent = [t for t in self._tickets if t["kind"] == kind and t["corpid"] == corpid
                      and t["agentid"] == agentid and now - t["at"] < 3600]
            if len(recent) >= TICKETS_PER_APP_HOUR:
                raise WeComError(45009, "api freq out of limit")
            ticket = secrets.token_urlsafe(48)
            self._tickets.append({"kind": kind, "corpid": corpid, "agentid": agentid, "ticket": ticket, "at": now})
            return ticket

    def tickets(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._tickets)


# -- /cgi-bin/ endpoints (listed in server.py's ENDPOINTS) -----------------------------------------------------
def getuserinfo(server: _Server, call: Call) -> dict[str, Any]:
    code = call.args.get("code")
    if not code:
        raise WeComError(MISSING_CODE, "missing code")
    return server.state.oauth.redeem(corpid_of(call), code)


def get_jsapi_ticket(server: _Server, call: Call) -> dict[str, Any]:
    return {"ticket": server.state.oauth.issue_ticket("jsapi", corpid_of(call), call.agentid),
            "expires_in": TICKET_TTL}


def ticket_get(server: _Server, call: Call) -> dict[str, Any]:
    if call.args.get("type") != "agent_config":
        raise WeComError(40058, "invalid type: only agent_config")  # errcode our guess: 不合法的参数
    return {"ticket": server.state.oauth.issue_ticket("agent_config", corpid_of(call), call.agentid),
            "expires_in": TICKET_TTL}


# -- open.weixin.qq.com and the control routes ----------------------------------------------------------------
def add_oauth_routes(app: Flask, state: Any) -> None:
    """The authorize page and the /fake/oauth control routes."""

    @app.get("/connect/oauth2/authorize")
    def authorize() -> WerkzeugResponse | tuple[Response, int]:
        args = request.args
        corpid, target = args.get("appid", ""), args.get("redirect_uri", "")
        agents = state.agents(corpid)
        if agents is None:
            return bad_request("appid: not a corp the fake knows (WeCom shows '参数错误')")
        if args.get("response_type") != "code" or args.get("scope") != "snsapi_base" or not target:
            return bad_request("needs response_type=code, scope=snsapi_base and redirect_uri")
        agentid = args.get("agentid")
        if agentid is not None and (not agentid.isdigit() or int(agentid) not in agents):
            return bad_request(f"agentid {agentid} is not an app of {corpid}")
        chosen = {k: args[k] for k in ("userid", "openid") if args.get(k)}  # a direct choice, for manual use
        code = state.oauth.issue_code(corpid, chosen or None)
        if code is None:
            return bad_request("nobody to sign in: POST /fake/oauth/user {corpid, userid|openid} first")
        query = {"code": code, **({"state": args["state"]} if args.get("state") else {})}
        return redirect(f"{target}{'&' if '?' in target else '?'}{urlencode(query)}", 302)

    @app.post("/fake/oauth/user")
    def choose_user() -> dict[str, Any] | tuple[Response, int]:
        spec = request.get_json(force=True, silent=True)
        who = {k: spec[k] for k in ("userid", "openid") if isinstance(spec, dict) and isinstance(spec.get(k), str)}
        if not isinstance(spec, dict) or not isinstance(spec.get("corpid"), str) or len(who) != 1:
            return bad_request("needs 'corpid' and one of 'userid' (a member) or 'openid' (not a member)")
        state.oauth.choose(spec["corpid"], who)
        return {"ok": True}

    @app.post("/fake/oauth/age")
    def age_codes() -> dict[str, Any] | tuple[Response, int]:
        spec = request.get_json(force=True, silent=True)
        seconds = spec.get("seconds") if isinstance(spec, dict) else None
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            return bad_request("'seconds' must be a non-negative number")
        state.oauth.age(float(seconds))
        return {"ok": True}

    @app.get("/fake/tickets")
    def list_tickets() -> dict[str, Any]:
        return {"tickets": state.oauth.tickets()}
