"""Writing plans (跟进计划, 000 §7) and claiming their reminders. Every door (the admin API, the bot's
/计划) writes through these functions, so the reminder rule below holds whoever writes:

- a plan with a reminder time (`Plan.due_at`) is reminded once, by the scan, at or after that time;
- moving the time of a reminder not yet sent moves it (only the new time is sent); moving a reminder
  already sent to a time still ahead re-arms it (the member asked to be reminded again then); moving it
  to a time already past does not send it again;
- done (`done_at`) or deleted (`deleted_at`) plans are never reminded: a pending reminder is cancelled.

The claim is one conditional UPDATE (`claim_reminder`): it succeeds only while the row still has the
reminder time the scan read and nothing was sent, so a scan racing an edit never sends the old time and
two scans never both send.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.auth import record_audit
from models.followup import Plan
from rules.calendar import View, window

PLAN_MAX_CHARS = 500  # the manual (000 §7.2) sets none; the bot's /计划 has used 500 since it was written


@dataclass(frozen=True)
class When:
    """A plan's time: from `starts_at` (to `ends_at`, if it has an end), or all of a corp-local day."""

    starts_at: dt.datetime
    ends_at: dt.datetime | None = None
    all_day: bool = False


LINKS = ("customer_id", "company_id", "contact_id")
"""What a plan may be about (000 §7.2: 关联客户/联系人/企业), each optional."""


def whole_day(day: dt.date, zone: ZoneInfo) -> When:
    """All of `day` in the corp's zone (全天), as that day's two midnights in UTC."""
    start, end = window(View.day, day, zone)
    return When(start, end, all_day=True)


def create_plan(session: Session, *, corp_id: str, app_pk: int, userid: str, text: str, when: When,
                remind_at: dt.datetime | None, actor: str, customer_id: int | None = None,
                inbox_id: int | None = None, company_id: int | None = None, contact_id: int | None = None) -> Plan:
    """Store a plan for `userid` and audit it as `actor`; in the caller's transaction. The caller has checked
    the text, who may plan for `userid`, and that the customer, company or contact is theirs to see."""
    plan = Plan(corp_id=corp_id, app_pk=app_pk, userid=userid, text=text, starts_at=when.starts_at,
                ends_at=when.ends_at, all_day=when.all_day, due_at=remind_at, customer_id=customer_id,
                company_id=company_id, contact_id=contact_id, inbox_id=inbox_id, created_by=actor)
    session.add(plan)
    session.flush()
    record_audit(session, actor, "plan.create", f"plan:{plan.id}", corp_id=plan.corp_id, userid=userid)
    return plan


def move_reminder(plan: Plan, remind_at: dt.datetime | None, now: dt.datetime) -> None:
    """Set the reminder time by the rule in the module's docstring. The caller holds the row locked
    (SELECT ... FOR UPDATE, or SQLite's one writer), so `reminded_at` is what the scan last committed."""
    if remind_at == plan.due_at:
        return
    plan.due_at = remind_at
    if plan.reminded_at is not None and remind_at is not None and remind_at > now:
        plan.reminded_at = None


def edit_plan(session: Session, plan: Plan, changes: dict[str, Any], *, actor: str, now: dt.datetime) -> None:
    """Apply `changes` (keys: text, userid, the LINKS, when, remind_at; each already checked) and audit
    which fields changed."""
    if "when" in changes:
        when: When = changes["when"]
        plan.starts_at, plan.ends_at, plan.all_day = when.starts_at, when.ends_at, when.all_day
    for key in ("text", "userid", *LINKS):
        if key in changes:
            setattr(plan, key, changes[key])
    if "remind_at" in changes:
        move_reminder(plan, changes["remind_at"], now)
    record_audit(session, actor, "plan.update", f"plan:{plan.id}", corp_id=plan.corp_id, fields=sorted(changes))


def finish_plan(session: Session, plan: Plan, *, actor: str, now: dt.datetime) -> None:
    """Mark the plan done (a pending reminder is not sent); done again changes nothing."""
    if plan.done_at is None:
        plan.done_at = now
        record_audit(session, actor, "plan.done", f"plan:{plan.id}", corp_id=plan.corp_id)


def delete_plan(session: Session, plan: Plan, *, actor: str, now: dt.datetime) -> None:
    """Soft delete: the row stays for the audit trail and the reminder history; a pending reminder is not sent."""
    plan.deleted_at = now
    record_audit(session, actor, "plan.delete", f"plan:{plan.id}", corp_id=plan.corp_id, userid=plan.userid)


def due_reminders(session: Session, now: dt.datetime, limit: int) -> list[tuple[int, dt.datetime]]:
    """(plan id, reminder time) of plans whose reminder is due and unsent, oldest first: read without a lock,
    each to be claimed by `claim_reminder`."""
    rows = session.execute(select(Plan.id, Plan.due_at).where(
        Plan.reminded_at.is_(None), Plan.done_at.is_(None), Plan.deleted_at.is_(None), Plan.due_at <= now)
        .order_by(Plan.due_at, Plan.id).limit(limit)).all()
    return [(pk, due) for pk, due in rows if due is not None]


def claim_reminder(session: Session, plan_id: int, due_at: dt.datetime, now: dt.datetime) -> bool:
    """Mark the reminder of `plan_id` for `due_at` as sent, if it still is due at that time, unsent, open and
    not deleted. One UPDATE, so the check and the mark cannot be split by an edit or by another worker's
    claim (on MariaDB a second claim waits for the first's row lock and then finds reminded_at set)."""
    result = session.execute(update(Plan).where(
        Plan.id == plan_id, Plan.due_at == due_at, Plan.reminded_at.is_(None), Plan.done_at.is_(None),
        Plan.deleted_at.is_(None)).values(reminded_at=now).execution_options(synchronize_session=False))
    return result.rowcount == 1  # type: ignore[attr-defined]  # an UPDATE's CursorResult
