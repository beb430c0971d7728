"""Models of web/api_kf.py: WeChat customer service accounts, servicers, scenes, the knowledge base, the
conversation rules and sessions. Limits are WeCom's (kf/account/add: name ≤16 characters; add_contact_way:
scene ≤32 of [0-9a-zA-Z_-]) or our columns'."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from models.kf import AssignRule, SessionState
from models.knowledge import MAX_ANSWER_CHARS
from rules.kf import text_bytes_problems
from web.schemas.admin import TimeRange
from web.schemas.common import Body, CorpBody, Id, Out, Query
from web.schemas.messages import MessageOut

MAX_QUESTION_CHARS, MAX_SIMILAR = 128, 20
MAX_WORDS, MAX_WORD_CHARS = 50, 32
MAX_SERVICERS_PER_CALL = 100


# Non-blank strings of at most so many characters, stripped.
AccountName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)]
Text64 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Text128 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUESTION_CHARS)]
Answer = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ANSWER_CHARS)]
Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_WORD_CHARS)]


def _sendable(text: str) -> str:
    """WeCom's limit on a kf text is in UTF-8 bytes, not characters (rules.kf.text_bytes_problems)."""
    problems = text_bytes_problems({"text": text})
    if problems:
        raise ValueError(problems["text"])
    return text


KfAnswer = Annotated[Answer, AfterValidator(_sendable)]
KfText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000), AfterValidator(_sendable)]


class AccountChange(Body):
    name: AccountName | None = None
    media_id: Text128 | None = Field(None, description="the avatar, uploaded with media/upload")
    rule: AssignRule | None = None
    max_sessions: Annotated[int, Field(ge=1, le=1000)] | None = None
    welcome_text: KfText | None = None


class AccountIn(AccountChange, CorpBody):
    name: AccountName
    media_id: Text128


class ServicerOut(Out):
    userid: str
    status: str
    error: str | None


class SceneOut(Out):
    id: int
    name: str
    scene: str
    url: str
    status: str
    error: str | None


class AccountOut(Out):
    id: int
    corp_id: str
    open_kfid: str | None = Field(description="WeCom's id; null until kf/account/add answered")
    name: str
    media_id: str
    rule: str
    max_sessions: int
    welcome_text: str
    status: str
    error: str | None
    servicers: list[ServicerOut]
    scenes: list[SceneOut]


class ServicersIn(Body):
    """Receptionists by userid and/or by department (its active members and those of the departments below
    it, from the synced directory); together at least one, at most MAX_SERVICERS_PER_CALL."""

    userids: list[Text64] = Field([], max_length=MAX_SERVICERS_PER_CALL, description="different userids")
    departments: list[Id] = Field([], max_length=MAX_SERVICERS_PER_CALL,
                                  description="department ids: their members and those below them")


class ServicerRemoved(Out):
    removed: str


class SceneQrQuery(Query):
    scene: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    scale: Annotated[int, Field(ge=1, le=20)] = Field(8, description="pixels per module")


class SceneIn(Body):
    name: Text64
    scene: str = Field(pattern=r"^[0-9A-Za-z_-]{1,32}$", description="the scene value of the link")


Words = Annotated[list[Word], Field(max_length=MAX_WORDS)]


class KfSettingsChange(CorpBody):
    closing_words: Words | None = None
    handover_words: Words | None = None
    silence_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] | None = None
    end_message: KfText | None = None
    bot_threshold: Annotated[float, Field(gt=0, le=1)] | None = None


class KfSettingsOut(Out):
    closing_words: list[str]
    handover_words: list[str]
    silence_minutes: int
    end_message: str
    bot_threshold: float


class SessionQuery(TimeRange):
    state: SessionState | None = None
    open_kfid: str | None = Field(None, max_length=64)
    external_userid: str | None = Field(None, max_length=64)
    servicer: str | None = Field(None, max_length=64, description="the receptionist's userid")
    session_id: str | None = Field(None, max_length=64)


class SessionOut(Out):
    id: int
    session_id: str
    open_kfid: str
    external_userid: str
    scene: str
    state: SessionState
    servicer_userid: str | None
    started_at: dt.datetime | None
    assigned_at: dt.datetime | None
    ended_at: dt.datetime | None
    end_reason: str | None
    customer_msgs: int
    staff_msgs: int
    bot_msgs: int
    first_response_seconds: int | None
    duration_seconds: int


class SessionDetail(SessionOut):
    open: bool
    messages: list[MessageOut]
