"""Bearer API tokens and roles for the admin API.

A token is shown once, when created, and only its SHA-256 is stored. Roles are ordered
super_admin > admin > member; a member token is tied to one staff member and sees and does what that
member's roles allow (web/access.py: the 基础角色, without roles, is the customers that member follows);
`require` checks a member's 系统状态 and the route's area and action (docs/ARCHITECTURE.md, Admin API).

Corps: a token with a `corp_id` reads and writes that corp only. Userids are unique only within a corp,
so a token naming a userid needs its corp: `create_token` pins it to the only corp there is, and refuses
when several exist; a corp-less member token from before that rule is used with the only corp, and
refused (403) once there are several. Admin and super_admin tokens without a corp act on every corp.

Expiry: a token may carry `expires_at`; an expired or revoked token is answered 401.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

from flask import current_app, g, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ApiToken, Role, Staff
from models.auth import configured_corps, record_audit, sole_corp
from models.db import utcnow
from web.access import check_member
from web.errors import ApiError

RANK = {Role.member.value: 0, Role.admin.value: 1, Role.super_admin.value: 2}
MAX_NAME = 64  # api_tokens.name
DEFAULT_EXPIRES_IN = "90d"
_DURATION = re.compile(r"([1-9][0-9]{0,4})([dhm])")
_UNIT = {"d": dt.timedelta(days=1), "h": dt.timedelta(hours=1), "m": dt.timedelta(minutes=1)}


@dataclass(frozen=True)
class Principal:
    """Who calls: `corp_id` is the corp every read and write is bound to (None: every corp, for an admin
    or super_admin token issued for all corps; never None for a member)."""

    name: str
    role: str
    userid: str | None
    corp_id: str | None
    via: str = "token"
    """The door: `token` (the admin API), `sidebar` (a member signed in through WeCom, web/sidebar/) or `wecom`
    (a member signed in to the dashboard through WeCom, web/admin/oauth.py)."""

    @property
    def is_member(self) -> bool:
        return self.role == Role.member.value

    @property
    def actor(self) -> str:
        """Who the audit log and the timeline name: `token:<name>`, `sidebar:<userid>` or `wecom:<userid>`."""
        return f"{self.via}:{self.name}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def expiry(expires_in: str | None, expires_at: str | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """When a new token stops working: `expires_in` (`90d`, `12h`, `30m`, or `never`) or `expires_at`
    (ISO 8601, UTC unless it says otherwise); neither: DEFAULT_EXPIRES_IN. ValueError names the mistake."""
    now = now or utcnow()
    if expires_in is not None and expires_at is not None:
        raise ValueError("give expires_in or expires_at, not both")
    if expires_at is not None:
        try:
            at = dt.datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("expires_at must be an ISO 8601 time, e.g. 2027-03-01T00:00:00Z") from None
        at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
        if at <= now:
            raise ValueError("expires_at is in the past")
        return at
    text = DEFAULT_EXPIRES_IN if expires_in is None else expires_in.strip()
    if text == "never":
        return None
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError("expires_in must be a number of days, hours or minutes (90d, 12h, 30m) or never")
    return now + int(match[1]) * _UNIT[match[2]]


def issue_token(session: Session, name: str, role: str, userid: str | None = None, corp_id: str | None = None,
                expires_at: dt.datetime | None = None) -> tuple[ApiToken, str]:
    """Store a new token: (its row, the token in clear, the only time it exists in clear).

    A token naming a userid is bound to a corp: the one given, else the only corp configured; with
    several corps and none given it is refused (ValueError), as "zhangsan" then names nobody in particular."""
    if role not in RANK:
        raise ValueError(f"role must be one of {', '.join(RANK)}")
    if not name or len(name) > MAX_NAME:
        raise ValueError(f"name must be 1 to {MAX_NAME} characters")
    if role == Role.member.value and not userid:
        raise ValueError("a member token needs the staff member's userid")
    if userid and not corp_id:
        corps = configured_corps(session)
        if len(corps) > 1:
            raise ValueError("several corps are configured: a token naming a userid needs its corp "
                             "(--corp-id, or corp_id in the API): userids are unique only within a corp")
        corp_id = corps[0] if corps else None
    token = "scrm_" + secrets.token_urlsafe(32)
    row = ApiToken(name=name, role=role, token_hash=hash_token(token), userid=userid, corp_id=corp_id,
                   expires_at=expires_at)
    session.add(row)
    session.flush()
    return row, token


def create_token(session: Session, name: str, role: str, userid: str | None = None,
                 corp_id: str | None = None, expires_at: dt.datetime | None = None) -> str:
    """`issue_token`, for callers that only want the token in clear."""
    return issue_token(session, name, role, userid, corp_id, expires_at)[1]


def revoke_token(session: Session, token_id: int) -> ApiToken | None:
    """Revoke a token (kept, with when); revoking it again changes nothing. None when there is no such token."""
    row = session.get(ApiToken, token_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def _principal() -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        return principal_for(hash_token(token.strip()))
    from web.admin.session import read_session  # the dashboard's sign-in stands for its caller on reads

    signed_in = None if header else read_session()
    if signed_in is None:
        raise ApiError(401, "unauthorized", "send 'Authorization: Bearer <token>'")
    return session_principal(signed_in)


def session_principal(signed_in: Any) -> Principal:
    """The caller a dashboard session (web/admin/session.py) stands for: its API token's, or the member it
    signed in through WeCom (web/admin/oauth.py), while they are an active member of the directory (else 401)."""
    if signed_in.token_hash is not None:
        return principal_for(signed_in.token_hash)
    if not active_member(signed_in.corp_id, signed_in.userid):
        raise ApiError(401, "unauthorized", "no longer an active member: sign in again")
    return Principal(signed_in.userid, Role.member.value, signed_in.userid, signed_in.corp_id, via="wecom")


def active_member(corp_id: str, userid: str) -> bool:
    """Is `userid` an active member of the corp's directory (a member who left loses every session at once)?"""
    with current_app.extensions["scrm"].Session() as s:
        return s.scalar(select(Staff.status).where(Staff.corp_id == corp_id, Staff.userid == userid)) == "active"


