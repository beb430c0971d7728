"""Bearer API tokens and roles for the admin API.

A token is shown once, when created, and only its SHA-256 is stored. Roles are ordered
super_admin > admin > member; a member token is tied to one staff member and sees only the customers
that member follows (ARCHITECTURE.md, Admin API).
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

from flask import current_app, g, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ApiToken, Role
from models.auth import record_audit
from web.errors import ApiError

RANK = {Role.member.value: 0, Role.admin.value: 1, Role.super_admin.value: 2}


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    userid: str | None
    corp_id: str | None

    @property
    def is_member(self) -> bool:
        return self.role == Role.member.value


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, name: str, role: str, userid: str | None = None,
                 corp_id: str | None = None) -> str:
    """Store a new token and return it in clear (the only time it exists in clear)."""
    if role not in RANK:
        raise ValueError(f"role must be one of {', '.join(RANK)}")
    if role == Role.member.value and not userid:
        raise ValueError("a member token needs the staff member's userid")
    token = "scrm_" + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, role=role, token_hash=hash_token(token), userid=userid, corp_id=corp_id))
    return token


def _principal() -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "unauthorized", "send 'Authorization: Bearer <token>'")
    with current_app.extensions["scrm"].Session() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token.strip())))
    if row is None or row.revoked_at is not None:
        raise ApiError(401, "unauthorized", "unknown or revoked token")
    return Principal(row.name, row.role, row.userid, row.corp_id)


def require(role: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Guard a view: the caller's token must have `role` or a higher one."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            principal = _principal()
            if RANK[principal.role] < RANK[role.value]:
                raise ApiError(403, "forbidden", f"needs the {role.value} role")
            g.principal = principal
            return view(*args, **kwargs)

        guarded.role = role.value  # type: ignore[attr-defined]  (for the OpenAPI document)
        return guarded

    return decorate


def audit(session: Session, action: str, target: str, **detail: Any) -> None:
    """Record a change made through the API, by whom; in the caller's transaction."""
    record_audit(session, f"token:{g.principal.name}", action, target, **detail)
