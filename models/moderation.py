"""Conversation oversight (manual 004 §7.2-7.4, §9.3, §9.5, §9.13, §10.2): sensitive-word rules and the
alerts they raise, reply timeouts, the working-hours calendar they count in, message templates and staff
broadcasts.

An alert and a timeout point at the stored message (`messages.id`) they are about, and are unique per
(message, rule, word) and (message, staff member): the scan and the timeout job may run again over the
same message and must not record it twice.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk, utcnow


class SensitiveCategory(enum.StrEnum):
    """§7.3.2: 正面 / 中立 / 负面 (the default)."""

    positive = "positive"
    neutral = "neutral"
    negative = "negative"


class ReviewStatus(enum.StrEnum):
    """§7.4.2: an alert is reviewed as a real violation or a false alarm (and may be reviewed again)."""

    pending = "pending"
    confirmed = "confirmed"
    dismissed = "dismissed"


class BroadcastStatus(enum.StrEnum):
    scheduled = "scheduled"  # waits for its send_at (jobs/broadcasts.py)
    pending = "pending"
    sent = "sent"
    failed = "failed"


class SensitiveRule(Base):
    """A named word list (敏感规则). New rules start disabled (§7.3.1: 每个规则创建完之后默认关闭)."""

    __tablename__ = "sensitive_rules"
    __table_args__ = (Index("ix_sensitive_rules_corp_id_enabled", "corp_id", "enabled"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(32))
    words: Mapped[list[Any]] = mapped_column(default=list)
    category: Mapped[str] = mapped_column(String(16), default=SensitiveCategory.negative.value)
    enabled: Mapped[bool] = mapped_column(default=False)
    hits: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[str] = mapped_column(String(96), default="")
    deleted_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "corp_id": self.corp_id, "name": self.name, "words": list(self.words),
                "category": self.category, "enabled": self.enabled, "hits": self.hits,
                "created_by": self.created_by, "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat()}


class SensitiveAlert(Base):
    """A word of a rule found in a stored message, who was told, and the review (§7.4)."""

    __tablename__ = "sensitive_alerts"
    __table_args__ = (
        UniqueConstraint("message_pk", "rule_pk", "word"),
        Index("ix_sensitive_alerts_corp_id_at", "corp_id", "at"),
    )

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    rule_pk: Mapped[int] = mapped_column(ForeignKey("sensitive_rules.id"))
    word: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(16))
    userid: Mapped[str | None] = mapped_column(String(64))
    external_userid: Mapped[str | None] = mapped_column(String(64))
    notified: Mapped[list[Any]] = mapped_column(default=list)
    at: Mapped[dt.datetime]
    review_status: Mapped[str] = mapped_column(String(16), default=ReviewStatus.pending.value)
    review_note: Mapped[str] = mapped_column(Text, default="")
    reviewed_by: Mapped[str | None] = mapped_column(String(96))
    reviewed_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]


class ModerationSettings(Base):
    """Who hears about alerts (§9.3.1: custom staff, and the member who triggered it), the reply limit in
    working minutes (§9.3.2; 0 is off), and the timeout job's progress. `rules_stamp` is new (a random
    token, never reused, unlike a counter on a re-created row) after every rule change, so a process
    rebuilds its word matcher only when the words changed."""

    __tablename__ = "moderation_settings"

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64), unique=True)
    rules_stamp: Mapped[str] = mapped_column(String(32), default="")
    alert_userids: Mapped[list[Any]] = mapped_column(default=list)
    alert_notify_sender: Mapped[bool] = mapped_column(default=False)
    reply_timeout_minutes: Mapped[int] = mapped_column(default=0)
    reply_timeout_notify: Mapped[bool] = mapped_column(default=True)
    timeouts_checked_until: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def public(self) -> dict[str, Any]:
        return {"corp_id": self.corp_id, "alert_userids": list(self.alert_userids),
                "alert_notify_sender": self.alert_notify_sender, "reply_timeout_minutes": self.reply_timeout_minutes,
                "reply_timeout_notify": self.reply_timeout_notify}


class WorkCalendar(Base):
    """The corp's working hours (§10.2), in the form rules/working_hours.py parses."""

    __tablename__ = "work_calendars"

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64), unique=True)
    week: Mapped[dict[str, Any]] = mapped_column(default=dict)
    holidays: Mapped[list[Any]] = mapped_column(default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReplyTimeout(Base):
    """A customer message the staff member did not answer within the limit, counted in working time
    (§7.2). `replied_at` is the late answer, when there was one by the time the job looked."""

    __tablename__ = "reply_timeouts"
    __table_args__ = (
        UniqueConstraint("message_pk", "userid"),
        Index("ix_reply_timeouts_corp_id_message_at", "corp_id", "message_at"),
    )

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    userid: Mapped[str] = mapped_column(String(64))
    external_userid: Mapped[str | None] = mapped_column(String(64))
    open_kfid: Mapped[str | None] = mapped_column(String(64))
    limit_minutes: Mapped[int]
    message_at: Mapped[dt.datetime]
    due_at: Mapped[dt.datetime]
    replied_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "message_id": self.message_pk, "userid": self.userid,
                "external_userid": self.external_userid, "open_kfid": self.open_kfid,
                "limit_minutes": self.limit_minutes, "message_at": self.message_at.isoformat(),
                "due_at": self.due_at.isoformat(),
                "replied_at": self.replied_at.isoformat() if self.replied_at else None}