def principal_for(token_hash: str) -> Principal:
    """The caller the token with this SHA-256 is, if it is active (else 401)."""
    with current_app.extensions["scrm"].Session() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))
        if row is None:
            raise ApiError(401, "unauthorized", "unknown token")
        status = row.status()
        if status != "active":
            raise ApiError(401, "unauthorized", f"this token is {status}")
        corp_id = row.corp_id
        if corp_id is None and row.role == Role.member.value:
            corp_id = sole_corp(s)
            if corp_id is None:
                raise ApiError(403, "forbidden", "this member token names no corp and this install does not have "
                                                 "exactly one: create a member token with --corp-id")
    return Principal(row.name, row.role, row.userid, corp_id)


def check_body_size(limit: int | None = None) -> None:
    """The admin API's request-size limit (413; `limit`, else SCRM_API_MAX_BODY_BYTES). A declared length
    over it is refused before anything is read; a body without one (chunked) is read up to one byte past
    the limit and kept for the view, as werkzeug's own max_content_length would cut it short silently (then
    a 400 for broken JSON, not a 413)."""
    limit = limit or current_app.extensions["scrm"].settings.api_max_body_bytes
    too_large = ApiError(413, "too_large", f"the request body is over {limit} bytes")
    if (request.content_length or 0) > limit:
        raise too_large
    if not request.content_length and request.method not in ("GET", "HEAD"):
        request.max_content_length = limit + 1
        if len(request.get_data(cache=True)) > limit:
            raise too_large


def require(role: Role, max_body: int | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Guard a view: the caller's token must have `role` or a higher one. The guarded view carries
    `required_role`, so tests can walk the url map and check every route against every role. `max_body`:
    this view's request-size limit, for one that takes files (default: SCRM_API_MAX_BODY_BYTES)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            check_body_size(max_body)
            principal = _principal()
            if RANK[principal.role] < RANK[role.value]:
                raise ApiError(403, "forbidden", f"needs the {role.value} role")
            g.principal = principal
            if principal.is_member:
                with current_app.extensions["scrm"].Session() as s:
                    check_member(s)
            return view(*args, **kwargs)

        guarded.required_role = role  # type: ignore[attr-defined]
        return guarded

    return decorate


def audit(session: Session, action: str, target: str, *, corp_id: str | None = None, **detail: Any) -> None:
    """Record a change made through the API, by whom, in the corp it was made in (`corp_id`, else the token's);
    in the caller's transaction."""
    record_audit(session, g.principal.actor, action, target, corp_id=corp_id or g.principal.corp_id, **detail)
