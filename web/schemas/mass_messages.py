"""Models of web/api_mass_messages.py: mass messages (群发, 004 §5.1) to customers or customer groups, their
audience, preview, per-sender status and funnel, and the corp's monthly cap."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from models.mass_message import MassStatus
from web.schemas.segment_filters import SegmentFilters
from web.schemas.common import Body, CorpBody, CorpId, Id, Instant, Out, PageQuery

TEXT_MAX = 300  # the manual: 消息内容最多 300 个字 (WeCom itself takes 4,000 bytes)
ATTACHMENTS_MAX = 9  # add_msg_template: 附件最多支持添加 9 个 (doc 92135)
Userid = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Short = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2048, pattern=r"^https?://")]
MediaId = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class Image(Body):
    media_id: MediaId | None = None
    pic_url: Url | None = Field(None, description="a link from media/uploadimg; media_id or pic_url")

    @model_validator(mode="after")
    def _one(self) -> Image:
        if not (self.media_id or self.pic_url):
            raise ValueError("an image needs media_id or pic_url")
        return self


class Link(Body):
    title: Short
    url: Url
    picurl: Url | None = None
    desc: Annotated[str, StringConstraints(max_length=512)] | None = None


class Miniprogram(Body):
    title: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    pic_media_id: MediaId
    appid: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    page: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class Media(Body):
    media_id: MediaId


class Attachment(Body):
    """One attachment in add_msg_template's shape: msgtype and the object of that name."""

    msgtype: Literal["image", "link", "miniprogram", "video", "file"]
    image: Image | None = None
    link: Link | None = None
    miniprogram: Miniprogram | None = None
    video: Media | None = None
    file: Media | None = None

    @model_validator(mode="after")
    def _matches(self) -> Attachment:
        if getattr(self, self.msgtype) is None:
            raise ValueError(f"msgtype {self.msgtype} needs its '{self.msgtype}' object")
        return self

    def wecom(self) -> dict[str, Any]:
        return {"msgtype": self.msgtype,
                self.msgtype: getattr(self, self.msgtype).model_dump(mode="json", exclude_none=True)}


class Audience(Body):
    """Who gets the message. Customers: a segment, or `include` (all customers when left out) minus
    `exclude`. Groups: the groups of `owners` (all groups when left out)."""

    segment_id: Id | None = Field(None, description="a saved segment (客户分组)")
    include: SegmentFilters | None = Field(None, description="the segments' filters (web/segment_query.py)")
    exclude: SegmentFilters | None = None
    owners: list[Userid] | None = Field(None, max_length=1000, description="group messages: these owners' groups")


class Content(Body):
    text: Annotated[str, StringConstraints(max_length=TEXT_MAX)] = Field(
        "", description=f"at most {TEXT_MAX} characters")
    attachments: list[Attachment] = Field(default_factory=list, max_length=ATTACHMENTS_MAX,
                                          description=f"at most {ATTACHMENTS_MAX}: image, link, miniprogram, "
                                                      "video, file")

    @model_validator(mode="after")
    def _some(self) -> Content:
        if not self.text.strip() and not self.attachments:
            raise ValueError("a message needs text or an attachment")
        return self


class MassMessageBody(CorpBody, Content):
    chat_type: Literal["single", "group"] = Field("single", description="single: customers, group: groups")
    audience: Audience = Field(default_factory=lambda: Audience.model_validate({}))
    send_at: Instant | None = Field(None, description="when to send (left out, or past: now)")
    draft: bool = Field(False, description="save without sending or scheduling")


class PreviewBody(CorpBody):
    chat_type: Literal["single", "group"] = "single"
    audience: Audience = Field(default_factory=lambda: Audience.model_validate({}))


class SenderCount(Out):
    sender: str
    count: int


class PreviewOut(Out):
    corp_id: str
    target: int = Field(description="customers (or groups) the message would reach")
    capped: int = Field(description="customers left out: they reached the corp's monthly cap")
    no_sender: int = Field(description="customers no member follows any more")
    monthly_cap: int
    by_sender: list[SenderCount]


class MassQuery(PageQuery):
    corp_id: CorpId | None = Field(None, description="which corp (a token limited to a corp needs none)")
    chat_type: Literal["single", "group"] | None = None
    status: MassStatus | None = None
    created_by: str | None = Field(None, max_length=96)


class MassMessageOut(Out):
    id: int
    corp_id: str
    chat_type: str
    text: str
    attachments: list[dict[str, Any]]
    audience: dict[str, Any]
    status: str = Field(description=", ".join(s.value for s in MassStatus))
    send_at: dt.datetime | None
    sent_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    results_at: dt.datetime | None
    created_by: str
    created_at: dt.datetime
    target_count: int
    capped_count: int


class SenderOut(Out):
    sender: str
    status: str = Field(description="unsent, sent, failed (WeCom refused the call), cancelled")
    targets: int
    delivered: int
    msgids: list[str]
    errcode: int | None
    sent_at: dt.datetime | None
    reminded_at: dt.datetime | None
    remind_count: int


class Funnel(Out):
    target: int = Field(description="recipients given to members (capped and unfollowed ones left out)")
    delivered: int = Field(description="WeCom reports them sent (get_groupmsg_send_result status 1)")
    read: int | None = Field(description="not available: WeCom does not report reads of a mass message")
    shared: int | None = Field(description="not available: WeCom does not report shares of a mass message")


class MassMessageListed(MassMessageOut):
    funnel: Funnel


class MassMessageDetail(MassMessageListed):
    counts: dict[str, int] = Field(description="recipients by status")
    senders: list[SenderOut]


class RemindOut(Out):
    reminded: list[str] = Field(description="members reminded")
    refused: dict[str, int] = Field(description="member → WeCom's errcode (e.g. 45009: three reminders in 24 h)")


class CapSettingsOut(Out):
    corp_id: str
    monthly_cap: int


class CapSettingsBody(CorpBody):
    monthly_cap: int = Field(ge=0, le=31, description="mass messages a customer receives per month at most")
