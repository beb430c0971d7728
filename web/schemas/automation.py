"""Models of web/api_sop.py (SOP plans, 004 §5.2) and web/api_tasks.py (tasks, 004 §5.4.1). Limits are the
manual's: a plan's name ≤40, a step's ≤30, ≤5 messages a step, text ≤300; a task's name ≤30, content ≤300,
≤9 attachments, ≤9 proof images. Times of day ("HH:MM") are the corp's wall clock (Corp.timezone)."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import Field, StringConstraints, model_validator

from models.sop import MAX_MESSAGES, MAX_TEXT, PLAN_NAME_MAX, STEP_NAME_MAX, SopTrigger, StepVia
from models.tasks import CONTENT_MAX, MAX_ATTACHMENTS, MAX_PROOFS, NAME_MAX, Repeat, TaskKind
from web.schemas.common import Body, CorpBody, CorpId, Id, Instant, Out, PageQuery

Clock = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Userid = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Short = Annotated[str, StringConstraints(max_length=512)]
CLOCK = re.compile(r"(\d\d):(\d\d)")


def minute_of(clock: str) -> int:
    hours, minutes = CLOCK.fullmatch(clock).groups()  # type: ignore[union-attr]  # Clock's pattern matched
    return int(hours) * 60 + int(minutes)


def clock_of(minute: int | None) -> str | None:
    return None if minute is None else f"{minute // 60:02d}:{minute % 60:02d}"


class MessageType(StrEnum):
    text = "text"
    image = "image"
    link = "link"
    miniprogram = "miniprogram"
    video = "video"


NEEDS = {MessageType.text: ("text",), MessageType.link: ("title", "url"), MessageType.video: ("media_id",),
         MessageType.miniprogram: ("title", "appid", "page", "pic_media_id")}


class Message(Body):
    """One message: a text (≤300 characters), or an attachment (image: media_id or pic_url; link: title and
    url; miniprogram: title, appid, page, pic_media_id; video: media_id)."""

    type: MessageType
    text: str | None = Field(None, min_length=1, max_length=MAX_TEXT)
    title: Short | None = None
    url: Short | None = None
    desc: Short | None = None
    picurl: Short | None = None
    media_id: Short | None = None
    pic_url: Short | None = None
    pic_media_id: Short | None = None
    appid: Short | None = None
    page: Short | None = None

    @model_validator(mode="after")
    def _complete(self) -> Self:
        missing = [k for k in NEEDS.get(self.type, ()) if not getattr(self, k)]
        if self.type == MessageType.image and not (self.media_id or self.pic_url):
            missing = ["media_id or pic_url"]
        if missing:
            raise ValueError(f"a {self.type.value} message needs {', '.join(missing)}")
        if self.type != MessageType.text and self.text is not None:
            raise ValueError("text belongs to a text message")
        return self


class StepBody(Body):
    """When: `day` and `at` (day 0 is the trigger's own day, in the corp's time zone), or `hours_after`."""

    name: str = Field(min_length=1, max_length=STEP_NAME_MAX)
    day: int | None = Field(None, ge=0, le=3650)
    at: Clock | None = Field(None, description="HH:MM on that day, the corp's wall clock")
    hours_after: int | None = Field(None, ge=0, le=24 * 3650)
    via: StepVia = Field(StepVia.task, description="task: a task for the follower with the content to send; "
                                                   "template: sent through add_msg_template")
    messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)

    @model_validator(mode="after")
    def _one_time(self) -> Self:
        if (self.hours_after is None) == (self.day is None or self.at is None) or \
                (self.hours_after is not None and (self.day is not None or self.at is not None)):
            raise ValueError("give either day and at, or hours_after")
        return self


class SopBody(CorpBody):
    name: str = Field(min_length=1, max_length=PLAN_NAME_MAX)
    trigger: SopTrigger
    channel_code_ids: list[Id] = Field([], max_length=100, description="customer_added: through one of these codes")
    tag_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        [], max_length=100, description="customer_added: carrying one of these tags; tag_added: when one is added")
    date_field: str | None = Field(None, max_length=64, description="date: a customer field of type date (birthday)")
    days_before: int = Field(0, ge=0, le=365, description="date: this many days before the date (0: on the day)")
    working_hours_only: bool = Field(False, description="a step due outside working hours waits for the next start")
    steps: list[StepBody] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _trigger_needs(self) -> Self:
        if self.trigger == SopTrigger.tag_added and not self.tag_ids:
            raise ValueError("a tag_added plan names tag_ids")
        if self.trigger == SopTrigger.date and not self.date_field:
            raise ValueError("a date plan names date_field")
        return self


class SopEdit(Body):
    name: str | None = Field(None, min_length=1, max_length=PLAN_NAME_MAX)
    enabled: bool | None = Field(None, description="on or off; an off plan fires nothing")
    working_hours_only: bool | None = None


class SopQuery(PageQuery):
    corp_id: CorpId | None = None
    enabled: bool | None = None


class StepOut(Out):
    id: int
    name: str
    day: int | None
    at: str | None
    hours_after: int | None
    via: StepVia
    messages: list[dict[str, Any]]
    fired: int
    locked: bool = Field(description="the plan is on: the step cannot be edited or removed")


class SopOut(Out):
    id: int
    corp_id: str
    name: str
    trigger: SopTrigger
    channel_code_ids: list[int]
    tag_ids: list[str]
    date_field: str
    days_before: int
    working_hours_only: bool
    enabled: bool
    created_by: str
    created_at: dt.datetime
    enrolled: int
    steps: list[StepOut]


class RunOut(Out):
    step_id: int
    due_at: dt.datetime
    status: str
    fired_at: dt.datetime | None
    task_id: int | None


class ProgressOut(Out):
    enrolment_id: int
    customer_id: int
    customer_name: str
    userid: str
    cycle: str
    anchor_at: dt.datetime
    stopped_at: dt.datetime | None
    stop_reason: str
    runs: list[RunOut]


# -- tasks ---------------------------------------------------------------------------------------------------
class TaskBody(CorpBody):
    name: str = Field(min_length=1, max_length=NAME_MAX)
    content: str = Field("", max_length=CONTENT_MAX)
    attachments: list[Message] = Field([], max_length=MAX_ATTACHMENTS)
    repeat: Repeat | None = Field(None, description="none: once; workday (Mon-Fri), weekly, monthly")
    repeat_day: int | None = Field(None, ge=0, le=31, description="weekly: 0 Monday … 6 Sunday; monthly: 1 … 31")
    at: Clock | None = Field(None, description="a repeating task's issue time, HH:MM corp time")
    starts_at: Instant | None = Field(None, description="default now; a once task is issued then")
    ends_at: Instant | None = Field(None, description="no round after it; a round's deadline at the latest")
    valid_minutes: int | None = Field(None, ge=1, le=366 * 24 * 60, description="执行有效时间 after each issue")
    warn_minutes: int | None = Field(None, ge=1, le=7 * 24 * 60, description="临期预警: minutes before the deadline")
    proof_required: bool = Field(False, description="done needs at least one proof image")
    every_days: int | None = Field(None, ge=1, le=365, description="跟进任务: each customer of the members is to be "
                                   "followed up every N days (a follow-up record or a chat restarts the cycle), "
                                   "else the member is reminded")
    userids: list[Userid] = Field([], max_length=2000)
    dept_ids: list[Annotated[int, Field(ge=0, le=2**31 - 1)]] = Field([], max_length=500,
                                                                       description="and those below them")

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if not self.userids and not self.dept_ids:
            raise ValueError("name userids or dept_ids")
        if self.every_days is not None and self.repeat is not None:
            raise ValueError("a follow-up task (every_days) does not repeat")
        if self.repeat is None and (self.at is not None or self.repeat_day is not None):
            raise ValueError("at and repeat_day are for repeating tasks")
        if self.repeat is not None and self.at is None:
            raise ValueError("a repeating task needs at (HH:MM)")
        if self.repeat == Repeat.weekly and not (self.repeat_day is not None and 0 <= self.repeat_day <= 6):
            raise ValueError("a weekly task needs repeat_day 0 (Monday) to 6 (Sunday)")
        if self.repeat == Repeat.monthly and not (self.repeat_day is not None and 1 <= self.repeat_day <= 31):
            raise ValueError("a monthly task needs repeat_day 1 to 31")
        if self.repeat == Repeat.workday and self.repeat_day is not None:
            raise ValueError("a workday task has no repeat_day")
        if self.ends_at is not None and self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at comes after starts_at")
        if self.warn_minutes is not None and self.valid_minutes is None and self.ends_at is None:
            raise ValueError("a warning needs a deadline: valid_minutes or ends_at")
        return self


class TaskQuery(PageQuery):
    corp_id: CorpId | None = None
    kind: TaskKind | None = None
    userid: str | None = Field(None, max_length=64, description="tasks assigned to this member")


class DoneBody(Body):
    userid: Userid | None = Field(None, description="whose assignment: a member token's own; an admin names one")
    proofs: list[Annotated[str, StringConstraints(max_length=1_000_000)]] = Field(
        [], max_length=MAX_PROOFS, description="proof images (任务凭证), base64 PNG or JPEG")


class AssignmentOut(Out):
    userid: str
    status: str
    done_at: dt.datetime | None
    proofs: int


class RoundOut(Out):
    id: int
    issued_at: dt.datetime
    deadline_at: dt.datetime | None
    warn_at: dt.datetime | None
    warned_at: dt.datetime | None
    assigned: int
    done: int
    assignments: list[AssignmentOut]


class TaskOut(Out):
    id: int
    corp_id: str
    kind: TaskKind
    name: str
    content: str
    attachments: list[dict[str, Any]]
    repeat: str
    repeat_day: int | None
    at: str | None
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    valid_minutes: int | None
    warn_minutes: int | None
    proof_required: bool
    userids: list[str]
    dept_ids: list[int]
    customer_id: int | None
    every_days: int | None
    follow_up_customers: int | None = Field(description="a follow-up task: the customers whose cycle runs")
    next_issue_at: dt.datetime | None
    ended_at: dt.datetime | None
    created_by: str
    created_at: dt.datetime
    rounds: int
    current: RoundOut | None = Field(description="the latest round issued, with each assignee's status")
