"""WeChat customer service (微信客服, 004 §12): accounts, their servicers and scenes, the sync cursor per
account, service sessions, and the corp's conversation rules (§9.8).

Account, servicer and scene rows are our intent; WeCom objects are made by outbox jobs, so a row is
`pending` until its job has the WeCom answer (open_kfid, scene url).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, UTCDateTime, created_at, intpk, utcnow

MAX_ACCOUNTS_PER_CORP = 10
"""004 §12.1.2: 最多 10 个客服账号 (the product's limit; WeCom itself now allows more)."""


class AssignRule(enum.StrEnum):
    """004 §12.1.2 分配规则: 轮流分配, 空闲分配, 优先分配给上次接待的人员."""

    round_robin = "round_robin"
    least_busy = "least_busy"
    last_receptionist = "last_receptionist"


class SessionState(enum.StrEnum):
    """Our names for WeCom's service_state 0-4. `bot` is ours alone: the knowledge base answers through
    the API while WeCom keeps the session in 0 (未处理), which is where WeCom has the API answer directly
    (jobs/kf_send.py kf_send_text says why we do not move it to 1). `lapsing` is ours too: a session that
    should end but that WeCom lets the API end only from 3 (handlers/kf_sessions.py), so WeCom holds it open
    (in 0, 1 or 2) until it ends it itself 48 h after the customer's last message."""

    new = "new"
    bot = "bot"
    queue = "queue"
    human = "human"
    lapsing = "lapsing"
    ended = "ended"


class RowStatus(enum.StrEnum):
    pending = "pending"
    active = "active"
    failed = "failed"
    deauthorised = "deauthorised"  # kf_account_auth_change took the account from our app: no more syncing


class KfAccount(Base):
    """One customer-service account. `max_sessions` caps each servicer's concurrent human sessions;
    `rr_next` is the round-robin pointer into the servicers sorted by userid."""

    __tablename__ = "kf_accounts"
    __table_args__ = (UniqueConstraint("corp_id", "open_kfid"), Index("ix_kf_accounts_corp_id", "corp_id"))

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    open_kfid: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(16))
    media_id: Mapped[str] = mapped_column(String(128))
    rule: Mapped[str] = mapped_column(String(24), default=AssignRule.round_robin.value)
    max_sessions: Mapped[int] = mapped_column(default=10)
    welcome_text: Mapped[str] = mapped_column(Text, default="")
    rr_next: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default=RowStatus.pending.value)
    error: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ServicerStatus(enum.StrEnum):
    """kf/servicer/list status 0 接待中, 1 停止接待; plus ours: pending while kf/servicer/add runs, failed when
    WeCom refused it, removing while kf/servicer/del runs (the row goes when it succeeds)."""

    pending = "pending"
    receiving = "receiving"
    stopped = "stopped"
    failed = "failed"
    removing = "removing"


class KfServicer(Base):
    __tablename__ = "kf_servicers"
    __table_args__ = (UniqueConstraint("account_pk", "userid"),)

    id: Mapped[intpk]
    account_pk: Mapped[int] = mapped_column(ForeignKey("kf_accounts.id"))
    userid: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=ServicerStatus.pending.value)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_at]


class KfScene(Base):
    """A scene (场景) with its own link from kf/add_contact_way; `scene` comes back in enter_session."""

    __tablename__ = "kf_scenes"
    __table_args__ = (UniqueConstraint("account_pk", "scene"),)

    id: Mapped[intpk]
    account_pk: Mapped[int] = mapped_column(ForeignKey("kf_accounts.id"))
    name: Mapped[str] = mapped_column(String(64))
    scene: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(512), default="")
    status: Mapped[str] = mapped_column(String(16), default=RowStatus.pending.value)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_at]


