"""What hangs off a follow-up record (004 §4.1.3): its one attachment, and its reminders (提醒事项).

Kept out of the `follow_ups` table so records of every subject share them: an attachment is an uploaded
file (in the store, storage/) or a material from the library, never both; a reminder is an @mention,
delivered at once as an app message, or a time, which becomes a `Plan` the periodic scan reminds once
(jobs.bot.remind_due_plans). `Extras.apply` writes both in the record's transaction; the app messages are
outbox rows keyed by the record's id, enqueued by the caller after commit, so a rolled-back record sends
nothing and a delivery job that runs twice sends once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.customer import Customer
from models.groups import CustomerGroup
from models.lead import Lead
from models.orgs import Company, Contact
from models.db import Base, created_at, intpk
from models.followup import FollowUp, Plan
from models.outbox import Outbox, OutboxStatus
from models.staff import Staff

MENTION_MAX_CHARS = 500  # message/send text is cut well before WeCom's 2048 bytes


class FollowUpAttachment(Base):
    """An uploaded file (`storage_key` set) or a library material (`material_id`), attached to at most one
    follow-up. An upload waits unattached (`follow_up_id` None) until the record that names it is saved."""

    __tablename__ = "follow_up_attachments"
    __table_args__ = (UniqueConstraint("follow_up_id"), UniqueConstraint("storage_key"))

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    follow_up_id: Mapped[int | None] = mapped_column(ForeignKey("follow_ups.id"))
    material_id: Mapped[int | None] = mapped_column(ForeignKey("materials.id"))
    storage_key: Mapped[str | None] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255), default="")
    content_type: Mapped[str] = mapped_column(String(128), default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    uploaded_by: Mapped[str] = mapped_column(String(96))
    created_at: Mapped[created_at]


class FollowUpReminder(Base):
    """One reminder of a follow-up: `mention` (an @colleague, told at once) or `timed` (its Plan)."""

    __tablename__ = "follow_up_reminders"
    __table_args__ = (UniqueConstraint("follow_up_id", "kind", "userid"),)

    id: Mapped[intpk]
    follow_up_id: Mapped[int] = mapped_column(ForeignKey("follow_ups.id"))
    kind: Mapped[str] = mapped_column(String(8))
    userid: Mapped[str] = mapped_column(String(64))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))


def unknown_staff(session: Session, corp_id: str, userids: list[str]) -> list[str]:
    """The userids in `userids` that are no current member of the corp."""
    known = set(session.scalars(select(Staff.userid).where(Staff.corp_id == corp_id, Staff.userid.in_(userids),
                                                           Staff.status != "resigned")))
    return [u for u in userids if u not in known]


@dataclass
class Extras:
    """A record's attachment and reminders, checked by the caller (the API's 422s). `app` is the
    (app pk, agent id) that sends the messages; reminders need one."""

    attachment: FollowUpAttachment | None = None
    mention: list[str] = field(default_factory=list)
    remind_at: dt.datetime | None = None
    app: tuple[int, int] | None = None
    pending: list[Outbox] = field(default_factory=list)
    """The mentions' outbox rows, for the caller to enqueue once the transaction has committed."""

    def apply(self, session: Session, row: FollowUp) -> None:
        if self.attachment is not None:
            self.attachment.follow_up_id = row.id
        if not (self.mention or self.remind_at):
            return
        assert self.app is not None, "reminders need the app that sends them"
        app_pk, agent_id = self.app
        if self.remind_at is not None:
            plan = Plan(corp_id=row.corp_id, app_pk=app_pk, userid=row.userid, customer_id=row.customer_id,
                        text=row.text, due_at=self.remind_at)
            session.add(plan)
            session.flush()
            session.add(FollowUpReminder(follow_up_id=row.id, kind="timed", userid=row.userid, plan_id=plan.id))
        if self.mention:
            text = _mention_text(session, row)
            for userid in dict.fromkeys(self.mention):
                session.add(FollowUpReminder(follow_up_id=row.id, kind="mention", userid=userid))
                outbox = Outbox(key=f"follow_up_mention:{row.id}:{userid}", corp_id=row.corp_id, job="bot_message",
                                args={"app_pk": app_pk, "agent_id": agent_id, "userid": userid, "content": text},
                                queue="outbound", status=OutboxStatus.pending.value)
                session.add(outbox)
                self.pending.append(outbox)
        session.flush()


def _mention_text(session: Session, row: FollowUp) -> str:
    author = session.scalar(select(Staff.name).where(Staff.corp_id == row.corp_id, Staff.userid == row.userid))
    text = f"{author or row.userid}在{_subject_label(session, row)}的跟进记录中提到了你：{row.text}"
    return text[:MENTION_MAX_CHARS]


def _subject_label(session: Session, row: FollowUp) -> str:
    """客户「王小明」, 企业「…」…: what the record is about, as the mention names it."""
    if row.group_chat_id is not None:
        name = session.scalar(select(CustomerGroup.name).where(CustomerGroup.corp_id == row.corp_id,
                                                               CustomerGroup.chat_id == row.group_chat_id))
        return f"客户群「{name or row.group_chat_id}」"
    for label, model, key in (("客户", Customer, row.customer_id), ("线索", Lead, row.lead_id),
                              ("企业", Company, row.company_id), ("联系人", Contact, row.contact_id)):
        if key is not None:
            return f"{label}「{session.scalar(select(model.name).where(model.id == key)) or ''}」"
    return ""