class MessageTemplate(Base):
    """§9.13: an app-message body with {{variables}} (rules/templates.py). An enabled template is read-only."""

    __tablename__ = "message_templates"
    __table_args__ = (Index("ix_message_templates_corp_id_category", "corp_id", "category"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))
    msgtype: Mapped[str] = mapped_column(String(32))
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)
    variables: Mapped[list[Any]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(String(96), default="")
    deleted_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "corp_id": self.corp_id, "name": self.name, "category": self.category,
                "msgtype": self.msgtype, "body": self.body, "variables": list(self.variables),
                "enabled": self.enabled, "created_by": self.created_by, "created_at": self.created_at.isoformat()}


class Broadcast(Base):
    """§9.5 员工消息下发: one app message to chosen staff (userids, departments) and WeCom's answer: the
    recipients it refused (invaliduser, invalidparty) or the error that stopped the send."""

    __tablename__ = "broadcasts"
    __table_args__ = (Index("ix_broadcasts_corp_id_created_at", "corp_id", "created_at"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    name: Mapped[str] = mapped_column(String(64))
    template_pk: Mapped[int | None] = mapped_column(ForeignKey("message_templates.id"))
    template_values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    userids: Mapped[list[Any]] = mapped_column(default=list)
    departments: Mapped[list[Any]] = mapped_column(default=list)
    msgtype: Mapped[str] = mapped_column(String(32))
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=BroadcastStatus.pending.value)
    msgid: Mapped[str | None] = mapped_column(String(128))
    invalid_users: Mapped[list[Any]] = mapped_column(default=list)
    invalid_parties: Mapped[list[Any]] = mapped_column(default=list)
    unlicensed_users: Mapped[list[Any] | None] = mapped_column(default=list)
    """Recipients WeCom names in `unlicenseduser`: no licence (接口许可), so they got nothing."""
    error: Mapped[str | None] = mapped_column(String(255))
    send_at: Mapped[dt.datetime | None]
    """A scheduled broadcast's time (UTC); null: sent when created."""
    created_by: Mapped[str] = mapped_column(String(96), default="")
    created_at: Mapped[created_at]
    sent_at: Mapped[dt.datetime | None]

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "corp_id": self.corp_id, "name": self.name, "template_id": self.template_pk,
                "values": self.template_values, "userids": list(self.userids), "departments": list(self.departments),
                "msgtype": self.msgtype, "body": {k: v for k, v in self.body.items() if k != "storage_key"},
                "status": self.status, "msgid": self.msgid,
                "invalid_users": list(self.invalid_users), "invalid_parties": list(self.invalid_parties),
                "unlicensed_users": list(self.unlicensed_users or []), "error": self.error,
                "created_by": self.created_by, "created_at": self.created_at.isoformat(),
                "sent_at": self.sent_at.isoformat() if self.sent_at else None,
                "send_at": self.send_at.isoformat() if self.send_at else None}
