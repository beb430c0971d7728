"""The answer to each bot command, one per inbox row: proof that the command ran (a replayed or retried
callback finds it and does not run the command again) and the text a retried callback is answered with."""

from __future__ import annotations

import enum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk


class ReplyVia(enum.StrEnum):
    passive = "passive"  # in the callback's HTTP answer, encrypted
    message = "message"  # later, by message/send from a job (outbox `bot_message`)


class BotReply(Base):
    __tablename__ = "bot_replies"

    id: Mapped[intpk]
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inbox.id"), unique=True)
    corp_id: Mapped[str] = mapped_column(String(64))
    userid: Mapped[str] = mapped_column(String(64))
    command: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    via: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[created_at]
