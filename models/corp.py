"""Corps and their WeCom apps: the credentials a callback URL and an API client are built from."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.chunk import memo
from models.db import Base, created_at, intpk, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class AppKind(enum.StrEnum):
    """WeCom app kinds: self-built app, customer-contact (客户联系) and customer service (微信客服)."""

    agent = "agent"
    contact = "contact"
    kf = "kf"


class Corp(Base):
    __tablename__ = "corps"

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    created_at: Mapped[created_at]

    apps: Mapped[list[App]] = relationship(back_populates="corp")


class App(Base):
    """One WeCom app; `slug` names it in the callback URL `/wecom/callback/<slug>`.

    token, aes_key and secret are secrets: never logged and never returned by the API.
    """

    __tablename__ = "apps"

    id: Mapped[intpk]
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    corp_pk: Mapped[int] = mapped_column(ForeignKey("corps.id"))
    kind: Mapped[str] = mapped_column(String(16), default=AppKind.agent.value)
    token: Mapped[str] = mapped_column(String(64))
    aes_key: Mapped[str] = mapped_column(String(64))
    secret: Mapped[str] = mapped_column(String(128))
    agent_id: Mapped[int | None]
    credentials_error: Mapped[str | None] = mapped_column(String(255))
    """Set when gettoken refused the secret (40001): no call is made with it until the secret changes."""
    credentials_error_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    corp: Mapped[Corp] = relationship(back_populates="apps", lazy="joined")

    def public(self) -> dict[str, object]:
        """The fields the admin API may show; the credentials stay out."""
        return {
            "id": self.slug,
            "corp_id": self.corp.corp_id,
            "kind": self.kind,
            "agent_id": self.agent_id,
            "callback_path": f"/wecom/callback/{self.slug}",
            "credentials": "broken" if self.credentials_error else "ok",
            "credentials_error": self.credentials_error,
            "credentials_broken_at": self.credentials_error_at.isoformat() if self.credentials_error_at else None,
            "created_at": self.created_at.isoformat(),
        }


def save_app(session: Session, fields: dict[str, Any]) -> App:
    """Create or update the app `fields["slug"]`, creating its corp on first sight. Fields must have
    passed `rules.apps.app_errors`."""
    from sqlalchemy import select

    from models.db import get_or_create

    corp, _ = get_or_create(session, Corp, {"corp_id": fields["corp_id"]})
    app = session.scalar(select(App).where(App.slug == fields["slug"]))
    if app is None:
        app = App(slug=fields["slug"])
        session.add(app)
    app.corp = corp
    app.kind = fields.get("kind") or AppKind.agent.value
    app.token = fields["token"]
    app.aes_key = fields["aes_key"]
    if app.secret != fields["secret"]:  # a new secret gets its chance (the same one stays refused)
        app.credentials_error = app.credentials_error_at = None
    app.secret = fields["secret"]
    agent_id = fields.get("agent_id")
    app.agent_id = int(agent_id) if agent_id not in (None, "") else None
    session.flush()
    return app


def mark_credentials_broken(session: Session, corp_id: str, secret: str, reason: str) -> list[str]:
    """Mark every app of `corp_id` using `secret` as having broken credentials; returns their slugs."""
    apps = session.scalars(select(App).join(Corp).where(Corp.corp_id == corp_id, App.secret == secret)).all()
    for app in apps:
        if app.credentials_error is None:
            app.credentials_error, app.credentials_error_at = reason[:255], utcnow()
    return [app.slug for app in apps]


def messaging_app(session: Session, corp_id: str, prefer_pk: int | None = None) -> tuple[int, int] | None:
    """(app pk, agentid) of the app that sends staff messages: message/send needs an agentid, and contact
    events may come through a 客户联系 app that has none. `prefer_pk` (the app an event came through) wins
    when it has one, then a self-built app; None when no app of the corp can send. Read once per
    process_inbox chunk (models/chunk.py)."""
    rows = memo(session, ("messaging_apps", corp_id), lambda: session.execute(select(App.id, App.kind, App.agent_id)
                .join(Corp).where(Corp.corp_id == corp_id, App.agent_id.is_not(None))).all())
    if not rows:
        return None
    chosen = min(rows, key=lambda a: (a.id != prefer_pk, a.kind != AppKind.agent.value, a.id))
    return chosen.id, int(chosen.agent_id)
