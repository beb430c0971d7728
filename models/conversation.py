"""Conversation messages, whatever door they came through: WeChat customer service (kf/sync_msg) or the
self-built app (callbacks). One table so conversation search and sensitive-word scanning read one place.

`msgid` is unique per corp: kf/sync_msg pages may be fetched again after a crash, and a message must be
stored once (docs/PROTOCOL.md §4, "Dedupe synced messages on msgid"). Messages the service itself sends (bot
answers) are stored too, under the msgid it gave WeCom, because sync_msg never returns API-sent messages.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, UTCDateTime, created_at, intpk


class MessageSource(enum.StrEnum):
    kf = "kf"
    app = "app"


class MessageOrigin(enum.StrEnum):
    """Who wrote it. kf/sync_msg's `origin` is 3 customer, 4 system event, 5 servicer; `bot` is us."""

    customer = "customer"
    system = "system"
    servicer = "servicer"
    bot = "bot"


KF_ORIGINS = {3: MessageOrigin.customer, 4: MessageOrigin.system, 5: MessageOrigin.servicer}


class Message(Base):
    """One message or event. `content` is the searchable text (text messages; empty for media), `raw` the
    whole payload as WeCom sent it. `userid` is the staff member involved: the kf servicer, or the app user.
    `session_pk` ties a kf message to its service session (kf_sessions.id)."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("corp_id", "msgid"),
        Index("ix_messages_corp_id_send_time", "corp_id", "send_time"),
        Index("ix_messages_external_userid", "external_userid"),
        Index("ix_messages_session_pk", "session_pk"),
    )

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(8))
    msgid: Mapped[str] = mapped_column(String(128))
    open_kfid: Mapped[str | None] = mapped_column(String(64))
    external_userid: Mapped[str | None] = mapped_column(String(64))
    userid: Mapped[str | None] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(16))
    msgtype: Mapped[str] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    send_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    session_pk: Mapped[int | None] = mapped_column(ForeignKey("kf_sessions.id"))
    created_at: Mapped[created_at]

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id, "source": self.source, "msgid": self.msgid, "open_kfid": self.open_kfid,
            "external_userid": self.external_userid, "userid": self.userid, "origin": self.origin,
            "msgtype": self.msgtype, "content": self.content, "send_time": self.send_time.isoformat(),
        }
