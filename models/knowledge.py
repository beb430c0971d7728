"""The knowledge base (知识库 话术库, 004 §6.1): questions with similar questions and one answer, which the
customer-service bot answers from (rules/knowledge.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Index, String, Text
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
    enabled: Mapped[bool] = mapped_column(default=True)
    hits: Mapped[int] = mapped_column(default=0)
    deleted_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "question": self.question, "similar": list(self.similar), "answer": self.answer,
                "category": self.category, "enabled": self.enabled, "hits": self.hits,
                "updated_at": self.updated_at.isoformat()}
