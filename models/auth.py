"""API tokens for the admin HTTP API, and the audit log every change is written to."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class Role(enum.StrEnum):
    super_admin = "super_admin"
    admin = "admin"
    member = "member"


class ApiToken(Base):
    """Only the SHA-256 of a token is stored: a leaked DB does not leak working tokens.

    A member token names the staff member (`userid`) whose customers it may see.
    """

    __tablename__ = "api_tokens"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    corp_id: Mapped[str | None] = mapped_column(String(64))
    userid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[created_at]
    revoked_at: Mapped[dt.datetime | None]


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[intpk]
    at: Mapped[created_at]
    actor: Mapped[str] = mapped_column(String(96))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(191))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


def record_audit(session: Session, actor: str, action: str, target: str, **detail: Any) -> None:
    """Write who changed what, in the caller's transaction (API: `token:<name>`, CLI: `cli:<os user>`)."""
    session.add(AuditLog(actor=actor, action=action, target=target, detail=detail))
