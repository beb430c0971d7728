"""API tokens for the admin HTTP API, and the audit log every change is written to."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import Index, String, select
from sqlalchemy.orm import Mapped, mapped_column

from models.corp import Corp
from models.db import Base, created_at, intpk, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class Role(enum.StrEnum):
    super_admin = "super_admin"
    admin = "admin"
    member = "member"


class ApiToken(Base):
    """Only the SHA-256 of a token is stored: a leaked DB does not leak working tokens.

    A member token names the staff member (`userid`) whose customers it may see. Userids are unique only
    within a corp, so a token naming a userid is bound to that userid's corp (`corp_id`). A token is
    refused once `expires_at` has passed or `revoked_at` is set; the row stays for the audit trail.
    """

    __tablename__ = "api_tokens"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    corp_id: Mapped[str | None] = mapped_column(String(64))
    userid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[created_at]
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    def status(self, now: dt.datetime | None = None) -> str:
        """`active`, `expired` or `revoked`."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or utcnow()):
            return "expired"
        return "active"

    def public(self) -> dict[str, object]:
        """What the API and `token list` show: never the token, nor its hash."""
        def iso(at: dt.datetime | None) -> str | None:
            return at.isoformat() if at else None

        return {"id": self.id, "name": self.name, "role": self.role, "corp_id": self.corp_id,
                "userid": self.userid, "created_at": iso(self.created_at), "expires_at": iso(self.expires_at),
                "revoked_at": iso(self.revoked_at), "status": self.status()}


class AuditLog(Base):
    """One change. `corp_id`: the corp it was made in (None: made by a corp-less token or before the
    column existed); `area`: what the action is about, its part before the first dot (`customer.update`
    → `customer`), for the audit log's filter."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"), Index("ix_audit_log_corp_at", "corp_id", "at"))

    id: Mapped[intpk]
    at: Mapped[created_at]
    actor: Mapped[str] = mapped_column(String(96))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(191))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    corp_id: Mapped[str | None] = mapped_column(String(64))
    area: Mapped[str] = mapped_column(String(64), default="")


def audit_area(action: str) -> str:
    return action.split(".", 1)[0]


def record_audit(session: Session, actor: str, action: str, target: str, *, corp_id: str | None = None,
                 **detail: Any) -> None:
    """Write who changed what, in the caller's transaction (API: `token:<name>`, CLI: `cli:<os user>`), in
    `corp_id`'s log when given."""
    session.add(AuditLog(actor=actor, action=action, target=target, detail=detail, corp_id=corp_id,
                         area=audit_area(action)))


def configured_corps(session: Session) -> list[str]:
    """At most two configured corp ids: enough to tell none, one and several apart."""
    return list(session.scalars(select(Corp.corp_id).order_by(Corp.id).limit(2)))


def sole_corp(session: Session) -> str | None:
    """The corp id when exactly one corp is configured, else None (none yet, or several).

    A token that names no corp is unambiguous only then: userids are unique within a corp, not across
    corps, so "member zhangsan" means someone only when there is one corp to look in."""
    corps = configured_corps(session)
    return corps[0] if len(corps) == 1 else None