class KfCursor(Base):
    """Where kf/sync_msg stands for one account, plus the sync lock when there is no Redis.

    `cursor` is written in the same transaction as the page of messages it follows. `token` is the latest
    callback Token (valid 10 min). `requested` counts callbacks; a sync runs again if it moved while it
    worked, so a callback that arrives mid-sync is never lost. `sync_outbox_id` is the kf_sync row serving
    the account: while it is pending, a callback only bumps `requested` instead of planning a sync of its
    own, so a burst of messages costs one sync, not one per message. `locked_by`/`locked_until` are the DB
    lock (a lease that expires, so a killed worker's lock frees itself). `deauthorised_at`: a
    kf_account_auth_change took the account from our app, so callbacks plan no sync and a planned sync
    stops; an AuthAdd clears it. On this row because the callback reads it anyway."""

    __tablename__ = "kf_cursors"
    __table_args__ = (UniqueConstraint("corp_id", "open_kfid"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    open_kfid: Mapped[str] = mapped_column(String(64))
    cursor: Mapped[str] = mapped_column(String(64), default="")
    token: Mapped[str] = mapped_column(String(128), default="")
    requested: Mapped[int] = mapped_column(default=0)
    sync_outbox_id: Mapped[int | None]
    locked_by: Mapped[str | None] = mapped_column(String(64))
    locked_until: Mapped[dt.datetime | None]
    synced_at: Mapped[dt.datetime | None]
    deauthorised_at: Mapped[dt.datetime | None]


class KfSession(Base):
    """One service session of one customer with one account (12.2.2): our own `session_id`, WeCom's state,
    the receptionist, counts, first response and duration (first to last message, §9.8.2). `app_pk` is the app
whose secret talks to WeCom about it (the one its callbacks came to), also for accounts made in WeCom's console."""

    __tablename__ = "kf_sessions"
    __table_args__ = (
        Index("ix_kf_sessions_lookup", "corp_id", "open_kfid", "external_userid", "state"),
        Index("ix_kf_sessions_state_last_message_at", "state", "last_message_at"),
        Index("ix_kf_sessions_started_at", "started_at"),
        # the staff analysis (web/stats_staff.py): sessions by receptionist and start
        Index("ix_kf_sessions_corp_servicer_started", "corp_id", "servicer_userid", "started_at"),
    )

    id: Mapped[intpk]
    session_id: Mapped[str] = mapped_column(String(32), unique=True)
    corp_id: Mapped[str] = mapped_column(String(64))
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    account_pk: Mapped[int | None] = mapped_column(ForeignKey("kf_accounts.id"))
    open_kfid: Mapped[str] = mapped_column(String(64))
    external_userid: Mapped[str] = mapped_column(String(64))
    scene: Mapped[str] = mapped_column(String(32), default="")
    state: Mapped[str] = mapped_column(String(8), default=SessionState.new.value)
    servicer_userid: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    queued_at: Mapped[dt.datetime | None]
    assigned_at: Mapped[dt.datetime | None]
    first_response_at: Mapped[dt.datetime | None]
    last_message_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(16))
    customer_msgs: Mapped[int] = mapped_column(default=0)
    staff_msgs: Mapped[int] = mapped_column(default=0)
    bot_msgs: Mapped[int] = mapped_column(default=0)
    end_msg_code: Mapped[str | None] = mapped_column(String(128))

    @property
    def duration_seconds(self) -> int:
        return int((self.last_message_at - self.started_at).total_seconds())

    @property
    def first_response_seconds(self) -> int | None:
        if self.first_response_at is None:
            return None
        return max(0, int((self.first_response_at - self.started_at).total_seconds()))

    def public(self) -> dict[str, Any]:
        def iso(value: dt.datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id, "session_id": self.session_id, "open_kfid": self.open_kfid,
            "external_userid": self.external_userid, "scene": self.scene, "state": self.state,
            "servicer_userid": self.servicer_userid, "started_at": iso(self.started_at),
            "assigned_at": iso(self.assigned_at), "ended_at": iso(self.ended_at), "end_reason": self.end_reason,
            "customer_msgs": self.customer_msgs, "staff_msgs": self.staff_msgs, "bot_msgs": self.bot_msgs,
            "first_response_seconds": self.first_response_seconds, "duration_seconds": self.duration_seconds,
        }


DEFAULT_CLOSING_WORDS = ["再见", "拜拜", "谢谢", "谢谢你", "好的谢谢", "没有了", "没问题了"]
DEFAULT_HANDOVER_WORDS = ["人工", "转人工", "人工客服"]


class KfSettings(Base):
    """Per-corp conversation rules: closing words (§9.8.1), minutes of silence that end a session
    (§9.8.2), the end message, the hand-over words and the bot's confidence threshold."""

    __tablename__ = "kf_settings"

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64), unique=True)
    closing_words: Mapped[list[Any]] = mapped_column(default=lambda: list(DEFAULT_CLOSING_WORDS))
    handover_words: Mapped[list[Any]] = mapped_column(default=lambda: list(DEFAULT_HANDOVER_WORDS))
    silence_minutes: Mapped[int] = mapped_column(default=30)
    end_message: Mapped[str] = mapped_column(Text, default="本次会话已结束，感谢您的咨询。")
    bot_threshold: Mapped[float] = mapped_column(default=0.6)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def public(self) -> dict[str, Any]:
        return {"closing_words": list(self.closing_words), "handover_words": list(self.handover_words),
                "silence_minutes": self.silence_minutes, "end_message": self.end_message,
                "bot_threshold": self.bot_threshold}
