"""Mass messages (群发, 004 §5.1): a message the corp asks its members to send to customers or to their
customer groups through externalcontact/add_msg_template. WeCom never sends it by itself: each sender gets a
task in the WeCom client and confirms it, so a message has one `MassMessageSend` per WeCom call (a sender and at
most 10,000 customers or 2,000 groups), and one `MassRecipient` per customer or group it went to.

A message's status: `draft` (saved, editable), `scheduled` (waits for `send_at`; editable and cancellable
locally), `sending` (claimed by one worker, calls in progress), `sent` (every call made), `cancelled`
(before sending: nothing reached WeCom; after: cancel_groupmsg_send stopped the senders who had not sent).

A recipient's status: `pending` (in a task, the sender has not sent), `sent` (WeCom delivered it:
get_groupmsg_send_result 1), `not_friend` (2), `over_limit` (3: WeCom's own monthly cap), `failed` (in the
call's fail_list, or the call was refused), `capped` (left out by the corp's monthly cap before any call) and
`no_sender` (no member follows them any more)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk, utcnow


class MassStatus(enum.StrEnum):
    draft = "draft"
    scheduled = "scheduled"
    sending = "sending"
    sent = "sent"
    cancelled = "cancelled"


class RecipientStatus(enum.StrEnum):
    pending = "pending"
    sent = "sent"
    not_friend = "not_friend"
    over_limit = "over_limit"
    failed = "failed"
    capped = "capped"
    no_sender = "no_sender"


UNCOUNTED = (RecipientStatus.capped.value, RecipientStatus.no_sender.value, RecipientStatus.failed.value)
"""Recipients that never got a task: they do not count against the customer's monthly cap."""


class MassMessage(Base):
    __tablename__ = "mass_messages"
    __table_args__ = (Index("ix_mass_messages_status_send_at", "status", "send_at"),
                      Index("ix_mass_messages_corp_id_created_at", "corp_id", "created_at"))

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    app_pk: Mapped[int]
    chat_type: Mapped[str] = mapped_column(String(8), default="single")  # single: customers, group: groups
    text: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=MassStatus.draft.value)
    send_at: Mapped[dt.datetime | None]
    # who asked (the audience is read in their scope when the message goes out: web/mass_audience.py)
    principal: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str] = mapped_column(String(96), default="")
    claimed_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]
    results_at: Mapped[dt.datetime | None]  # results last collected from WeCom
    target_count: Mapped[int] = mapped_column(default=0)
    capped_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MassMessageSend(Base):
    """One add_msg_template call: a sender's task (or one chunk of it) and what WeCom answered."""

    __tablename__ = "mass_message_sends"
    __table_args__ = (Index("ix_mass_message_sends_message_id", "message_id"),)

    id: Mapped[intpk]
    message_id: Mapped[int] = mapped_column(ForeignKey("mass_messages.id"))
    sender: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(default=0)
    msgid: Mapped[str | None] = mapped_column(String(128))
    errcode: Mapped[int | None]
    # WeCom's task status for the sender: unsent (0), sent (2); failed: the call was refused
    status: Mapped[str] = mapped_column(String(16), default="unsent")
    sent_at: Mapped[dt.datetime | None]
    reminded_at: Mapped[dt.datetime | None]
    remind_count: Mapped[int] = mapped_column(default=0)


class MassRecipient(Base):
    """One customer (or group) of a message, with its sender and delivery status; the monthly cap counts
    these rows per customer."""

    __tablename__ = "mass_recipients"
    __table_args__ = (Index("ix_mass_recipients_message_id_sender", "message_id", "sender"),
                      Index("ix_mass_recipients_cap", "corp_id", "customer_id", "at"))

    id: Mapped[intpk]
    message_id: Mapped[int] = mapped_column(ForeignKey("mass_messages.id"))
    corp_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None]
    target: Mapped[str] = mapped_column(String(64))  # external_userid, or chat_id for a group message
    sender: Mapped[str] = mapped_column(String(64), default="")
    send_id: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16), default=RecipientStatus.pending.value)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
