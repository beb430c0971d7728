"""Models of web/api_moderation.py: sensitive-word rules and alerts, oversight settings, working hours,
reply timeouts, message templates and staff broadcasts. Body shapes per msgtype, {{variables}} and the
calendar's ranges are checked by rules/templates.py and rules/working_hours.py, which name the field."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints

from models.moderation import BroadcastStatus, ReviewStatus, SensitiveCategory
from rules import templates
from rules.working_hours import MAX_HOLIDAYS
from web.schemas.admin import TimeRange
from web.schemas.common import MAX_ID, Body, CorpBody, CorpQuery, Day, Id, Instant, Out, PageQuery, Query
from web.schemas.messages import MessageOut

MAX_RULE_NAME = 10  # §7.3.2: 规则名称 最多 10 个字
MAX_WORDS_CHARS = 500  # §7.3.2: 敏感词 最多 500 个字
MAX_WORD_CHARS = 64
MAX_TIMEOUT_MINUTES = 24 * 60
MAX_BROADCAST_USERS, MAX_BROADCAST_PARTIES = 1000, 100  # message/send: touser ≤1000, toparty ≤100

UserId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Name64 = UserId
RuleName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_RULE_NAME)]
Flag = Literal["true", "false"]
Category = Literal[tuple(templates.CATEGORY_VARIABLES)]  # type: ignore[valid-type]
MsgType = Literal[templates.MSGTYPES]  # type: ignore[valid-type]
AppBody = Annotated[dict[str, Any], Field(description="the message/send body of the msgtype: text and markdown "
                                                      "{content}, textcard {title, description, url, btntxt}, "
                                                      "news {articles: [{title, description, url, picurl}]}, "
                                                      "miniprogram_notice {appid, page, title, description, "
                                                      "emphasis_first_item, content_item: [{key, value}]}")]


# -- sensitive-word rules and alerts ----------------------------------------------------------------------
def _listed(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


# A text of words separated by the Chinese comma, or a list of them: one list either way (split later).
Words = Annotated[list[Annotated[str, Field(max_length=MAX_WORDS_CHARS)]],
                  BeforeValidator(_listed, json_schema_input_type=str | list[str]),
                  Field(description=f"words separated by the Chinese comma, or a list; {MAX_WORDS_CHARS} characters "
                                    f"in all, each at most {MAX_WORD_CHARS}")]
class RuleQuery(PageQuery):
    keyword: str | None = Field(None, max_length=64, description="part of the name")
    enabled: Flag | None = None


class RuleChange(Body):
    name: RuleName | None = None
    words: Words | None = None
    category: SensitiveCategory | None = None
    enabled: bool | None = None


class RuleIn(RuleChange, CorpBody):
    name: RuleName
    words: Words
    enabled: bool | None = Field(None, description="a new rule is off unless enabled")


class RuleOut(Out):
    id: int
    corp_id: str
    name: str
    words: list[str]
    category: SensitiveCategory
    enabled: bool
    hits: int
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


class AlertQuery(TimeRange):
    status: ReviewStatus | None = None
    category: SensitiveCategory | None = None
    rule_id: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None
    staff: str | None = Field(None, max_length=64)
    customer: str | None = Field(None, max_length=64, description="external_userid")


class ContextQuery(Query):
    before: Annotated[int, Field(ge=0, le=50)] = Field(5, description="messages before the hit")
    after: Annotated[int, Field(ge=0, le=50)] = Field(5, description="messages after the hit")


class AlertContext(Out):
    alert_id: int
    hit: MessageOut
    before: list[MessageOut]
    after: list[MessageOut]


class StaffAlertCount(Out):
    corp_id: str
    userid: str | None = Field(description="the staff member who sent the hit (none: a customer's message)")
    name: str
    alerts: int
    pending: int = Field(description="not reviewed yet")


class AlertReview(Body):
    status: ReviewStatus
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class AlertOut(Out):
    id: int
    corp_id: str
    rule_id: int
    rule: str | None
    word: str
    category: SensitiveCategory
    userid: str | None
    external_userid: str | None
    notified: list[str]
    at: dt.datetime
    review_status: ReviewStatus
    review_note: str
    reviewed_by: str | None
    reviewed_at: dt.datetime | None
    message: MessageOut


# -- settings, working hours, reply timeouts --------------------------------------------------------------
class ModerationSettingsChange(CorpBody):
    model_config = ConfigDict(extra="forbid")

    alert_userids: list[UserId] | None = Field(None, max_length=100)
    alert_notify_sender: bool | None = None
    reply_timeout_minutes: Annotated[int, Field(ge=0, le=MAX_TIMEOUT_MINUTES)] | None = Field(
        None, description="working minutes; 0: off")
    reply_timeout_notify: bool | None = None


class ModerationSettingsOut(Out):
    corp_id: str
    alert_userids: list[str]
    alert_notify_sender: bool
    reply_timeout_minutes: int
    reply_timeout_notify: bool


Week = Annotated[dict[str, list[list[str]]], Field(
    description='mon..sun → [["09:00", "12:00"], ["13:30", "18:00"]] (a day left out: not working)')]


class WorkingHoursIn(CorpBody):
    model_config = ConfigDict(extra="forbid")

    week: Week
    holidays: list[Day] = Field([], max_length=MAX_HOLIDAYS)


class WorkingHoursOut(Out):
    corp_id: str
    default: bool = Field(description="true while the corp has set none (Mon-Fri 09:00-18:00)")
    week: dict[str, list[list[str]]]
    holidays: list[dt.date]


class TimeoutQuery(TimeRange):
    staff: str | None = Field(None, max_length=64)
    customer: str | None = Field(None, max_length=64)
    open_kfid: str | None = Field(None, max_length=64)


class ReplyTimeoutOut(Out):
    id: int
    message_id: int
    userid: str
    external_userid: str | None
    open_kfid: str | None
    limit_minutes: int
    message_at: dt.datetime
    due_at: dt.datetime
    replied_at: dt.datetime | None


# -- templates and broadcasts -----------------------------------------------------------------------------
class TemplateQuery(PageQuery):
    category: Category | None = None  # type: ignore[valid-type]  # a Literal built from the template categories
    enabled: Flag | None = None
    keyword: str | None = Field(None, max_length=64)


class TemplateChange(CorpBody):
    model_config = ConfigDict(extra="forbid")

    name: Name64 | None = None
    category: Category | None = None  # type: ignore[valid-type]  # a Literal built from the template categories
    msgtype: MsgType | None = None
    body: AppBody | None = None
    variables: list[str] | None = Field(None, description="broadcast templates: the {{names}} the body uses")
    enabled: bool | None = None


class TemplateIn(TemplateChange):
    name: Name64
    category: Category  # type: ignore[valid-type]  # a Literal built from the template categories
    msgtype: MsgType
    body: AppBody


class TemplateOut(Out):
    id: int
    corp_id: str
    name: str
    category: str
    msgtype: str
    body: dict[str, Any]
    variables: list[str]
    enabled: bool
    created_by: str
    created_at: dt.datetime


class BroadcastQuery(PageQuery):
    status: BroadcastStatus | None = None
    created_by: str | None = Field(None, max_length=96)


class BroadcastIn(CorpBody):
    name: Name64
    userids: list[Annotated[UserId, Field(pattern=r"^[^|]+$")]] = Field([], max_length=MAX_BROADCAST_USERS)
    departments: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field([], max_length=MAX_BROADCAST_PARTIES)
    template_id: Id | None = Field(None, description="an enabled broadcast template; else msgtype and body")
    values: dict[str, Any] = Field({}, description="the template's variable → text")
    msgtype: MsgType | None = None
    body: AppBody | None = None
    send_at: Instant | None = Field(None, description="schedule it (UTC); past or none: sent now")


class BroadcastFileQuery(CorpQuery):
    """A broadcast of an uploaded file: the recipients and time as BroadcastIn's, in the query string."""

    name: Name64
    kind: Literal["image", "voice", "video", "file"] = Field(
        description="WeCom's media/upload limits: image ≤10 MB JPG/PNG, voice ≤2 MB AMR ≤60 s, video ≤10 MB MP4, "
                    "file ≤20 MB")
    userids: list[Annotated[UserId, Field(pattern=r"^[^|]+$")]] = Field([], max_length=MAX_BROADCAST_USERS)
    departments: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field([], max_length=MAX_BROADCAST_PARTIES)
    title: str | None = Field(None, max_length=42, description="a video's title (WeCom: ≤128 bytes)")
    description: str | None = Field(None, max_length=170, description="a video's description (≤512 bytes)")
    send_at: Instant | None = Field(None, description="schedule it (UTC); past or none: sent now")


class BroadcastOut(Out):
    id: int
    corp_id: str
    name: str
    template_id: int | None
    values: dict[str, Any]
    userids: list[str]
    departments: list[int]
    msgtype: str
    body: dict[str, Any]
    status: BroadcastStatus
    msgid: str | None
    invalid_users: list[str]
    invalid_parties: list[int | str]
    unlicensed_users: list[str] = Field(description="WeCom's unlicenseduser: no licence (接口许可), none sent")
    error: str | None
    created_by: str
    created_at: dt.datetime
    sent_at: dt.datetime | None
    send_at: dt.datetime | None = Field(description="when a scheduled broadcast goes (UTC)")
