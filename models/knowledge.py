"""The knowledge base (知识库, 004 §6.1): the corp's library (公共知识库, `owner_userid` None) and each
member's own (个人知识库), each holding three kinds: `qa` 话术库 (a question with similar questions and one
answer, attachments from the material library), `phrase` 常用语 (just the answer) and `link` 常用链接 (a
name, `question`, and a `url`). The customer-service bot answers only from the corp's `qa` items
(rules/knowledge.py); the sidebar's 快捷回复 page sends any of them and counts the use (`uses`, 使用次数;
`hits` counts the bot's answers)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk, utcnow

MAX_ANSWER_CHARS = 300
"""004 §6.1.1.1.2: 答案 最多300个汉字."""


class KnowledgeItem(Base):
    __tablename__ = "knowledge_items"
    __table_args__ = (Index("ix_knowledge_items_corp_id_enabled", "corp_id", "enabled"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(String(128))
    similar: Mapped[list[Any]] = mapped_column(default=list)
    answer: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(16), default="qa")
    owner_userid: Mapped[str | None] = mapped_column(String(64))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("library_categories.id"))
    url: Mapped[str | None] = mapped_column(String(2048))
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    """Material ids (image, video, file, miniprogram, link), sent after the answer."""
    sort: Mapped[int] = mapped_column(default=0)
    uses: Mapped[int] = mapped_column(default=0)
    enabled: Mapped[bool] = mapped_column(default=True)
    hits: Mapped[int] = mapped_column(default=0)
    deleted_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "owner_userid": self.owner_userid, "question": self.question,
                "similar": list(self.similar), "answer": self.answer, "url": self.url, "category": self.category,
                "category_id": self.category_id, "attachments": list(self.attachments), "sort": self.sort,
                "enabled": self.enabled, "hits": self.hits, "uses": self.uses,
                "updated_at": self.updated_at.isoformat()}
