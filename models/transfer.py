"""Hand-overs of customers and customer groups between staff (客户继承, 004 §4.4): a serving member's
(在职转接, externalcontact/transfer_customer) or a resigned member's (离职继承, resigned/transfer_customer and
groupchat/transfer), one `Transfer` per request with one `TransferItem` per customer or group, and the
corp's automatic inheritance rule (离职自动分配, `InheritRule`).

An item's status follows WeCom: `pending` (not sent yet: queued, or waiting for the group daily cap),
`waiting` (WeCom took it, the customer has 24 h to refuse: transfer_result status 2), `done` (1), `refused`
(3, or the transfer_fail callback's customer_refused), `limit` (4, or customer_limit_exceed), `failed`
(WeCom refused the call for this customer: its errcode is kept), `blocked` (refused by us before any call,
the 90-day rule). Only `done` changes our owner (FollowRelation, Customer.owner_userid)."""

from __future__ import annotations

import datetime as dt
import enum
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk, utcnow


class TransferKind(enum.StrEnum):
    serving = "serving"  # 在职转接
    resigned = "resigned"  # 离职继承


class ItemStatus(enum.StrEnum):
    pending = "pending"
    waiting = "waiting"
    done = "done"
    refused = "refused"
    limit = "limit"
    failed = "failed"
    blocked = "blocked"


OPEN = (ItemStatus.pending.value, ItemStatus.waiting.value)
"""Item statuses that are not final."""


class Transfer(Base):
    __tablename__ = "transfers"
    __table_args__ = (Index("ix_transfers_corp_id_created_at", "corp_id", "created_at"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    app_pk: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))
    handover_userid: Mapped[str] = mapped_column(String(64))
    takeover_userid: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(String(200), default="")  # transfer_success_msg, ≤200 characters
    created_by: Mapped[str] = mapped_column(String(96), default="")
    auto: Mapped[bool] = mapped_column(default=False)  # made by the 离职自动分配 run
    created_at: Mapped[created_at]


class TransferItem(Base):
    """One customer (external_userid) or group (chat_id) of a hand-over."""

    __tablename__ = "transfer_items"
    __table_args__ = (Index("ix_transfer_items_transfer_id", "transfer_id"),
                      Index("ix_transfer_items_corp_id_external_userid", "corp_id", "external_userid"),
                      Index("ix_transfer_items_status_next_poll_at", "status", "next_poll_at"))

    id: Mapped[intpk]
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfers.id"))
    corp_id: Mapped[str] = mapped_column(String(64))
    external_userid: Mapped[str] = mapped_column(String(64), default="")  # a customer's, else ""
    chat_id: Mapped[str] = mapped_column(String(64), default="")  # a group's, else ""
    status: Mapped[str] = mapped_column(String(16), default=ItemStatus.pending.value)
    errcode: Mapped[int | None]
    reason: Mapped[str] = mapped_column(String(255), default="")
    takeover_at: Mapped[dt.datetime | None]  # WeCom's takeover_time: when done, or when it will be
    polls: Mapped[int] = mapped_column(default=0)
    next_poll_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class InheritRule(Base):
    """离职自动分配, one per corp: heirs are active members of the leaver's department or one below it whose
    `position` (the directory's 职务, Staff.position) equals `position`; customers spread `even` (to the heirs
    holding fewest) or `round_robin` (in turn, carrying on from `cursor`). Nobody qualifying: `fallback_userid`
    holds them until a later run finds an heir."""

    __tablename__ = "inherit_rules"

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64), unique=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    position: Mapped[str] = mapped_column(String(64), default="")
    spread: Mapped[str] = mapped_column(String(16), default="even")
    fallback_userid: Mapped[str] = mapped_column(String(64), default="")
    cursor: Mapped[int] = mapped_column(default=0)
    last_run_day: Mapped[dt.date | None]  # the corp-local day whose 10:00 run happened: once a day
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
