"""The inbox: every accepted callback, stored before it is acknowledged, processed at most once."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.mysql import MEDIUMTEXT
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, UTCDateTime, intpk, utcnow


class InboxStatus(enum.StrEnum):
    received = "received"
    processed = "processed"
    failed = "failed"
    unhandled = "unhandled"
    invalid = "invalid"
    """Signed and decrypted, but no usable event (malformed XML, elements where text is expected, a
    CreateTime that is no time): stored with the reason in `error`, never processed until replayed."""


INVALID_ROUTING_KEY = "invalid"
"""The routing key of an `invalid` row: there is no event to take one from."""


class Inbox(Base):
    """One decrypted callback.

    `dedup_key` is unique per corp: WeCom retries a callback it got no 200 for, and the same event can
    reach two apps of one corp; either way the corp must see it once.
    """

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("corp_id", "dedup_key"),
        Index("ix_inbox_status_received_at", "status", "received_at"),
        Index("ix_inbox_routing_key_received_at", "routing_key", "received_at"),
    )

    id: Mapped[intpk]
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    corp_id: Mapped[str] = mapped_column(String(64))
    dedup_key: Mapped[str] = mapped_column(String(96))
    routing_key: Mapped[str] = mapped_column(String(96))
    raw_xml: Mapped[str] = mapped_column(Text().with_variant(MEDIUMTEXT(), "mysql"))
    status: Mapped[str] = mapped_column(String(16), default=InboxStatus.received.value)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[dt.datetime | None]

    def public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "corp_id": self.corp_id,
            "routing_key": self.routing_key,
            "status": self.status,
            "error": self.error,
            "attempts": self.attempts,
            "received_at": self.received_at.isoformat(),
            "processed_at": self.processed_at.isoformat() if self.processed_at else None,
        }
